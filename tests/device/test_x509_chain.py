"""Path validation (tls13.x509.verify_chain / ChainValidator) over the host-made test PKI: every check,
positive and negative, real-world shapes, and certificates fed in small chunks.

Needs the fixtures from tests/pki_fixtures.py (pytest and tests/test_on_vm.py generate them)."""
from mpcheck import check, eq, raises

import x509fx as fx
from tls13.x509 import der
from tls13.x509 import (ALERT_CODES, ALERT_FOR_REASON, REASONS, CertificateError, ChainValidator, TrustStore,
                        leaf_public_key, leaf_spki, spki_sha256, verify_chain)

NOW = fx.NOW
ROOTS = ("a_root", "e_root", "d_root", "x_old_root")
# Stands for an ESP32 running the frozen stack: the board's heap plus the stack's resident size on the
# VM (its bytecode is in flash on a board; see tests/vmbench.py STACK_MODULES).
STACK = True


def ok(names, host="example.com", roots=ROOTS, **kw):
    return verify_chain(fx.chain(*names), fx.store(*roots) if roots else None, host, kw.pop("now", NOW), **kw)


def fails(reason, names, host="example.com", roots=ROOTS, index=-1, **kw):
    e = raises(CertificateError, ok, names, host, roots, **kw)
    eq(e.reason, reason, "%s: %s" % (names, e))
    if index != -1:
        eq(e.index, index, "index of the certificate at fault")
    return e


def test_rsa_root_ecdsa_intermediate_ecdsa_leaf():
    key = ok(["a_leaf", "a_int"])
    eq(key, leaf_public_key(fx.load("a_leaf")))
    eq((key[0], key[1], len(key[2])), ("ec", "P-256", 65))
    check(isinstance(key[2], bytes))


def test_root_sent_too_and_any_order():
    ok(["a_leaf", "a_int", "a_root"])
    ok(["a_leaf", "a_root", "a_int"])


def test_intermediate_sent_twice_and_extra_certificates():
    ok(["a_leaf", "a_int", "a_int", "a_root"])
    ok(["a_leaf", "d_leaf", "e_root", "x_int", "a_int", "b_int_ku"])


def test_leaf_must_come_first():
    fails("bad_key_usage", ["a_int", "a_leaf"], index=0)


def test_missing_intermediate_or_root():
    e = fails("unknown_issuer", ["a_leaf"], index=0)
    eq(e.alert, "unknown_ca")
    fails("unknown_issuer", ["a_leaf", "a_int"], roots=("e_root",), index=1)
    fails("unknown_issuer", ["a_leaf", "a_int", "a_root"], roots=("e_root",))


def test_self_signed():
    e = fails("unknown_issuer", ["s_self"], index=0)
    eq(e.detail, "self-signed")
    # Trusted directly when it is itself the anchor (a self-signed broker certificate).
    ok(["s_self"], roots=("s_self",))
    fails("hostname_mismatch", ["s_self"], "other.example", roots=("s_self",))


def test_signature_algorithms():
    eq(ok(["a_leaf_rsa_by_root"])[0], "rsa")                # sha256WithRSAEncryption
    for leaf in ("p_leaf_sha384", "p_leaf_sha512", "p_leaf_pss384", "p_leaf_pss512"):
        eq(ok([leaf, "p_int"])[2], 65537, leaf)            # p_int itself is RSA-PSS/SHA-256 signed
    eq(ok(["e_leaf384"])[1], "P-384")                       # P-384 root, ecdsa-with-SHA384
    eq(ok(["e_leaf256"])[1], "P-384")                       # P-384 root, ecdsa-with-SHA256
    key = ok(["d_leaf"])                                    # Ed25519
    eq((key[0], len(key[1])), ("ed25519", 32))


def _tamper(data, at):
    b = bytearray(data)
    b[at] ^= 1
    return bytes(b)


def _serial_end(data):
    """Offset of the last byte of the serial number: changing it keeps the DER well-formed."""
    b = memoryview(data)
    s, e = der.whole(b, 0x30)
    t, ts, te = der.tlv(b, s, e)
    t, vs, ve = der.tlv(b, ts, te)          # version [0]
    t, ss, se = der.tlv(b, ve, te)          # serialNumber
    return se - 1


def test_bad_signatures():
    leaf = fx.load("a_leaf")
    # The last byte of the serial number: still well-formed, no longer what was signed.
    bad_leaf = _tamper(leaf, _serial_end(leaf))
    e = raises(CertificateError, verify_chain, [bad_leaf, fx.load("a_int")], fx.store(*ROOTS), "example.com", NOW)
    eq((e.reason, e.index, e.alert), ("bad_signature", 0, "bad_certificate"))
    bad_int = _tamper(fx.load("a_int"), _serial_end(fx.load("a_int")))
    e = raises(CertificateError, verify_chain, [leaf, bad_int], fx.store(*ROOTS), "example.com", NOW)
    eq((e.reason, e.index), ("bad_signature", 1))           # the leaf verifies, the intermediate not
    # An Ed25519 signature and an RSA-PSS one with a flipped bit at the end.
    d = fx.load("d_leaf")
    e = raises(CertificateError, verify_chain, [_tamper(d, len(d) - 1)], fx.store(*ROOTS), "example.com", NOW)
    eq(e.reason, "bad_signature")
    p = fx.load("p_leaf_pss384")
    e = raises(CertificateError, verify_chain, [_tamper(p, len(p) - 1), fx.load("p_int")], fx.store(*ROOTS),
               "example.com", NOW)
    eq(e.reason, "bad_signature")


def test_cross_signed_roots():
    ok(["x_leaf", "x_int", "x_cross"], roots=("x_old_root",))
    ok(["x_leaf", "x_cross", "x_int"], roots=("x_old_root",))
    # With the new root trusted the path ends there, before the last certificate sent.
    ok(["x_leaf", "x_int", "x_cross"], roots=("x_new_root",))
    fails("unknown_issuer", ["x_leaf", "x_int"], roots=("x_old_root",))
    fails("expired", ["x_leaf", "x_int", "x_cross_expired"], roots=("x_old_root",), index=2)
    ok(["x_leaf", "x_int", "x_cross_expired", "x_cross"], roots=("x_old_root",))


def _pin(name):
    return spki_sha256(leaf_spki(fx.load(name)))


def test_pins():
    ok(["a_leaf", "a_int"], pins=[_pin("a_int")])
    ok(["a_leaf", "a_int"], pins=[_pin("a_root"), _pin("e_root")])     # the anchor's key
    ok(["a_leaf", "a_int"], pins=[_pin("a_leaf")])
    e = fails("pin_mismatch", ["a_leaf", "a_int"], pins=[_pin("e_root")])
    eq(e.alert, "bad_certificate")
    # Pins instead of anchors: the path ends at the first pinned key.
    ok(["s_self"], roots=None, pins=[_pin("s_self")])
    ok(["a_leaf", "a_int"], roots=None, pins=[_pin("a_int")])
    fails("pin_mismatch", ["a_leaf"], roots=None, pins=[_pin("a_int")])
    leaf = fx.load("a_leaf")
    fails("bad_signature", [_tamper(leaf, _serial_end(leaf)), "a_int"], roots=None, pins=[_pin("a_int")])
    fails("hostname_mismatch", ["s_self"], "other.example", roots=None, pins=[_pin("s_self")])


def _stream(names, chunk, store=None):
    v = ChainValidator(store or fx.store(*ROOTS), "example.com", NOW)
    for n in names:
        d = fx.load(n)
        v.start_cert(len(d))
        for i in range(0, len(d), chunk):
            v.feed(memoryview(d)[i:i + chunk])
        v.end_cert()
        d = None
    return v.finish()


def test_streaming_in_small_chunks():
    want = leaf_public_key(fx.load("a_leaf"))
    for chunk in (1, 7, 64, 5000):
        eq(_stream(["a_leaf", "a_root", "a_int"], chunk), want)
    eq(_stream(["p_leaf_pss384", "p_int"], 13)[0], "rsa")
    eq(_stream(["d_leaf"], 3)[0], "ed25519")
    eq(_stream(["x_leaf", "x_int", "x_cross_expired", "x_cross"], 50, fx.store("x_old_root"))[0], "ec")
    # A bad leaf is refused as soon as it has arrived, before any other certificate.
    v = ChainValidator(fx.store(*ROOTS), "example.com", NOW)
    d = fx.load("a_leaf_expired")
    v.start_cert(len(d))
    v.feed(d)
    eq(raises(CertificateError, v.end_cert).reason, "expired")


def test_streaming_framing_errors():
    v = ChainValidator(fx.store(*ROOTS), "example.com", NOW)
    d = fx.load("a_leaf")
    v.start_cert(len(d) - 1)
    eq(raises(CertificateError, v.feed, d).reason, "malformed")
    v.start_cert(len(d) + 1)
    v.feed(d)
    eq(raises(CertificateError, v.end_cert).reason, "malformed")
    eq(raises(CertificateError, v.start_cert, 0).reason, "malformed")
    eq(raises(CertificateError, v.start_cert, 1 << 20).reason, "malformed")


def test_malformed_certificates():
    store = fx.store(*ROOTS)
    leaf, inter = fx.load("a_leaf"), fx.load("a_int")
    e = raises(CertificateError, verify_chain, [leaf + b"\x00", inter], store, "example.com", NOW)
    eq((e.reason, e.index, e.alert), ("malformed", 0, "decode_error"))
    # A broken certificate the path does not need is ignored ...
    verify_chain([leaf, b"\x30\x03\x02\x01\x00", inter], store, "example.com", NOW)
    # ... and reported when it is all there was.
    e = raises(CertificateError, verify_chain, [leaf, inter[:-3]], store, "example.com", NOW)
    eq((e.reason, e.index), ("malformed", 1))
    e = raises(CertificateError, verify_chain, [], store, "example.com", NOW)
    eq(e.reason, "malformed")


def test_every_reason_has_an_alert():
    for r in REASONS:
        check(ALERT_FOR_REASON[r] in ALERT_CODES, r)
    for r in ("expired", "not_yet_valid", "unknown_issuer", "bad_signature", "hostname_mismatch",
              "not_a_ca", "path_too_long", "bad_key_usage", "unsupported_critical_extension",
              "name_constraints", "weak_key", "unsupported_algorithm", "malformed"):
        check(r in REASONS, r)


def test_trust_store_needed():
    e = raises(ValueError, verify_chain, fx.chain("a_leaf"), None, "example.com", NOW)
    check(e is not None)
    eq(len(TrustStore()), 0)

"""Reading one certificate (tls13.x509.cert / keys): fields, algorithms, strictness.

Needs the host-made fixtures (tests/pki_fixtures.py; pytest and tests/test_on_vm.py generate them)."""
from mpcheck import check, eq, raises, unhex

import x509fx as fx
from tls13.x509 import CertificateError, cert, der, keys, leaf_public_key, leaf_spki

ALL = ("a_root", "a_int", "a_leaf", "a_leaf_expired", "a_leaf_ku_bad", "a_leaf_crit", "a_leaf_sha1",
       "a_leaf_p521", "a_leaf_weak", "b_int_nobc", "c_selfissued", "d_root", "d_leaf", "e_root",
       "e_leaf256", "e_leaf384", "l_int9", "n_int", "nd_int", "ne_int", "nx_int", "nr_root", "p_int",
       "p_leaf_pss384", "p_leaf_pss512", "p_leaf_sha384", "p_leaf_sha512", "r0_root", "s_self",
       "w_root", "x_cross", "x_old_root")


def _tlv(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    if n < 0x100:
        return bytes([tag, 0x81, n]) + body
    return bytes([tag, 0x82, n >> 8, n & 0xFF]) + body


def _children(buf, s, e):
    out = []
    while s < e:
        t, vs, ve = der.tlv(buf, s, e)
        out.append(bytes(buf[s:ve]))
        s = ve
    return out


def split(data):
    """(TBS field TLVs, signature algorithm TLV, signature BIT STRING TLV) of a certificate."""
    b = memoryview(data)
    s, e = der.whole(b, 0x30)
    tbs, alg, sig = _children(b, s, e)
    tb = memoryview(tbs)
    ts, te = der.whole(tb, 0x30)
    return _children(tb, ts, te), alg, sig


def join(fields, alg, sig):
    return _tlv(0x30, _tlv(0x30, b"".join(fields)) + alg + sig)


def with_extensions(data, fn):
    """Rebuild a certificate with its extension TLVs passed through fn (signature left stale)."""
    fields, alg, sig = split(data)
    x = memoryview(fields[-1])
    xs, xe = der.expect(x, 0, len(x), 0xA3)
    ls, le = der.expect(x, xs, xe, 0x30)
    exts = fn(_children(x, ls, le))
    fields[-1] = _tlv(0xA3, _tlv(0x30, b"".join(exts)))
    return join(fields, alg, sig)


def _malformed(data):
    e = raises(CertificateError, cert.parse, data)
    eq(e.reason, "malformed")
    return e


def test_every_fixture_parses():
    for n in ALL:
        c = cert.parse(fx.load(n))
        check(c.subject is not None and c.issuer is not None, n)


def test_leaf_fields():
    d = fx.load("a_leaf")
    c = cert.parse(d)
    eq(c.version, 2)
    eq(c.alg, keys.ALG_ECDSA_SHA256)
    eq(c.key[0], "ec")
    eq(c.key[1], "P-256")
    eq(len(c.key[2]), 65)
    eq(c.key_bits, 256)
    eq((c.not_before, c.not_after), (1704067200, 1893456000))
    eq(c.ku, cert.KU_DIGITAL_SIGNATURE)
    eq(c.eku, cert.EKU_SERVER_AUTH)
    eq(cert.parse(fx.load("a_leaf_eku_none")).eku, -1)
    eq(cert.parse(fx.load("a_leaf_eku_any")).eku, cert.EKU_ANY)
    eq((c.ca, c.pathlen), (False, -1))
    check(c.san is not None and c.nc is None and c.ski is not None and c.aki is not None)
    eq(c.err, None)
    i = cert.parse(fx.load("a_int"))
    eq(bytes(c.issuer), bytes(i.subject))
    eq(bytes(c.aki), bytes(i.ski))
    eq((i.ca, i.pathlen), (True, 0))
    eq(i.ku, cert.KU_KEY_CERT_SIGN | (1 << 6))
    # The TBS is a prefix of the certificate body, followed by the algorithm and the signature.
    eq(bytes(c.tbs), d[4:4 + len(c.tbs)])
    eq(leaf_public_key(d), ("ec", "P-256", bytes(c.key[2])))
    eq(leaf_spki(d), bytes(c.spki))


def test_key_types_and_algorithms():
    r = cert.parse(fx.load("a_root"))
    eq((r.key[0], r.key[2], r.key_bits, r.alg), ("rsa", 65537, 2048, keys.ALG_RSA_SHA256))
    p = cert.parse(fx.load("p_int"))
    eq((p.alg, p.salt), (keys.ALG_PSS_SHA256, 32))
    eq((cert.parse(fx.load("p_leaf_pss384")).alg, cert.parse(fx.load("p_leaf_pss384")).salt),
       (keys.ALG_PSS_SHA384, 48))
    eq(cert.parse(fx.load("p_leaf_sha512")).alg, keys.ALG_RSA_SHA512)
    e = cert.parse(fx.load("e_root"))
    eq((e.key[1], len(e.key[2]), e.key_bits, e.alg), ("P-384", 97, 384, keys.ALG_ECDSA_SHA384))
    eq(cert.parse(fx.load("e_leaf256")).alg, keys.ALG_ECDSA_SHA256)
    d = cert.parse(fx.load("d_leaf"))
    eq((d.key[0], len(d.key[1]), d.alg), ("ed25519", 32, keys.ALG_ED25519))
    eq(cert.parse(fx.load("w_root")).key_bits, 1024)


def test_policy_problems_are_recorded():
    c = cert.parse(fx.load("a_leaf_sha1"))
    eq((c.err, c.alg), ("unsupported_algorithm", 0))
    c = cert.parse(fx.load("a_leaf_p521"))
    eq((c.err, c.key), ("unsupported_algorithm", None))
    c = cert.parse(fx.load("a_leaf_crit"))
    eq((c.err, c.err_detail), ("unsupported_critical_extension", "1.3.6.1.4.1.55555.1"))
    eq(cert.parse(fx.load("a_leaf_noncrit")).err, None)
    eq(cert.parse(fx.load("a_leaf_policy_crit")).err_detail, "2.5.29.32")
    e = raises(CertificateError, leaf_public_key, fx.load("a_leaf_p521"))
    eq(e.reason, "unsupported_algorithm")


def test_strict_framing():
    d = fx.load("a_leaf")
    _malformed(d + b"\x00")
    _malformed(d[:-1])
    _malformed(d[:100])
    _malformed(b"")
    # The same certificate with a non-minimal outer length (3 length octets instead of 2).
    check(d[1] == 0x82)
    _malformed(b"\x30\x83\x00" + d[2:])


def test_signature_algorithm_must_match_inner():
    fields, alg, sig = split(fx.load("a_leaf"))
    other = _tlv(0x30, _tlv(0x06, unhex("2a8648ce3d040303")))     # ecdsa-with-SHA384
    e = _malformed(join(fields, other, sig))
    check("mismatch" in str(e))


def test_extension_rules():
    d = fx.load("a_leaf")
    _malformed(with_extensions(d, lambda xs: xs + xs[:1]))             # duplicate
    _malformed(with_extensions(d, lambda xs: []))                      # empty extensions
    eq(cert.parse(with_extensions(d, lambda xs: xs[:1])).err, None)    # fewer is fine
    # Extensions need v3: drop the version field.
    fields, alg, sig = split(d)
    _malformed(join(fields[1:], alg, sig))
    # An explicit v1 is not DER.
    _malformed(join([_tlv(0xA0, b"\x02\x01\x00")] + fields[1:-1], alg, sig))
    # A v1 certificate without extensions is fine.
    c = cert.parse(join(fields[1:-1], alg, sig))
    eq((c.version, c.ca, c.ku, c.san), (0, False, -1, None))


def _alg(oid_hex, params=b""):
    b = memoryview(_tlv(0x06, unhex(oid_hex)) + params)
    return keys.sig_alg(b, 0, len(b))


NULL = b"\x05\x00"
PKCS1 = "2a864886f70d0101"
SHA256 = _tlv(0x30, _tlv(0x06, unhex("608648016503040201")) + NULL)
SHA384 = _tlv(0x30, _tlv(0x06, unhex("608648016503040202")))


def _mgf(h):
    return _tlv(0x30, _tlv(0x06, unhex(PKCS1 + "08")) + h)


def _pss(*fields):
    return _tlv(0x30, b"".join(fields))


def _unsupported(fn, *args):
    e = raises(CertificateError, fn, *args)
    eq(e.reason, "unsupported_algorithm")


def test_signature_algorithm_identifiers():
    eq(_alg(PKCS1 + "0b", NULL), (keys.ALG_RSA_SHA256, 0))
    eq(_alg(PKCS1 + "0b"), (keys.ALG_RSA_SHA256, 0))        # absent NULL tolerated (RFC 4055)
    eq(_alg(PKCS1 + "0d", NULL), (keys.ALG_RSA_SHA512, 0))
    eq(_alg("2a8648ce3d040304"), (keys.ALG_ECDSA_SHA512, 0))
    eq(_alg("2b6570"), (keys.ALG_ED25519, 0))
    for oid in (PKCS1 + "05", PKCS1 + "04", "2a8648ce3d0401", "2b6571", "2a8648ce380403"):
        _unsupported(_alg, oid, NULL if oid.startswith(PKCS1) else b"")
    e = raises(CertificateError, _alg, "2a8648ce3d040302", NULL)   # ECDSA takes no parameters
    eq(e.reason, "malformed")


def test_pss_parameters():
    pss = PKCS1 + "0a"
    sha256_p = _pss(_tlv(0xA0, SHA256), _tlv(0xA1, _mgf(SHA256)), _tlv(0xA2, b"\x02\x01\x20"))
    eq(_alg(pss, sha256_p), (keys.ALG_PSS_SHA256, 32))
    eq(_alg(pss, _pss(_tlv(0xA0, SHA384), _tlv(0xA1, _mgf(SHA384)))), (keys.ALG_PSS_SHA384, 20))
    eq(_alg(pss, _pss(_tlv(0xA0, SHA256), _tlv(0xA1, _mgf(SHA256)), _tlv(0xA3, b"\x02\x01\x01")))[0],
       keys.ALG_PSS_SHA256)
    _unsupported(_alg, pss, _pss())                                            # SHA-1 defaults
    _unsupported(_alg, pss, _pss(_tlv(0xA0, SHA256)))                          # MGF1-SHA1 default
    _unsupported(_alg, pss, _pss(_tlv(0xA0, SHA256), _tlv(0xA1, _mgf(SHA384))))
    _unsupported(_alg, pss, _pss(_tlv(0xA0, SHA256), _tlv(0xA1, _mgf(SHA256)), _tlv(0xA3, b"\x02\x01\x02")))
    e = raises(CertificateError, _alg, pss, _pss(_tlv(0xA1, _mgf(SHA256)), _tlv(0xA0, SHA256)))
    eq(e.reason, "malformed")                                                  # out of order


def _spki(alg_body, key_bytes):
    b = memoryview(_tlv(0x30, _tlv(0x30, alg_body) + _tlv(0x03, b"\x00" + key_bytes)))
    return keys.spki_key(b)


EC = _tlv(0x06, unhex("2a8648ce3d0201"))
P256 = _tlv(0x06, unhex("2a8648ce3d030107"))
RSA_ALG = _tlv(0x06, unhex(PKCS1 + "01")) + NULL


def _rsa_key(n, e):
    return _tlv(0x30, _tlv(0x02, n) + _tlv(0x02, e))


def test_public_keys():
    key, bits = _spki(EC + P256, b"\x04" + bytes(64))
    eq((key[1], bits), ("P-256", 256))
    _unsupported(_spki, EC + P256, b"\x02" + bytes(32))                     # compressed point
    _unsupported(_spki, EC + _tlv(0x06, unhex("2b81040023")), b"\x04" + bytes(132))   # P-521
    e = raises(CertificateError, _spki, EC + P256, b"\x04" + bytes(63))
    eq(e.reason, "malformed")
    n = b"\x00\xc1" + bytes(255)
    key, bits = _spki(RSA_ALG, _rsa_key(n, b"\x01\x00\x01"))
    eq((key[0], key[2], bits), ("rsa", 65537, 2048))
    eq(_spki(RSA_ALG, _rsa_key(b"\x7f" + bytes(255), b"\x03"))[1], 2047)
    for e_ in (b"\x01", b"\x02", b"\x01\x00\x00"):
        eq(raises(CertificateError, _spki, RSA_ALG, _rsa_key(n, e_)).reason, "weak_key")
    eq(raises(CertificateError, _spki, RSA_ALG, _rsa_key(b"\x00\x01", b"\x03")).reason, "malformed")
    ed = _tlv(0x06, unhex("2b6570"))
    eq(_spki(ed, bytes(32))[0], ("ed25519", memoryview(bytes(32))))
    eq(raises(CertificateError, _spki, ed, bytes(31)).reason, "malformed")
    _unsupported(_spki, _tlv(0x06, unhex("2b656e")), bytes(32))             # X25519 key


def test_mutations_raise_only_certificate_error():
    # Every 5th byte flipped in turn, and every truncation point of the first 120 bytes: parsing either
    # succeeds or raises CertificateError, never anything else (IndexError, ValueError, ...).
    for name in ("a_leaf", "p_int", "n_int"):
        d = fx.load(name)
        for i in range(0, len(d), 5):
            b = bytearray(d)
            b[i] ^= 0x55
            try:
                cert.parse(b)
            except CertificateError:
                pass
        for n in range(120):
            try:
                cert.parse(d[:n])
            except CertificateError:
                pass

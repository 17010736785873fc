"""RSA PKCS#1 v1.5 and PSS verification.

Wycheproof: every rsa_signature_* and rsa_pss_* file runs whole on CPython. On the VM each file runs
the first 10 tests of every group (the valid cases and the MissingNull `acceptable` case come first)
plus every 4th test after them, a third to a half of each file; the SHA-384/512 digests there come
from the pure SHA-512, the main cost. rsa_pss_misc: only the groups whose hash is SHA-256/384/512 with
MGF1 over the same hash (18 of 150): SHA-1, SHA-224 and mixed MGF hashes are outside the API.
"""
from mpcheck import check, eq, raises, unhex, IS_MICROPYTHON
from wyche import cases

from tls13.crypto import rsa

_HASH = {"SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
_FIRST = 10
_STRIDE = 4


def _digest(name, msg):
    if IS_MICROPYTHON:
        from tls13.crypto import hashes
        return hashes.new(name, msg).digest()
    import hashlib
    return hashlib.new(name, msg).digest()


def _run(name, pss):
    """Check a file (a VM subset, see the module doc); returns counts by outcome."""
    counts = {"valid": 0, "invalid": 0, "acceptable": 0, "skipped": 0}
    key = None
    idx = seen = 0
    gc = None
    if IS_MICROPYTHON:
        import gc
    for g, t in cases(name):
        pk = g["publicKey"]
        k = pk["modulus"] + g["sha"] + str(g.get("sLen")) + g.get("mgfSha", "")
        if k != key:
            key = k
            idx = 0
        idx += 1
        seen += 1
        h = _HASH.get(g["sha"])
        if h is None or (pss and g["mgfSha"] != g["sha"]):
            counts["skipped"] += 1
            continue
        if IS_MICROPYTHON:
            if idx > _FIRST and seen % _STRIDE:
                continue
            gc.collect()
        n = int(pk["modulus"], 16)
        e = int(pk["publicExponent"], 16)
        dg = _digest(h, unhex(t["msg"]))
        sig = unhex(t["sig"])
        if pss:
            got = rsa.verify_pss(n, e, h, dg, sig, g["sLen"])
        else:
            got = rsa.verify_pkcs1v15(n, e, h, dg, sig)
        # Strict: `acceptable` (PKCS#1 v1.5 DigestInfo without NULL) must be rejected too.
        eq(got, t["result"] == "valid", "%s tcId %d (%s %s)" % (name, t["tcId"], t["comment"], t["flags"]))
        counts[t["result"]] += 1
    return counts


def _pkcs1(name):
    c = _run(name, False)
    check(c["valid"] >= 7 and c["invalid"] >= 50 and c["acceptable"] == 1, "%s coverage %r" % (name, c))


def _pss(name):
    c = _run(name, True)
    check(c["valid"] >= 20 and c["invalid"] >= 10, "%s coverage %r" % (name, c))


def test_pkcs1_2048_sha256():
    _pkcs1("rsa_signature_2048_sha256_test")


def test_pkcs1_2048_sha384():
    _pkcs1("rsa_signature_2048_sha384_test")


def test_pkcs1_2048_sha512():
    _pkcs1("rsa_signature_2048_sha512_test")


def test_pkcs1_3072_sha256():
    _pkcs1("rsa_signature_3072_sha256_test")


def test_pkcs1_3072_sha384():
    _pkcs1("rsa_signature_3072_sha384_test")


def test_pkcs1_4096_sha256():
    _pkcs1("rsa_signature_4096_sha256_test")


def test_pkcs1_4096_sha384():
    _pkcs1("rsa_signature_4096_sha384_test")


def test_pkcs1_4096_sha512():
    _pkcs1("rsa_signature_4096_sha512_test")


def test_pss_2048_sha256():
    _pss("rsa_pss_2048_sha256_mgf1_32_test")


def test_pss_2048_sha384():
    _pss("rsa_pss_2048_sha384_mgf1_48_test")


def test_pss_3072_sha256():
    _pss("rsa_pss_3072_sha256_mgf1_32_test")


def test_pss_4096_sha256():
    _pss("rsa_pss_4096_sha256_mgf1_32_test")


def test_pss_4096_sha384():
    _pss("rsa_pss_4096_sha384_mgf1_48_test")


def test_pss_4096_sha512():
    _pss("rsa_pss_4096_sha512_mgf1_64_test")


def test_pss_misc_salt_lengths():
    c = _run("rsa_pss_misc_test", True)
    if IS_MICROPYTHON:
        check(c["valid"] >= 8, "coverage %r" % (c,))
    else:
        eq(c["valid"], 18, "SHA-2 groups with matching MGF1 hash")
    eq(c["skipped"], 132, "groups outside the API")


def _first_vector(name):
    for g, t in cases(name):
        if t["result"] == "valid":
            pk = g["publicKey"]
            return (int(pk["modulus"], 16), int(pk["publicExponent"], 16), g, t)
    raise AssertionError("no valid vector")


def test_pkcs1_edges():
    n, e, g, t = _first_vector("rsa_signature_2048_sha256_test")
    dg = _digest("sha256", unhex(t["msg"]))
    sig = unhex(t["sig"])
    check(rsa.verify_pkcs1v15(n, e, "sha256", dg, sig))
    check(rsa.verify_pkcs1v15(n, e, "sha256", dg, bytearray(sig)))
    check(not rsa.verify_pkcs1v15(n, e, "sha256", dg, b"\x00" + sig), "longer than the modulus")
    check(not rsa.verify_pkcs1v15(n, e, "sha256", dg, sig[1:]), "shorter than the modulus")
    check(not rsa.verify_pkcs1v15(n, e, "sha256", dg, n.to_bytes(256, "big")), "s = n")
    check(not rsa.verify_pkcs1v15(n, e, "sha256", dg, b"\xff" * 256), "s > n")
    check(not rsa.verify_pkcs1v15(n, e, "sha256", dg, bytes(256)), "s = 0")
    # Same digest claimed for the wrong hash: different DigestInfo.
    raises(ValueError, rsa.verify_pkcs1v15, n, e, "sha384", dg, sig)
    check(not rsa.verify_pkcs1v15(n, e, "sha384", dg + bytes(16), sig))
    raises(ValueError, rsa.verify_pkcs1v15, n, e, "sha1", dg, sig)
    raises(ValueError, rsa.verify_pkcs1v15, n, e, "sha256", dg[:31], sig)


def test_key_checks():
    n, e, g, t = _first_vector("rsa_signature_2048_sha256_test")
    dg = _digest("sha256", b"")
    sig = bytes(256)
    for bad_n, bad_e in ((n + 1, e), (n, 1), (n, 2), (n, 65536), (n, n + 2), ((1 << 255) + 1, 3), (0, 3)):
        raises(ValueError, rsa.verify_pkcs1v15, bad_n, bad_e, "sha256", dg, sig)
        raises(ValueError, rsa.verify_pss, bad_n, bad_e, "sha256", dg, sig)
    eq(rsa._bitlen(n), 2048, "bit length")
    eq(rsa._bitlen((1 << 2047) - 1), 2047, "bit length")
    eq(rsa._bitlen(1), 1, "bit length of 1")


def test_pss_edges():
    n, e, g, t = _first_vector("rsa_pss_2048_sha256_mgf1_32_test")
    dg = _digest("sha256", unhex(t["msg"]))
    sig = unhex(t["sig"])
    check(rsa.verify_pss(n, e, "sha256", dg, sig))
    check(rsa.verify_pss(n, e, "sha256", dg, sig, 32))
    check(not rsa.verify_pss(n, e, "sha256", dg, sig, 31), "wrong salt length")
    check(not rsa.verify_pss(n, e, "sha256", dg, sig, 33), "wrong salt length")
    check(not rsa.verify_pss(n, e, "sha256", dg, sig, 300), "salt longer than the block")
    raises(ValueError, rsa.verify_pss, n, e, "sha256", dg, sig, -1)
    check(not rsa.verify_pss(n, e, "sha256", dg, sig[:-1]))
    check(not rsa.verify_pss(n, e, "sha256", _digest("sha256", b"other"), sig))
    # A PSS signature is not a PKCS#1 v1.5 one, nor the other way round.
    check(not rsa.verify_pkcs1v15(n, e, "sha256", dg, sig))
    n2, e2, g2, t2 = _first_vector("rsa_signature_2048_sha256_test")
    check(not rsa.verify_pss(n2, e2, "sha256", _digest("sha256", unhex(t2["msg"])), unhex(t2["sig"])))


def test_timing_2048():
    """Median verification time for RSA-2048/SHA-256 (printed for the report)."""
    tick, diff = _clock()
    n, e, g, t = _first_vector("rsa_signature_2048_sha256_test")
    dg = _digest("sha256", unhex(t["msg"]))
    sig = unhex(t["sig"])
    n3, e3, g3, t3 = _first_vector("rsa_pss_2048_sha256_mgf1_32_test")
    dg3 = _digest("sha256", unhex(t3["msg"]))
    sig3 = unhex(t3["sig"])
    for label, fn in (("pkcs1", lambda: rsa.verify_pkcs1v15(n, e, "sha256", dg, sig)),
                      ("pss", lambda: rsa.verify_pss(n3, e3, "sha256", dg3, sig3))):
        ts = []
        for _ in range(11):
            t0 = tick()
            ok = fn()
            ts.append(diff(tick(), t0))
            check(ok)
        ts.sort()
        print("RSA-2048 %s verify median %d us" % (label, ts[5]))


def _clock():
    import time
    if hasattr(time, "ticks_us"):
        return time.ticks_us, time.ticks_diff
    return (lambda: int(time.perf_counter() * 1e6)), (lambda a, b: a - b)

"""ECDSA P-256/P-384 verification, P-256 signing (RFC 6979) and key derivation.

Wycheproof: every test of ecdsa_secp256r1_sha256 runs on both runtimes (P-384 files:
test_sig_ecdsa_p384.py).
"""
from mpcheck import check, eq, raises, unhex, IS_MICROPYTHON
from wyche import cases

from tls13.crypto import ecdsa

_HASH = {"SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}

# RFC 6979 appendix A.2.5 (P-256)
_X = unhex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721")
_UX = "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"
_UY = "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299"
_SAMPLE_R = "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
_SAMPLE_S = "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"
_TEST_R = "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367"
_TEST_S = "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083"


def _digest(name, msg):
    if IS_MICROPYTHON:
        from tls13.crypto import hashes
        return hashes.new(name, msg).digest()
    import hashlib
    return hashlib.new(name, msg).digest()


def _gc():
    if IS_MICROPYTHON:
        import gc
        return gc
    return None


def _pub():
    return b"\x04" + unhex(_UX) + unhex(_UY)


def _der(r_hex, s_hex):
    return ecdsa.encode_sig(int(r_hex, 16), int(s_hex, 16), 32)


def _wycheproof(name, curve, size):
    """Check every test of the file; returns the (valid, invalid) counts."""
    nv = ni = 0
    gc = _gc()
    for g, t in cases(name):
        pk = g["publicKey"]
        if gc:
            gc.collect()    # the next vector line needs up to 9.4 KB in few pieces
        pub = b"\x04" + int(pk["wx"], 16).to_bytes(size, "big") + int(pk["wy"], 16).to_bytes(size, "big")
        dg = _digest(_HASH[g["sha"]], unhex(t["msg"]))
        got = ecdsa.verify(curve, pub, dg, unhex(t["sig"]))
        want = t["result"] == "valid"
        eq(got, want, "%s tcId %d (%s)" % (name, t["tcId"], t["comment"]))
        if want:
            nv += 1
        else:
            ni += 1
    return nv, ni


# Wycheproof comes first: its vector lines reach 9.4 KB, and only a fresh 110 KB heap is sure to hold
# the pieces to read and parse one.

def test_wycheproof_p256_sha256():
    nv, ni = _wycheproof("ecdsa_secp256r1_sha256_test", "P-256", 32)
    check(nv > 100 and ni > 250, "coverage %d/%d" % (nv, ni))


def test_rfc6979_public_key():
    eq(ecdsa.public_key_p256(_X), _pub(), "public key")


def test_rfc6979_sample_and_test():
    eq(ecdsa.sign_p256(_X, _digest("sha256", b"sample")), _der(_SAMPLE_R, _SAMPLE_S), "sample")
    eq(ecdsa.sign_p256(_X, _digest("sha256", b"test")), _der(_TEST_R, _TEST_S), "test")
    check(ecdsa.verify("P-256", _pub(), _digest("sha256", b"sample"), _der(_SAMPLE_R, _SAMPLE_S)))
    check(ecdsa.verify("P-256", _pub(), _digest("sha256", b"test"), _der(_TEST_R, _TEST_S)))
    check(not ecdsa.verify("P-256", _pub(), _digest("sha256", b"test"), _der(_SAMPLE_R, _SAMPLE_S)))


def test_hedged_signing():
    dg = _digest("sha256", b"hedged")
    plain = ecdsa.sign_p256(_X, dg)
    eq(ecdsa.sign_p256(_X, dg), plain, "deterministic")
    h1 = ecdsa.sign_p256(_X, dg, extra_entropy=b"\x01" * 32)
    h2 = ecdsa.sign_p256(_X, dg, extra_entropy=b"\x02" * 32)
    check(h1 != plain and h2 != plain and h1 != h2, "extra entropy changes k")
    for sig in (plain, h1, h2):
        check(ecdsa.verify("P-256", _pub(), dg, sig))


def test_signing_rejects_bad_keys():
    dg = _digest("sha256", b"x")
    n = ecdsa.P256.n
    raises(ValueError, ecdsa.sign_p256, bytes(32), dg)
    raises(ValueError, ecdsa.sign_p256, n.to_bytes(32, "big"), dg)
    raises(ValueError, ecdsa.sign_p256, _X[1:], dg)
    raises(ValueError, ecdsa.public_key_p256, bytes(32))
    # n - 1 is the largest key; its public key is -G
    pub = ecdsa.public_key_p256((n - 1).to_bytes(32, "big"))
    eq(pub[1:33], ecdsa.P256.gx.to_bytes(32, "big"), "x(-G)")
    eq(int.from_bytes(pub[33:], "big"), ecdsa.P256.p - ecdsa.P256.gy, "y(-G)")


def test_digest_truncation():
    # A 64-byte digest on P-256 counts only by its leftmost 32 bytes (FIPS 186-4).
    d64 = _digest("sha512", b"long digest")
    sig = ecdsa.sign_p256(_X, d64)
    eq(sig, ecdsa.sign_p256(_X, d64[:32]), "same signature")
    check(ecdsa.verify("P-256", _pub(), d64, sig))
    check(ecdsa.verify("P-256", _pub(), d64[:32] + bytes(32), sig))
    check(not ecdsa.verify("P-256", _pub(), b"\x00" + d64[1:], sig))
    # A digest shorter than the order is used whole (P-384 with SHA-256 in Wycheproof too).
    d20 = d64[:20]
    sig = ecdsa.sign_p256(_X, d20)
    check(ecdsa.verify("P-256", _pub(), d20, sig))
    check(not ecdsa.verify("P-256", _pub(), d20 + b"\x00", sig))


def test_der_strictness():
    dg = _digest("sha256", b"sample")
    pub = _pub()
    good = _der(_SAMPLE_R, _SAMPLE_S)           # r and s both need a 00 pad: 30 46 02 21 00 ..
    check(ecdsa.verify("P-256", pub, dg, good))
    r = unhex(_SAMPLE_R)
    s = unhex(_SAMPLE_S)

    def seq(body):
        return b"\x30" + bytes([len(body)]) + body

    def integer(v):
        return b"\x02" + bytes([len(v)]) + v

    bad = [
        good + b"\x00",                                          # trailing byte
        good[:-1],                                               # truncated
        b"\x30\x81\x46" + good[2:],                              # long-form length
        seq(integer(r) + integer(b"\x00" + s)),                  # negative r (pad dropped)
        seq(integer(b"\x00" + r) + integer(s)),                  # negative s
        seq(integer(b"\x00\x00" + r) + integer(b"\x00" + s)),    # extra leading zero
        seq(integer(b"\x00" + r) + integer(b"\x00" + s) + b"\x05\x00"),   # extra element
        seq(integer(b"\x00" + r)),                               # s missing
        b"\x31" + good[1:],                                      # SET, not SEQUENCE
        seq(b"\x03" + integer(b"\x00" + r)[1:] + integer(b"\x00" + s)),   # not an INTEGER
        seq(integer(b"") + integer(b"\x00" + s)),                # empty INTEGER
        b"",
        b"\x30\x00",
    ]
    for i, sig in enumerate(bad):
        eq(ecdsa.verify("P-256", pub, dg, sig), False, "malformed signature %d" % i)
    n = ecdsa.P256.n

    def minimal(v):
        b = v.to_bytes(34, "big")
        i = 0
        while i < 33 and b[i] == 0 and b[i + 1] < 0x80:
            i += 1
        return integer(b[i:])

    eq(minimal(0), b"\x02\x01\x00", "encoder")
    eq(minimal(0x80), b"\x02\x02\x00\x80", "encoder")
    for rv, sv in ((0, 1), (1, 0), (n, 1), (1, n), (n + int(_SAMPLE_R, 16), int(_SAMPLE_S, 16))):
        sig = seq(minimal(rv) + minimal(sv))
        eq(ecdsa.verify("P-256", pub, dg, sig), False, "r, s out of range")
    # In range and minimal but wrong: r = 1, s = 1 parse and then fail the equation.
    eq(ecdsa.verify("P-256", pub, dg, seq(minimal(1) + minimal(1))), False, "r = s = 1")
    # The malleable twin (r, n - s) is a valid ECDSA signature too: ECDSA has no low-s rule.
    twin = ecdsa.encode_sig(int(_SAMPLE_R, 16), n - int(_SAMPLE_S, 16), 32)
    check(ecdsa.verify("P-256", pub, dg, twin))


def test_public_key_validation():
    dg = _digest("sha256", b"sample")
    sig = _der(_SAMPLE_R, _SAMPLE_S)
    pub = _pub()
    p = ecdsa.P256.p
    bad = [
        pub[:-1],
        b"\x02" + pub[1:33],                                     # compressed form is not accepted
        b"\x03" + pub[1:],
        b"\x00",                                                 # infinity
        pub[:-1] + bytes([pub[-1] ^ 1]),                         # off the curve
        b"\x04" + bytes(64),
        b"\x04" + (int(_UX, 16) + p).to_bytes(33, "big")[1:] + pub[33:],   # x >= p (wraps mod 2^256)
    ]
    for i, k in enumerate(bad):
        raises(ValueError, ecdsa.verify, "P-256", k, dg, sig)
    big_x = b"\x04" + b"\xff" * 32 + pub[33:]
    raises(ValueError, ecdsa.verify, "P-256", big_x, dg, sig)
    raises(ValueError, ecdsa.verify, "P-384", pub, dg, sig)
    raises(ValueError, ecdsa.verify, "P-521", pub, dg, sig)


def test_public_inverse():
    for m in (ecdsa.P256.p, ecdsa.P256.n, ecdsa.P384.n):
        for a in (1, 2, 3, m - 1, m + 5, ecdsa.P256.gx, ecdsa.P384.gy):
            eq(ecdsa._inv_public(a, m) * a % m, 1, "inverse")


def test_tampering():
    dg = _digest("sha256", b"sample")
    sig = _der(_SAMPLE_R, _SAMPLE_S)
    for i in (0, 7, 31):
        t = bytearray(dg)
        t[i] ^= 0x10
        eq(ecdsa.verify("P-256", _pub(), t, sig), False, "digest byte %d" % i)
    for i in (6, 20, 40, 70):
        t = bytearray(sig)
        t[i] ^= 0x01
        eq(ecdsa.verify("P-256", _pub(), dg, t), False, "signature byte %d" % i)


def test_timing_p256():
    """Median verify and sign times (printed; the VM numbers go in the report, not in an assert)."""
    tick, diff = _clock()
    dg = _digest("sha256", b"sample")
    sig = _der(_SAMPLE_R, _SAMPLE_S)
    pub = _pub()
    ts = []
    for _ in range(9):
        t0 = tick()
        ok = ecdsa.verify("P-256", pub, dg, sig)
        ts.append(diff(tick(), t0))
        check(ok)
    ts.sort()
    t0 = tick()
    ecdsa.sign_p256(_X, dg)
    print("P-256 verify median %d us, sign %d us" % (ts[4], diff(tick(), t0)))


def _clock():
    import time
    if hasattr(time, "ticks_us"):
        return time.ticks_us, time.ticks_diff
    return (lambda: int(time.perf_counter() * 1e6)), (lambda a, b: a - b)

"""Ed25519 verification: RFC 8032 test vectors, all of Wycheproof's ed25519_test on both runtimes,
strict encodings (S < L, canonical R and A, exact lengths)."""
from mpcheck import check, eq, raises, unhex
from wyche import cases

from tls13.crypto import ed25519

# RFC 8032 section 7.1, tests 1-3
_RFC = (
    ("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46b"
     "d25bf5f0595bbe24655141438e7a100b"),
    ("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c"
     "387b2eaeb4302aeeb00d291612bb0c00"),
    ("fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc659"
     "4a7c15e9716ed28dc027beceea1ec40a"),
)

_L = 2 ** 252 + 27742317777372353535851937790883648493


def test_wycheproof():
    counts = {"valid": 0, "invalid": 0}
    for g, t in cases("ed25519_test"):
        pk = unhex(g["publicKey"]["pk"])
        got = ed25519.verify(pk, unhex(t["msg"]), unhex(t["sig"]))
        eq(got, t["result"] == "valid", "tcId %d (%s %s)" % (t["tcId"], t["comment"], t["flags"]))
        counts[t["result"]] += 1
    eq(counts, {"valid": 88, "invalid": 63}, "all of the file")


def test_rfc8032_vectors():
    for pk, msg, sig in _RFC:
        check(ed25519.verify(unhex(pk), unhex(msg), unhex(sig)), "RFC 8032 " + pk[:8])
        check(not ed25519.verify(unhex(pk), unhex(msg) + b"\x00", unhex(sig)))


def test_constants():
    p = ed25519._P
    eq(ed25519._D, (-121665 * pow(121666, p - 2, p)) % p, "d")
    eq(ed25519._SQRT_M1, pow(2, (p - 1) // 4, p), "sqrt(-1)")
    eq(ed25519._SQRT_M1 * ed25519._SQRT_M1 % p, p - 1, "sqrt(-1)^2")
    x, y = ed25519._BX, ed25519._BY
    eq((y * y - x * x - 1 - ed25519._D * x * x % p * y * y) % p, 0, "B on the curve")


def test_strict_lengths_and_scalar():
    pk, msg, sig = (unhex(v) for v in _RFC[1])
    check(ed25519.verify(pk, msg, sig))
    check(not ed25519.verify(pk, msg, sig[:63]))
    check(not ed25519.verify(pk, msg, sig + b"\x00"))
    check(not ed25519.verify(pk, msg, b""))
    # S + L is the same scalar mod L but must be rejected (malleability).
    s = int.from_bytes(sig[32:], "little")
    check(s + _L < 1 << 256)
    check(not ed25519.verify(pk, msg, sig[:32] + (s + _L).to_bytes(32, "little")))
    check(not ed25519.verify(pk, msg, sig[:32] + _L.to_bytes(32, "little")))
    raises(ValueError, ed25519.verify, pk[:31], msg, sig)
    raises(ValueError, ed25519.verify, pk + b"\x00", msg, sig)


def test_point_decoding():
    p = ed25519._P
    # y = 1 with x = 0 is the identity; its "negative zero" twin (sign bit set) is not canonical.
    eq(ed25519._decode((1).to_bytes(32, "little")), (0, 1), "identity")
    eq(ed25519._decode(((1 << 255) | 1).to_bytes(32, "little")), None, "negative zero")
    # y >= p is non-canonical (p + 1 would alias y = 1).
    eq(ed25519._decode((p + 1).to_bytes(32, "little")), None, "y = p + 1")
    eq(ed25519._decode((p).to_bytes(32, "little")), None, "y = p")
    # y = 2 is not on the curve (no square root for x^2).
    eq(ed25519._decode((2).to_bytes(32, "little")), None, "y = 2")
    bx, by = ed25519._BX, ed25519._BY
    eq(ed25519._decode(by.to_bytes(32, "little")), (bx, by), "B")
    eq(ed25519._decode((by | 1 << 255).to_bytes(32, "little")), (p - bx, by), "-B")
    raises(ValueError, ed25519.verify, (p + 1).to_bytes(32, "little"), b"", bytes(64))
    raises(ValueError, ed25519.verify, (2).to_bytes(32, "little"), b"", bytes(64))


def test_tampering():
    pk, msg, sig = (unhex(v) for v in _RFC[2])
    for i in (0, 5, 31, 32, 40, 63):
        t = bytearray(sig)
        t[i] ^= 0x01
        eq(ed25519.verify(pk, msg, bytes(t)), False, "signature byte %d" % i)
    t = bytearray(pk)
    t[3] ^= 0x40
    try:
        ok = ed25519.verify(bytes(t), msg, sig)
    except ValueError:
        ok = False
    eq(ok, False, "other key")


def test_timing():
    """Median verification time (printed for the report)."""
    tick, diff = _clock()
    pk, msg, sig = (unhex(v) for v in _RFC[2])
    ts = []
    for _ in range(9):
        t0 = tick()
        ok = ed25519.verify(pk, msg, sig)
        ts.append(diff(tick(), t0))
        check(ok)
    ts.sort()
    print("Ed25519 verify median %d us" % ts[4])


def _clock():
    import time
    if hasattr(time, "ticks_us"):
        return time.ticks_us, time.ticks_diff
    return (lambda: int(time.perf_counter() * 1e6)), (lambda a, b: a - b)

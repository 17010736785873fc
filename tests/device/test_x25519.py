from mpcheck import check, eq, raises, unhex

from tls13.crypto.x25519 import P, X25519_BASEPOINT, generate_keypair, x25519

# RFC 7748 section 6.1.
ALICE_PRIV = unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
ALICE_PUB = unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
BOB_PRIV = unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
BOB_PUB = unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
SHARED = unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")


def _le(n):
    return n.to_bytes(32, "little")


def test_rfc7748_function_vectors():
    eq(x25519(unhex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
              unhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")),
       unhex("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"), "vector 1")
    # The second vector's u has its top bit set: it must be masked, not rejected.
    eq(x25519(unhex("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
              unhex("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493")),
       unhex("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"), "vector 2")


def _iterate(n):
    k = u = X25519_BASEPOINT
    for _ in range(n):
        k, u = x25519(k, u), k
    return k


def test_rfc7748_iterated_once():
    eq(_iterate(1), unhex("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"))


def test_rfc7748_iterated_1000():
    # About 4 s on an idle VM (1,000 calls); each output feeds the next scalar and u.
    eq(_iterate(1000), unhex("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"))


def test_rfc7748_diffie_hellman():
    eq(x25519(ALICE_PRIV, X25519_BASEPOINT), ALICE_PUB, "Alice's public key")
    eq(x25519(BOB_PRIV, X25519_BASEPOINT), BOB_PUB, "Bob's public key")
    eq(x25519(ALICE_PRIV, BOB_PUB), SHARED, "Alice's shared secret")
    eq(x25519(BOB_PRIV, ALICE_PUB), SHARED, "Bob's shared secret")


def test_wycheproof_all_cases_return_shared():
    # The raw function must return `shared` for every case, `acceptable` ones included (twist,
    # non-canonical and low-order points; the latter give all zeros).
    from wyche import cases
    n = zeros = 0
    for g, t in cases("x25519_test"):
        eq(g["curve"], "curve25519")
        got = x25519(unhex(t["private"]), unhex(t["public"]))
        eq(got, unhex(t["shared"]), "tcId %d (%s)" % (t["tcId"], t["comment"]))
        n += 1
        if got == bytes(32):
            zeros += 1
    eq(n, 518, "number of cases")
    check(zeros > 0, "the low-order cases should be among them")


def test_scalar_is_clamped():
    k = bytearray(ALICE_PRIV)
    k[0] ^= 7           # the three low bits are cleared by clamping
    k[31] ^= 0x80       # bit 255 is cleared
    k[31] &= 0xBF       # bit 254 is set
    eq(x25519(bytes(k), BOB_PUB), SHARED)


def test_u_top_bit_masked_and_non_canonical_u_accepted():
    u = bytearray(BOB_PUB)
    u[31] |= 0x80
    eq(x25519(ALICE_PRIV, bytes(u)), SHARED, "top bit of u")
    # p + 9 is 9 written non-canonically; it also takes the ladder's path for large u.
    eq(x25519(ALICE_PRIV, _le(P + 9)), ALICE_PUB, "u = p + 9")
    eq(x25519(ALICE_PRIV, _le(P + 9 + (1 << 255))), ALICE_PUB, "u = p + 9 with the top bit set")


def test_low_order_points_give_zero():
    for u in (0, 1, P, P + 1):
        eq(x25519(ALICE_PRIV, _le(u)), bytes(32), "u = %d" % u)


def test_accepts_bytearray_and_memoryview():
    eq(x25519(bytearray(ALICE_PRIV), memoryview(BOB_PUB)), SHARED)
    eq(x25519(memoryview(bytearray(b"\xff" + ALICE_PRIV))[1:], bytearray(BOB_PUB)), SHARED)


def test_rejects_wrong_lengths():
    raises(ValueError, x25519, ALICE_PRIV[:31], BOB_PUB)
    raises(ValueError, x25519, ALICE_PRIV + b"\x00", BOB_PUB)
    raises(ValueError, x25519, ALICE_PRIV, BOB_PUB[:31])
    raises(ValueError, x25519, ALICE_PRIV, b"")


def test_generate_keypair_round_trip():
    priv_a, pub_a = generate_keypair()
    priv_b, pub_b = generate_keypair()
    for v in (priv_a, pub_a, priv_b, pub_b):
        eq(len(v), 32)
        check(isinstance(v, bytes), "keys are bytes")
    check(priv_a != priv_b, "two fresh private keys differ")
    eq(x25519(priv_a, X25519_BASEPOINT), pub_a)
    shared = x25519(priv_a, pub_b)
    eq(x25519(priv_b, pub_a), shared)
    check(shared != bytes(32), "shared secret of honest keys is not zero")


def test_generate_keypair_with_injected_randomness():
    priv, pub = generate_keypair(lambda n: ALICE_PRIV[:n])
    eq(priv, ALICE_PRIV)
    eq(pub, ALICE_PUB)
    raises(ValueError, generate_keypair, lambda n: bytes(n - 1))

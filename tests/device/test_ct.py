from mpcheck import check, eq

from tls13.crypto.ct import bytes_eq


def test_equal_and_unequal():
    check(bytes_eq(b"", b""))
    check(bytes_eq(b"abc", bytearray(b"abc")))
    check(not bytes_eq(b"abc", b"abd"))
    check(not bytes_eq(b"abc", b"ab"))
    check(bytes_eq(memoryview(b"xabc")[1:], b"abc"))


def test_every_bit_position_matters():
    base = bytes(32)
    for i in range(32):
        for bit in range(8):
            other = bytearray(base)
            other[i] ^= 1 << bit
            eq(bytes_eq(base, other), False, "byte %d bit %d" % (i, bit))

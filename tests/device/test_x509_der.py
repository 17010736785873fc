"""Strict DER reader (tls13.x509.der): headers, lengths, primitives, times."""
from mpcheck import eq, raises, unhex

from tls13.x509 import CertificateError, der


def _malformed(fn, *args):
    e = raises(CertificateError, fn, *args)
    eq(e.reason, "malformed")
    eq(e.alert, "decode_error")


def test_short_and_long_lengths():
    b = memoryview(unhex("0403616263"))
    eq(der.tlv(b, 0, len(b)), (4, 2, 5))
    body = bytes(200)
    b = memoryview(b"\x04\x81\xc8" + body)
    eq(der.tlv(b, 0, len(b)), (4, 3, 203))
    body = bytes(300)
    b = memoryview(b"\x30\x82\x01\x2c" + body)
    eq(der.tlv(b, 0, len(b)), (0x30, 4, 304))
    # Three length octets; the value itself is never read, so the buffer may stop at the header.
    b = memoryview(b"\x30\x83\x01\x00\x00")
    eq(der.tlv(b, 0, 5 + 0x10000), (0x30, 5, 5 + 0x10000))


def test_length_strictness():
    for h in ("0481" "05" "6162636465",       # long form for a short length
              "0482" "0005" "6162636465",     # leading zero length octet
              "0480" "0000",                  # indefinite
              "0484" "00000001" "61",         # more than 3 length octets
              "0406" "6162636465",            # runs past the end
              "04",                           # truncated header
              "1f01" "0100"):                 # high tag number form
        b = memoryview(unhex(h))
        _malformed(der.tlv, b, 0, len(b))


def test_value_must_fit_parent():
    # An inner TLV that claims more than its parent holds.
    b = memoryview(unhex("3003" "0405" "61626364656667"))
    t, s, e = der.tlv(b, 0, len(b))
    _malformed(der.tlv, b, s, e)


def test_whole_rejects_trailing_and_wrong_tag():
    eq(der.whole(memoryview(unhex("300100")), 0x30)[0], 2)
    _malformed(der.whole, memoryview(unhex("30010000")), 0x30)
    _malformed(der.whole, memoryview(unhex("310100")), 0x30)
    _malformed(der.whole, memoryview(b""), 0x30)


def test_integers():
    b = memoryview(unhex("7f" "0080" "00" "ff7f" "0001" "ff80"))
    eq(der.small_uint(b, 0, 1), 127)
    eq(der.uint_bytes(b, 1, 3), (2, 3))
    eq(der.small_uint(b, 3, 4), 0)
    _malformed(der.small_uint, b, 4, 6)        # negative
    _malformed(der.small_uint, b, 6, 8)        # 00 01: non-minimal
    _malformed(der.small_uint, b, 8, 10)       # non-minimal negative
    _malformed(der.uint_bytes, b, 3, 4)        # zero is not a positive integer
    _malformed(der.small_uint, b, 0, 0)        # empty
    big = memoryview(unhex("0100000000"))
    _malformed(der.small_uint, big, 0, 5, 255)


def test_boolean_and_null():
    b = memoryview(unhex("ff0001"))
    eq(der.boolean(b, 0, 1), True)
    eq(der.boolean(b, 1, 2), False)
    _malformed(der.boolean, b, 2, 3)
    _malformed(der.boolean, b, 0, 2)
    der.null(3, 3)
    _malformed(der.null, 3, 4)


def test_bit_strings():
    b = memoryview(unhex("00abcd"))
    eq(der.bit_string(b, 0, 3), (1, 3))
    _malformed(der.bit_string, memoryview(unhex("01ab")), 0, 2)
    # keyUsage digitalSignature | keyCertSign: bits 0 and 5 -> 0b10000100, 2 unused bits
    eq(der.named_bits(memoryview(unhex("0284")), 0, 2), (1 << 0) | (1 << 5))
    # decipherOnly is bit 8, in the second octet
    eq(der.named_bits(memoryview(unhex("078080")), 0, 3), (1 << 0) | (1 << 8))
    _malformed(der.named_bits, memoryview(unhex("0285")), 0, 2)    # a padding bit set
    _malformed(der.named_bits, memoryview(unhex("08ff")), 0, 2)    # more than 7 unused bits
    _malformed(der.named_bits, memoryview(unhex("01")), 0, 1)      # unused bits with no octets
    eq(der.named_bits(memoryview(unhex("00")), 0, 1), 0)


def _time(s, tag):
    b = memoryview(s)
    return der.time(b, tag, 0, len(b))


def test_times():
    eq(_time(b"700101000000Z", der.UTC_TIME), 0)
    eq(_time(b"250601000000Z", der.UTC_TIME), 1748736000)
    eq(_time(b"20250601000000Z", der.GENERALIZED_TIME), 1748736000)
    eq(_time(b"491231235959Z", der.UTC_TIME), 2524607999)       # UTCTime 49 -> 2049
    eq(_time(b"500101000000Z", der.UTC_TIME), -631152000)       # UTCTime 50 -> 1950
    eq(_time(b"20000229120000Z", der.GENERALIZED_TIME), 951825600)
    eq(_time(b"99991231235959Z", der.GENERALIZED_TIME), 253402300799)
    eq(_time(b"21060207062816Z", der.GENERALIZED_TIME), 4294967296)  # past 32-bit seconds


def test_bad_times():
    for s, tag in ((b"2506010000Z", der.UTC_TIME),              # no seconds
                   (b"250601000000+0100", der.UTC_TIME),
                   (b"250601000000", der.UTC_TIME),
                   (b"20250601000000.5Z", der.GENERALIZED_TIME),
                   (b"250601000000Z", der.GENERALIZED_TIME),     # UTCTime form under the other tag
                   (b"251301000000Z", der.UTC_TIME),             # month 13
                   (b"250230000000Z", der.UTC_TIME),             # 30 February
                   (b"19000229000000Z", der.GENERALIZED_TIME),   # 1900 is not a leap year
                   (b"250601240000Z", der.UTC_TIME),
                   (b"2506010a0000Z", der.UTC_TIME),
                   (b"250601000060Z", der.UTC_TIME)):
        _malformed(_time, s, tag)


def test_days_from_civil():
    eq(der.days_from_civil(1970, 1, 1), 0)
    eq(der.days_from_civil(1969, 12, 31), -1)
    eq(der.days_from_civil(2000, 3, 1), 11017)
    eq(der.days_from_civil(2038, 1, 19), 24855)

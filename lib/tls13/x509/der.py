"""Strict DER reading over a buffer, without copying.

Values are addressed by offsets into one buffer (a memoryview over the certificate): `tlv()` reads the
header at `pos` and returns `(tag, value_start, value_end)`; callers walk constructed values by calling
it again inside `[value_start, value_end)`. Nothing is decoded unless asked for, so reading a
certificate allocates only the small tuples that hold offsets.

Strictness: single-byte tags (X.509 never uses high tag numbers), definite lengths in the shortest form,
at most 3 length octets (16 MB, far beyond any certificate), every value inside its parent. A caller
that reads a whole structure checks it ends exactly where its parent does (`done()`). Any violation
raises CertificateError("malformed").
"""
from tls13.x509.errors import malformed

BOOLEAN = 0x01
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
UTF8_STRING = 0x0C
PRINTABLE_STRING = 0x13
IA5_STRING = 0x16
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
SEQUENCE = 0x30
SET = 0x31


def tlv(buf, pos, end):
    """Read the TLV at buf[pos:end]; returns (tag, value_start, value_end)."""
    if end - pos < 2:
        raise malformed("truncated header")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise malformed("high tag number")
    n = buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0:
            raise malformed("indefinite length")
        if k > 3 or end - pos < k:
            raise malformed("bad length")
        n = 0
        for i in range(k):
            n = (n << 8) | buf[pos + i]
        pos += k
        # Shortest form: a long form must be needed, and its first octet must not be zero.
        if n < 0x80 or buf[pos - k] == 0:
            raise malformed("non-minimal length")
    if n > end - pos:
        raise malformed("value runs past its parent")
    return tag, pos, pos + n


def expect(buf, pos, end, tag):
    """Read a TLV that must have `tag`; returns (value_start, value_end)."""
    t, s, e = tlv(buf, pos, end)
    if t != tag:
        raise malformed("tag 0x%02x where 0x%02x expected" % (t, tag))
    return s, e


def done(pos, end):
    if pos != end:
        raise malformed("trailing bytes")


def whole(buf, tag):
    """The value range of one TLV of `tag` that spans all of buf (nothing before or after it)."""
    s, e = expect(buf, 0, len(buf), tag)
    done(e, len(buf))
    return s, e


def boolean(buf, s, e):
    if e - s != 1 or buf[s] not in (0, 0xFF):
        raise malformed("bad BOOLEAN")
    return buf[s] == 0xFF


def null(s, e):
    if e != s:
        raise malformed("NULL with content")


def _check_int(buf, s, e):
    if e <= s:
        raise malformed("empty INTEGER")
    if e - s > 1 and ((buf[s] == 0 and buf[s + 1] < 0x80) or (buf[s] == 0xFF and buf[s + 1] >= 0x80)):
        raise malformed("non-minimal INTEGER")


def small_uint(buf, s, e, limit=0x7FFFFFFF):
    """A non-negative INTEGER that must fit `limit` (version numbers, pathLen, salt length)."""
    _check_int(buf, s, e)
    if buf[s] & 0x80:
        raise malformed("negative INTEGER")
    n = 0
    for i in range(s, e):
        n = (n << 8) | buf[i]
        if n > limit:
            raise malformed("INTEGER too large")
    return n


def uint_bytes(buf, s, e):
    """Range of the magnitude of a positive INTEGER (sign octet dropped), e.g. an RSA modulus."""
    _check_int(buf, s, e)
    if buf[s] & 0x80:
        raise malformed("negative INTEGER")
    if buf[s] == 0:
        s += 1
        if s == e:
            raise malformed("zero INTEGER")
    return s, e


def integer(buf, s, e):
    """Validate an INTEGER of any sign (serial numbers); the value is not needed."""
    _check_int(buf, s, e)


def bit_string(buf, s, e):
    """Range of the bytes of a BIT STRING with no unused bits (keys, signatures)."""
    if e <= s or buf[s] != 0:
        raise malformed("BIT STRING with unused bits")
    return s + 1, e


def named_bits(buf, s, e):
    """A BIT STRING of named bits (keyUsage) as an int where bit i is the ASN.1 bit i."""
    if e <= s:
        raise malformed("empty BIT STRING")
    unused = buf[s]
    if unused > 7 or (e - s == 1 and unused):
        raise malformed("bad BIT STRING")
    if e - s > 1 and buf[e - 1] & ((1 << unused) - 1):
        raise malformed("BIT STRING padding not zero")
    v = 0
    for i in range(s + 1, e):
        b = buf[i]
        for j in range(8):
            if b & (0x80 >> j):
                v |= 1 << ((i - s - 1) * 8 + j)
    return v


_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _digits(buf, s, n):
    v = 0
    for i in range(s, s + n):
        c = buf[i] - 48
        if c < 0 or c > 9:
            raise malformed("bad time digit")
        v = v * 10 + c
    return v


def time(buf, tag, s, e):
    """UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) as Unix seconds (RFC 5280 4.1.2.5)."""
    if tag == UTC_TIME and e - s == 13:
        y = _digits(buf, s, 2)
        y += 2000 if y < 50 else 1900
        s += 2
    elif tag == GENERALIZED_TIME and e - s == 15:
        y = _digits(buf, s, 4)
        s += 4
    else:
        raise malformed("bad time")
    if buf[e - 1] != 0x5A:  # 'Z': RFC 5280 requires UTC without fractions
        raise malformed("time not in UTC")
    mo = _digits(buf, s, 2)
    d = _digits(buf, s + 2, 2)
    h = _digits(buf, s + 4, 2)
    mi = _digits(buf, s + 6, 2)
    sec = _digits(buf, s + 8, 2)
    if not 1 <= mo <= 12 or h > 23 or mi > 59 or sec > 59:
        raise malformed("bad time")
    dim = _DAYS[mo - 1]
    if mo == 2 and y % 4 == 0 and (y % 100 != 0 or y % 400 == 0):
        dim = 29
    if not 1 <= d <= dim:
        raise malformed("bad date")
    return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468

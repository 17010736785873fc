"""ECDSA over NIST P-256 and P-384: verification for both, signing and key derivation for P-256.

Field elements are plain ints reduced with `%`: on MicroPython reducing a 512-bit product costs three
to four times the multiplication, so the formulas reduce once per product (sums of products share one
`%`), and Barrett or special-form folding, being several bigint operations, do not pay. Points are
Jacobian (X, Y, Z) with Z == 0 as the point at infinity. Every bigint operation allocates, so on a
small heap the garbage collector is a large share of the time.

Verification computes u1*G + u2*Q in one pass over the bits (interleaved wNAF, shared doublings):
G uses a table of 32 affine odd multiples built on first use and kept per curve as 2 KB (P-256) or
3 KB (P-384) of bytes (`clear_tables()` drops them), Q a table of 8 built per call. Both tables are
affine, so every addition is a mixed one; inverting public values uses extended Euclid, five times
faster than Fermat's pow on MicroPython.

Signing follows RFC 6979 (HMAC-SHA-256 DRBG, optional extra entropy per its section 3.6). k*G uses a
regular signed-window recoding, so the sequence of point operations does not depend on k (the bigint
arithmetic itself is not constant-time; that is the price of a pure-Python implementation).
"""

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_WG = const(7)   # wNAF width for G: table of odd multiples 1G..63G
_WQ = const(5)   # wNAF width for the key: 1Q..15Q (per call; wider tables cost more than they save)
_WS = const(6)   # regular recoding width for signing: digits are odd in [-63, 63], so the G table serves


REGULAR_WINDOW = _WS  # visible to ecdh_p256 (MicroPython inlines _-prefixed consts)


class _Curve:
    def __init__(self, name, p, b, n, gx, gy, size):
        self.name = name
        self.p = p
        self.b = b
        self.n = n
        self.gx = gx
        self.gy = gy
        self.size = size      # bytes per coordinate and per scalar
        self.gtab = None      # affine odd multiples of G, loaded (or built) on first use


P256 = _Curve(
    "P-256",
    0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff,
    0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b,
    0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551,
    0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296,
    0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5,
    32)

P384 = _Curve(
    "P-384",
    0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff,
    0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef,
    0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973,
    0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7,
    0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f,
    48)

_CURVES = {"P-256": P256, "P-384": P384}


def _load_p256_table():
    # At import, while the heap is still whole: loaded from .mpy the constant needs 2 KB in one
    # piece, which the middle of a handshake may no longer have. Frozen, it stays in flash.
    try:
        from tls13.crypto.gtab_p256 import GTAB
        P256.gtab = GTAB
    except ImportError:
        pass


_load_p256_table()


def clear_tables():
    """Forget the G tables (2 KB for P-256, 3 KB for P-384; no RAM at all where they are frozen)."""
    for c in _CURVES.values():
        c.gtab = None


# --- point arithmetic (a = -3) -----------------------------------------------------------------

def _dbl(X, Y, Z, p):
    # dbl-2001-b: 3M + 5S
    if not Z:
        return 0, 0, 0
    zz = Z * Z % p
    yy = Y * Y % p
    t = (X * yy << 2) % p
    a = (X - zz) * 3 * (X + zz) % p
    X3 = (a * a - (t << 1)) % p
    Z3 = (Y * Z << 1) % p
    Y3 = (a * (t - X3) - (yy * yy << 3)) % p
    return X3, Y3, Z3


def _add(X1, Y1, Z1, X2, Y2, Z2, p):
    """General Jacobian addition, correct for every input (infinity, equal, opposite points)."""
    if not Z1:
        return X2, Y2, Z2
    if not Z2:
        return X1, Y1, Z1
    z1z1 = Z1 * Z1 % p
    z2z2 = Z2 * Z2 % p
    u1 = X1 * z2z2 % p
    s1 = Y1 * (z2z2 * Z2 % p) % p
    h = (X2 * z1z1 - u1) % p
    r = (Y2 * (z1z1 * Z1 % p) - s1) % p
    if not h:
        if not r:
            return _dbl(X1, Y1, Z1, p)
        return 0, 0, 0
    hh = h * h % p
    hhh = h * hh % p
    v = u1 * hh % p
    X3 = (r * r - hhh - (v << 1)) % p
    Y3 = (r * (v - X3) - s1 * hhh) % p
    Z3 = Z1 * Z2 % p * h % p
    return X3, Y3, Z3


def _inv_public(a, m):
    """a^-1 mod prime m for public a (not 0 mod m) by extended Euclid: a fifth of pow(a, m - 2, m)
    on MicroPython, but its running time depends on a, so secrets (k, and k*G's Z) go through pow."""
    u = a % m
    v = m
    x1 = 1
    x2 = 0
    while u != 1:
        q, r = divmod(v, u)
        v = u
        u = r
        x1, x2 = x2 - q * x1, x1
    return x1 % m


def _affine(P, p):
    # Only for secret-derived points (signing, key derivation): Fermat inversion.
    X, Y, Z = P
    zi = pow(Z, p - 2, p)
    zi2 = zi * zi % p
    return X * zi2 % p, Y * zi2 % p * zi % p


def _odd_multiples(x, y, z, count, p):
    """[P, 3P, 5P, ...] (count points) in Jacobian coordinates."""
    P2 = _dbl(x, y, z, p)
    out = [(x, y, z)]
    for _ in range(count - 1):
        X, Y, Z = out[-1]
        out.append(_add(X, Y, Z, P2[0], P2[1], P2[2], p))
    return out


def _pack_affine(pts, p, size, buf):
    """Write Jacobian points as affine x||y (big-endian, 2*size bytes each) into buf, with one
    inversion for all of them (Montgomery's trick)."""
    pre = []
    acc = 1
    for P in pts:
        pre.append(acc)
        acc = acc * P[2] % p
    inv = _inv_public(acc, p)
    for i in range(len(pts) - 1, -1, -1):
        X, Y, Z = pts[i]
        zi = inv * pre[i] % p
        inv = inv * Z % p
        zi2 = zi * zi % p
        o = 2 * size * i
        buf[o:o + size] = (X * zi2 % p).to_bytes(size, "big")
        buf[o + size:o + 2 * size] = (Y * zi2 % p * zi % p).to_bytes(size, "big")
    return buf


def _gtable(c):
    """Affine odd multiples 1G, 3G, .., 63G packed as x||y: 2-3 KB of bytes, where a list of int pairs
    costs 3-4 times that (ints are separate heap objects, often over-allocated).

    Normally the precomputed constant in gtab_p256 / gtab_p384: frozen into a board's firmware it
    stays in flash, and from .mpy it arrives at import. Built here only when that module is missing."""
    t = c.gtab
    if t is None:
        try:
            if c is P256:
                from tls13.crypto.gtab_p256 import GTAB
            else:
                from tls13.crypto.gtab_p384 import GTAB
            c.gtab = GTAB
            return GTAB
        except ImportError:
            pass
        count = 1 << (_WG - 2)
        # Allocated first: once the bigints of the build are scattered over a small heap, 2-3 KB in
        # one piece may no longer be found.
        buf = bytearray(2 * c.size * count)
        t = c.gtab = _pack_affine(_odd_multiples(c.gx, c.gy, 1, count, c.p), c.p, c.size, buf)
    return t


# --- scalar recodings: digit lists indexed by bit position --------------------------------------

# Digits are stored as bytes (d & 0xff): a list of 257 ints costs 2 KB on a 64-bit VM.

def _wnaf(k, w, length):
    out = bytearray(length)
    full = 1 << w
    half = full >> 1
    mask = full - 1
    i = 0
    while k:
        if k & 1:
            d = k & mask
            if d >= half:
                d -= full
            out[i] = d & 0xff
            # k - d is a multiple of 2^w: the next w-1 digits are zero.
            k = (k - d) >> w
            i += w
        else:
            k >>= 1
            i += 1
    return out


def _regular(k, w, steps):
    """Odd k as steps+1 odd digits in [-(2^w-1), 2^w-1] at positions 0, w, 2w, ... (none zero), so
    k*G always takes the same doublings and additions; small k just ends with digits 1."""
    out = bytearray(steps * w + 1)
    full = 1 << w
    mask = (full << 1) - 1
    i = 0
    for _ in range(steps):
        d = (k & mask) - full
        out[i] = d & 0xff
        k = (k - d) >> w
        i += w
    out[i] = k
    return out


# --- the shared-doubling multi-scalar loop ------------------------------------------------------

def _mul(p, size, da, ta, db, tb):
    """sum(da[i] * 2^i) * A + sum(db[i] * 2^i) * B in Jacobian coordinates. Digits are signed bytes;
    ta and tb hold the affine odd multiples of A and B packed as _pack_affine writes them (digit d
    uses entry |d| >> 1)."""
    X = Y = Z = 0
    step = 2 * size
    i = len(da) - 1
    while i >= 0 and not da[i] and not db[i]:
        i -= 1
    while i >= 0:
        if Z:
            # dbl-2001-b: 3M + 5S
            zz = Z * Z % p
            yy = Y * Y % p
            t = (X * yy << 2) % p
            a = (X - zz) * 3 * (X + zz) % p
            X3 = (a * a - (t << 1)) % p
            Z = (Y * Z << 1) % p
            Y = (a * (t - X3) - (yy * yy << 3)) % p
            X = X3
        # The mixed addition is written out twice (A's digit, then B's): a call per addition costs
        # more than the duplication.
        d = da[i]
        if d:
            if d < 128:
                o = (d >> 1) * step
                y2 = int.from_bytes(ta[o + size:o + step], "big")
            else:
                o = ((256 - d) >> 1) * step
                y2 = p - int.from_bytes(ta[o + size:o + step], "big")
            x2 = int.from_bytes(ta[o:o + size], "big")
            if Z:
                # madd-2004-hmv: 8M + 3S
                zz = Z * Z % p
                h = (x2 * zz - X) % p
                r = (y2 * (zz * Z % p) - Y) % p
                if h:
                    hh = h * h % p
                    hhh = h * hh % p
                    v = X * hh % p
                    X3 = (r * r - hhh - (v << 1)) % p
                    Y = (r * (v - X3) - Y * hhh) % p
                    Z = Z * h % p
                    X = X3
                elif r:
                    X = Y = Z = 0
                else:
                    X, Y, Z = _dbl(X, Y, Z, p)
            else:
                X = x2
                Y = y2
                Z = 1
        d = db[i]
        if d:
            if d < 128:
                o = (d >> 1) * step
                y2 = int.from_bytes(tb[o + size:o + step], "big")
            else:
                o = ((256 - d) >> 1) * step
                y2 = p - int.from_bytes(tb[o + size:o + step], "big")
            x2 = int.from_bytes(tb[o:o + size], "big")
            if Z:
                zz = Z * Z % p
                h = (x2 * zz - X) % p
                r = (y2 * (zz * Z % p) - Y) % p
                if h:
                    hh = h * h % p
                    hhh = h * hh % p
                    v = X * hh % p
                    X3 = (r * r - hhh - (v << 1)) % p
                    Y = (r * (v - X3) - Y * hhh) % p
                    Z = Z * h % p
                    X = X3
                elif r:
                    X = Y = Z = 0
                else:
                    X, Y, Z = _dbl(X, Y, Z, p)
            else:
                X = x2
                Y = y2
                Z = 1
        i -= 1
    return X, Y, Z


# --- encodings ----------------------------------------------------------------------------------

def _der_int(sig, pos, end):
    """(value, next_pos) of a minimal non-negative DER INTEGER at pos, or (None, 0)."""
    if pos + 2 > end or sig[pos] != 0x02:
        return None, 0
    ln = sig[pos + 1]
    pos += 2
    if ln == 0 or ln >= 0x80 or pos + ln > end:
        return None, 0
    first = sig[pos]
    if first & 0x80:
        return None, 0                      # negative
    if first == 0 and ln > 1 and not sig[pos + 1] & 0x80:
        return None, 0                      # needless leading zero
    return int.from_bytes(bytes(sig[pos:pos + ln]), "big"), pos + ln


def _parse_sig(sig, n):
    ln = len(sig)
    # Both curves' signatures are under 128 bytes, so DER allows only the short length form.
    if ln < 8 or sig[0] != 0x30 or sig[1] != ln - 2 or sig[1] >= 0x80:
        return None
    r, pos = _der_int(sig, 2, ln)
    if r is None:
        return None
    s, pos = _der_int(sig, pos, ln)
    if s is None or pos != ln:
        return None
    if not (0 < r < n and 0 < s < n):
        return None
    return r, s


def _der_uint(v, size, out, pos):
    b = v.to_bytes(size, "big")
    i = 0
    while i < size - 1 and b[i] == 0:
        i += 1
    pad = 1 if b[i] & 0x80 else 0
    ln = size - i + pad
    out[pos] = 0x02
    out[pos + 1] = ln
    pos += 2 + pad          # the pad byte is already 0
    out[pos:pos + size - i] = b[i:]
    return pos + size - i


def encode_sig(r, s, size=32):
    """DER ECDSA-Sig-Value for (r, s)."""
    out = bytearray(6 + 2 * (size + 1))
    end = _der_uint(s, size, out, _der_uint(r, size, out, 2))
    out[0] = 0x30
    out[1] = end - 2
    return bytes(out[:end])


def _digest_int(digest, n_bytes):
    e = int.from_bytes(bytes(digest), "big")
    extra = len(digest) - n_bytes
    if extra > 0:
        # FIPS 186-4: keep the leftmost bits of the digest, as many as the order has.
        e >>= 8 * extra
    return e


def _point(c, pub):
    size = c.size
    if len(pub) != 1 + 2 * size or pub[0] != 0x04:
        raise ValueError("%s public key must be an uncompressed point" % c.name)
    p = c.p
    x = int.from_bytes(bytes(pub[1:1 + size]), "big")
    y = int.from_bytes(bytes(pub[1 + size:]), "big")
    if x >= p or y >= p or (y * y - (x * x - 3) * x - c.b) % p:
        raise ValueError("%s public key is not on the curve" % c.name)
    return x, y


# --- public API ---------------------------------------------------------------------------------

def verify(curve, pub, digest, sig_der):
    """True when sig_der is a valid DER signature by pub (04||X||Y) over the given digest.

    Returns False for any bad signature or encoding; raises ValueError for an unknown curve or a
    public key that is not a valid point."""
    c = _CURVES.get(curve)
    if c is None:
        raise ValueError("unsupported curve: %r" % (curve,))
    qx, qy = _point(c, pub)
    n = c.n
    rs = _parse_sig(sig_der, n)
    if rs is None:
        return False
    r, s = rs
    e = _digest_int(digest, c.size)
    w = _inv_public(s, n)
    u1 = e * w % n
    u2 = r * w % n
    p = c.p
    size = c.size
    length = 8 * size + 1
    count = 1 << (_WQ - 2)
    tq = _pack_affine(_odd_multiples(qx, qy, 1, count, p), p, size, bytearray(2 * size * count))
    X, Y, Z = _mul(p, size, _wnaf(u1, _WG, length), _gtable(c), _wnaf(u2, _WQ, length), tq)
    if not Z:
        return False
    # x(R) mod n == r, compared projectively: X == x * Z^2 for x in {r, r + n} (the latter only when
    # it is still a field element).
    zz = Z * Z % p
    if (X - r * zz) % p == 0:
        return True
    r += n
    return r < p and (X - r * zz) % p == 0


def _scalar(priv, c):
    if len(priv) != c.size:
        raise ValueError("private key must be %d bytes" % c.size)
    d = int.from_bytes(bytes(priv), "big")
    if not 0 < d < c.n:
        raise ValueError("private key out of range")
    return d


def _base_mul(c, k):
    """Affine k*G for secret k in [1, n-1]."""
    n = c.n
    p = c.p
    neg = not k & 1
    if neg:
        k = n - k           # odd, and (n-k)G = -kG
    steps = (8 * c.size + _WS - 1) // _WS
    digits = _regular(k, _WS, steps)
    P = _mul(p, c.size, digits, _gtable(c), bytearray(len(digits)), b"")
    x, y = _affine(P, p)
    if neg:
        y = p - y
    return x, y


def public_key_p256(priv):
    """Uncompressed public point 04||X||Y of a 32-byte P-256 private key."""
    x, y = _base_mul(P256, _scalar(priv, P256))
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def sign_p256(priv, digest, extra_entropy=None):
    """DER ECDSA signature over an already-hashed message, k from RFC 6979 with HMAC-SHA-256.

    extra_entropy (bytes) is mixed into the DRBG seed as RFC 6979 section 3.6 allows: the signature
    stays valid, and k no longer repeats for repeated inputs nor depends on the key alone."""
    from tls13.crypto.hmac import HMACKey
    c = P256
    n = c.n
    d = _scalar(priv, c)
    e = _digest_int(digest, 32)
    x = d.to_bytes(32, "big")
    h1 = (e % n).to_bytes(32, "big")
    extra = bytes(extra_entropy) if extra_entropy else b""
    V = b"\x01" * 32
    K = HMACKey("sha256", bytes(32)).mac(V, b"\x00", x, h1, extra)
    V = HMACKey("sha256", K).mac(V)
    K = HMACKey("sha256", K).mac(V, b"\x01", x, h1, extra)
    V = HMACKey("sha256", K).mac(V)
    while True:
        key = HMACKey("sha256", K)
        V = key.mac(V)
        k = int.from_bytes(V, "big")
        if 0 < k < n:
            r = _base_mul(c, k)[0] % n
            if r:
                s = pow(k, n - 2, n) * (e + r * d) % n
                if s:
                    return encode_sig(r, s, 32)
        K = key.mac(V, b"\x00")
        V = HMACKey("sha256", K).mac(V)

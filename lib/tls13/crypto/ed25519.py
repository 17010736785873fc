"""Ed25519 signature verification (RFC 8032, section 5.1.7).

Strict: signatures must be 64 bytes with S < L; the public key must decode canonically (y < p, no
"negative zero" x). [S]B - [k]A is computed in one interleaved wNAF pass over extended twisted
Edwards coordinates and compared with R by its encoding, so a non-canonical R can never match.
The check is cofactorless ([S]B = R + [k]A), as RFC 8032 permits and Wycheproof expects.

B's odd multiples (32 affine points, 3 KB of bytes) are built on first use; `clear_tables()` drops them.
"""
from tls13.crypto import hashes

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_WB = const(7)    # wNAF width for the base point
_WA = const(5)    # wNAF width for the public key

_P = 2 ** 255 - 19
_L = 2 ** 252 + 27742317777372353535851937790883648493
_D = 37095705934669439343138083508754565189542113879843219016388785533085940283555   # -121665/121666
_D2 = 2 * _D % _P
_SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752   # 2^((p-1)/4)
_BX = 15112221349535400772501151409588531511454012693041857206046113283949847762202
_BY = 46316835694926478169428394003475163141307993866256225615783033603165251855960

_btab = None


def clear_tables():
    global _btab
    _btab = None


def _decode(s):
    """(x, y) of a 32-byte point encoding, or None when it is not a canonical curve point."""
    p = _P
    y = int.from_bytes(bytes(s), "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= p:
        return None
    yy = y * y % p
    u = (yy - 1) % p
    v = (_D * yy + 1) % p
    # x = u v^3 (u v^7)^((p-5)/8), RFC 8032 section 5.1.3
    v3 = v * v % p * v % p
    uv3 = u * v3 % p
    x = uv3 * pow(uv3 * v3 % p * v % p, (p - 5) >> 3, p) % p
    vxx = v * x % p * x % p
    if vxx != u:
        if (vxx + u) % p:
            return None
        x = x * _SQRT_M1 % p
    if not x and sign:
        return None
    if (x & 1) != sign:
        x = p - x
    return x, y


def _inv_public(a, m):
    """a^-1 mod m (prime, a not 0 mod m) by extended Euclid, a fifth of Fermat's pow on MicroPython;
    variable-time, which is fine for the public values of a verification."""
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


def _wnaf(k, w, length):
    # Digits stored as bytes (d & 0xff), as in ecdsa.py.
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
            k = (k - d) >> w
            i += w
        else:
            k >>= 1
            i += 1
    return out


def _add(P, Q):
    """Extended-coordinate addition (complete on this curve), for building tables."""
    p = _P
    X1, Y1, Z1, T1 = P
    X2, Y2, Z2, T2 = Q
    a = (Y1 - X1) * (Y2 - X2) % p
    b = (Y1 + X1) * (Y2 + X2) % p
    c = T1 * _D2 % p * T2 % p
    d = (Z1 * Z2 << 1) % p
    e = b - a
    f = d - c
    g = d + c
    h = b + a
    return e * f % p, g * h % p, f * g % p, e * h % p


def _odd_multiples(P, count):
    P2 = _add(P, P)
    out = [P]
    for _ in range(count - 1):
        out.append(_add(out[-1], P2))
    return out


def _base_table():
    """Affine odd multiples of B as (y+x, y-x, 2dxy): additions with them skip a multiplication."""
    global _btab
    if _btab is None:
        p = _P
        count = 1 << (_WB - 2)
        # Packed little-endian, 96 bytes per point: 3 KB where a list of ints would take 3-4 times
        # that. Allocated before the bigints of the build fragment a small heap.
        buf = bytearray(96 * count)
        pts = _odd_multiples((_BX, _BY, 1, _BX * _BY % p), count)
        pre = []
        acc = 1
        for P in pts:
            pre.append(acc)
            acc = acc * P[2] % p
        inv = _inv_public(acc, p)
        for i in range(len(pts) - 1, -1, -1):
            X, Y, Z, _ = pts[i]
            zi = inv * pre[i] % p
            inv = inv * Z % p
            x = X * zi % p
            y = Y * zi % p
            o = 96 * i
            buf[o:o + 32] = ((y + x) % p).to_bytes(32, "little")
            buf[o + 32:o + 64] = ((y - x) % p).to_bytes(32, "little")
            buf[o + 64:o + 96] = (x * y % p * _D2 % p).to_bytes(32, "little")
        _btab = buf
    return _btab


def _mul(da, ta, db, tb):
    """Extended (X, Y, Z, T) of sum da[i]2^i * B + sum db[i]2^i * A', with ta the packed affine table
    of B and tb the projective table (Y+X, Y-X, 2dT, 2Z) of A'; digits are signed bytes."""
    p = _P
    X = 0
    Y = Z = 1
    T = 0
    started = False
    i = len(da) - 1
    while i >= 0 and not da[i] and not db[i]:
        i -= 1
    while i >= 0:
        d1 = da[i]
        d2 = db[i]
        if started:
            a = X * X % p
            b = Y * Y % p
            c = (Z * Z << 1) % p
            h = a + b
            e = (h - (X + Y) * (X + Y)) % p
            g = a - b
            f = c + g
            X = e * f % p
            Y = g * h % p
            Z = f * g % p
            if d1 or d2:
                T = e * h % p
        if d1:
            o = (d1 >> 1 if d1 < 128 else (256 - d1) >> 1) * 96
            ypx = int.from_bytes(ta[o:o + 32], "little")
            ymx = int.from_bytes(ta[o + 32:o + 64], "little")
            t2d = int.from_bytes(ta[o + 64:o + 96], "little")
            if d1 >= 128:
                ypx, ymx, t2d = ymx, ypx, p - t2d
            a = (Y - X) * ymx % p
            b = (Y + X) * ypx % p
            c = T * t2d % p
            d = Z << 1
            e = b - a
            f = d - c
            g = d + c
            h = b + a
            X = e * f % p
            Y = g * h % p
            Z = f * g % p
            T = e * h % p
            started = True
        if d2:
            if d2 < 128:
                ypx, ymx, t2d, z2 = tb[d2 >> 1]
            else:
                ymx, ypx, t2d, z2 = tb[(256 - d2) >> 1]
                t2d = p - t2d
            a = (Y - X) * ymx % p
            b = (Y + X) * ypx % p
            c = T * t2d % p
            d = Z * z2 % p
            e = b - a
            f = d - c
            g = d + c
            h = b + a
            X = e * f % p
            Y = g * h % p
            Z = f * g % p
            T = e * h % p
            started = True
        i -= 1
    return X, Y, Z, T


def verify(pub, msg, sig):
    """True when sig (64 bytes) is a valid Ed25519 signature of msg under pub (32 bytes).

    Raises ValueError for a public key that is not 32 bytes or not a canonical curve point."""
    if len(pub) != 32:
        raise ValueError("Ed25519 public key must be 32 bytes")
    A = _decode(pub)
    if A is None:
        raise ValueError("Ed25519 public key is not a valid point")
    if len(sig) != 64:
        return False
    s = int.from_bytes(bytes(sig[32:]), "little")
    if s >= _L:
        return False
    p = _P
    h = hashes.sha512(bytes(sig[:32]))
    h.update(bytes(pub))
    h.update(msg)
    k = int.from_bytes(h.digest(), "little") % _L
    # Table of odd multiples of -A in the projective "cached" form.
    x = p - A[0]
    y = A[1]
    tb = []
    for X, Y, Z, T in _odd_multiples((x, y, 1, x * y % p), 1 << (_WA - 2)):
        tb.append(((Y + X) % p, (Y - X) % p, T * _D2 % p, (Z << 1) % p))
    X, Y, Z, _ = _mul(_wnaf(s, _WB, 254), _base_table(), _wnaf(k, _WA, 254), tb)
    zi = _inv_public(Z, p)
    x = X * zi % p
    y = Y * zi % p
    enc = (y | (x & 1) << 255).to_bytes(32, "little")
    return enc == bytes(sig[:32])

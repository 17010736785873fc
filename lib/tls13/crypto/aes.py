"""AES block encryption (FIPS-197) for GCM's counter mode: the port's `cryptolib` when it has one,
else pure Python.

Only the forward direction exists because CTR mode never decrypts a block.

`new_ecb(key)` returns an object with `encrypt(src, dst)`: encrypts len(src) bytes (a multiple of 16,
any number of blocks) from the buffer `src` into the buffer `dst` of the same length, without
allocating, and returns dst. For the cryptolib backend it is the `cryptolib.aes(key, 1)` object itself, so batching
many counter blocks into one call crosses into C once per batch. `src` may be `dst`.

The backend is picked once at import ("cryptolib" where importable, else "python");
`use_backend(name)` forces it for tests and benchmarks and affects objects created afterwards.

The pure implementation works on 16-bit halves of the usual 32-bit T-tables: every value stays below
2**16, so it runs without big ints (and without allocating) on boards whose small ints hold 30 bits.
"""

from array import array

try:
    import cryptolib as _cryptolib
except ImportError:
    _cryptolib = None

_SBOX = None
_TABLES = None


def _build_tables():
    # Computed on first use: a board that has cryptolib never spends the ~4 KB.
    global _SBOX, _TABLES
    sbox = bytearray(256)
    p = q = 1
    while True:
        # p walks the multiplicative group by 3, q by its inverse, so q = p^-1 at every step.
        p ^= ((p << 1) & 0xFF) ^ (0x1B if p & 0x80 else 0)
        q ^= q << 1
        q ^= q << 2
        q ^= q << 4
        q &= 0xFF
        if q & 0x80:
            q ^= 0x09
        x = q ^ (((q << 1) | (q >> 7)) & 0xFF) ^ (((q << 2) | (q >> 6)) & 0xFF)
        x ^= (((q << 3) | (q >> 5)) & 0xFF) ^ (((q << 4) | (q >> 4)) & 0xFF)
        sbox[p] = x ^ 0x63
        if p == 1:
            break
    sbox[0] = 0x63
    # 16-bit arrays: 2 KB for all four, where lists would take 4-8 KB of object pointers.
    ta = array("H", bytes(512))
    tb = array("H", bytes(512))
    tc = array("H", bytes(512))
    td = array("H", bytes(512))
    for i in range(256):
        s = sbox[i]
        s2 = ((s << 1) ^ (0x1B if s & 0x80 else 0)) & 0xFF
        s3 = s2 ^ s
        # MixColumns column (2a^3b^c^d, a^2b^3c^d, a^b^2c^3d, 3a^b^c^2d) split into the
        # (row0,row1) and (row2,row3) halves: each input byte contributes one of four patterns.
        ta[i] = (s2 << 8) | s
        tb[i] = (s3 << 8) | s2
        tc[i] = (s << 8) | s3
        td[i] = (s << 8) | s
    _SBOX = bytes(sbox)
    _TABLES = (ta, tb, tc, td)


def _expand_key(key):
    """Round keys as bytes (for the first and last rounds) and as 16-bit halves (for the middle ones)."""
    nk = len(key) // 4
    nr = nk + 6
    sbox = _SBOX
    w = bytearray(16 * (nr + 1))
    w[0:len(key)] = key
    rcon = 1
    for i in range(nk, 4 * (nr + 1)):
        o = 4 * i
        t0 = w[o - 4]
        t1 = w[o - 3]
        t2 = w[o - 2]
        t3 = w[o - 1]
        if i % nk == 0:
            t0, t1, t2, t3 = sbox[t1] ^ rcon, sbox[t2], sbox[t3], sbox[t0]
            rcon = ((rcon << 1) ^ (0x1B if rcon & 0x80 else 0)) & 0xFF
        elif nk > 6 and i % nk == 4:
            t0, t1, t2, t3 = sbox[t0], sbox[t1], sbox[t2], sbox[t3]
        p = o - 4 * nk
        w[o] = w[p] ^ t0
        w[o + 1] = w[p + 1] ^ t1
        w[o + 2] = w[p + 2] ^ t2
        w[o + 3] = w[p + 3] ^ t3
    halves = [(w[i] << 8) | w[i + 1] for i in range(0, len(w), 2)]
    return bytes(w), halves, nr


def _encrypt_blocks(kb, kw, nr, src, dst, n):
    ta, tb, tc, td = _TABLES
    sb = _SBOX
    last = 16 * nr
    kend = 8 * nr
    for o in range(0, n, 16):
        # All 16 input bytes are read before any output byte is written, so src may be dst.
        a0 = src[o] ^ kb[0]
        a1 = src[o + 1] ^ kb[1]
        a2 = src[o + 2] ^ kb[2]
        a3 = src[o + 3] ^ kb[3]
        a4 = src[o + 4] ^ kb[4]
        a5 = src[o + 5] ^ kb[5]
        a6 = src[o + 6] ^ kb[6]
        a7 = src[o + 7] ^ kb[7]
        a8 = src[o + 8] ^ kb[8]
        a9 = src[o + 9] ^ kb[9]
        a10 = src[o + 10] ^ kb[10]
        a11 = src[o + 11] ^ kb[11]
        a12 = src[o + 12] ^ kb[12]
        a13 = src[o + 13] ^ kb[13]
        a14 = src[o + 14] ^ kb[14]
        a15 = src[o + 15] ^ kb[15]
        k = 8
        while k < kend:
            # SubBytes + ShiftRows + MixColumns + AddRoundKey; column c reads bytes
            # 4c, 4(c+1)+1, 4(c+2)+2, 4(c+3)+3 (indices mod 16) of the previous state.
            h = ta[a0] ^ tb[a5] ^ tc[a10] ^ td[a15] ^ kw[k]
            g = tc[a0] ^ td[a5] ^ ta[a10] ^ tb[a15] ^ kw[k + 1]
            h1 = ta[a4] ^ tb[a9] ^ tc[a14] ^ td[a3] ^ kw[k + 2]
            g1 = tc[a4] ^ td[a9] ^ ta[a14] ^ tb[a3] ^ kw[k + 3]
            h2 = ta[a8] ^ tb[a13] ^ tc[a2] ^ td[a7] ^ kw[k + 4]
            g2 = tc[a8] ^ td[a13] ^ ta[a2] ^ tb[a7] ^ kw[k + 5]
            h3 = ta[a12] ^ tb[a1] ^ tc[a6] ^ td[a11] ^ kw[k + 6]
            g3 = tc[a12] ^ td[a1] ^ ta[a6] ^ tb[a11] ^ kw[k + 7]
            a0 = h >> 8
            a1 = h & 0xFF
            a2 = g >> 8
            a3 = g & 0xFF
            a4 = h1 >> 8
            a5 = h1 & 0xFF
            a6 = g1 >> 8
            a7 = g1 & 0xFF
            a8 = h2 >> 8
            a9 = h2 & 0xFF
            a10 = g2 >> 8
            a11 = g2 & 0xFF
            a12 = h3 >> 8
            a13 = h3 & 0xFF
            a14 = g3 >> 8
            a15 = g3 & 0xFF
            k += 8
        # Last round: no MixColumns.
        dst[o] = sb[a0] ^ kb[last]
        dst[o + 1] = sb[a5] ^ kb[last + 1]
        dst[o + 2] = sb[a10] ^ kb[last + 2]
        dst[o + 3] = sb[a15] ^ kb[last + 3]
        dst[o + 4] = sb[a4] ^ kb[last + 4]
        dst[o + 5] = sb[a9] ^ kb[last + 5]
        dst[o + 6] = sb[a14] ^ kb[last + 6]
        dst[o + 7] = sb[a3] ^ kb[last + 7]
        dst[o + 8] = sb[a8] ^ kb[last + 8]
        dst[o + 9] = sb[a13] ^ kb[last + 9]
        dst[o + 10] = sb[a2] ^ kb[last + 10]
        dst[o + 11] = sb[a7] ^ kb[last + 11]
        dst[o + 12] = sb[a12] ^ kb[last + 12]
        dst[o + 13] = sb[a1] ^ kb[last + 13]
        dst[o + 14] = sb[a6] ^ kb[last + 14]
        dst[o + 15] = sb[a11] ^ kb[last + 15]


class PyECB:
    """AES-ECB encryption in pure Python with the same call shape as `cryptolib.aes(key, 1)`."""

    def __init__(self, key):
        if len(key) not in (16, 24, 32):
            raise ValueError("AES key must be 16, 24 or 32 bytes")
        if _TABLES is None:
            _build_tables()
        self._kb, self._kw, self._nr = _expand_key(key)

    def encrypt(self, src, dst=None):
        n = len(src)
        if n & 15:
            raise ValueError("AES-ECB input must be a multiple of 16 bytes")
        if dst is None:
            dst = bytearray(n)
        elif len(dst) < n:
            raise ValueError("output buffer too small")
        _encrypt_blocks(self._kb, self._kw, self._nr, src, dst, n)
        return dst


_AUTO = "cryptolib" if _cryptolib is not None else "python"
_backend = _AUTO


def backend():
    """The backend new ECB objects get: "cryptolib" or "python"."""
    return _backend


def available():
    """Backends usable on this runtime."""
    return ("cryptolib", "python") if _cryptolib is not None else ("python",)


def use_backend(name=None):
    """Force "cryptolib" or "python" for objects created from now on; None restores the automatic choice."""
    global _backend
    if name is None:
        _backend = _AUTO
    elif name == "python" or (name == "cryptolib" and _cryptolib is not None):
        _backend = name
    else:
        raise ValueError("AES backend not available: %r" % (name,))


def new_ecb(key):
    """An ECB encryptor for `key` (16 or 32 bytes; 24 on the Python backend) from the current backend."""
    if _backend == "cryptolib":
        if len(key) not in (16, 32):
            raise ValueError("AES key must be 16 or 32 bytes")
        return _cryptolib.aes(bytes(key), 1)
    return PyECB(key)


def encrypt_block(key, block):
    """One-shot single block encryption (tests and key derivation, not hot paths)."""
    out = bytearray(16)
    new_ecb(key).encrypt(block, out)
    return bytes(out)

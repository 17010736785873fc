"""AES-GCM (NIST SP 800-38D) with 96-bit nonces and 128-bit tags, as TLS 1.3 uses it.

CTR mode is built on the ECB object from aes.py: a preallocated buffer holds BATCH counter blocks,
one ECB call encrypts them all (one trip into C with cryptolib), and a kernel XORs the keystream in.

Two kernels do GHASH, counter filling and XOR; they share one call signature:
  "viper"   native code from gcm_viper.py (MicroPython ports with a native emitter)
  "python"  plain Python; every intermediate stays below 2**24, so boards with 30-bit small ints
            never build big ints. Z is six limbs of 3,3,3,3,3,1 bytes, Shoup's 4-bit tables are
            applied a byte at a time (M[hi nibble] and M[lo nibble]*x^4), so a shift is by whole bytes.
The kernel is picked at import ("viper" when it compiles and runs, else "python"); `use_kernel(name)`
forces one for AESGCM objects created afterwards. The AES backend is aes.use_backend()'s business.

Nothing in the per-block loops allocates; a message costs a constant handful of small objects
(memoryview slices for the last partial batch and the tag comparison).
"""
from array import array

from tls13.crypto import aes
from tls13.crypto.ct import bytes_eq
from tls13.crypto.errors import InvalidTag

BATCH = 8  # counter blocks per ECB call: 2 x 128 bytes of buffers per AESGCM object (32 gains ~5% speed for 0.8 KB)
_MAX_DATA = (1 << 36) - 32  # SP 800-38D limit on plaintext length for one nonce


def _mulx(b):
    # Multiply the field element in the 16-byte bytearray b by x (GCM's reflected bit order).
    carry = b[15] & 1
    for i in range(15, 0, -1):
        b[i] = (b[i] >> 1) | ((b[i - 1] & 1) << 7)
    b[0] >>= 1
    if carry:
        b[0] ^= 0xE1


def _nibble_table(h):
    """M[n] = n*H for the 16 nibble values, as 16-byte blocks (nibble bit 8 is the x^0 coefficient)."""
    m = [bytearray(16) for _ in range(16)]
    v = bytearray(h)
    for bit in (8, 4, 2, 1):
        m[bit][:] = v
        _mulx(v)
    for n in range(16):
        if n & (n - 1):
            lo = n & -n
            hi = n ^ lo
            for i in range(16):
                m[n][i] = m[hi][i] ^ m[lo][i]
    return m


# ---- pure-Python kernel --------------------------------------------------------------------------

_R8 = None


def _py_init(h):
    global _R8
    if _R8 is None:
        # Reduction of the byte shifted out below x^127 during Z*x^8, pre-placed in limb 0 (bytes 0..2).
        _R8 = array("I", bytes(1024))
        for r in range(256):
            acc = 0
            for b in range(8):
                if r >> b & 1:
                    acc ^= 0xE100 >> (7 - b)
            _R8[r] = acc << 8
    # Limbs are below 2**24, so a 32-bit array holds them in 1 KB (a list would take 2 KB on a board).
    t = array("I", bytes(1024))
    m = _nibble_table(h)
    for n in range(16):
        for base in (n << 3, 128 + (n << 3)):
            e = m[n]
            t[base] = (e[0] << 16) | (e[1] << 8) | e[2]
            t[base + 1] = (e[3] << 16) | (e[4] << 8) | e[5]
            t[base + 2] = (e[6] << 16) | (e[7] << 8) | e[8]
            t[base + 3] = (e[9] << 16) | (e[10] << 8) | e[11]
            t[base + 4] = (e[12] << 16) | (e[13] << 8) | e[14]
            t[base + 5] = e[15]
            # The second copy (at 128+) is M[n]*x^4, for the low nibble applied one step early.
            for _ in range(4):
                _mulx(e)
    return (t, bytearray(16))


def _py_reset(st):
    yb = st[1]
    for i in range(16):
        yb[i] = 0


def _py_ghash(st, data, off, n):
    R = _R8
    t, yb = st
    end = off + n
    while off < end:
        r = end - off
        if r > 16:
            r = 16
        for i in range(r):
            yb[i] ^= data[off + i]
        off += 16
        z0 = z1 = z2 = z3 = z4 = z5 = 0
        for i in range(15, -1, -1):
            b = yb[i]
            r = z5
            z5 = z4 & 0xFF
            z4 = (z4 >> 8) | ((z3 & 0xFF) << 16)
            z3 = (z3 >> 8) | ((z2 & 0xFF) << 16)
            z2 = (z2 >> 8) | ((z1 & 0xFF) << 16)
            z1 = (z1 >> 8) | ((z0 & 0xFF) << 16)
            z0 = (z0 >> 8) ^ R[r]
            p = 128 + ((b & 15) << 3)
            q = (b >> 4) << 3
            z0 ^= t[p] ^ t[q]
            z1 ^= t[p + 1] ^ t[q + 1]
            z2 ^= t[p + 2] ^ t[q + 2]
            z3 ^= t[p + 3] ^ t[q + 3]
            z4 ^= t[p + 4] ^ t[q + 4]
            z5 ^= t[p + 5] ^ t[q + 5]
        yb[0] = z0 >> 16
        yb[1] = (z0 >> 8) & 0xFF
        yb[2] = z0 & 0xFF
        yb[3] = z1 >> 16
        yb[4] = (z1 >> 8) & 0xFF
        yb[5] = z1 & 0xFF
        yb[6] = z2 >> 16
        yb[7] = (z2 >> 8) & 0xFF
        yb[8] = z2 & 0xFF
        yb[9] = z3 >> 16
        yb[10] = (z3 >> 8) & 0xFF
        yb[11] = z3 & 0xFF
        yb[12] = z4 >> 16
        yb[13] = (z4 >> 8) & 0xFF
        yb[14] = z4 & 0xFF
        yb[15] = z5


def _py_final(st, out, off, ek):
    yb = st[1]
    for i in range(16):
        out[off + i] = yb[i] ^ ek[i]


def _py_set_nonce(ctr, nonce, nblocks):
    for o in range(0, nblocks << 4, 16):
        for j in range(12):
            ctr[o + j] = nonce[j]


def _py_ctr_fill(ctr, nblocks, c):
    for o in range(12, (nblocks << 4) + 12, 16):
        ctr[o] = (c >> 24) & 0xFF
        ctr[o + 1] = (c >> 16) & 0xFF
        ctr[o + 2] = (c >> 8) & 0xFF
        ctr[o + 3] = c & 0xFF
        c += 1


def _py_xor_into(buf, off, ks, n):
    for i in range(n):
        buf[off + i] ^= ks[i]


_PY_KERNEL = (_py_init, _py_reset, _py_ghash, _py_final, _py_set_nonce, _py_ctr_fill, _py_xor_into)


# ---- viper kernel ------------------------------------------------------------------------------------

def viper_kernel(v):
    """The kernel tuple over the gcm_viper module `v` (a parameter so host tests can pass a simulation)."""

    def init(h):
        st = bytearray(4 * v.STATE_WORDS)
        m = _nibble_table(h)
        for n in range(16):
            v.load_words(st, m[n], n << 2, 4)
        red = bytearray(64)
        for r in range(16):
            acc = 0
            for b in range(4):
                if r >> b & 1:
                    acc ^= 0xE100 >> (3 - b)
            red[4 * r] = acc >> 8
            red[4 * r + 1] = acc & 0xFF
        v.load_words(st, red, 68, 16)
        return st

    return (init, v.reset, v.ghash, v.final, v.set_nonce, v.ctr_fill, v.xor_into)


def _selftest(k):
    # GHASH of a 35-byte unaligned input under a fixed H; catches a port whose viper code generation
    # misbehaves before the kernel ever handles traffic.
    h = bytearray(16)
    for i in range(16):
        h[i] = (i * 0x3B + 0x95) & 0xFF
    st = k[0](h)
    k[1](st)
    k[2](st, bytes(range(1, 40)), 3, 35)
    out = bytearray(16)
    k[3](st, out, 0, bytes(16))
    return bytes(out) == _SELFTEST


_SELFTEST = bytes.fromhex("1d91cb64e44d2c9571facf19fa5aa4bd")
_KERNELS = {"python": _PY_KERNEL}
try:
    from tls13.crypto import gcm_viper as _v
    _vk = viper_kernel(_v)
    if _selftest(_vk):
        _KERNELS["viper"] = _vk
except Exception:  # CPython, a port without a native emitter, or an .mpy built for another arch
    pass
_AUTO = "viper" if "viper" in _KERNELS else "python"
_kernel_name = _AUTO


def kernel():
    """The kernel new AESGCM objects get: "viper" or "python"."""
    return _kernel_name


def available_kernels():
    return tuple(sorted(_KERNELS))


def use_kernel(name=None):
    """Force "python" or "viper" for AESGCM objects created from now on; None = automatic choice."""
    global _kernel_name
    if name is None:
        _kernel_name = _AUTO
    elif name in _KERNELS:
        _kernel_name = name
    else:
        raise ValueError("GCM kernel not available: %r" % (name,))


# ---- AEAD -------------------------------------------------------------------------------------------

class AESGCM:
    """AES-GCM with 16- or 32-byte keys, 12-byte nonces and 16-byte tags."""

    def __init__(self, key):
        if len(key) not in (16, 32):
            raise ValueError("AES-GCM key must be 16 or 32 bytes")
        self._ecb = aes.new_ecb(key)
        (init, self._reset, self._ghash, self._final, self._set_nonce, self._fill,
         self._xor) = _KERNELS[_kernel_name]
        h = bytearray(16)
        self._ecb.encrypt(bytes(16), h)
        self._st = init(h)
        self._ctr = bytearray(16 * BATCH)
        self._ks = bytearray(16 * BATCH)
        self._ctr_mv = memoryview(self._ctr)
        self._ks_mv = memoryview(self._ks)
        self._j0 = self._ctr_mv[0:16]
        self._ek0 = bytearray(16)
        self._tag = bytearray(16)
        self._lens = bytearray(16)

    def _start(self, nonce, aad, n):
        if len(nonce) != 12:
            raise ValueError("AES-GCM nonce must be 12 bytes")
        if n > _MAX_DATA:
            raise ValueError("message too long for AES-GCM")
        nb = (n + 15) >> 4
        self._set_nonce(self._ctr, nonce, BATCH if nb > BATCH else (nb or 1))
        self._fill(self._ctr, 1, 1)
        self._ecb.encrypt(self._j0, self._ek0)  # E(K, J0) masks the tag
        self._reset(self._st)
        if aad:
            self._ghash(self._st, aad, 0, len(aad))

    def _tag_into(self, alen, clen, out, off):
        lens = self._lens
        a = alen << 3
        c = clen << 3
        for i in range(8):
            lens[7 - i] = a & 0xFF
            lens[15 - i] = c & 0xFF
            a >>= 8
            c >>= 8
        self._ghash(self._st, lens, 0, 16)
        self._final(self._st, out, off, self._ek0)

    def _ctr_xor(self, buf, n):
        ctr = self._ctr
        ks = self._ks
        ecb = self._ecb  # not ecb.encrypt: a bound method would be one more allocation per message
        fill = self._fill
        xor = self._xor
        step = 16 * BATCH
        c = 2
        off = 0
        while n - off >= step:
            fill(ctr, BATCH, c)
            ecb.encrypt(ctr, ks)
            xor(buf, off, ks, step)
            off += step
            c += BATCH
        rem = n - off
        if rem:
            nb = (rem + 15) >> 4
            fill(ctr, nb, c)
            ecb.encrypt(self._ctr_mv[0:nb << 4], self._ks_mv[0:nb << 4])
            xor(buf, off, ks, rem)

    def encrypt_into(self, nonce, buf, n, aad=b""):
        """Encrypt buf[0:n] in place and write the tag to buf[n:n+16]."""
        if n < 0 or len(buf) < n + 16:
            raise ValueError("buffer too small for the tag")
        self._start(nonce, aad, n)
        self._ctr_xor(buf, n)
        self._ghash(self._st, buf, 0, n)
        self._tag_into(len(aad) if aad else 0, n, buf, n)

    def decrypt_into(self, nonce, buf, n, aad=b""):
        """Verify and decrypt buf[0:n] (ciphertext || tag) in place; returns the plaintext length n-16.

        Nothing is written to buf unless the tag verifies.
        """
        if n < 16 or len(buf) < n:
            raise InvalidTag()
        m = n - 16
        self._start(nonce, aad, m)
        self._ghash(self._st, buf, 0, m)
        self._tag_into(len(aad) if aad else 0, m, self._tag, 0)
        if not bytes_eq(self._tag, memoryview(buf)[m:n]):
            raise InvalidTag()
        self._ctr_xor(buf, m)
        return m

    def encrypt(self, nonce, data, aad=b""):
        """Returns ciphertext || tag."""
        n = len(data)
        out = bytearray(n + 16)
        out[0:n] = data
        self.encrypt_into(nonce, out, n, aad)
        return bytes(out)

    def decrypt(self, nonce, data, aad=b""):
        """Returns the plaintext of ciphertext || tag, or raises InvalidTag."""
        n = len(data)
        if n < 16:
            raise InvalidTag()
        m = n - 16
        self._start(nonce, aad, m)
        self._ghash(self._st, data, 0, m)
        self._tag_into(len(aad) if aad else 0, m, self._tag, 0)
        if not bytes_eq(self._tag, memoryview(data)[m:n]):
            raise InvalidTag()
        out = bytearray(memoryview(data)[0:m])
        self._ctr_xor(out, m)
        return bytes(out)

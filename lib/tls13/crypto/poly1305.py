"""Poly1305 one-time authenticator (RFC 8439 section 2.5) with a choice of kernels.

  "viper"   13-bit limbs in machine code (chacha_viper.poly1305_*): no allocation at all.
  "python"  one big int per step: h = (h + block) * r % p. Each 16-byte block leaves about six
            short-lived big ints behind (the block slice and its value, two sums, the product, the
            remainder): ~400 bytes of garbage per block on the 64-bit VM, less on a 32-bit board. The
            alternative that fits 30-bit small ints (13 limbs of 10 bits, 169 multiply-adds per block,
            ~1,200 bytecodes) would be an order of magnitude slower than this step, which is C-speed
            (~2 ms per 16 KB on the VM), so the garbage is accepted for the fallback.

`use_kernel(name)` forces one (None = automatic); a Poly1305 object takes the kernel in force when it
is keyed (reset).
"""
import sys
from array import array

_P = (1 << 130) - 5
_HIBIT = 1 << 128
_M128 = (1 << 128) - 1

_kernel = None
_vk = None


def _load_viper():
    global _vk
    if _vk is None and sys.implementation.name == "micropython":
        try:
            from tls13.crypto import chacha_viper
            _vk = chacha_viper
        # No native emitter in this port, or native code for another arch: stay pure. (MemoryError
        # is left to surface: silently running 30x slower is worse.)
        except (ImportError, SyntaxError, ValueError, TypeError):
            pass
    return _vk


def use_kernel(name):
    """Force "viper" or "python"; None picks viper where it loads."""
    global _kernel
    if name is None:
        name = "viper" if _load_viper() is not None else "python"
    elif name == "viper":
        if _load_viper() is None:
            raise ValueError("viper kernel unavailable here")
    elif name != "python":
        raise ValueError("unknown Poly1305 kernel")
    _kernel = name


def kernel():
    if _kernel is None:
        use_kernel(None)
    return _kernel


class Poly1305:
    """Streaming MAC: reset(key) (or the constructor), update(...) any number of times, then
    digest() or digest_into(out, off). pad16() zero-pads the data so far to a block boundary, as the
    ChaCha20-Poly1305 AEAD does between its parts. An object can be re-keyed and reused."""

    def __init__(self, key=None):
        self._buf = bytearray(16)  # a partial block
        self._n = 0
        self._ctx = None  # viper state, made on first use
        self._v = False
        if key is not None:
            self.reset(key)

    def reset(self, key):
        if len(key) != 32:
            raise ValueError("Poly1305 key must be 32 bytes")
        self._n = 0
        self._v = kernel() == "viper"
        if self._v:
            ctx = self._ctx
            if ctx is None:
                ctx = self._ctx = array("I", [0] * 49)
            _vk.poly1305_init(ctx, key)
        else:
            b = self._buf
            for i in range(16):
                b[i] = key[i]
            # Clamp r (RFC 8439 section 2.5.1).
            for i in (3, 7, 11, 15):
                b[i] &= 15
            for i in (4, 8, 12):
                b[i] &= 252
            self._h = 0
            self._r = int.from_bytes(b, "little")
            self._s = int.from_bytes(key[16:32], "little")

    def _blocks(self, data, off, n, full):
        if self._v:
            ctx = self._ctx
            ctx[30] = 0x800 if full else 0  # 2**128 is bit 11 of limb 9
            _vk.poly1305_blocks(ctx, data, off, n)
        else:
            h = self._h
            r = self._r
            hib = _HIBIT if full else 0
            mv = memoryview(data)
            for i in range(off, off + n, 16):
                h = (h + int.from_bytes(mv[i:i + 16], "little") + hib) * r % _P
            self._h = h

    def update(self, data, off=0, n=None):
        """MAC data[off:off+n] (n defaults to the rest of data)."""
        if n is None:
            n = len(data) - off
        if off < 0 or n < 0 or off + n > len(data):
            raise ValueError("range outside buffer")
        buf = self._buf
        k = self._n
        if k:
            while k < 16 and n:
                buf[k] = data[off]
                k += 1
                off += 1
                n -= 1
            if k < 16:
                self._n = k
                return
            self._blocks(buf, 0, 16, True)
            k = 0
        whole = n & ~15
        if whole:
            self._blocks(data, off, whole, True)
        for j in range(n - whole):
            buf[j] = data[off + whole + j]
        self._n = n - whole

    def pad16(self):
        k = self._n
        if k:
            buf = self._buf
            for j in range(k, 16):
                buf[j] = 0
            self._blocks(buf, 0, 16, True)
            self._n = 0

    def digest_into(self, out, off=0):
        """Write the 16-byte tag to out[off:off+16]; the object needs reset() before further use."""
        if off < 0 or off + 16 > len(out):
            raise ValueError("no room for the tag")
        out[off] = out[off]  # refuse read-only buffers before the viper kernel writes through them
        k = self._n
        if k:
            # A final partial block carries its 2**(8k) bit as a byte in place of 2**128.
            buf = self._buf
            buf[k] = 1
            for j in range(k + 1, 16):
                buf[j] = 0
            self._blocks(buf, 0, 16, False)
            self._n = 0
        if self._v:
            _vk.poly1305_finish(self._ctx, out, off)
        else:
            t = ((self._h + self._s) & _M128).to_bytes(16, "little")
            for i in range(16):
                out[off + i] = t[i]

    def digest(self):
        out = bytearray(16)
        self.digest_into(out)
        return bytes(out)


def poly1305(key, msg):
    """One-shot tag of msg under the 32-byte one-time key."""
    p = Poly1305(key)
    p.update(msg)
    return p.digest()

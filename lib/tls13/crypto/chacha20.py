"""ChaCha20 (RFC 8439 section 2.4) with a choice of kernels that all produce the same keystream.

  "viper"    machine code through MicroPython's viper emitter (chacha_viper.py); picked automatically
             on MicroPython when it loads.
  "python"   pure Python on 16-bit half-words. Every intermediate stays below 2**30, so it never makes
             a big int on a board whose small ints hold 30 bits (ESP32, RP2040): the fallback there.
  "python32" pure Python on whole 32-bit words (chacha20_py32.py, loaded on demand): about twice as
             fast where small ints are wide (CPython, 64-bit ports), but on a 32-bit board it would
             allocate a big int per operation, so boards never load it.

`use_kernel(name)` forces one (None = automatic) and `kernel()` tells which is in use.
"""
# ruff: noqa: E702  (one ChaCha step per line)
import sys

_SIGMA = b"expand 32-byte k"
# Column rounds, then diagonal rounds (RFC 8439 section 2.3).
_QR = ((0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15),
       (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14))

_kernel = None
_vk = None  # the viper kernel module once loaded
_p32 = None  # the python32 kernel module once loaded


def _load_viper():
    global _vk
    if _vk is None and sys.implementation.name == "micropython" and sys.byteorder == "little":
        try:
            from tls13.crypto import chacha_viper
            _vk = chacha_viper
        # No native emitter in this port, or native code for another arch: stay pure. (MemoryError
        # is left to surface: silently running 30x slower is worse.)
        except (ImportError, SyntaxError, ValueError, TypeError):
            pass
    return _vk


def _load_py32():
    global _p32
    if _p32 is None:
        from tls13.crypto import chacha20_py32
        _p32 = chacha20_py32
    return _p32


def _auto():
    if _load_viper() is not None:
        return "viper"
    # sys.maxsize tells the word size; 64-bit MicroPython ports have 62-bit small ints.
    return "python32" if sys.maxsize > 0xFFFFFFFF else "python"


def use_kernel(name):
    """Force "viper", "python" or "python32"; None picks the fastest one this runtime supports."""
    global _kernel
    if name is None:
        name = _auto()
        if name == "python32":
            _load_py32()
    elif name == "viper":
        if _load_viper() is None:
            raise ValueError("viper kernel unavailable here")
    elif name == "python32":
        _load_py32()
    elif name != "python":
        raise ValueError("unknown ChaCha20 kernel")
    _kernel = name


def kernel():
    if _kernel is None:
        use_kernel(None)
    return _kernel


def available_kernels():
    return (("viper",) if _load_viper() is not None else ()) + ("python", "python32")


class ChaCha20:
    """Keystream generator for one key. set_nonce() then xor_into() any number of times; each call
    starts on a fresh 64-byte block, so a call whose length is not a multiple of 64 discards the rest
    of its last block (what the AEAD wants for the Poly1305 key block)."""

    def __init__(self, key):
        if len(key) != 32:
            raise ValueError("ChaCha20 key must be 32 bytes")
        # Input block as bytes [0:64] and, for the viper kernel, one keystream block [64:128].
        st = bytearray(128)
        st[0:16] = _SIGMA
        st[16:48] = key
        self._st = st
        self._w = None  # scratch of the pure kernels, made on first use

    def set_nonce(self, nonce, counter=0):
        if len(nonce) != 12:
            raise ValueError("ChaCha20 nonce must be 12 bytes")
        st = self._st
        for i in range(4):
            st[48 + i] = (counter >> (8 * i)) & 0xFF
        st[52:64] = nonce

    def counter(self):
        st = self._st
        return st[48] | (st[49] << 8) | (st[50] << 16) | (st[51] << 24)

    def xor_into(self, buf, off=0, n=None):
        """XOR the keystream into buf[off:off+n] (n defaults to the rest of buf) in place."""
        if n is None:
            n = len(buf) - off
        if off < 0 or n < 0 or off + n > len(buf):
            raise ValueError("range outside buffer")
        if n == 0:
            return
        k = kernel()
        if k == "viper":
            # Viper writes through the raw pointer: refuse read-only buffers the way Python would.
            buf[off] = buf[off]
            _vk.chacha20_xor(self._st, buf, off, n)
        elif k == "python":
            _xor16(self, buf, off, n)
        else:
            _p32.xor32(self, buf, off, n)


def _scratch(ctx):
    w = ctx._w
    if w is None:
        w = ctx._w = ([0] * 16, [0] * 16, [0] * 16, [0] * 16)
    return w


def _store_counter(st, lo, hi):
    st[48] = lo & 0xFF
    st[49] = lo >> 8
    st[50] = hi & 0xFF
    st[51] = hi >> 8


def _xor16(ctx, buf, off, n):
    # Word i of the input block is (ih[i] << 16) | il[i]; H, L are the working copy. A 32-bit add is
    # a 17-bit add of the low halves whose carry goes into the high halves; rotations by 16 swap the
    # halves, the others shift each half and take the bits that cross from the other one.
    ih, il, H, L = _scratch(ctx)
    st = ctx._st
    for i in range(16):
        p = 4 * i
        il[i] = st[p] | (st[p + 1] << 8)
        ih[i] = st[p + 2] | (st[p + 3] << 8)
    end = off + n
    while off < end:
        for i in range(16):
            H[i] = ih[i]
            L[i] = il[i]
        for _ in range(10):
            for a, b, c, d in _QR:
                ah = H[a]; al = L[a]; bh = H[b]; bl = L[b]
                ch = H[c]; cl = L[c]; dh = H[d]; dl = L[d]
                al += bl; ah = (ah + bh + (al >> 16)) & 0xFFFF; al &= 0xFFFF
                dh ^= ah; dl ^= al
                dh, dl = dl, dh
                cl += dl; ch = (ch + dh + (cl >> 16)) & 0xFFFF; cl &= 0xFFFF
                bh ^= ch; bl ^= cl
                t = bh; bh = ((bh << 12) | (bl >> 4)) & 0xFFFF; bl = ((bl << 12) | (t >> 4)) & 0xFFFF
                al += bl; ah = (ah + bh + (al >> 16)) & 0xFFFF; al &= 0xFFFF
                dh ^= ah; dl ^= al
                t = dh; dh = ((dh << 8) | (dl >> 8)) & 0xFFFF; dl = ((dl << 8) | (t >> 8)) & 0xFFFF
                cl += dl; ch = (ch + dh + (cl >> 16)) & 0xFFFF; cl &= 0xFFFF
                bh ^= ch; bl ^= cl
                t = bh; bh = ((bh << 7) | (bl >> 9)) & 0xFFFF; bl = ((bl << 7) | (t >> 9)) & 0xFFFF
                H[a] = ah; L[a] = al; H[b] = bh; L[b] = bl
                H[c] = ch; L[c] = cl; H[d] = dh; L[d] = dl
        m = end - off
        if m >= 64:
            p = off
            for i in range(16):
                lo = L[i] + il[i]
                hi = H[i] + ih[i] + (lo >> 16)
                buf[p] ^= lo & 0xFF
                buf[p + 1] ^= (lo >> 8) & 0xFF
                buf[p + 2] ^= hi & 0xFF
                buf[p + 3] ^= (hi >> 8) & 0xFF
                p += 4
        else:
            for j in range(m):
                i = j >> 2
                lo = L[i] + il[i]
                x = (H[i] + ih[i] + (lo >> 16)) if j & 2 else lo
                buf[off + j] ^= (x >> (8 * (j & 1))) & 0xFF
        off += 64
        lo = il[12] + 1
        il[12] = lo & 0xFFFF
        ih[12] = (ih[12] + (lo >> 16)) & 0xFFFF
    _store_counter(st, il[12], ih[12])


def chacha20_block(key, counter, nonce):
    """The 64-byte keystream block `counter` (RFC 8439 section 2.3)."""
    out = bytearray(64)
    c = ChaCha20(key)
    c.set_nonce(nonce, counter)
    c.xor_into(out)
    return bytes(out)


def chacha20_xor(key, counter, nonce, data):
    """Encrypt or decrypt `data` starting at block `counter` (RFC 8439 section 2.4)."""
    out = bytearray(data)
    c = ChaCha20(key)
    c.set_nonce(nonce, counter)
    c.xor_into(out)
    return bytes(out)

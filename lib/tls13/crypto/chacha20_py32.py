"""ChaCha20 on whole 32-bit words in pure Python: the "python32" kernel of chacha20.py.

Only for runtimes whose small ints are wider than 32 bits (CPython, 64-bit MicroPython ports): there it
is about twice as fast as the half-word kernel. On a board with 30-bit small ints every word here would
be a big int, so chacha20.py never selects it there by itself.
"""
# ruff: noqa: E702  (one ChaCha step per line)
from tls13.crypto.chacha20 import _scratch, _store_counter

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_M32 = const(0xFFFFFFFF)


def xor32(ctx, buf, off, n):
    s, w, _, _ = _scratch(ctx)
    st = ctx._st
    for i in range(16):
        p = 4 * i
        s[i] = st[p] | (st[p + 1] << 8) | (st[p + 2] << 16) | (st[p + 3] << 24)
    end = off + n
    while off < end:
        x0 = s[0]; x1 = s[1]; x2 = s[2]; x3 = s[3]; x4 = s[4]; x5 = s[5]; x6 = s[6]; x7 = s[7]
        x8 = s[8]; x9 = s[9]; x10 = s[10]; x11 = s[11]; x12 = s[12]; x13 = s[13]; x14 = s[14]; x15 = s[15]
        for _ in range(10):
            x0 = (x0 + x4) & _M32; x12 ^= x0; x12 = ((x12 << 16) & _M32) | (x12 >> 16)
            x8 = (x8 + x12) & _M32; x4 ^= x8; x4 = ((x4 << 12) & _M32) | (x4 >> 20)
            x0 = (x0 + x4) & _M32; x12 ^= x0; x12 = ((x12 << 8) & _M32) | (x12 >> 24)
            x8 = (x8 + x12) & _M32; x4 ^= x8; x4 = ((x4 << 7) & _M32) | (x4 >> 25)
            x1 = (x1 + x5) & _M32; x13 ^= x1; x13 = ((x13 << 16) & _M32) | (x13 >> 16)
            x9 = (x9 + x13) & _M32; x5 ^= x9; x5 = ((x5 << 12) & _M32) | (x5 >> 20)
            x1 = (x1 + x5) & _M32; x13 ^= x1; x13 = ((x13 << 8) & _M32) | (x13 >> 24)
            x9 = (x9 + x13) & _M32; x5 ^= x9; x5 = ((x5 << 7) & _M32) | (x5 >> 25)
            x2 = (x2 + x6) & _M32; x14 ^= x2; x14 = ((x14 << 16) & _M32) | (x14 >> 16)
            x10 = (x10 + x14) & _M32; x6 ^= x10; x6 = ((x6 << 12) & _M32) | (x6 >> 20)
            x2 = (x2 + x6) & _M32; x14 ^= x2; x14 = ((x14 << 8) & _M32) | (x14 >> 24)
            x10 = (x10 + x14) & _M32; x6 ^= x10; x6 = ((x6 << 7) & _M32) | (x6 >> 25)
            x3 = (x3 + x7) & _M32; x15 ^= x3; x15 = ((x15 << 16) & _M32) | (x15 >> 16)
            x11 = (x11 + x15) & _M32; x7 ^= x11; x7 = ((x7 << 12) & _M32) | (x7 >> 20)
            x3 = (x3 + x7) & _M32; x15 ^= x3; x15 = ((x15 << 8) & _M32) | (x15 >> 24)
            x11 = (x11 + x15) & _M32; x7 ^= x11; x7 = ((x7 << 7) & _M32) | (x7 >> 25)
            x0 = (x0 + x5) & _M32; x15 ^= x0; x15 = ((x15 << 16) & _M32) | (x15 >> 16)
            x10 = (x10 + x15) & _M32; x5 ^= x10; x5 = ((x5 << 12) & _M32) | (x5 >> 20)
            x0 = (x0 + x5) & _M32; x15 ^= x0; x15 = ((x15 << 8) & _M32) | (x15 >> 24)
            x10 = (x10 + x15) & _M32; x5 ^= x10; x5 = ((x5 << 7) & _M32) | (x5 >> 25)
            x1 = (x1 + x6) & _M32; x12 ^= x1; x12 = ((x12 << 16) & _M32) | (x12 >> 16)
            x11 = (x11 + x12) & _M32; x6 ^= x11; x6 = ((x6 << 12) & _M32) | (x6 >> 20)
            x1 = (x1 + x6) & _M32; x12 ^= x1; x12 = ((x12 << 8) & _M32) | (x12 >> 24)
            x11 = (x11 + x12) & _M32; x6 ^= x11; x6 = ((x6 << 7) & _M32) | (x6 >> 25)
            x2 = (x2 + x7) & _M32; x13 ^= x2; x13 = ((x13 << 16) & _M32) | (x13 >> 16)
            x8 = (x8 + x13) & _M32; x7 ^= x8; x7 = ((x7 << 12) & _M32) | (x7 >> 20)
            x2 = (x2 + x7) & _M32; x13 ^= x2; x13 = ((x13 << 8) & _M32) | (x13 >> 24)
            x8 = (x8 + x13) & _M32; x7 ^= x8; x7 = ((x7 << 7) & _M32) | (x7 >> 25)
            x3 = (x3 + x4) & _M32; x14 ^= x3; x14 = ((x14 << 16) & _M32) | (x14 >> 16)
            x9 = (x9 + x14) & _M32; x4 ^= x9; x4 = ((x4 << 12) & _M32) | (x4 >> 20)
            x3 = (x3 + x4) & _M32; x14 ^= x3; x14 = ((x14 << 8) & _M32) | (x14 >> 24)
            x9 = (x9 + x14) & _M32; x4 ^= x9; x4 = ((x4 << 7) & _M32) | (x4 >> 25)
        w[0] = x0; w[1] = x1; w[2] = x2; w[3] = x3; w[4] = x4; w[5] = x5; w[6] = x6; w[7] = x7
        w[8] = x8; w[9] = x9; w[10] = x10; w[11] = x11; w[12] = x12; w[13] = x13; w[14] = x14; w[15] = x15
        m = end - off
        if m >= 64:
            p = off
            for i in range(16):
                x = (w[i] + s[i]) & _M32
                buf[p] ^= x & 0xFF
                buf[p + 1] ^= (x >> 8) & 0xFF
                buf[p + 2] ^= (x >> 16) & 0xFF
                buf[p + 3] ^= x >> 24
                p += 4
        else:
            for j in range(m):
                x = ((w[j >> 2] + s[j >> 2]) & _M32) >> (8 * (j & 3))
                buf[off + j] ^= x & 0xFF
        off += 64
        s[12] = (s[12] + 1) & _M32
    c = s[12]
    _store_counter(st, c & 0xFFFF, c >> 16)

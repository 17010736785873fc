"""Machine-code kernels for ChaCha20 and Poly1305 (MicroPython's viper emitter).

Kept apart from chacha20.py and poly1305.py so that a port or an .mpy build without native code still
imports the pure-Python paths; those modules import this one only on MicroPython and fall back when it
fails to load.

Viper ints are machine words: 32 bits on the boards, 64 bits on the unix VM. The code is written so the
low 32 bits of every value are right for either width and either signedness of `>>`: +, -, *, ^, |, &
and << never let high bits reach low ones, and every right shift is masked to the width its result
must have. Words may therefore carry junk above bit 31 on a 64-bit host; stores through ptr32/ptr8 drop
it. tests/test_chacha20_poly1305_host.py runs these functions on CPython under simulated 32-bit and
64-bit machine words to check exactly that.
"""
# ruff: noqa: E702, F821  (one ChaCha step per line; ptr8/ptr32 are viper built-ins)
import micropython


# st (ptr32, 32 words): [0:16] the ChaCha20 input block, little-endian words (so a little-endian host
# only: chacha20.py checks sys.byteorder); [16:32] scratch for one keystream block. XORs the keystream
# into buf[off:off+n], block counter st[12] first, and leaves st[12] at the next unused block.
@micropython.viper
def chacha20_xor(st: ptr32, buf: ptr8, off: int, n: int):
    ks = ptr8(st)
    end = off + n
    while off < end:
        x0 = st[0]
        x1 = st[1]
        x2 = st[2]
        x3 = st[3]
        x4 = st[4]
        x5 = st[5]
        x6 = st[6]
        x7 = st[7]
        x8 = st[8]
        x9 = st[9]
        x10 = st[10]
        x11 = st[11]
        x12 = st[12]
        x13 = st[13]
        x14 = st[14]
        x15 = st[15]
        for i in range(10):
            x0 += x4; x12 ^= x0; x12 = (x12 << 16) | ((x12 >> 16) & 0xffff)
            x8 += x12; x4 ^= x8; x4 = (x4 << 12) | ((x4 >> 20) & 0xfff)
            x0 += x4; x12 ^= x0; x12 = (x12 << 8) | ((x12 >> 24) & 0xff)
            x8 += x12; x4 ^= x8; x4 = (x4 << 7) | ((x4 >> 25) & 0x7f)
            x1 += x5; x13 ^= x1; x13 = (x13 << 16) | ((x13 >> 16) & 0xffff)
            x9 += x13; x5 ^= x9; x5 = (x5 << 12) | ((x5 >> 20) & 0xfff)
            x1 += x5; x13 ^= x1; x13 = (x13 << 8) | ((x13 >> 24) & 0xff)
            x9 += x13; x5 ^= x9; x5 = (x5 << 7) | ((x5 >> 25) & 0x7f)
            x2 += x6; x14 ^= x2; x14 = (x14 << 16) | ((x14 >> 16) & 0xffff)
            x10 += x14; x6 ^= x10; x6 = (x6 << 12) | ((x6 >> 20) & 0xfff)
            x2 += x6; x14 ^= x2; x14 = (x14 << 8) | ((x14 >> 24) & 0xff)
            x10 += x14; x6 ^= x10; x6 = (x6 << 7) | ((x6 >> 25) & 0x7f)
            x3 += x7; x15 ^= x3; x15 = (x15 << 16) | ((x15 >> 16) & 0xffff)
            x11 += x15; x7 ^= x11; x7 = (x7 << 12) | ((x7 >> 20) & 0xfff)
            x3 += x7; x15 ^= x3; x15 = (x15 << 8) | ((x15 >> 24) & 0xff)
            x11 += x15; x7 ^= x11; x7 = (x7 << 7) | ((x7 >> 25) & 0x7f)
            x0 += x5; x15 ^= x0; x15 = (x15 << 16) | ((x15 >> 16) & 0xffff)
            x10 += x15; x5 ^= x10; x5 = (x5 << 12) | ((x5 >> 20) & 0xfff)
            x0 += x5; x15 ^= x0; x15 = (x15 << 8) | ((x15 >> 24) & 0xff)
            x10 += x15; x5 ^= x10; x5 = (x5 << 7) | ((x5 >> 25) & 0x7f)
            x1 += x6; x12 ^= x1; x12 = (x12 << 16) | ((x12 >> 16) & 0xffff)
            x11 += x12; x6 ^= x11; x6 = (x6 << 12) | ((x6 >> 20) & 0xfff)
            x1 += x6; x12 ^= x1; x12 = (x12 << 8) | ((x12 >> 24) & 0xff)
            x11 += x12; x6 ^= x11; x6 = (x6 << 7) | ((x6 >> 25) & 0x7f)
            x2 += x7; x13 ^= x2; x13 = (x13 << 16) | ((x13 >> 16) & 0xffff)
            x8 += x13; x7 ^= x8; x7 = (x7 << 12) | ((x7 >> 20) & 0xfff)
            x2 += x7; x13 ^= x2; x13 = (x13 << 8) | ((x13 >> 24) & 0xff)
            x8 += x13; x7 ^= x8; x7 = (x7 << 7) | ((x7 >> 25) & 0x7f)
            x3 += x4; x14 ^= x3; x14 = (x14 << 16) | ((x14 >> 16) & 0xffff)
            x9 += x14; x4 ^= x9; x4 = (x4 << 12) | ((x4 >> 20) & 0xfff)
            x3 += x4; x14 ^= x3; x14 = (x14 << 8) | ((x14 >> 24) & 0xff)
            x9 += x14; x4 ^= x9; x4 = (x4 << 7) | ((x4 >> 25) & 0x7f)
        st[16] = x0 + st[0]
        st[17] = x1 + st[1]
        st[18] = x2 + st[2]
        st[19] = x3 + st[3]
        st[20] = x4 + st[4]
        st[21] = x5 + st[5]
        st[22] = x6 + st[6]
        st[23] = x7 + st[7]
        st[24] = x8 + st[8]
        st[25] = x9 + st[9]
        st[26] = x10 + st[10]
        st[27] = x11 + st[11]
        st[28] = x12 + st[12]
        st[29] = x13 + st[13]
        st[30] = x14 + st[14]
        st[31] = x15 + st[15]
        m = end - off
        if m > 64:
            m = 64
        for j in range(m):
            buf[off + j] = buf[off + j] ^ ks[64 + j]
        off += 64
        st[12] = st[12] + 1


# Poly1305 over 16-byte blocks in 13-bit limbs (the layout of poly1305-donna-16), so that one product
# of limbs fits 30 bits and a row of products 32 bits; the row is carried half way through to stay
# there. ctx (ptr32, 49 words): [0:10] accumulator h, [10:20] 5*r, [20:30] r, [30] the 2**128 bit as
# it lands in limb 9 (1 << 11 for full blocks), [31:41] scratch, [41:49] the pad s (16-bit words).
# Processes m[off:off+n], n a multiple of 16.
@micropython.viper
def poly1305_blocks(ctx: ptr32, m: ptr8, off: int, n: int):
    hib = ctx[30]
    end = off + n
    while off < end:
        t0 = m[off] | (m[off + 1] << 8)
        t1 = m[off + 2] | (m[off + 3] << 8)
        t2 = m[off + 4] | (m[off + 5] << 8)
        t3 = m[off + 6] | (m[off + 7] << 8)
        t4 = m[off + 8] | (m[off + 9] << 8)
        t5 = m[off + 10] | (m[off + 11] << 8)
        t6 = m[off + 12] | (m[off + 13] << 8)
        t7 = m[off + 14] | (m[off + 15] << 8)
        off += 16
        ctx[0] = ctx[0] + (t0 & 0x1fff)
        ctx[1] = ctx[1] + (((t0 >> 13) | (t1 << 3)) & 0x1fff)
        ctx[2] = ctx[2] + (((t1 >> 10) | (t2 << 6)) & 0x1fff)
        ctx[3] = ctx[3] + (((t2 >> 7) | (t3 << 9)) & 0x1fff)
        ctx[4] = ctx[4] + (((t3 >> 4) | (t4 << 12)) & 0x1fff)
        ctx[5] = ctx[5] + ((t4 >> 1) & 0x1fff)
        ctx[6] = ctx[6] + (((t4 >> 14) | (t5 << 2)) & 0x1fff)
        ctx[7] = ctx[7] + (((t5 >> 11) | (t6 << 5)) & 0x1fff)
        ctx[8] = ctx[8] + (((t6 >> 8) | (t7 << 8)) & 0x1fff)
        ctx[9] = ctx[9] + ((t7 >> 5) | hib)
        # h * r mod 2**130 - 5: row i sums h[j] * r[i - j], with 5 * r[i + 10 - j] for the limbs that
        # wrap past 2**130; ctx[20 + i - j] is whichever of the two applies.
        c = 0
        for i in range(10):
            d = c
            k = 20 + i
            for j in range(5):
                d += ctx[j] * ctx[k - j]
            c = (d >> 13) & 0x7ffff
            d = d & 0x1fff
            for j in range(5, 10):
                d += ctx[j] * ctx[k - j]
            c += (d >> 13) & 0x7ffff
            ctx[31 + i] = d & 0x1fff
        c = c * 5 + ctx[31]
        ctx[0] = c & 0x1fff
        ctx[1] = ctx[32] + ((c >> 13) & 0x7ffff)
        for i in range(2, 10):
            ctx[i] = ctx[31 + i]


# Keys ctx for poly1305_blocks from the 32-byte one-time key: r clamped (RFC 8439 section 2.5.1) and
# split into limbs, 5*r, the pad s as 16-bit words, h = 0. All values here stay below 2**17.
@micropython.viper
def poly1305_init(ctx: ptr32, key: ptr8):
    t0 = key[0] | (key[1] << 8)
    t1 = (key[2] | (key[3] << 8)) & 0x0fff
    t2 = (key[4] | (key[5] << 8)) & 0xfffc
    t3 = (key[6] | (key[7] << 8)) & 0x0fff
    t4 = (key[8] | (key[9] << 8)) & 0xfffc
    t5 = (key[10] | (key[11] << 8)) & 0x0fff
    t6 = (key[12] | (key[13] << 8)) & 0xfffc
    t7 = (key[14] | (key[15] << 8)) & 0x0fff
    ctx[20] = t0 & 0x1fff
    ctx[21] = ((t0 >> 13) | (t1 << 3)) & 0x1fff
    ctx[22] = ((t1 >> 10) | (t2 << 6)) & 0x1fff
    ctx[23] = ((t2 >> 7) | (t3 << 9)) & 0x1fff
    ctx[24] = ((t3 >> 4) | (t4 << 12)) & 0x1fff
    ctx[25] = (t4 >> 1) & 0x1fff
    ctx[26] = ((t4 >> 14) | (t5 << 2)) & 0x1fff
    ctx[27] = ((t5 >> 11) | (t6 << 5)) & 0x1fff
    ctx[28] = ((t6 >> 8) | (t7 << 8)) & 0x1fff
    ctx[29] = t7 >> 5
    for i in range(10):
        ctx[i] = 0
        ctx[10 + i] = ctx[20 + i] * 5
    for i in range(8):
        ctx[41 + i] = key[16 + 2 * i] | (key[17 + 2 * i] << 8)


# tag = (h mod p + s) mod 2**128 into out[off:off+16]. Limbs are below 2**15 on entry; two carry passes
# leave each below 2**13 and h below 2**130 (the second pass carries out only when h >= 2**130, and then
# leaves h tiny). h + 5 carries out of bit 130 exactly when h >= p, and then h - p = (h + 5) mod 2**130
# replaces h, picked with a mask rather than a branch.
@micropython.viper
def poly1305_finish(ctx: ptr32, out: ptr8, off: int):
    for _ in range(2):
        c = 0
        for i in range(10):
            v = ctx[i] + c
            ctx[i] = v & 0x1fff
            c = v >> 13
        ctx[0] = ctx[0] + c * 5
    c = 5
    for i in range(10):
        v = ctx[i] + c
        ctx[31 + i] = v & 0x1fff
        c = v >> 13
    g = (0 - c) & 0x1fff
    for i in range(10):
        ctx[i] = (ctx[i] & (g ^ 0x1fff)) | (ctx[31 + i] & g)
    h0 = ctx[0]; h1 = ctx[1]; h2 = ctx[2]; h3 = ctx[3]; h4 = ctx[4]
    h5 = ctx[5]; h6 = ctx[6]; h7 = ctx[7]; h8 = ctx[8]; h9 = ctx[9]
    ctx[31] = (h0 | (h1 << 13)) & 0xffff
    ctx[32] = ((h1 >> 3) | (h2 << 10)) & 0xffff
    ctx[33] = ((h2 >> 6) | (h3 << 7)) & 0xffff
    ctx[34] = ((h3 >> 9) | (h4 << 4)) & 0xffff
    ctx[35] = ((h4 >> 12) | (h5 << 1) | (h6 << 14)) & 0xffff
    ctx[36] = ((h6 >> 2) | (h7 << 11)) & 0xffff
    ctx[37] = ((h7 >> 5) | (h8 << 8)) & 0xffff
    ctx[38] = ((h8 >> 8) | (h9 << 5)) & 0xffff
    c = 0
    for k in range(8):
        v = ctx[31 + k] + ctx[41 + k] + c
        out[off + 2 * k] = v & 0xff
        out[off + 2 * k + 1] = (v >> 8) & 0xff
        c = v >> 16

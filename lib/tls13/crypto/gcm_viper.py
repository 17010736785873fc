"""Viper kernels for gcm.py: GHASH, counter-block fill and keystream XOR as native code.

Kept apart from gcm.py because the compiler rejects `@micropython.viper` outright on a port without a
native emitter (and mpy-cross needs `-march` for it): gcm.py imports this module inside try/except
and falls back to its pure-Python kernel.

Viper ints are machine words: 32 bits on ESP32/RP2040, 64 bits on the unix VM, and `>>` is an
arithmetic shift. Every right shift is therefore followed by a mask below 2**30, and words are only
stored through ptr32, which truncates, so the same code is exact on both word sizes.

GHASH state layout (a bytearray of 84 native 32-bit words):
  words 0..63   M[n] = n*H for the 16 nibble values n (4 words each, word 0 = bytes 0..3 big-endian)
  words 64..67  Y, the running hash
  words 68..83  reduction constants for the 4 bits shifted out of Z (already placed in bits 16..31)
"""
# ruff: noqa: F821  (ptr8/ptr32 are viper built-ins)
import micropython

STATE_WORDS = 84


@micropython.viper
def load_words(st: ptr32, src: ptr8, start: int, nwords: int):
    # Big-endian bytes -> native words, so tables built in Python land in the layout above.
    i = 0
    while i < nwords:
        o = i << 2
        st[start + i] = (src[o] << 24) | (src[o + 1] << 16) | (src[o + 2] << 8) | src[o + 3]
        i += 1


@micropython.viper
def reset(st: ptr32):
    st[64] = 0
    st[65] = 0
    st[66] = 0
    st[67] = 0


@micropython.viper
def ghash(st: ptr32, data: ptr8, off: int, n: int):
    """Y = (Y ^ block) * H for each 16-byte block of data[off:off+n], the last one zero-padded."""
    y0 = st[64]
    y1 = st[65]
    y2 = st[66]
    y3 = st[67]
    p = off
    end = off + n
    while p < end:
        r = end - p
        if r >= 16:
            y0 ^= (data[p] << 24) | (data[p + 1] << 16) | (data[p + 2] << 8) | data[p + 3]
            y1 ^= (data[p + 4] << 24) | (data[p + 5] << 16) | (data[p + 6] << 8) | data[p + 7]
            y2 ^= (data[p + 8] << 24) | (data[p + 9] << 16) | (data[p + 10] << 8) | data[p + 11]
            y3 ^= (data[p + 12] << 24) | (data[p + 13] << 16) | (data[p + 14] << 8) | data[p + 15]
        else:
            j = 0
            while j < r:
                v = data[p + j] << (24 - ((j & 3) << 3))
                if j < 4:
                    y0 ^= v
                elif j < 8:
                    y1 ^= v
                elif j < 12:
                    y2 ^= v
                else:
                    y3 ^= v
                j += 1
        # Shoup's 4-bit method: Horner over the 32 nibbles from the highest-degree one (low nibble
        # of byte 15) down, Z = Z*x^4 ^ M[nibble].
        z0 = 0
        z1 = 0
        z2 = 0
        z3 = 0
        k = 0
        while k < 4:
            if k == 0:
                w = y3
            elif k == 1:
                w = y2
            elif k == 2:
                w = y1
            else:
                w = y0
            j = 0
            while j < 8:
                rem = z3 & 15
                z3 = ((z3 >> 4) & 0x0FFFFFFF) | ((z2 & 15) << 28)
                z2 = ((z2 >> 4) & 0x0FFFFFFF) | ((z1 & 15) << 28)
                z1 = ((z1 >> 4) & 0x0FFFFFFF) | ((z0 & 15) << 28)
                z0 = ((z0 >> 4) & 0x0FFFFFFF) ^ st[68 + rem]
                i = (w & 15) << 2
                z0 ^= st[i]
                z1 ^= st[i + 1]
                z2 ^= st[i + 2]
                z3 ^= st[i + 3]
                w = w >> 4
                j += 1
            k += 1
        y0 = z0
        y1 = z1
        y2 = z2
        y3 = z3
        p += 16
    st[64] = y0
    st[65] = y1
    st[66] = y2
    st[67] = y3


@micropython.viper
def final(st: ptr32, out: ptr8, off: int, ek: ptr8):
    """out[off:off+16] = Y (big-endian) ^ ek: the tag."""
    i = 0
    while i < 16:
        w = st[64 + (i >> 2)]
        out[off + i] = ((w >> (24 - ((i & 3) << 3))) & 255) ^ ek[i]
        i += 1


@micropython.viper
def set_nonce(ctr: ptr8, nonce: ptr8, nblocks: int):
    o = 0
    end = nblocks << 4
    while o < end:
        j = 0
        while j < 12:
            ctr[o + j] = nonce[j]
            j += 1
        o += 16


@micropython.viper
def ctr_fill(ctr: ptr8, nblocks: int, c: int):
    """Big-endian 32-bit counters c, c+1, ... into bytes 12..15 of the first nblocks blocks."""
    o = 12
    end = (nblocks << 4) + 12
    while o < end:
        ctr[o] = (c >> 24) & 255
        ctr[o + 1] = (c >> 16) & 255
        ctr[o + 2] = (c >> 8) & 255
        ctr[o + 3] = c & 255
        c += 1
        o += 16


@micropython.viper
def xor_into(buf: ptr8, off: int, ks: ptr8, n: int):
    i = 0
    p = off
    while i < n:
        buf[p] ^= ks[i]
        i += 1
        p += 1

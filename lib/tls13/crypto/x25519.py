"""X25519 Diffie-Hellman (RFC 7748) on Python integers, for MicroPython and CPython.

`x25519(k, u)` is the raw RFC 7748 function: it clamps the scalar, ignores the top bit of u, accepts
non-canonical u (p <= u < 2^255) and returns 32 zero bytes for low-order points. Rejecting an all-zero
shared secret is the caller's job (RFC 8446 7.4.2), as RFC 7748 section 6.1 leaves the check to it.

Timing: the ladder always runs 255 steps with the same operations, but the swap is a branch (an
arithmetic swap would add big-int operations and still not help) and big-int arithmetic itself
(allocation, digit counts, division) is not constant time on either runtime, so this code can leak
timing about the scalar. That is accepted for TLS ephemeral keys, each used for one exchange; do not use
it for long-lived keys where an attacker can time many operations.

Speed: every field element is a heap big int (on the boards anything of 30 bits or more is), so the
cost is the number of big-int operations and their digit counts. The ladder therefore reduces lazily:
- a product is "folded" once with 2^255 = 19 (mod p): (x & M) + 19 * (x >> 255), four linear
  operations (about half the cost of `% P` on a 510-bit product on the VM), leaving a few bits above 255;
- the four values carried to the next step (x2, z2, x3, z3) get a fold and then `% P` on the short
  remainder, which keeps them below p, so the next step's operands stay 256 bits wide;
- sums and differences are never reduced (they may be negative; a fold of a negative number stays
  congruent, and & and >> are floor-based on both runtimes).
The bounds only matter for speed: any representative is correct because the result is taken mod p.
A viper field multiply (16-bit limbs, so products fit 32-bit words) measured about 2x slower than a
big-int multiply plus fold on the VM, so there is no native kernel.
"""
import os

P = (1 << 255) - 19
_M = (1 << 255) - 1
_A24 = 121665  # (486662 - 2) / 4, RFC 7748
# Below this bound u is a small factor: x1 * T^2 costs one cheap multiply and no extra fold.
_SMALL_U = 1 << 30

X25519_BASEPOINT = b"\x09" + bytes(31)


def _ladder(kb, x1):
    """Montgomery ladder over the clamped little-endian scalar kb; returns projective (X, Z)."""
    p = P
    m = _M
    a24 = _A24
    small = x1 < _SMALL_U
    x2 = 1
    z2 = 0
    x3 = x1
    z3 = 1
    swap = 0
    for i in range(31, -1, -1):
        byte = kb[i]
        for j in range(7, -1, -1):
            bit = (byte >> j) & 1
            if swap ^ bit:
                x2, x3 = x3, x2
                z2, z3 = z3, z2
            swap = bit
            a = x2 + z2
            b = x2 - z2
            c = x3 + z3
            d = x3 - z3
            aa = a * a
            aa = (aa & m) + 19 * (aa >> 255)
            bb = b * b
            bb = (bb & m) + 19 * (bb >> 255)
            da = d * a
            da = (da & m) + 19 * (da >> 255)
            cb = c * b
            cb = (cb & m) + 19 * (cb >> 255)
            e = aa - bb
            t = da + cb
            t = t * t
            x3 = ((t & m) + 19 * (t >> 255)) % p
            t = da - cb
            t = t * t
            if not small:
                t = (t & m) + 19 * (t >> 255)
            t = x1 * t
            z3 = ((t & m) + 19 * (t >> 255)) % p
            t = aa * bb
            x2 = ((t & m) + 19 * (t >> 255)) % p
            t = e * (aa + a24 * e)
            z2 = ((t & m) + 19 * (t >> 255)) % p
    # Clamping clears bit 0, so the last step leaves swap == 0: (x2, z2) is already the result.
    return x2, z2


def _sqr_n(x, n):
    p = P
    m = _M
    for _ in range(n):
        x = x * x
        x = ((x & m) + 19 * (x >> 255)) % p
    return x


def _mul(x, y):
    t = x * y
    return ((t & _M) + 19 * (t >> 255)) % P


def _invert(z):
    """z^(p-2) mod p by the usual 254-squaring, 11-multiplication chain (0 maps to 0).

    Cheaper than pow(z, P - 2, P), which multiplies at each of the exponent's ~250 set bits, and
    independent of the port having three-argument pow.
    """
    z2 = _mul(z, z)
    z9 = _mul(_sqr_n(z2, 2), z)
    z11 = _mul(z9, z2)
    t5 = _mul(_mul(z11, z11), z9)          # z^(2^5 - 1)
    t10 = _mul(_sqr_n(t5, 5), t5)          # z^(2^10 - 1)
    t20 = _mul(_sqr_n(t10, 10), t10)
    t40 = _mul(_sqr_n(t20, 20), t20)
    t50 = _mul(_sqr_n(t40, 10), t10)
    t100 = _mul(_sqr_n(t50, 50), t50)
    t200 = _mul(_sqr_n(t100, 100), t100)
    t250 = _mul(_sqr_n(t200, 50), t50)
    return _mul(_sqr_n(t250, 5), z11)      # z^(2^255 - 21) = z^(p - 2)


def x25519(k, u):
    """RFC 7748 X25519: scalar k (32 bytes) times u-coordinate u (32 bytes) -> 32 bytes."""
    if len(k) != 32:
        raise ValueError("X25519 scalar must be 32 bytes")
    if len(u) != 32:
        raise ValueError("X25519 u-coordinate must be 32 bytes")
    kb = bytearray(k)
    kb[0] &= 248
    kb[31] = (kb[31] & 127) | 64
    x1 = int.from_bytes(u, "little") & _M
    x, z = _ladder(kb, x1)
    return (x * _invert(z) % P).to_bytes(32, "little")


def generate_keypair(random_bytes=None):
    """Return (private, public), 32 bytes each; random_bytes(n) defaults to os.urandom."""
    priv = (random_bytes or os.urandom)(32)
    if len(priv) != 32:
        raise ValueError("random source returned %d bytes, want 32" % len(priv))
    return bytes(priv), x25519(priv, X25519_BASEPOINT)

"""ChaCha20-Poly1305 AEAD (RFC 8439 section 2.8), the TLS_CHACHA20_POLY1305_SHA256 record cipher.

The in-place calls are what the record layer uses: they allocate nothing per block or byte, and
decrypt_into checks the tag before it writes any plaintext. Kernels are chosen in chacha20.py and
poly1305.py; `use_kernel()` here sets both.
"""
from tls13.crypto import chacha20, poly1305
from tls13.crypto.chacha20 import ChaCha20
from tls13.crypto.ct import bytes_eq
from tls13.crypto.errors import InvalidTag
from tls13.crypto.poly1305 import Poly1305

_ZERO32 = bytes(32)


def use_kernel(name):
    """Force "viper", "python" or "python32" (ChaCha20 kernel names; Poly1305 runs "python" for both
    pure ones), or None for the automatic choice."""
    chacha20.use_kernel(name)
    poly1305.use_kernel(name if name in (None, "viper") else "python")


def kernel():
    return chacha20.kernel() + "+" + poly1305.kernel()


class ChaCha20Poly1305:
    def __init__(self, key):
        if len(key) != 32:
            raise ValueError("ChaCha20-Poly1305 key must be 32 bytes")
        self._c = ChaCha20(key)
        self._mac = Poly1305()
        self._blk = bytearray(32)  # one-time Poly1305 key, then the lengths block
        self._tag = bytearray(16)
        self._got = bytearray(16)

    def _start(self, nonce):
        if len(nonce) != 12:
            raise ValueError("ChaCha20-Poly1305 nonce must be 12 bytes")
        c = self._c
        c.set_nonce(nonce, 0)
        k = self._blk
        k[0:32] = _ZERO32
        c.xor_into(k, 0, 32)  # block 0 keys Poly1305; the payload starts at block 1
        self._mac.reset(k)

    def _mac_into(self, aad, ct, n, out, off):
        mac = self._mac
        a = len(aad)
        mac.update(aad)
        mac.pad16()
        mac.update(ct, 0, n)
        mac.pad16()
        k = self._blk
        for i in range(8):
            k[i] = (a >> (8 * i)) & 0xFF
            k[8 + i] = (n >> (8 * i)) & 0xFF
        mac.update(k, 0, 16)
        mac.digest_into(out, off)

    def encrypt_into(self, nonce, buf, n, aad):
        """Encrypt buf[0:n] in place and write the tag to buf[n:n+16]."""
        if aad is None:
            aad = b""
        if n < 0 or len(buf) < n + 16:
            raise ValueError("buffer needs room for the tag")
        self._start(nonce)
        self._c.xor_into(buf, 0, n)
        self._mac_into(aad, buf, n, buf, n)

    def decrypt_into(self, nonce, buf, n, aad):
        """buf[0:n] is ciphertext and tag; verify, then decrypt in place. Returns the plaintext length."""
        if aad is None:
            aad = b""
        if n > len(buf):
            raise ValueError("n exceeds the buffer")
        if len(nonce) != 12:
            raise ValueError("ChaCha20-Poly1305 nonce must be 12 bytes")
        if n < 16:
            raise InvalidTag()
        m = n - 16
        self._start(nonce)
        want = self._tag
        self._mac_into(aad, buf, m, want, 0)
        got = self._got
        for i in range(16):
            got[i] = buf[m + i]
        if not bytes_eq(want, got):
            raise InvalidTag()
        self._c.xor_into(buf, 0, m)
        return m

    def encrypt(self, nonce, data, aad):
        n = len(data)
        out = bytearray(n + 16)
        out[0:n] = data
        self.encrypt_into(nonce, out, n, aad)
        return bytes(out)

    def decrypt(self, nonce, data, aad):
        buf = bytearray(data)
        m = self.decrypt_into(nonce, buf, len(buf), aad)
        return bytes(memoryview(buf)[:m])

"""HMAC (RFC 2104) over tls13.crypto.hashes.

HMACKey prepares a key once for several MACs (HKDF-Expand makes one per output block). Where the hash
objects can be copied (CPython, the pure SHA-384/512), the states after the ipad and opad blocks are
kept and copied per MAC, which saves two compressions each; MicroPython's native SHA-256 cannot be
copied, so there the pad blocks are hashed again (natively, so cheaply).
"""
from tls13.crypto import hashes


class HMACKey:
    def __init__(self, hash_name, key):
        bs = hashes.block_size(hash_name)
        self.hash_name = hash_name
        if len(key) > bs:
            key = hashes.digest(hash_name, key)
        ipad = bytearray(bs)
        opad = bytearray(bs)
        n = len(key)
        for i in range(bs):
            k = key[i] if i < n else 0
            ipad[i] = k ^ 0x36
            opad[i] = k ^ 0x5C
        h = hashes.new(hash_name, ipad)
        if hasattr(h, "copy"):
            self._inner = h
            self._outer = hashes.new(hash_name, opad)
            self._ipad = self._opad = None
        else:
            self._inner = self._outer = None
            self._ipad = bytes(ipad)
            self._opad = bytes(opad)

    def start(self):
        """A hash object already fed the inner pad: update it with the message, then finish()."""
        if self._inner is not None:
            return self._inner.copy()
        return hashes.new(self.hash_name, self._ipad)

    def finish(self, inner):
        """The tag from an object returned by start() (the object is finalised)."""
        if self._outer is not None:
            o = self._outer.copy()
        else:
            o = hashes.new(self.hash_name, self._opad)
        o.update(inner.digest())
        return o.digest()

    def mac(self, *parts):
        """Tag over the concatenation of parts, without building the concatenation."""
        h = self.start()
        for p in parts:
            h.update(p)
        return self.finish(h)

    def new(self, msg=b""):
        return HMAC(self, None, msg)


class HMAC:
    """Incremental HMAC: HMAC(hash_name_or_HMACKey, key=None, msg=b"")."""

    def __init__(self, hash_name, key=None, msg=b""):
        if isinstance(hash_name, HMACKey):
            self._key = hash_name
        else:
            if key is None:
                raise TypeError("HMAC needs a key")
            self._key = HMACKey(hash_name, key)
        self._h = self._key.start()
        self.digest_size = hashes.digest_size(self._key.hash_name)
        if msg:
            self._h.update(msg)

    def update(self, msg):
        if self._h is None:
            raise ValueError("HMAC already finalised")
        self._h.update(msg)

    def digest(self):
        """The tag; the object is finished afterwards (as MicroPython's hashes are)."""
        if self._h is None:
            raise ValueError("HMAC already finalised")
        h = self._h
        self._h = None
        return self._key.finish(h)


def hmac(hash_name, key, msg):
    return HMACKey(hash_name, key).mac(msg)

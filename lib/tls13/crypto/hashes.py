"""SHA-2 hashes for TLS 1.3 and certificate checks, and the handshake transcript hash.

SHA-256 always comes from `hashlib` (native on every MicroPython port). SHA-384/512 come from `hashlib`
where it has them (CPython) and otherwise from the pure-Python SHA-512 of adafruit-circuitpython-hashlib,
imported as the flat module `_sha512` (boards get the file copied flat: the `adafruit_hashlib` package
__init__ imports every hash and does not fit a small heap). `adafruit_hashlib.sha384` itself must never
be used: on CPython that name is bound to SHA3-384.

Objects returned here have `update(data)` and `digest()`. Two kinds exist:
- snapshot objects: `digest()` leaves the object usable and `copy()` exists (CPython hashlib, the pure
  SHA-512 wrapper below);
- finalising objects: MicroPython's hashlib, where `digest()` ends the object and there is no `copy()`.
`snapshots(name)` tells which kind `new(name)` makes; Transcript and HMAC adapt to it.
"""
import hashlib

# name -> (digest size, block size)
_SIZES = {"sha256": (32, 64), "sha384": (48, 128), "sha512": (64, 128)}

_forced = None     # None (auto) | "python": pure SHA-384/512 even where hashlib has them
_pure_mod = None   # the adafruit _sha512 module, loaded on first use
_native_snap = None


class TranscriptExhausted(Exception):
    """Transcript.digest() was called more often than the points it was created for."""


def _check(name):
    if name not in _SIZES:
        raise ValueError("unsupported hash: %r" % (name,))


def digest_size(name):
    _check(name)
    return _SIZES[name][0]


def block_size(name):
    _check(name)
    return _SIZES[name][1]


def use_backend(name):
    """Choose where SHA-384/512 come from: "python" forces the pure fallback, None picks hashlib when
    it has them. SHA-256 is always hashlib's."""
    global _forced
    if name not in (None, "python", "hashlib"):
        raise ValueError("unknown hash backend: %r" % (name,))
    if name == "hashlib" and not hasattr(hashlib, "sha384"):
        raise ValueError("this hashlib has no sha384/sha512")
    _forced = "python" if name == "python" else None


def backend(name):
    """"hashlib" or "python": where new(name) gets its implementation."""
    _check(name)
    if name == "sha256" or (_forced is None and hasattr(hashlib, "sha384")):
        return "hashlib"
    return "python"


def _pure():
    global _pure_mod
    if _pure_mod is None:
        try:
            import _sha512 as m
            # CPython up to 3.11 ships a C module of the same name; only the pure one has sha_init.
            if not hasattr(m, "sha_init"):
                raise ImportError
        except ImportError:
            from adafruit_hashlib import _sha512 as m
        _pure_mod = m
    return _pure_mod


class _PureSHA512:
    """Wraps adafruit's SHA-512/384 state functions.

    Its own classes' copy() shares the buffered-block list between the copies (a shallow dict copy), so
    two copies fed different data corrupt each other; this wrapper copies the lists.
    """

    block_size = 128

    def __init__(self, is384, data=b"", _state=None):
        m = _pure()
        self._m = m
        self.name = "sha384" if is384 else "sha512"
        self.digest_size = 48 if is384 else 64
        if _state is None:
            _state = m.sha384_init() if is384 else m.sha_init()
        self._s = _state
        if data:
            self.update(data)

    def update(self, data):
        if not isinstance(data, bytes):
            data = bytes(data)
        self._m.sha_update(self._s, data)

    def _clone_state(self):
        s = dict(self._s)
        s["data"] = list(s["data"])
        s["digest"] = list(s["digest"])
        return s

    def digest(self):
        # sha_final pads in place: give it a private copy so this object can keep hashing.
        return self._m.sha_final(self._clone_state())[:self.digest_size]

    def hexdigest(self):
        return self.digest().hex()

    def copy(self):
        return _PureSHA512(self.name == "sha384", b"", self._clone_state())


def sha256(data=b""):
    return hashlib.sha256(data)


def sha384(data=b""):
    if _forced is None and hasattr(hashlib, "sha384"):
        return hashlib.sha384(data)
    return _PureSHA512(True, data)


def sha512(data=b""):
    if _forced is None and hasattr(hashlib, "sha512"):
        return hashlib.sha512(data)
    return _PureSHA512(False, data)


_CTORS = {"sha256": sha256, "sha384": sha384, "sha512": sha512}


def new(name, data=b""):
    _check(name)
    return _CTORS[name](data)


def digest(name, data=b""):
    """One-shot hash, e.g. digest(name) is Hash("") for TLS 1.3's "derived" secrets."""
    return new(name, data).digest()


def _native_snapshots():
    # Asked once: does this hashlib's digest() leave the object usable (CPython) or end it (MicroPython)?
    global _native_snap
    if _native_snap is None:
        h = hashlib.sha256()
        h.digest()
        try:
            h.update(b"a")
            _native_snap = h.digest() == hashlib.sha256(b"a").digest()
        except Exception:
            _native_snap = False
    return _native_snap


def snapshots(name):
    """True when objects from new(name) survive digest() (so one object can serve many digests)."""
    if backend(name) == "python":
        return True
    return _native_snapshots()


class Transcript:
    """Running hash of the handshake messages, read at up to `points` moments known in advance.

    With finalising hash objects it keeps one object per remaining point, all fed the same bytes, and
    finalises one per digest(): memory stays O(points) hash states instead of a copy of the whole
    transcript (the Certificate message alone is KBs). With snapshot objects one object serves all
    points. The limit is enforced on every runtime so that a miscounted handshake fails on CPython too.
    """

    def __init__(self, name, points):
        _check(name)
        if points < 1:
            raise ValueError("a transcript needs at least one digest point")
        self.name = name
        self._left = points
        self._snap = snapshots(name)
        if self._snap:
            self._hs = [new(name)]
        else:
            self._hs = [new(name) for _ in range(points)]

    @property
    def points_left(self):
        return self._left

    def update(self, msg):
        for h in self._hs:
            h.update(msg)

    def digest(self):
        if self._left <= 0:
            raise TranscriptExhausted("%s transcript: all digest points used" % self.name)
        self._left -= 1
        if self._snap:
            d = self._hs[0].digest()
            if not self._left:
                self._hs = []
            return d
        return self._hs.pop().digest()

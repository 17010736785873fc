"""TLS wire format: a bounds-checked reader over one buffer and small writers.

Every length read from the peer is checked against what is left; a mismatch is `decode_error`.
Readers hand out memoryview slices, so parsing a message copies nothing.
"""
import struct

from tls13.alerts import DecodeError


class Reader:
    __slots__ = ("buf", "pos", "end")

    def __init__(self, buf, pos=0, end=None):
        self.buf = buf if isinstance(buf, memoryview) else memoryview(buf)
        self.pos = pos
        self.end = len(self.buf) if end is None else end

    def left(self):
        return self.end - self.pos

    def _need(self, n):
        if n > self.end - self.pos:
            raise DecodeError("message truncated")

    def u8(self):
        self._need(1)
        v = self.buf[self.pos]
        self.pos += 1
        return v

    def u16(self):
        self._need(2)
        b = self.buf
        p = self.pos
        self.pos = p + 2
        return (b[p] << 8) | b[p + 1]

    def u24(self):
        self._need(3)
        b = self.buf
        p = self.pos
        self.pos = p + 3
        return (b[p] << 16) | (b[p + 1] << 8) | b[p + 2]

    def u32(self):
        return (self.u16() << 16) | self.u16()

    def take(self, n):
        self._need(n)
        p = self.pos
        self.pos = p + n
        return self.buf[p:p + n]

    def vec(self, lenbytes, minlen=0, maxlen=0xFFFFFF):
        n = self.u8() if lenbytes == 1 else self.u16() if lenbytes == 2 else self.u24()
        if n < minlen or n > maxlen:
            raise DecodeError("vector length %d out of range" % n)
        return self.take(n)

    def sub(self, lenbytes, minlen=0):
        """A Reader over the next length-prefixed vector (which is skipped in this reader)."""
        n = self.u8() if lenbytes == 1 else self.u16() if lenbytes == 2 else self.u24()
        if n < minlen:
            raise DecodeError("vector too short")
        self._need(n)
        r = Reader(self.buf, self.pos, self.pos + n)
        self.pos += n
        return r

    def done(self):
        return self.pos >= self.end

    def expect_end(self):
        if self.pos != self.end:
            raise DecodeError("%d trailing bytes" % (self.end - self.pos))


def u16(v):
    return struct.pack(">H", v)


def vec8(b):
    return bytes((len(b),)) + b


def vec16(b):
    return struct.pack(">H", len(b)) + b


def vec24(b):
    n = len(b)
    return bytes((n >> 16, (n >> 8) & 0xFF, n & 0xFF)) + b


def ext(ext_type, body):
    return struct.pack(">HH", ext_type, len(body)) + body


def handshake(msg_type, body):
    n = len(body)
    return bytes((msg_type, n >> 16, (n >> 8) & 0xFF, n & 0xFF)) + body

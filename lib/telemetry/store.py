"""Small durable blobs (the TLS session ticket, a few hundred bytes): RTC memory where the board
keeps it across deep sleep (ESP32 RTC slow memory, ~2 KB through machine.RTC().memory()), else a file.

Framing: b"TS", length:u16, crc32:u32, data. RTC memory after power-on and a file cut off by a reset
hold garbage or nothing; both read as "no session" (the node then does a full handshake).
The session holds a resumption secret: a file store is as sensitive as the device key next to it.
"""
import os
import struct

try:
    from binascii import crc32
except ImportError:
    from zlib import crc32

_MAGIC = b"TS"
_HDR = 8


def _frame(data):
    out = bytearray(_HDR + len(data))  # one allocation: the heap may be fragmented by now
    out[0:2] = _MAGIC
    struct.pack_into(">HI", out, 2, len(data), crc32(data) & 0xFFFFFFFF)
    out[_HDR:] = data
    return out


def _unframe(raw):
    if raw is None or len(raw) < _HDR or bytes(raw[:2]) != _MAGIC:
        return None
    n, crc = struct.unpack_from(">HI", raw, 2)
    data = bytes(raw[_HDR:_HDR + n])
    if len(data) != n or crc32(data) & 0xFFFFFFFF != crc:
        return None
    return data


class FileStore:
    kind = "file"

    def __init__(self, path):
        self.path = path

    def load(self):
        try:
            with open(self.path, "rb") as f:
                return _unframe(f.read(4096))
        except OSError:
            return None

    def save(self, data):
        # write-new then rename: a reset mid-write leaves the old blob or the new one
        tmp = self.path + ".new"
        with open(tmp, "wb") as f:
            f.write(_frame(data))
        try:
            os.rename(tmp, self.path)
        except OSError:
            os.remove(self.path)  # FAT cannot rename over an existing file
            os.rename(tmp, self.path)

    def clear(self):
        for p in (self.path, self.path + ".new"):
            try:
                os.remove(p)
            except OSError:
                pass


class RTCStore:
    kind = "rtc"

    def __init__(self, rtc, capacity=2048):
        self.rtc = rtc
        self.capacity = capacity

    def load(self):
        try:
            return _unframe(self.rtc.memory())
        except (OSError, ValueError):
            return None

    def save(self, data):
        framed = _frame(data)
        if len(framed) > self.capacity:
            raise ValueError("%d bytes do not fit %d bytes of RTC memory" % (len(framed), self.capacity))
        self.rtc.memory(framed)

    def clear(self):
        self.rtc.memory(b"")


def makedirs(path):
    """Create the directories of a relative or absolute path (os.makedirs is not on every port)."""
    cur = ""
    for part in path.split("/")[:-1]:
        if not part:
            cur = "/"
            continue
        cur = cur + part if cur.endswith("/") or not cur else cur + "/" + part
        try:
            os.mkdir(cur)
        except OSError:
            pass


def session_store(board, path):
    """RTC memory where the profile asks for it and the port has it, else a file at path."""
    if board.get("session_store") == "rtc":
        rtc = board.rtc()
        if rtc is not None:
            return RTCStore(rtc, board.get("rtc_memory", 2048))
    makedirs(path)
    return FileStore(path)

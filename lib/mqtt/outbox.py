"""Durable outbox for QoS 1 telemetry: an append-only log on the device's filesystem.

    ob = Outbox("/outbox.log", max_records=256, max_bytes=32768)
    rid = ob.append(b"devices/d1/t", b'{"t":21.5}')   # on flash before it returns
    ...after the PUBACK for rid:  ob.ack(rid); ob.flush_acks()

File: a 20-byte header (magic, version, the next record id at the time it was written, the drop
count, CRC-32), then records,
each `length:u16 crc32:u32 body`:
    PUB   1, flags:u8 (bit 0 retain), id:u32, topic_len:u16, topic, payload
    ACK   2, id:u32 ...              (records that got their PUBACK)
    DROP  3, id:u32                  (the oldest record, pushed out by the bound)

Opening replays the log. The first record that is short, too long or fails its CRC is where a write
was cut off (power loss, crash): it and everything after it are dropped and counted (`torn`), and the
log is rewritten without them. Rewriting (compaction) goes to `<path>.new`, which is flushed, synced
and then renamed over the log, so a crash at any point leaves either the old or the new file whole; a
leftover `.new` is deleted on open. Acks are batched: losing some to a crash only means those records
are sent again (duplicates, never loss). Only open/read/write/seek/flush and os.rename/remove/stat
are used, which LittleFS, FAT and the unix port's VfsPosix all have.
"""
import os
import struct

try:
    from binascii import crc32
except ImportError:
    from zlib import crc32

_MAGIC = b"MQOB"
_VERSION = 1
_HDR = 20
_REC = 6
_PUB = 1
_ACK = 2
_DROP = 3
_PUB_FIXED = 8      # kind, flags, id, topic_len


class OutboxError(Exception):
    pass


def _sync():
    s = getattr(os, "sync", None)
    if s is not None:
        s()


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def remove(path):
    """Delete a durable outbox (its log and any unfinished compaction): a factory reset, or a fresh
    start. Close the Outbox object first."""
    for p in (path, path + ".new"):
        try:
            os.remove(p)
        except OSError:
            pass


class Outbox:
    def __init__(self, path, max_records=256, max_bytes=32768, max_record=1024, compact_bytes=8192,
                 opener=open):
        if max_record < 64 or max_record > 65535 - _REC:
            raise ValueError("max_record")
        self.path = path
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.max_record = max_record
        self.compact_bytes = compact_bytes
        self._open = opener
        self._buf = bytearray(_REC + max_record)   # one record, for reading and for writing
        self._ids = []      # pending record ids, oldest first (ids only grow)
        self._offs = []     # their offsets in the file
        self._sizes = []    # their sizes on file (header included)
        self._acks = []     # acked ids not yet on file
        self.live_bytes = 0
        self.next_id = 0
        self.dropped = 0            # records pushed out by the bound, ever (kept across compaction)
        self.torn = 0               # cut-off tails found on open
        self.torn_bytes = 0
        self.compactions = 0
        self._f = None
        self._end = _HDR
        self._recover()
        self.recovered = len(self._ids)
        # Records from before this open may have been sent already: they go out again with DUP.
        self.recovered_next = self.next_id

    # ---- queries ------------------------------------------------------------------------------
    def __len__(self):
        return len(self._ids)

    def pending(self):
        return len(self._ids)

    def oldest(self):
        return self._ids[0] if self._ids else None

    def next_after(self, rid):
        """The oldest pending id greater than rid (None: nothing)."""
        ids = self._ids
        lo, hi = 0, len(ids)
        while lo < hi:
            mid = (lo + hi) >> 1
            if ids[mid] <= rid:
                lo = mid + 1
            else:
                hi = mid
        return ids[lo] if lo < len(ids) else None

    def _index(self, rid):
        ids = self._ids
        lo, hi = 0, len(ids)
        while lo < hi:
            mid = (lo + hi) >> 1
            if ids[mid] < rid:
                lo = mid + 1
            else:
                hi = mid
        return lo if lo < len(ids) and ids[lo] == rid else -1

    def read(self, rid):
        """(topic, payload, retain) of a pending record; payload is a view, valid until the next call."""
        i = self._index(rid)
        if i < 0:
            raise KeyError(rid)
        n = self._sizes[i]
        mv = memoryview(self._buf)
        self._read_at(self._offs[i], mv[:n])
        tl = (mv[_REC + 6] << 8) | mv[_REC + 7]
        t0 = _REC + _PUB_FIXED
        return bytes(mv[t0:t0 + tl]), mv[t0 + tl:n], bool(mv[_REC + 1] & 1)

    def stats(self):
        return {"pending": len(self._ids), "next_id": self.next_id, "dropped": self.dropped,
                "torn": self.torn, "torn_bytes": self.torn_bytes, "compactions": self.compactions,
                "file_bytes": self._end, "live_bytes": self.live_bytes, "recovered": self.recovered}

    # ---- changes ------------------------------------------------------------------------------
    def append(self, topic, payload, retain=False):
        """Store a record durably (flushed and synced before this returns); returns its id."""
        if isinstance(topic, str):
            topic = topic.encode()
        if isinstance(payload, str):
            payload = payload.encode()
        body = _PUB_FIXED + len(topic) + len(payload)
        if body > self.max_record or not topic or len(topic) > 65535:
            raise ValueError("record of %d bytes exceeds max_record %d" % (body, self.max_record))
        size = _REC + body
        self._flush_acks(sync=False)
        drops = 0
        while self._ids and (len(self._ids) >= self.max_records or self.live_bytes + size > self.max_bytes):
            self._write_record(_DROP, struct.pack(">I", self._ids[0]))
            self._forget(0)
            self.dropped += 1
            drops += 1
        rid = self.next_id
        b = self._buf
        struct.pack_into(">BBIH", b, _REC, _PUB, 1 if retain else 0, rid, len(topic))
        t0 = _REC + _PUB_FIXED
        b[t0:t0 + len(topic)] = topic
        b[t0 + len(topic):size] = payload
        off = self._end
        self._seal_and_write(size)
        self.next_id = rid + 1
        self._ids.append(rid)
        self._offs.append(off)
        self._sizes.append(size)
        self.live_bytes += size
        if self._end - _HDR - self.live_bytes >= self.compact_bytes:
            self.compact()  # drops (no broker for a long while) pile up dead bytes too
        return rid

    def ack(self, rid):
        """The broker acknowledged rid: forget it (on file at the next flush_acks). False when it is
        not pending (dropped already, or acked twice)."""
        i = self._index(rid)
        if i < 0:
            return False
        self._forget(i)
        self._acks.append(rid)
        return True

    def flush_acks(self):
        """Write the batched acks (one record, synced); compacts when dead bytes pile up."""
        self._flush_acks(sync=True)
        if self._end - _HDR - self.live_bytes >= self.compact_bytes:
            self.compact()

    def compact(self):
        """Rewrite the log with only the pending records (write-new, sync, rename)."""
        self._acks = []
        new = self.path + ".new"
        g = self._open(new, "wb")
        try:
            g.write(self._header())
            pos = _HDR
            offs = []
            mv = memoryview(self._buf)
            for i in range(len(self._ids)):
                n = self._sizes[i]
                self._read_at(self._offs[i], mv[:n])
                g.write(mv[:n])
                offs.append(pos)
                pos += n
            g.flush()
            _sync()
        finally:
            g.close()
        self._close_file()
        if _exists(self.path):
            self._replace(new, self.path)
        else:
            os.rename(new, self.path)
        self._offs = offs
        self._end = pos
        self.compactions += 1
        self._f = self._open(self.path, "r+b")

    def close(self):
        if self._f is not None:
            self._flush_acks(sync=True)
            self._close_file()

    # ---- internals ----------------------------------------------------------------------------
    def _forget(self, i):
        self.live_bytes -= self._sizes[i]
        del self._ids[i]
        del self._offs[i]
        del self._sizes[i]

    def _flush_acks(self, sync):
        acks = self._acks
        while acks:
            k = min(len(acks), (self.max_record - 1) // 4)
            b = self._buf
            b[_REC] = _ACK
            for j in range(k):
                struct.pack_into(">I", b, _REC + 1 + 4 * j, acks[j])
            self._seal_and_write(_REC + 1 + 4 * k, sync)
            del acks[:k]

    def _write_record(self, kind, data):
        b = self._buf
        b[_REC] = kind
        b[_REC + 1:_REC + 1 + len(data)] = data
        self._seal_and_write(_REC + 1 + len(data), sync=False)

    def _seal_and_write(self, size, sync=True):
        b = self._buf
        mv = memoryview(b)
        struct.pack_into(">HI", b, 0, size - _REC, crc32(mv[_REC:size]) & 0xFFFFFFFF)
        f = self._f
        f.seek(self._end)
        f.write(mv[:size])
        self._end += size
        if sync:
            f.flush()
            _sync()

    def _read_at(self, off, mv):
        f = self._f
        f.seek(off)
        got = 0
        while got < len(mv):
            n = f.readinto(mv[got:])
            if not n:
                raise OutboxError("outbox file shorter than its index")
            got += n

    def _header(self):
        h = bytearray(_HDR)
        h[0:4] = _MAGIC
        struct.pack_into(">BxxxII", h, 4, _VERSION, self.next_id, self.dropped)
        struct.pack_into(">I", h, 16, crc32(memoryview(h)[:16]) & 0xFFFFFFFF)
        return h

    def _close_file(self):
        f = self._f
        self._f = None
        if f is not None:
            f.close()

    def _replace(self, src, dst):
        try:
            os.rename(src, dst)
        except OSError:
            # FAT cannot rename over an existing file. src is complete and synced by now, and open
            # finishes the job if power fails between these two steps.
            os.remove(dst)
            os.rename(src, dst)

    def _recover(self):
        path = self.path
        new = path + ".new"
        if _exists(new):
            if _exists(path):
                os.remove(new)      # compaction never reached its rename: the log is authoritative
            else:
                os.rename(new, path)  # it got past removing the log (FAT fallback): .new is whole
        if not _exists(path):
            self.compact()  # an empty log, created whole through the same write-new + rename
            self.compactions = 0
        if self._f is None:
            self._f = self._open(path, "r+b")
        size = os.stat(path)[6]
        h = bytearray(_HDR)
        hv = memoryview(h)
        if size < _HDR:
            self._rewrite_after_damage(size)
            return
        self._read_at(0, hv)
        if bytes(h[0:4]) != _MAGIC or h[4] != _VERSION or \
                struct.unpack_from(">I", h, 16)[0] != crc32(hv[:16]) & 0xFFFFFFFF:
            raise OutboxError("%s is not an outbox (bad header): move it away" % path)
        self.next_id, self.dropped = struct.unpack_from(">II", h, 8)
        pos = self._replay(size)
        if pos < size:
            self.torn += 1
            self.torn_bytes = size - pos
            self._end = pos
            self.compact()
        else:
            self._end = pos

    def _rewrite_after_damage(self, size):
        # A header cut off while the file was being created: nothing was ever stored in it.
        self.torn += 1
        self.torn_bytes = size
        self._end = _HDR
        self.compact()

    def _replay(self, size):
        """Index the records; returns where the last whole, valid one ends."""
        mv = memoryview(self._buf)
        pos = _HDR
        f = self._f
        while pos + _REC <= size:
            f.seek(pos)
            if not self._read_full(f, mv[:_REC]):
                break
            blen, crc = struct.unpack_from(">HI", self._buf, 0)
            if blen == 0 or blen > self.max_record or pos + _REC + blen > size:
                break
            if not self._read_full(f, mv[_REC:_REC + blen]) or crc32(mv[_REC:_REC + blen]) & 0xFFFFFFFF != crc:
                break
            if not self._apply(mv, blen, pos):
                break
            pos += _REC + blen
        return pos

    def _read_full(self, f, mv):
        got = 0
        while got < len(mv):
            n = f.readinto(mv[got:])
            if not n:
                return False
            got += n
        return True

    def _apply(self, mv, blen, pos):
        kind = mv[_REC]
        if kind == _PUB:
            if blen < _PUB_FIXED + 1:
                return False
            rid = struct.unpack_from(">I", self._buf, _REC + 2)[0]
            if self._ids and rid <= self._ids[-1]:
                return False  # ids only grow: this is not a record we wrote here
            if rid >= self.next_id:
                self.next_id = rid + 1
            self._ids.append(rid)
            self._offs.append(pos)
            self._sizes.append(_REC + blen)
            self.live_bytes += _REC + blen
            return True
        if kind in (_ACK, _DROP) and (blen - 1) % 4 == 0:
            for j in range((blen - 1) // 4):
                i = self._index(struct.unpack_from(">I", self._buf, _REC + 1 + 4 * j)[0])
                if i >= 0:
                    self._forget(i)
                    if kind == _DROP:
                        self.dropped += 1
            return True
        return False


class MemoryOutbox:
    """The same interface kept in RAM: bounded with drop-oldest, lost on reset (for boards without
    a writable filesystem, and for tests)."""

    def __init__(self, max_records=64, max_bytes=16384):
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._recs = []   # (id, topic, payload, retain)
        self.live_bytes = 0
        self.next_id = 0
        self.dropped = 0
        self.recovered = 0
        self.recovered_next = 0

    def __len__(self):
        return len(self._recs)

    def pending(self):
        return len(self._recs)

    def oldest(self):
        return self._recs[0][0] if self._recs else None

    def next_after(self, rid):
        for r in self._recs:
            if r[0] > rid:
                return r[0]
        return None

    def read(self, rid):
        for r in self._recs:
            if r[0] == rid:
                return r[1], r[2], r[3]
        raise KeyError(rid)

    def append(self, topic, payload, retain=False):
        topic = topic.encode() if isinstance(topic, str) else bytes(topic)
        payload = payload.encode() if isinstance(payload, str) else bytes(payload)
        size = len(topic) + len(payload)
        while self._recs and (len(self._recs) >= self.max_records or self.live_bytes + size > self.max_bytes):
            r = self._recs.pop(0)
            self.live_bytes -= len(r[1]) + len(r[2])
            self.dropped += 1
        rid = self.next_id
        self.next_id += 1
        self._recs.append((rid, topic, payload, retain))
        self.live_bytes += size
        return rid

    def ack(self, rid):
        for i in range(len(self._recs)):
            if self._recs[i][0] == rid:
                r = self._recs.pop(i)
                self.live_bytes -= len(r[1]) + len(r[2])
                return True
        return False

    def flush_acks(self):
        pass

    def close(self):
        pass

    def stats(self):
        return {"pending": len(self._recs), "next_id": self.next_id, "dropped": self.dropped}

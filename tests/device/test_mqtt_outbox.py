"""The durable outbox on the real filesystem (VfsPosix on the VM, as LittleFS on a board): records
survive reopening, a torn tail at every byte offset is dropped with earlier records kept, the bound
drops the oldest and counts it across reboots, and a crash at each step of compaction loses nothing."""
import os

from mpcheck import check, eq, raises

from mqtt.outbox import MemoryOutbox, Outbox, OutboxError
from mqtt_fake import fresh

def read_file(p):
    with open(p, "rb") as f:
        return f.read()


def write_file(p, data):
    with open(p, "wb") as f:
        f.write(data)


def payloads(ob):
    out = []
    rid = ob.next_after(-1)
    while rid is not None:
        t, p, r = ob.read(rid)
        out.append((rid, t, bytes(p), r))
        rid = ob.next_after(rid)
    return out


def test_append_ack_reopen():
    p = fresh("basic")
    ob = Outbox(p)
    eq([ob.append("t/%d" % i, b"v%d" % i, i == 2) for i in range(5)], [0, 1, 2, 3, 4])
    eq(payloads(ob)[2], (2, b"t/2", b"v2", True))
    check(ob.ack(1) and ob.ack(3))
    check(not ob.ack(3))
    ob.flush_acks()
    ob.close()
    ob = Outbox(p)
    eq([r[0] for r in payloads(ob)], [0, 2, 4])
    eq((ob.recovered, ob.recovered_next, ob.next_id), (3, 5, 5))
    eq(ob.append("t", b"later"), 5)     # ids keep growing across reopening
    ob.close()


def test_unflushed_acks_mean_resend_not_loss():
    p = fresh("acks")
    ob = Outbox(p)
    for i in range(3):
        ob.append("t", b"%d" % i)
    ob.ack(0)
    ob.flush_acks()
    ob.ack(1)
    ob._close_file()                    # power lost before the second ack reached flash
    ob = Outbox(p)
    eq([r[0] for r in payloads(ob)], [1, 2])
    ob.close()


def test_torn_tail_at_every_offset():
    p = fresh("torn")
    ob = Outbox(p)
    for i in range(3):
        ob.append("sensors/t", b"reading-%d" % i)
    ob.ack(0)
    ob.flush_acks()
    ob.append("sensors/t", b"the last one, cut short")
    ob.close()
    whole = read_file(p)
    last = ob._sizes[-1]
    start = len(whole) - last
    for cut in range(start, len(whole)):
        write_file(p, whole[:cut])
        ob = Outbox(p)
        eq([r[0] for r in payloads(ob)], [1, 2], "cut at %d" % cut)
        eq((ob.torn, ob.torn_bytes), (1 if cut > start else 0, cut - start), "cut at %d" % cut)
        eq(ob.append("sensors/t", b"after"), 3)   # the torn record's id is reused: it never existed
        ob.close()
        ob = Outbox(p)
        eq([r[0] for r in payloads(ob)], [1, 2, 3])
        eq(ob.torn, 0)
        ob.close()


def test_corruption_cuts_the_log_there():
    p = fresh("crc")
    ob = Outbox(p)
    for i in range(4):
        ob.append("t", b"record-%d" % i)
    off = ob._offs[2]
    ob.close()
    data = bytearray(read_file(p))
    data[off + 10] ^= 0x40
    write_file(p, data)
    ob = Outbox(p)
    eq([r[0] for r in payloads(ob)], [0, 1])
    eq(ob.torn, 1)
    ob.close()


def test_bound_drops_oldest_and_counts_across_reboot():
    p = fresh("bound")
    ob = Outbox(p, max_records=4, max_bytes=10000)
    for i in range(10):
        ob.append("t", b"%d" % i)
    eq([r[0] for r in payloads(ob)], [6, 7, 8, 9])
    eq(ob.dropped, 6)
    ob.close()
    ob = Outbox(p, max_records=4, max_bytes=10000)
    eq(ob.dropped, 6)
    ob.compact()
    ob.close()
    ob = Outbox(p, max_records=4)
    eq((ob.dropped, [r[0] for r in payloads(ob)]), (6, [6, 7, 8, 9]))
    ob.close()
    p = fresh("bytes")
    ob = Outbox(p, max_records=100, max_bytes=200)
    for i in range(10):
        ob.append("t", bytes(40))       # 6 + 8 + 1 + 40 = 55 bytes each: 3 fit
    eq((len(ob), ob.dropped), (3, 7))
    check(ob.live_bytes <= 200)
    ob.close()


def test_file_stays_bounded_without_a_broker():
    p = fresh("offline")
    ob = Outbox(p, max_records=8, compact_bytes=1024)
    for i in range(300):
        ob.append("t", bytes(30))
    check(os.stat(p)[6] <= 20 + 8 * 45 + 1024 + 64, "file %d bytes" % os.stat(p)[6])
    eq((len(ob), ob.dropped), (8, 292))
    ob.close()


def test_compaction_shrinks_and_keeps_order():
    p = fresh("compact")
    ob = Outbox(p, compact_bytes=512)
    for i in range(40):
        ob.append("t", bytes(20))
        if i % 3:
            ob.ack(i)
        ob.flush_acks()
    check(ob.compactions >= 1)
    kept = [r[0] for r in payloads(ob)]
    eq(kept, list(range(0, 40, 3)))
    ob.close()
    check(os.stat(p)[6] < 20 + 40 * 35)
    ob = Outbox(p)
    eq([r[0] for r in payloads(ob)], kept)
    ob.close()


class CrashAt(Exception):
    pass


class CrashingOpener:
    """Fails the n-th write into <log>.new: a power cut in the middle of compaction."""

    def __init__(self, n):
        self.n = n

    def __call__(self, path, mode):
        f = open(path, mode)
        return _Crashing(f, self) if path.endswith(".new") else f


class _Crashing:
    def __init__(self, f, o):
        self._f = f
        self._o = o

    def write(self, data):
        self._o.n -= 1
        if self._o.n < 0:
            self._f.write(memoryview(data)[:len(data) // 2])
            self._f.close()
            raise CrashAt()
        return self._f.write(data)

    def flush(self):
        return self._f.flush()

    def close(self):
        return self._f.close()


def test_crash_during_compaction_at_each_write():
    for n in range(6):
        p = fresh("ccrash")
        ob = Outbox(p)
        for i in range(6):
            ob.append("t", b"%d" % i)
        ob.ack(1)
        ob.ack(4)
        ob.flush_acks()
        ob.close()
        ob = Outbox(p, opener=CrashingOpener(n))
        want = [r[0] for r in payloads(ob)]
        try:
            ob.compact()
            completed = True
        except CrashAt:
            completed = False
            ob._close_file()
        check(completed == (n >= 5), "write %d" % n)
        ob = Outbox(p)
        eq([r[0] for r in payloads(ob)], want, "crash at write %d" % n)
        try:
            os.stat(p + ".new")
            check(False, ".new left behind")
        except OSError:
            pass
        ob.close()


def test_crash_between_remove_and_rename():
    # FAT cannot rename over a file: the log is removed first. If power fails right there, the
    # complete .new is what opening finds.
    p = fresh("fat")
    ob = Outbox(p)
    ob.append("t", b"a")
    ob.append("t", b"b")
    ob.compact()
    ob.close()
    os.rename(p, p + ".new")
    ob = Outbox(p)
    eq([r[2] for r in payloads(ob)], [b"a", b"b"])
    ob.close()


def test_damaged_header():
    p = fresh("hdr")
    write_file(p, b"MQOB\x01")           # cut off while the empty log was being created
    ob = Outbox(p)
    eq((len(ob), ob.torn), (0, 1))
    ob.append("t", b"x")
    ob.close()
    write_file(p, b"not an outbox at all, but something else")
    raises(OutboxError, Outbox, p)


def test_argument_checks():
    p = fresh("args")
    ob = Outbox(p, max_record=64)
    raises(ValueError, ob.append, "t", bytes(60))
    raises(ValueError, ob.append, "", b"x")
    raises(KeyError, ob.read, 99)
    ob.close()


def test_memory_outbox():
    ob = MemoryOutbox(max_records=3)
    for i in range(5):
        ob.append("t", b"%d" % i)
    eq((len(ob), ob.dropped, ob.oldest()), (3, 2, 2))
    eq(ob.next_after(2), 3)
    check(ob.ack(3))
    eq(ob.next_after(2), 4)
    eq(ob.read(4), (b"t", b"4", False))

"""MQTT client scenarios, the same code on CPython and on the MicroPython VM.

Host tests (tests/test_mqtt_*.py) start mosquitto, then run these in-process, through
vmbench.call_on_vm, or as a killable process (mqtt_harness.DeviceProc). Each returns a JSON-able dict
of what the device saw; the host judges it. Nothing here asserts.
"""
import gc
import os
import sys

import tls13.bufpool

# The record buffers come first, while the heap is still in one piece (as firmware does).
tls13.bufpool.reserve()

import tls13  # noqa: E402
from mqtt.client import MQTTClient  # noqa: E402
from mqtt import outbox  # noqa: E402
from mqtt.outbox import Outbox  # noqa: E402
from mqtt.robust import Backoff, RobustClient, _sleep_ms as sleep_ms  # noqa: E402
from mqtt.session import ticks_add, ticks_diff, ticks_ms  # noqa: E402  (the port's, or stand-ins)

# Stands for a board with the TLS stack frozen into flash: the board's heap plus the stack's resident
# size on the VM (see vmbench.STACK_MODULES).
STACK = True

IS_MICROPYTHON = sys.implementation.name == "micropython"
SUITES = "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"


def make_context(cafile, certfile=None, keyfile=None, suites=SUITES):
    ctx = tls13.SSLContext(tls13.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=cafile)
    if suites:
        ctx.set_ciphers(suites)
    if certfile:
        ctx.load_cert_chain(certfile, keyfile)
    return ctx


def fd_count():
    """Open file descriptors of this process (Linux), or None where that cannot be seen."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def _mem():
    if IS_MICROPYTHON:
        gc.collect()
        return gc.mem_alloc()
    return None


def basic(port, cafile=None, tls=False, certfile=None, keyfile=None, client_id="dev-basic",
          prefix="test/basic", host="127.0.0.1", server_hostname="localhost", extra_topics=(),
          timeout=10):
    """Connect, subscribe to prefix/#, publish QoS 0, 1 and 2 to it and read them back, ping,
    unsubscribe; then publish QoS 1 to extra_topics (an ACL test sees whether they arrive),
    reconnecting if the broker hangs up over one."""
    mem0 = _mem()
    ctx = make_context(cafile, certfile, keyfile) if tls else None
    got = []
    c = MQTTClient(client_id, host, port, ssl=ctx, server_hostname=server_hostname, keepalive=30,
                   timeout=timeout)
    c.set_callback(lambda t, m: got.append([bytes(t).decode(), bytes(m).decode()]))
    t0 = ticks_ms()
    sp = c.connect()
    t_conn = ticks_diff(ticks_ms(), t0)
    out = {"runtime": sys.implementation.name, "session_present": sp, "connect_ms": t_conn}
    if tls:
        out["version"] = c.sock.version()
        out["cipher"] = c.sock.cipher()[0]
    out["granted"] = c.subscribe(prefix + "/#", 2)
    c.publish(prefix + "/q0", b"zero", qos=0)
    c.publish(prefix + "/q1", b"one", qos=1)
    c.publish(prefix + "/q2", b"two", qos=2)
    deadline = ticks_add(ticks_ms(), int(timeout * 1000))
    while len(got) < 3 and ticks_diff(deadline, ticks_ms()) > 0:
        c.wait_msg(0.5)
    c.ping()
    c.wait_msg(0.3)
    out["ping_ok"] = c.session.ping_outstanding is False
    c.unsubscribe(prefix + "/#")
    c.publish(prefix + "/after-unsubscribe", b"late", qos=1)
    c.wait_msg(0.3)
    out["received"] = sorted(got)
    out["heap_in_use"] = _mem()
    out["heap_before"] = mem0
    # Last: a broker may drop the connection over a publish its ACL denies (mosquitto 2.0 does).
    out["extra_results"] = []
    for t in extra_topics:
        try:
            c.publish(t, b"extra", qos=1)
            out["extra_results"].append("acked")
        except OSError as e:
            out["extra_results"].append("%s: %s" % (type(e).__name__, e))
            c.connect()
    c.disconnect()
    out["closed"] = c.sock is None
    return out


def connect_fails(port, cafile=None, tls=False, certfile=None, keyfile=None, host="127.0.0.1",
                  server_hostname="localhost", user=None, password=None, client_id="dev-fail",
                  attempts=5, timeout=5):
    """Connect attempts that should fail: the error each raised, and whether descriptors leaked."""
    ctx = make_context(cafile, certfile, keyfile) if tls else None
    c = MQTTClient(client_id, host, port, ssl=ctx, server_hostname=server_hostname, user=user,
                   password=password, timeout=timeout)
    errors = []
    fds0 = fd_count()
    for _ in range(attempts):
        try:
            c.connect()
            errors.append("connected")
            c.disconnect()
        except Exception as e:  # the host checks the type
            errors.append(type(e).__name__ + ": " + str(e))
        gc.collect()
    return {"errors": errors, "fds_before": fds0, "fds_after": fd_count(), "sock_none": c.sock is None}


class TornOpener:
    """Opens outbox files through a wrapper that, once armed, writes only the first half of the next
    PUB record, flushes it, says so on stdout and waits there to be killed."""

    def __init__(self):
        self.armed = False

    def __call__(self, path, mode):
        return _TornFile(open(path, mode), self)


class _TornFile:
    def __init__(self, f, owner):
        self._f = f
        self._o = owner

    def write(self, data):
        if self._o.armed and len(data) > 7 and data[6] == 1:
            half = len(data) // 2
            self._f.write(memoryview(data)[:half])
            self._f.flush()
            print("TORN-WINDOW wrote %d of %d bytes" % (half, len(data)))
            sleep_ms(60000)
        return self._f.write(data)

    def seek(self, *a):
        return self._f.seek(*a)

    def readinto(self, b):
        return self._f.readinto(b)

    def flush(self):
        return self._f.flush()

    def close(self):
        return self._f.close()


def _outbox(path, fresh, backlog, payload, opener=open):
    """The durable outbox of the telemetry runs (emptied first when fresh), room for backlog + 16."""
    if fresh:
        outbox.remove(path)
    return Outbox(path, max_records=backlog + 16, max_bytes=(backlog + 16) * (payload + 40), opener=opener)


def telemetry(port, count, outbox_path, topic="test/seq", tls=False, cafile=None, host="127.0.0.1",
              server_hostname="localhost", client_id="dev-telemetry", keepalive=5, timeout=5,
              backlog=100, payload=100, torn_at=None, fresh=False, deadline_s=150, first_ms=100,
              max_ms=1000, max_inflight=16, progress_every=0, interval_ms=0):
    """Publish sequence numbers 0..count-1 at QoS 1 through the durable outbox and the supervisor,
    keeping at most `backlog` records unacknowledged, until all are acknowledged. The sequence
    number is the outbox record id, so a restarted device carries on where its outbox left off.
    interval_ms paces the publishes (so that faults injected by the host land mid-run)."""
    mem0 = _mem()
    opener = TornOpener() if torn_at is not None else open
    ob = _outbox(outbox_path, fresh, backlog, payload, opener)
    recovered = ob.stats()
    ctx = make_context(cafile) if tls else None
    c = MQTTClient(client_id, host, port, ssl=ctx, server_hostname=server_hostname, keepalive=keepalive,
                   timeout=timeout, max_inflight=max_inflight)
    sup = RobustClient(c, ob, Backoff(first_ms, max_ms))
    body = bytearray(payload)
    for i in range(8, payload):
        body[i] = 97 + i % 26
    t0 = ticks_ms()
    start_seq = ob.next_id
    heap_peak = 0
    last_progress = 0
    while True:
        seq = ob.next_id
        if seq < count and len(ob) < backlog:
            body[0:8] = b"%08d" % seq
            if torn_at is not None and seq == torn_at:
                opener.armed = True
            sup.publish(topic, body, 1)
            sup.pump(0)
            if interval_ms:
                sleep_ms(interval_ms)
        elif seq >= count and not len(ob):
            break
        else:
            sup.pump(50)
        if progress_every and sup.stats["acked"] - last_progress >= progress_every:
            last_progress = sup.stats["acked"]
            print("PROGRESS acked=%d" % last_progress)
        if ticks_diff(ticks_ms(), t0) > deadline_s * 1000:
            raise OSError("telemetry run exceeded %d s: %s, last error %s" % (deadline_s, sup.stats, sup.last_error))
        if IS_MICROPYTHON and seq % 64 == 0:
            m = _mem()
            heap_peak = max(heap_peak, m)
    elapsed = ticks_diff(ticks_ms(), t0)
    heap_end = _mem()
    sup.disconnect()
    out = {"runtime": sys.implementation.name, "start_seq": start_seq, "elapsed_ms": elapsed,
           "stats": sup.stats, "outbox": ob.stats(), "recovered": recovered, "errors": sup.errors,
           "heap_before": mem0, "heap_end": heap_end, "heap_peak": heap_peak}
    ob.close()
    return out


def async_basic(port, cafile=None, tls=False, prefix="test/async", client_id="dev-async",
                host="127.0.0.1", server_hostname="localhost", keepalive=2, idle_s=3, timeout=10):
    """The asyncio client: concurrent QoS 0/1/2 publishes looped back through a subscription, then
    idle past 1.5x keepalive (pings keep it alive), one more round trip, disconnect."""
    try:
        import asyncio
    except ImportError:
        import uasyncio as asyncio
    from mqtt.aclient import MQTTAsyncClient

    async def main():
        ctx = make_context(cafile) if tls else None
        c = MQTTAsyncClient(client_id, host, port, ssl=ctx, server_hostname=server_hostname,
                            keepalive=keepalive, timeout=timeout)
        out = {"runtime": sys.implementation.name, "session_present": await c.connect()}
        out["granted"] = await c.subscribe(prefix + "/#", 2)
        await asyncio.gather(c.publish(prefix + "/q0", b"zero", 0), c.publish(prefix + "/q1", b"one", 1),
                             c.publish(prefix + "/q2", b"two", 2))
        got = []
        for _ in range(3):
            t, m = await c.next_message(5)
            got.append([bytes(t).decode(), bytes(m).decode()])
        await asyncio.sleep(idle_s)
        out["alive_after_idle"] = c.is_connected()
        await c.publish(prefix + "/late", b"late", 1)
        t, m = await c.next_message(5)
        got.append([bytes(t).decode(), bytes(m).decode()])
        out["received"] = sorted(got)
        await c.disconnect()
        out["error"] = None if c.error is None else repr(c.error)
        return out

    return asyncio.run(main())


def async_telemetry(port, count, outbox_path, topic="test/seq", tls=False, cafile=None, host="127.0.0.1",
                    server_hostname="localhost", client_id="dev-atelemetry", keepalive=5, timeout=5,
                    backlog=100, payload=100, fresh=False, deadline_s=150, first_ms=100, max_ms=1000,
                    max_inflight=16, interval_ms=0, subscribe_to=None):
    """telemetry() with the asyncio client and mqtt.arobust.AsyncRobustClient: sequence numbers
    0..count-1 at QoS 1 through the durable outbox while run() keeps the link up; the publisher is
    a separate task that only appends. subscribe_to: a topic subscribed through the supervisor
    (resubscribed at every reconnect); the messages received on it are counted."""
    try:
        import asyncio
    except ImportError:
        import uasyncio as asyncio
    from mqtt.aclient import MQTTAsyncClient
    from mqtt.arobust import AsyncRobustClient

    ob = _outbox(outbox_path, fresh, backlog, payload)
    recovered = ob.stats()
    ctx = make_context(cafile) if tls else None
    c = MQTTAsyncClient(client_id, host, port, ssl=ctx, server_hostname=server_hostname, keepalive=keepalive,
                        timeout=timeout, max_inflight=max_inflight)
    received = []  # for each message received on subscribe_to: the connection (count) it came on
    sup = AsyncRobustClient(c, ob, Backoff(first_ms, max_ms),
                            on_message=lambda t, m: received.append(sup.stats["connects"]))
    if subscribe_to:
        sup.subscribe(subscribe_to, 1)
    body = bytearray(payload)
    for i in range(8, payload):
        body[i] = 97 + i % 26
    start_seq = ob.next_id
    out = {"runtime": sys.implementation.name, "start_seq": start_seq, "recovered": recovered}

    heap = []  # (connects, heap in use, buffers parked in tls13.bufpool) at each new connection

    async def main():
        runner = asyncio.create_task(sup.run())
        t0 = ticks_ms()
        seen = 0
        while ob.next_id < count:
            if IS_MICROPYTHON and sup.stats["connects"] != seen:
                seen = sup.stats["connects"]
                heap.append((seen, _mem(), tls13.bufpool.reserved()))
            if len(ob) < backlog:
                body[0:8] = b"%08d" % ob.next_id
                sup.publish(topic, body)
            await asyncio.sleep(interval_ms / 1000 if interval_ms else 0.005)
            if ticks_diff(ticks_ms(), t0) > deadline_s * 1000:
                raise OSError("async telemetry exceeded %d s: %s, last error %s" % (
                    deadline_s, sup.stats, sup.last_error))
        left = deadline_s * 1000 - ticks_diff(ticks_ms(), t0)
        out["drained"] = await sup.drain(max(left, 1000))
        out["elapsed_ms"] = ticks_diff(ticks_ms(), t0)
        await sup.stop()
        await asyncio.wait_for(runner, 5)

    asyncio.run(main())
    last = sup.stats["connects"]
    out.update(stats=sup.stats, outbox=ob.stats(), errors=sup.errors, received=len(received), heap=heap,
               received_on_last_connection=len([k for k in received if k == last]),
               connected_after_stop=c.is_connected())
    ob.close()
    return out


class _NoDelaySockets:
    """A `usocket` whose sockets have Nagle off: umqtt.simple writes each packet in several small
    pieces, which otherwise wait for the broker's delayed ACK (~40 ms per publish)."""

    def __init__(self, mod):
        self._m = mod
        self.getaddrinfo = mod.getaddrinfo

    def socket(self, *a):
        s = self._m.socket(*a)
        s.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY (the unix port lacks the names)
        return s


def umqtt_simple(port, umqtt_dir, cafile=None, count=20, topic="test/umqtt", client_id="dev-umqtt",
                 host="127.0.0.1", server_hostname="localhost", builtin_ssl=False, payload=100,
                 nodelay=False):
    """Unmodified umqtt.simple 1.3.x publishing QoS 1. Over tls13 it gets our context through
    mqtt.compat (ssl_params={"context": ctx}); with builtin_ssl on MicroPython it uses the port's
    own ssl module (Mbed TLS, TLS 1.2). nodelay: hand it sockets with Nagle off. Returns publishes
    per second."""
    sys.path.insert(0, umqtt_dir)
    import socket as _sock
    sys.modules["usocket"] = _NoDelaySockets(_sock) if nodelay else _sock
    if not IS_MICROPYTHON:
        import binascii
        import struct as _struct
        sys.modules.setdefault("ustruct", _struct)
        sys.modules.setdefault("ubinascii", binascii)
    if builtin_ssl:
        import ssl
        sys.modules["ussl"] = ssl
        params = {"server_hostname": server_hostname}
    else:
        from mqtt import compat
        compat.install_ussl()
        params = {"context": make_context(cafile), "server_hostname": server_hostname}
    from umqtt.simple import MQTTClient as UClient
    mem0 = _mem()
    # bytes, as umqtt's examples use: MicroPython streams take str too, CPython's memoryview does not
    c = UClient(client_id.encode(), host, port, ssl=True, ssl_params=params)
    topic = topic.encode()
    t0 = ticks_ms()
    c.connect()
    t1 = ticks_ms()
    body = bytearray(payload)
    for i in range(8, payload):
        body[i] = 97 + i % 26
    for i in range(count):
        body[0:8] = b"%08d" % i
        c.publish(topic, body, qos=1)
    t2 = ticks_ms()
    version = c.sock.version() if hasattr(c.sock, "version") else None
    heap = _mem()
    c.disconnect()
    return {"runtime": sys.implementation.name, "connect_ms": ticks_diff(t1, t0),
            "publish_ms": ticks_diff(t2, t1), "count": count,
            "per_s": count * 1000 / max(1, ticks_diff(t2, t1)), "version": version,
            "heap_before": mem0, "heap_connected": heap}


def bench_publish(port, mode="sync", count=500, payload=100, cafile=None, tls=True, suites=SUITES,
                  outbox_path=None, host="127.0.0.1", server_hostname="localhost", topic="test/bench",
                  window=16):
    """QoS 1 publishes per second over one connection, and the heap each part holds.
    mode "sync": MQTTClient.publish waits for each PUBACK (as umqtt.simple does);
    "window": RobustClient keeps up to `window` unacknowledged, from a MemoryOutbox, or from the
    durable Outbox when outbox_path is given (every record appended and synced first)."""
    from mqtt.outbox import MemoryOutbox
    if tls:
        # One connection first, so the TLS modules loaded on first use (frozen on a board) are not
        # counted as what the client holds.
        w = MQTTClient("bench-warmup", host, port, ssl=make_context(cafile, suites=suites),
                       server_hostname=server_hostname, timeout=10)
        w.connect()
        w.disconnect()
        w = None
    gc.collect()
    m0 = _mem()
    reserved = sum(tls13.bufpool.reserved())
    ob = None
    if mode == "window":
        if outbox_path:
            outbox.remove(outbox_path)
            ob = Outbox(outbox_path, max_records=window * 4)
        else:
            ob = MemoryOutbox(max_records=window * 4)
    m1 = _mem()
    ctx = make_context(cafile, suites=suites) if tls else None
    c = MQTTClient("bench-" + mode, host, port, ssl=ctx, server_hostname=server_hostname, keepalive=30,
                   timeout=10, max_inflight=window, max_packet=1024)
    m2 = _mem()
    t0 = ticks_ms()
    c.connect()
    t1 = ticks_ms()
    m3 = _mem()
    body = bytearray(payload)
    for i in range(8, payload):
        body[i] = 97 + i % 26
    if mode == "sync":
        for i in range(count):
            body[0:8] = b"%08d" % i
            c.publish(topic, body, qos=1)
    else:
        sup = RobustClient(c, ob)
        for i in range(count):
            body[0:8] = b"%08d" % i
            while len(ob) >= window * 3:
                sup.pump(20)
            sup.publish(topic, body, 1)
        if not sup.drain(30000):
            raise OSError("not drained: %r %r" % (sup.stats, sup.last_error))
    t2 = ticks_ms()
    m4 = _mem()
    out = {"runtime": sys.implementation.name, "mode": mode, "durable": bool(outbox_path), "count": count,
           "payload": payload, "connect_ms": ticks_diff(t1, t0), "publish_ms": ticks_diff(t2, t1),
           "per_s": count * 1000 / max(1, ticks_diff(t2, t1)),
           "cipher": c.sock.cipher()[0] if tls else None}
    if IS_MICROPYTHON:
        out.update({"heap_modules_and_reserved": m0, "heap_outbox": m1 - m0, "heap_client": m2 - m1,
                    "heap_connected_session": m3 - m2, "heap_after_run": m4 - m0,
                    "bufpool_reserved": reserved})
    c.disconnect()
    if ob is not None:
        ob.close()
    return out


def heap_parts(outbox_path, records=64, payload=100, max_packet=1024):
    """Heap (bytes) of an empty durable outbox, the same with `records` pending, and an unconnected
    MQTTClient with its session (MicroPython only; None elsewhere)."""
    outbox.remove(outbox_path)
    a = _mem()
    ob = Outbox(outbox_path, max_records=records)
    b = _mem()
    for i in range(records):
        ob.append("test/bench", bytes(payload))
    c = _mem()
    cl = MQTTClient("heap", "127.0.0.1", 1883, max_packet=max_packet)
    d = _mem()
    ob.close()
    if a is None:
        return None
    return {"outbox_empty": b - a, "outbox_with_pending": c - a, "pending": records,
            "client_and_session": d - c, "max_packet": max_packet, "client": cl is not None}


def async_backoff(port, seconds=1.2, first_ms=200, max_ms=1000, host="127.0.0.1"):
    """AsyncRobustClient against a port where nothing listens: run() must space its attempts with
    the backoff (not spin), keep counting failures, and stop cleanly."""
    try:
        import asyncio
    except ImportError:
        import uasyncio as asyncio
    from mqtt.aclient import MQTTAsyncClient
    from mqtt.arobust import AsyncRobustClient
    from mqtt.outbox import MemoryOutbox

    sup = AsyncRobustClient(MQTTAsyncClient("dev-backoff", host, port, timeout=1), MemoryOutbox(),
                            Backoff(first_ms, max_ms))
    rid = sup.publish("test/backoff", b"kept")

    async def main():
        task = asyncio.create_task(sup.run())
        await asyncio.sleep(seconds)
        sup._stopping = True
        sup._wake.set()
        await asyncio.wait_for(task, 3)

    asyncio.run(main())
    return {"attempts": sup.stats["connect_failures"], "pending": len(sup.outbox), "rid": rid,
            "last_error": sup.last_error}

"""asyncio MQTT 3.1.1 client (MicroPython's asyncio and CPython's), plain TCP or tls13.aio streams.

    c = MQTTAsyncClient("dev1", "broker", ssl=ctx, keepalive=30)
    await c.connect()
    await c.subscribe("devices/dev1/cmd", 1)
    await c.publish("devices/dev1/t", b"21.5", qos=1)     # returns when the PUBACK is in
    topic, msg = await c.next_message(timeout=5)
    await c.disconnect()

A reader task feeds the session and wakes whoever waits for an ack; a keepalive task pings and
declares the link dead after 1.5x keepalive of silence. Every wait has a timeout; after any failure
the client is closed and every pending wait raises the error (reconnect by calling connect() again,
or let mqtt.arobust.AsyncRobustClient keep it connected and drain a durable outbox through it).
"""
try:
    import asyncio
except ImportError:
    import uasyncio as asyncio

from mqtt import codec as C
from mqtt.errors import ConnectionLost, MQTTTimeout, SubscribeRefused
from mqtt.session import CONNECTED, Session


class _Waiter:
    def __init__(self):
        self.event = asyncio.Event()
        self.result = None
        self.error = None


async def _wait_for(aw, timeout, what):
    try:
        return await asyncio.wait_for(aw, timeout)
    except asyncio.TimeoutError:
        raise MQTTTimeout("no %s within %s s" % (what, timeout))


class MQTTAsyncClient:
    def __init__(self, client_id, server, port=0, ssl=None, keepalive=60, user=None, password=None,
                 server_hostname=None, timeout=10, clean_session=True, max_packet=C.DEFAULT_MAX_PACKET,
                 max_inflight=16):
        self.server = server
        self.port = port or (8883 if ssl else 1883)
        self.ssl = ssl
        self.server_hostname = server_hostname
        self.timeout = timeout
        self.session = Session(client_id, keepalive, clean_session, user, password, None, max_packet,
                               max_inflight)
        self.cb = None
        self.error = None
        self._r = self._w = None
        self._tasks = []
        self._waiters = {}
        self._connack = None
        self._msgs = []
        self._msg_event = asyncio.Event()
        self._closing = False
        self.max_queued = 32   # messages kept for next_message() when no callback is set
        # Hooks for a supervisor (mqtt.arobust): on_ack(record id) for a PUBACK nobody awaits (a
        # publish queued on the session directly), on_close() whenever the connection ends.
        self.on_ack = None
        self.on_close = None

    def set_callback(self, f):
        """f(topic, msg), called from the reader task."""
        self.cb = f

    def is_connected(self):
        return self._w is not None and self.session.state == CONNECTED

    async def connect(self, clean_session=None):
        self.close()
        self.error = None
        self._closing = False
        try:
            await _wait_for(self._open(), self.timeout, "TCP/TLS connection")
            self._connack = _Waiter()
            self.session.start(None, clean_session)
            await self._flush()
            self._tasks = [asyncio.create_task(self._reader()), asyncio.create_task(self._keepalive())]
            await _wait_for(self._connack.event.wait(), self.timeout, "CONNACK")
            if self._connack.error is not None:
                raise self._connack.error
            return self._connack.result
        except BaseException:
            self.close()
            raise

    async def _open(self):
        if self.ssl:
            from tls13 import aio
            self._r, self._w = await aio.open_connection(self.server, self.port, self.ssl,
                                                         server_hostname=self.server_hostname or self.server)
        else:
            self._r, self._w = await asyncio.open_connection(self.server, self.port)

    async def publish(self, topic, msg, qos=0, retain=False, timeout=None):
        pid = self.session.publish(topic, msg, qos, retain)
        return await self._request(pid, timeout, "PUBACK" if qos == 1 else "PUBCOMP") if qos else 0

    async def subscribe(self, topic, qos=0, timeout=None):
        pid = self.session.subscribe([(topic, qos)])
        codes = await self._request(pid, timeout, "SUBACK")
        if codes[0] == 0x80:
            raise SubscribeRefused("subscription to %r refused" % (topic,))
        return codes[0]

    async def unsubscribe(self, topic, timeout=None):
        await self._request(self.session.unsubscribe([topic]), timeout, "UNSUBACK")

    async def ping(self):
        self.session.ping()
        await self._flush()

    async def next_message(self, timeout=None):
        """(topic, msg) of the next message received (when no callback is set)."""
        while not self._msgs:
            if self.error is not None:
                raise self.error
            self._msg_event.clear()
            await _wait_for(self._msg_event.wait(), self.timeout if timeout is None else timeout, "message")
        return self._msgs.pop(0)

    async def disconnect(self):
        self._closing = True  # the broker hanging up now is what we asked for
        if self.is_connected():
            self.session.disconnect()
            try:
                await self._flush()
            except OSError:
                pass
        self.close()

    def close(self, error=None):
        for t in self._tasks:
            if t is not asyncio.current_task():
                t.cancel()
        self._tasks = []
        w = self._w
        self._r = self._w = None
        self.session.connection_lost()
        if error is not None:
            self.error = error
        for wt in list(self._waiters.values()) + ([self._connack] if self._connack else []):
            if not wt.event.is_set():
                wt.error = error or ConnectionLost("connection closed")
                wt.event.set()
        self._waiters = {}
        self._msg_event.set()
        if w is not None:
            try:
                w.close()
            except OSError:
                pass
        if self.on_close is not None:
            self.on_close()

    # ---- internals ----------------------------------------------------------------------------
    async def _flush(self):
        data = self.session.data_to_send()
        if data:
            if self._w is None:
                raise ConnectionLost("not connected")
            self._w.write(data)
            await _wait_for(self._w.drain(), self.timeout, "write")

    async def _request(self, pid, timeout, what):
        w = _Waiter()
        self._waiters[pid] = w
        try:
            await self._flush()
            await _wait_for(w.event.wait(), self.timeout if timeout is None else timeout, what)
        except BaseException as e:
            self._waiters.pop(pid, None)
            self.close(e if isinstance(e, Exception) else None)
            raise
        if w.error is not None:
            raise w.error
        return w.result

    async def _read(self, buf):
        r = self._r
        if hasattr(r, "readinto"):
            return await r.readinto(buf)
        data = await r.read(len(buf))
        buf[:len(data)] = data
        return len(data)

    async def _reader(self):
        buf = bytearray(1024)
        mv = memoryview(buf)
        try:
            while True:
                n = await self._read(buf)
                if not n:
                    raise ConnectionLost("the broker closed the connection")
                for ev in self.session.receive(mv[:n]):
                    self._dispatch(ev)
                await self._flush()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.close(None if self._closing else e)

    def _dispatch(self, ev):
        kind = ev[0]
        if kind == "message":
            if self.cb is not None:
                self.cb(ev[1], ev[2])
            elif len(self._msgs) < self.max_queued:
                self._msgs.append((ev[1], ev[2]))
                self._msg_event.set()
        elif kind == "connack":
            self._connack.result = ev[1]
            self._connack.event.set()
        elif kind != "pingresp":
            w = self._waiters.pop(ev[1], None)
            if w is not None:
                w.result = ev[2] if kind == "suback" else ev[1]
                w.event.set()
            elif kind == "puback" and self.on_ack is not None and ev[2] is not None:
                self.on_ack(ev[2])

    async def _keepalive(self):
        s = self.session
        try:
            while True:
                due = s.ms_until_tick()
                await asyncio.sleep((due if due is not None else 1000) / 1000)
                s.tick()
                await self._flush()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.close(e)

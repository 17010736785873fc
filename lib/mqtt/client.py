"""Blocking MQTT 3.1.1 client with umqtt.simple's surface, over plain TCP or any TLS context.

    import tls13, mqtt
    ctx = tls13.SSLContext(tls13.PROTOCOL_TLS_CLIENT); ctx.load_verify_locations(cafile="ca.pem")
    c = mqtt.MQTTClient("dev1", "broker.example", ssl=ctx, keepalive=30)
    c.connect(); c.publish(b"t/x", b"23.5", qos=1); c.disconnect()

Every network wait has a deadline (`timeout`, seconds); a wait that is part of the protocol (CONNACK,
PUBACK, SUBACK) raises MQTTTimeout when it passes. Any error closes the socket before it propagates,
so a caller that reconnects never leaks one. Keepalive runs inside check_msg / wait_msg / ping.

Reads wait in select.poll and then read without blocking; they never rely on a socket timeout. On
MicroPython a blocking `readinto` fills the whole buffer, and when a timeout strikes after part of it
arrived the bytes are consumed but their count is lost (ETIMEDOUT is raised instead), which would
cut a TLS record in two. Writes block with the timeout: a write that times out ends the connection.
"""
import select
import socket

from mqtt import codec as C
from mqtt.errors import ConnectionLost, MQTTTimeout, SubscribeRefused
from mqtt.session import CONNECTED, Session, ticks_add, ticks_diff, ticks_ms

_IPPROTO_TCP = 6
_TCP_NODELAY = 1


def _is_timeout(e):
    a = e.args[0] if e.args else None
    return a == 110 or a == "timed out" or type(e).__name__ in ("timeout", "TimeoutError")


def _would_block(e):
    a = e.args[0] if e.args else None
    return a in (11, 35, 115, 10035) or type(e).__name__ == "BlockingIOError"


def open_tcp(host, port, timeout):
    """A connected TCP socket (the first address that works), Nagle off, timeout set."""
    infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    err = None
    for ai in infos:
        s = socket.socket(ai[0], socket.SOCK_STREAM)
        try:
            s.settimeout(timeout)
            s.connect(ai[-1])
        except OSError as e:
            s.close()
            err = e
            continue
        try:
            s.setsockopt(getattr(socket, "IPPROTO_TCP", _IPPROTO_TCP), getattr(socket, "TCP_NODELAY", _TCP_NODELAY), 1)
        except (OSError, AttributeError, TypeError):
            pass
        return s
    raise err if err is not None else OSError(-2, "no address for %s" % host)


class MQTTClient:
    def __init__(self, client_id, server, port=0, user=None, password=None, keepalive=0, ssl=None,
                 ssl_params=None, server_hostname=None, timeout=10, clean_session=True,
                 max_packet=C.DEFAULT_MAX_PACKET, max_inflight=16, rx_buffer=1024):
        if port == 0:
            port = 8883 if ssl else 1883
        self.client_id = client_id
        self.server = server
        self.port = port
        self.ssl = ssl
        self.ssl_params = ssl_params or {}
        self.server_hostname = server_hostname
        self.timeout = timeout
        self.keepalive = keepalive
        self.session = Session(client_id, keepalive, clean_session, user, password, None, max_packet,
                               max_inflight)
        self.sock = None     # what MQTT bytes go through: the TLS socket, or the TCP socket itself
        self._raw = None     # the TCP socket underneath (polled for readability)
        self._poller = None
        self.cb = None
        self._readinto = None
        self._rx = bytearray(rx_buffer)
        self._tmo = -1.0
        self._acks = []   # acks and replies that arrived while waiting for something else

    # ---- umqtt.simple surface -------------------------------------------------------------------
    def set_callback(self, f):
        """f(topic, msg) for every message received (both bytes)."""
        self.cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        if isinstance(topic, str):
            topic = topic.encode()
        if not C.check_topic_name(topic) or qos not in (0, 1, 2):
            raise ValueError("last will topic or qos")
        self.session.will = (topic, msg, qos, retain)

    def connect(self, clean_session=None, timeout=None):
        """Open the transport and run CONNECT/CONNACK; returns session_present."""
        self.close()
        t = self.timeout if timeout is None else timeout
        raw = None
        try:
            raw = self._open_socket(t)
            self._tmo = t
            self.sock = self._wrap(raw)
            self._raw = raw
            raw = None
            self.session.start(ticks_ms(), clean_session)
            self._flush()
            ev = self._wait(("connack",), None, t)
            return ev[1]
        except BaseException:
            if raw is not None:
                _close_quietly(raw)
            self._abort()
            raise

    def disconnect(self):
        try:
            if self.session.state == CONNECTED:
                self.session.disconnect()
                self._flush()
        except OSError:
            pass
        self.close()

    def ping(self):
        self._guard(self._ping)

    def publish(self, topic, msg, retain=False, qos=0, timeout=None):
        """QoS 0 returns once written; QoS 1/2 wait for PUBACK/PUBCOMP (as umqtt.simple does)."""
        return self._guard(self._publish, topic, msg, retain, qos, timeout)

    def subscribe(self, topic, qos=0, timeout=None):
        """Returns the granted QoS; raises SubscribeRefused on 0x80."""
        return self._guard(self._subscribe, topic, qos, timeout)

    def unsubscribe(self, topic, timeout=None):
        return self._guard(self._unsubscribe, topic, timeout)

    def wait_msg(self, timeout=None):
        """Process incoming packets for up to timeout seconds (default: self.timeout) or until one
        arrives; returns the number of events handled (0: the wait passed quietly)."""
        t = self.timeout if timeout is None else timeout
        return self._guard(self._poll_dispatch, int(t * 1000))

    def check_msg(self):
        """Handle whatever has already arrived, without blocking."""
        return self._guard(self._poll_dispatch, 0)

    def is_connected(self):
        return self.sock is not None and self.session.state == CONNECTED

    def close(self):
        """Close the transport (no DISCONNECT: the will is published). Safe to call twice."""
        s = self.sock
        raw = self._raw
        self.sock = self._raw = self._poller = None
        self._acks = []
        self.session.connection_lost()
        if s is not None:
            _close_quietly(s)
        if raw is not None and raw is not s:
            _close_quietly(raw)

    # ---- transport ------------------------------------------------------------------------------
    def _open_socket(self, timeout):
        return open_tcp(self.server, self.port, timeout)

    def _wrap(self, raw):
        ssl = self.ssl
        if not ssl:
            # A plain socket's readinto without blocking returns what is there, as recv_into does.
            self._readinto = getattr(raw, "readinto", None)
            return raw
        self._readinto = None
        host = self.server_hostname or self.server
        if ssl is True:  # umqtt 1.3 style: module-level wrap_socket with ssl_params
            import tls13
            s = tls13.wrap_socket(raw, server_hostname=host, **self.ssl_params)
        else:
            s = ssl.wrap_socket(raw, server_hostname=host)
        self._readinto = getattr(s, "readinto", None)
        return s

    def _settimeout(self, seconds):
        if seconds != self._tmo:
            self.sock.settimeout(seconds)
            self._tmo = seconds

    def _flush(self):
        data = self.session.data_to_send()
        if data:
            if self.sock is None:
                raise ConnectionLost("not connected")
            self._settimeout(self.timeout)
            s = self.sock
            if hasattr(s, "sendall"):
                s.sendall(data)
            else:
                mv = memoryview(data)
                while len(mv):
                    n = s.write(mv)
                    mv = mv[n or 0:]

    def _read(self, timeout_ms):
        """Wait up to timeout_ms for input and read what is there; returns the session's events
        ([] when nothing complete arrived)."""
        s = self.sock
        if s is None:
            raise ConnectionLost("not connected")
        pending = getattr(s, "pending", None)
        if not (pending is not None and pending()):
            if not self._wait_readable(max(timeout_ms, 0)):
                return []
        self._settimeout(0)
        try:
            if self._readinto is not None:
                n = self._readinto(self._rx)
            else:
                n = s.recv_into(self._rx)
        except OSError as e:
            if _would_block(e):
                return []
            raise
        if n is None:
            return []  # part of a TLS record: the rest is still on its way
        if n == 0:
            raise ConnectionLost("the broker closed the connection")
        return self.session.receive(memoryview(self._rx)[:n])

    def _wait_readable(self, timeout_ms):
        if self._poller is None:
            self._poller = select.poll()
            self._poller.register(self._raw, select.POLLIN)
        return bool(self._poller.poll(timeout_ms))

    def _poll(self, timeout_ms):
        """One read (keepalive first, so a quiet wait never outlives it); hands messages to the
        callback, sends what the session queued in answer, and returns all the events."""
        sess = self.session
        sess.tick()
        self._flush()
        due = sess.ms_until_tick()
        if due is not None and due < timeout_ms:
            timeout_ms = max(due, 1)
        events = self._read(timeout_ms)
        # The callback runs before the PUBACK leaves: a callback that fails leaves the message
        # unacknowledged, so the broker delivers it again (at least once).
        cb = self.cb
        for ev in events:
            if ev[0] == "message" and cb is not None:
                cb(ev[1], ev[2])
        sess.tick()
        self._flush()
        return events

    def _poll_dispatch(self, timeout_ms):
        deadline = ticks_add(ticks_ms(), timeout_ms)  # ticks wrap on boards
        n = 0
        while True:
            evs = self._poll(timeout_ms)
            n += len(evs)  # acks arriving here answer nothing anyone waits for: dropped
            if evs or timeout_ms <= 0:
                return n
            timeout_ms = ticks_diff(deadline, ticks_ms())
            if timeout_ms <= 0:
                return n

    def _wait(self, kinds, pid, timeout):
        """Block until an event of one of kinds (with packet id pid) arrives; returns it."""
        deadline = ticks_add(ticks_ms(), int(timeout * 1000))
        while True:
            for i in range(len(self._acks)):
                ev = self._acks[i]
                if ev[0] in kinds and (pid is None or ev[1] == pid):
                    del self._acks[i]
                    return ev
            left = ticks_diff(deadline, ticks_ms())
            if left <= 0:
                raise MQTTTimeout("no %s within %.1f s" % ("/".join(kinds), timeout))
            if self.session.state != CONNECTED and kinds[0] != "connack":
                raise ConnectionLost("not connected")
            for ev in self._poll(left):
                if ev[0] not in ("pingresp", "message"):
                    self._acks.append(ev)

    def _guard(self, fn, *args):
        try:
            return fn(*args)
        except BaseException:
            self._abort()
            raise

    def _abort(self):
        self.close()

    # ---- operations ------------------------------------------------------------------------------
    def _ping(self):
        self.session.ping()
        self._flush()

    def _publish(self, topic, msg, retain, qos, timeout):
        pid = self.session.publish(topic, msg, qos, retain)
        self._flush()
        if qos:
            self._wait(("puback",) if qos == 1 else ("pubcomp",), pid,
                       self.timeout if timeout is None else timeout)
        return pid

    def _subscribe(self, topic, qos, timeout):
        pid = self.session.subscribe([(topic, qos)])
        self._flush()
        ev = self._wait(("suback",), pid, self.timeout if timeout is None else timeout)
        if ev[2][0] == 0x80:
            raise SubscribeRefused("subscription to %r refused" % (topic,))
        return ev[2][0]

    def _unsubscribe(self, topic, timeout):
        pid = self.session.unsubscribe([topic])
        self._flush()
        self._wait(("unsuback",), pid, self.timeout if timeout is None else timeout)


def _close_quietly(s):
    try:
        s.close()
    except OSError:
        pass

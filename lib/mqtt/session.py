"""Sans-I/O MQTT 3.1.1 client session: packet ids, acknowledgements, QoS 1 and 2, keepalive.

Bytes in (`receive(data, now)` returns events), bytes out (`data_to_send()`); the clock is passed in
(milliseconds, `ticks_ms` on MicroPython). Events are tuples:

    ("connack", session_present)
    ("message", topic, payload, qos, retain, dup)      each QoS 2 message is delivered once
    ("puback", pid, token)   ("pubcomp", pid, token)   an outgoing QoS 1 / QoS 2 message is done
    ("suback", pid, return_codes, token)   ("unsuback", pid, token)   ("pingresp",)

`token` is whatever the caller passed with the request (the outbox record id, for instance). A new
network connection starts with `start()`; what was in flight on the old one is forgotten here, because
redelivery is the supervisor's job (it re-reads the durable outbox and passes the same packet id with
dup=True). A CONNACK refusal raises the ConnectionRefused subclass for its code; a protocol violation
raises MQTTProtocolError; keepalive failure raises ConnectionLost from `tick()`.
"""
from mqtt import codec as C
from mqtt.errors import REFUSALS, ConnectionLost, MQTTError, UnexpectedPacket

try:
    from time import ticks_add, ticks_diff, ticks_ms
except ImportError:
    import time

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b

DISCONNECTED = 0
CONNECTING = 1
CONNECTED = 2

# What an in-flight packet id waits for.
_W_PUBACK = 1
_W_PUBREC = 2
_W_PUBCOMP = 3
_W_SUBACK = 4
_W_UNSUBACK = 5


class NotConnected(MQTTError):
    pass


class Session:
    def __init__(self, client_id, keepalive=0, clean_session=True, user=None, password=None,
                 will=None, max_packet=C.DEFAULT_MAX_PACKET, max_inflight=16):
        self.client_id = client_id
        self.keepalive = keepalive
        self.clean_session = clean_session
        self.user = user
        self.password = password
        self.will = will                  # None or (topic, message, qos, retain)
        self.max_inflight = max_inflight
        self.parser = C.Parser(max_packet)
        self.tx = bytearray(max_packet)   # one packet is encoded here, then appended to out
        self.out = bytearray()
        self.inflight = []                # [pid, waits_for, token], oldest first
        self.rx_qos2 = []                 # incoming QoS 2 ids delivered but not yet released
        self.auto_pids = (1, 0xFFFF)      # range for ids this class picks itself
        self._next_pid = 0
        self.state = DISCONNECTED
        self.session_present = False
        self.last_rx = self.last_tx = 0
        self.ping_outstanding = False
        self.stray_acks = 0

    # ---- connection lifecycle ----------------------------------------------------------------
    def start(self, now=None, clean_session=None):
        """A new transport is up: queue CONNECT."""
        if clean_session is not None:
            self.clean_session = clean_session
        now = ticks_ms() if now is None else now
        self.parser.reset()
        self.inflight = []
        if self.clean_session:
            self.rx_qos2 = []
        w = self.will or (None, b"", 0, False)
        self.out = C.encode_connect(self.client_id, self.clean_session, self.keepalive, self.user,
                                    self.password, w[0], w[1], w[2], w[3])
        self.state = CONNECTING
        self.ping_outstanding = False
        self.last_rx = self.last_tx = now

    def connection_lost(self):
        self.state = DISCONNECTED
        self.out = bytearray()
        self.inflight = []
        self.ping_outstanding = False

    def disconnect(self):
        if self.state == CONNECTED:
            self.out += C.DISCONNECT_BYTES
        self.state = DISCONNECTED

    # ---- output --------------------------------------------------------------------------------
    def data_to_send(self, now=None):
        out = self.out
        if out:
            self.out = bytearray()
            self.last_tx = ticks_ms() if now is None else now
        return out

    def pending_output(self):
        return len(self.out)

    def _alloc_pid(self):
        lo, hi = self.auto_pids
        for _ in range(hi - lo + 1):
            self._next_pid += 1
            if not lo <= self._next_pid <= hi:
                self._next_pid = lo
            if self._find(self._next_pid) < 0:
                return self._next_pid
        raise MQTTError("no free packet id")

    def _find(self, pid):
        inf = self.inflight
        for i in range(len(inf)):
            if inf[i][0] == pid:
                return i
        return -1

    def _require_connected(self):
        if self.state != CONNECTED:
            raise NotConnected("not connected")

    def publishes_in_flight(self):
        n = 0
        for e in self.inflight:
            if e[1] <= _W_PUBCOMP:
                n += 1
        return n

    def can_publish(self):
        return self.state == CONNECTED and self.publishes_in_flight() < self.max_inflight

    def publish(self, topic, payload, qos=0, retain=False, dup=False, pid=None, token=None):
        """Queue a PUBLISH; returns its packet id (0 for QoS 0). topic: bytes or str."""
        self._require_connected()
        if isinstance(topic, str):
            topic = topic.encode()
        if isinstance(payload, str):
            payload = payload.encode()
        if not C.check_topic_name(topic):
            raise ValueError("invalid topic name %r" % (topic,))
        if qos:
            if pid is None:
                pid = self._alloc_pid()
            elif self._find(pid) >= 0:
                raise MQTTError("packet id %d is in flight" % pid)
        else:
            pid = 0
        size = C.publish_size(topic, len(payload), qos)
        if size > len(self.tx):
            raise ValueError("PUBLISH of %d bytes exceeds max_packet %d" % (size, len(self.tx)))
        n = C.encode_publish_into(self.tx, topic, payload, qos, retain, dup, pid)
        self.out += memoryview(self.tx)[:n]
        if qos:
            self.inflight.append([pid, _W_PUBACK if qos == 1 else _W_PUBREC, token])
        return pid

    def subscribe(self, topics, token=None):
        """topics: [(filter, qos), ...]; returns the packet id the SUBACK will carry."""
        self._require_connected()
        pid = self._alloc_pid()
        self.out += C.encode_subscribe(pid, topics)
        self.inflight.append([pid, _W_SUBACK, token])
        return pid

    def unsubscribe(self, topics, token=None):
        self._require_connected()
        pid = self._alloc_pid()
        self.out += C.encode_unsubscribe(pid, topics)
        self.inflight.append([pid, _W_UNSUBACK, token])
        return pid

    def ping(self, now=None):
        self._require_connected()
        self.out += C.PINGREQ_BYTES
        self.ping_outstanding = True

    # ---- keepalive -------------------------------------------------------------------------------
    def tick(self, now=None):
        """Queue a PINGREQ when one is due; raise ConnectionLost when nothing has been received for
        1.5x keepalive (the link is dead even if the socket does not know it yet)."""
        if self.state != CONNECTED or not self.keepalive:
            return
        now = ticks_ms() if now is None else now
        ka = self.keepalive * 1000
        quiet = ticks_diff(now, self.last_rx)
        if quiet >= ka + ka // 2:
            raise ConnectionLost("keepalive: nothing received for %d ms" % quiet)
        if not self.ping_outstanding and (quiet >= ka or ticks_diff(now, self.last_tx) >= ka):
            self.ping(now)

    def ms_until_tick(self, now=None):
        """How long a caller may block before tick() has something to do (None: never)."""
        if self.state != CONNECTED or not self.keepalive:
            return None
        now = ticks_ms() if now is None else now
        ka = self.keepalive * 1000
        if self.ping_outstanding:
            due = ka + ka // 2 - ticks_diff(now, self.last_rx)
        else:
            due = ka - max(ticks_diff(now, self.last_rx), ticks_diff(now, self.last_tx))
        return due if due > 0 else 0

    # ---- input -----------------------------------------------------------------------------------
    def receive(self, data, now=None):
        if not len(data):
            return []
        self.last_rx = ticks_ms() if now is None else now
        events = []
        for pkt in self.parser.feed(data):
            ev = self._handle(pkt)
            if ev is not None:
                events.append(ev)
        return events

    def _handle(self, pkt):
        t = pkt[0]
        if self.state == CONNECTING:
            if t != C.CONNACK:
                raise UnexpectedPacket("%s before CONNACK" % C.NAMES[t])
            rc = pkt[2]
            if rc:
                self.state = DISCONNECTED
                raise REFUSALS[rc]()
            self.state = CONNECTED
            self.session_present = pkt[1]
            return ("connack", pkt[1])
        if self.state != CONNECTED:
            return None  # after DISCONNECT was queued: nothing more matters
        if t == C.PUBLISH:
            return self._on_publish(pkt)
        if t == C.PINGRESP:
            self.ping_outstanding = False
            return ("pingresp",)
        if t == C.PUBREL:
            # Release a QoS 2 message; answer even for an id we do not know (after a restart).
            pid = pkt[1]
            if pid in self.rx_qos2:
                self.rx_qos2.remove(pid)
            self.out += C.encode_ack(C.PUBCOMP, pid)
            return None
        if t == C.CONNACK:
            raise UnexpectedPacket("second CONNACK")
        pid = pkt[1]
        i = self._find(pid)
        if i < 0:
            self.stray_acks += 1  # an ack for nothing we sent: ignored (4.3.2: ids are reusable)
            return None
        entry = self.inflight[i]
        want = entry[1]
        if t == C.PUBACK and want == _W_PUBACK:
            del self.inflight[i]
            return ("puback", pid, entry[2])
        if t == C.PUBREC and want == _W_PUBREC:
            entry[1] = _W_PUBCOMP
            self.out += C.encode_ack(C.PUBREL, pid)
            return None
        if t == C.PUBREC and want == _W_PUBCOMP:
            self.out += C.encode_ack(C.PUBREL, pid)  # our PUBREL was lost: send it again
            return None
        if t == C.PUBCOMP and want == _W_PUBCOMP:
            del self.inflight[i]
            return ("pubcomp", pid, entry[2])
        if t == C.SUBACK and want == _W_SUBACK:
            del self.inflight[i]
            return ("suback", pid, pkt[2], entry[2])
        if t == C.UNSUBACK and want == _W_UNSUBACK:
            del self.inflight[i]
            return ("unsuback", pid, entry[2])
        raise UnexpectedPacket("%s for packet id %d, which waits for something else" % (C.NAMES[t], pid))

    def _on_publish(self, pkt):
        _, topic, payload, qos, retain, dup, pid = pkt
        if qos == 1:
            self.out += C.encode_ack(C.PUBACK, pid)
        elif qos == 2:
            self.out += C.encode_ack(C.PUBREC, pid)
            if pid in self.rx_qos2:
                return None  # already delivered; the broker did not see our PUBREC
            self.rx_qos2.append(pid)
        return ("message", topic, payload, qos, retain, dup)

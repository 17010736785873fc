"""An in-memory MQTT 3.1.1 broker and socket for unit tests on both runtimes (built on the project's
own codec in its server role). It loops published messages back to matching subscriptions and can be
told to misbehave: refuse connections, withhold acks, drop the link.
"""
import os
import sys

from mqtt import codec as C, outbox
from mqtt.client import MQTTClient


def topic_matches(filt, topic):
    f = filt.split(b"/")
    t = topic.split(b"/")
    for i in range(len(f)):
        if f[i] == b"#":
            return True
        if i >= len(t) or (f[i] != b"+" and f[i] != t[i]):
            return False
    return len(f) == len(t)


class FakeBroker:
    def __init__(self, connack_rc=0, session_present=False, ack_publish=True, max_qos=2):
        self.connack_rc = connack_rc
        self.session_present = session_present
        self.ack_publish = ack_publish
        self.max_qos = max_qos
        self.subs = []            # (filter, qos)
        self.publishes = []       # (topic, payload, qos, retain, dup, pid) as received
        self.connects = []        # CONNECT tuples
        self.pings = 0
        self.refuse_tcp = 0       # refuse this many more TCP connects
        self.sent_pid = 0
        self.new_connection()

    def new_connection(self):
        self.parser = C.Parser(1 << 20, server=True)
        self.out = bytearray()
        self.closed = False
        self.silent = False       # stop answering (a stalled link)

    def feed(self, data):
        for pkt in self.parser.feed(data):
            self._handle(pkt)

    def take(self):
        out = self.out
        self.out = bytearray()
        return out

    def send_publish(self, topic, payload, qos=0, dup=False, pid=None):
        if qos and pid is None:
            self.sent_pid += 1
            pid = self.sent_pid
        self.out += C.encode_publish(topic, payload, qos, False, dup, pid or 0)
        return pid

    def _handle(self, pkt):
        if self.silent:
            return
        t = pkt[0]
        if t == C.CONNECT:
            self.connects.append(pkt)
            self.out += C.encode_connack(self.session_present and not self.connack_rc, self.connack_rc)
            if self.connack_rc:
                self.closed = True
        elif t == C.SUBSCRIBE:
            codes = []
            for f, q in pkt[2]:
                if f.startswith(b"deny/"):
                    codes.append(0x80)
                    continue
                self.subs = [s for s in self.subs if s[0] != f] + [(f, min(q, self.max_qos))]
                codes.append(min(q, self.max_qos))
            self.out += C.encode_suback(pkt[1], codes)
        elif t == C.UNSUBSCRIBE:
            self.subs = [s for s in self.subs if s[0] not in pkt[2]]
            self.out += C.encode_ack(C.UNSUBACK, pkt[1])
        elif t == C.PUBLISH:
            _, topic, payload, qos, retain, dup, pid = pkt
            self.publishes.append((topic, payload, qos, retain, dup, pid))
            if qos == 1 and self.ack_publish:
                self.out += C.encode_ack(C.PUBACK, pid)
            elif qos == 2 and self.ack_publish:
                self.out += C.encode_ack(C.PUBREC, pid)
            for f, sq in self.subs:
                if topic_matches(f, topic):
                    self.send_publish(topic, payload, min(qos, sq))
        elif t == C.PUBREL:
            self.out += C.encode_ack(C.PUBCOMP, pkt[1])
        elif t == C.PINGREQ:
            self.pings += 1
            self.out += C.PINGRESP_BYTES
        elif t == C.DISCONNECT:
            self.closed = True


class FakeSocket:
    """A connected socket whose peer is a FakeBroker (non-blocking reads: None when nothing)."""

    def __init__(self, broker):
        self.broker = broker
        self.closed = False

    def settimeout(self, t):
        pass

    def sendall(self, data):
        if self.closed or self.broker.closed:
            raise OSError(32, "EPIPE")
        self.broker.feed(bytes(data))

    def readinto(self, buf):
        if self.closed:
            raise OSError(9, "EBADF")
        out = self.broker.out
        if not out:
            return 0 if self.broker.closed else None
        n = min(len(buf), len(out))
        buf[:n] = out[:n]
        self.broker.out = out[n:]
        return n

    def close(self):
        self.closed = True


class FakeClient(MQTTClient):
    """MQTTClient whose transport is a FakeSocket to `broker`; counts sockets opened and closed."""

    def __init__(self, broker, *a, **kw):
        self.broker = broker
        self.sockets = []
        MQTTClient.__init__(self, *a, **kw)

    def _open_socket(self, timeout):
        if self.broker.refuse_tcp:
            self.broker.refuse_tcp -= 1
            raise OSError(111, "ECONNREFUSED")
        self.broker.new_connection()
        s = FakeSocket(self.broker)
        self.sockets.append(s)
        return s

    def _wait_readable(self, timeout_ms):
        return bool(self.broker.out) or self.broker.closed

    def open_sockets(self):
        return len([s for s in self.sockets if not s.closed])


_SCRATCH = (os.getenv("TLS13_ROOT") or ".") + "/build/mqtt-work"


def _mkdir(p):
    try:
        os.mkdir(p)
    except OSError:
        pass


def fresh(name):
    """A path for this test and runtime, with no outbox files left from an earlier run."""
    _mkdir((os.getenv("TLS13_ROOT") or ".") + "/build")
    _mkdir(_SCRATCH)
    d = _SCRATCH + "/unit-" + sys.implementation.name
    _mkdir(d)
    p = d + "/" + name + ".log"
    outbox.remove(p)
    return p

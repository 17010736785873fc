"""MQTT 3.1.1 wire format: encoders for every control packet and an incremental parser.

No I/O here. Encoders return a bytearray (or fill one: `encode_publish_into`); `Parser.feed(data)`
takes whatever bytes arrived and returns the packets completed by them, as tuples:

    (CONNACK, session_present, return_code)
    (PUBLISH, topic, payload, qos, retain, dup, packet_id)     topic and payload are bytes
    (PUBACK | PUBREC | PUBREL | PUBCOMP | UNSUBACK, packet_id)
    (SUBACK, packet_id, return_codes)                            return_codes is bytes
    (PINGREQ,) (PINGRESP,) (DISCONNECT,)
    (CONNECT, client_id, clean_session, keepalive, user, password, will)   will: None or
                                                                 (topic, message, qos, retain)
    (SUBSCRIBE, packet_id, [(filter, qos), ...])  (UNSUBSCRIBE, packet_id, [filter, ...])

A client's parser (server=False) accepts only what a server may send, and a server's (the test broker)
only what a client may send. Anything else, and every malformed field, raises a specific
MQTTProtocolError; the parser is dead after that.
"""
from mqtt.errors import (InvalidTopic, MalformedPacket, MalformedRemainingLength, MQTTProtocolError,
                         PacketTooLarge, UnexpectedPacket)

try:
    from micropython import const
except ImportError:
    const = lambda x: x

CONNECT = const(1)
CONNACK = const(2)
PUBLISH = const(3)
PUBACK = const(4)
PUBREC = const(5)
PUBREL = const(6)
PUBCOMP = const(7)
SUBSCRIBE = const(8)
SUBACK = const(9)
UNSUBSCRIBE = const(10)
UNSUBACK = const(11)
PINGREQ = const(12)
PINGRESP = const(13)
DISCONNECT = const(14)

MAX_REMAINING = const(268435455)
DEFAULT_MAX_PACKET = const(4096)

NAMES = ("reserved", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
         "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "reserved")

# Packet types each side may receive (bit per type).
_FROM_SERVER = (1 << CONNACK) | (1 << PUBLISH) | (1 << PUBACK) | (1 << PUBREC) | (1 << PUBREL) | \
    (1 << PUBCOMP) | (1 << SUBACK) | (1 << UNSUBACK) | (1 << PINGRESP)
_FROM_CLIENT = (1 << CONNECT) | (1 << PUBLISH) | (1 << PUBACK) | (1 << PUBREC) | (1 << PUBREL) | \
    (1 << PUBCOMP) | (1 << SUBSCRIBE) | (1 << UNSUBSCRIBE) | (1 << PINGREQ) | (1 << DISCONNECT)

PINGREQ_BYTES = b"\xc0\x00"
PINGRESP_BYTES = b"\xd0\x00"
DISCONNECT_BYTES = b"\xe0\x00"


def _b(s):
    return s.encode() if isinstance(s, str) else s


# ---- field checks ----------------------------------------------------------------------------

def valid_utf8(b):
    """MQTT strings: well-formed UTF-8 without U+0000 or surrogates (3.1.1 section 1.5.3)."""
    i = 0
    n = len(b)
    while i < n:
        c = b[i]
        if c < 0x80:
            if c == 0:
                return False
            i += 1
            continue
        if 0xC2 <= c <= 0xDF:
            k = 1
        elif 0xE0 <= c <= 0xEF:
            k = 2
        elif 0xF0 <= c <= 0xF4:
            k = 3
        else:
            return False
        if i + k >= n:
            return False
        for j in range(1, k + 1):
            if b[i + j] & 0xC0 != 0x80:
                return False
        c1 = b[i + 1]
        if (c == 0xE0 and c1 < 0xA0) or (c == 0xED and c1 >= 0xA0) or \
                (c == 0xF0 and c1 < 0x90) or (c == 0xF4 and c1 >= 0x90):
            return False  # overlong, surrogate, or beyond U+10FFFF
        i += k + 1
    return True


def check_topic_name(t):
    """A topic to publish to: non-empty, no wildcards, valid UTF-8, at most 65535 bytes."""
    if not 0 < len(t) <= 65535 or b"+" in t or b"#" in t or not valid_utf8(t):
        return False
    return True


def check_topic_filter(f):
    """A subscription filter: '#' only as the whole last level, '+' only as a whole level."""
    if not 0 < len(f) <= 65535 or not valid_utf8(f):
        return False
    levels = bytes(f).split(b"/")
    for i, lv in enumerate(levels):
        if b"#" in lv and (lv != b"#" or i != len(levels) - 1):
            return False
        if b"+" in lv and lv != b"+":
            return False
    return True


def _check_pid(pid):
    if not 0 < pid <= 0xFFFF:
        raise ValueError("packet id must be 1..65535")


# ---- encoders ------------------------------------------------------------------------------

def rl_size(n):
    return 1 if n < 128 else 2 if n < 16384 else 3 if n < 2097152 else 4


def put_header(buf, first, rl):
    """Fixed header into buf[0:]; returns its length."""
    if not 0 <= rl <= MAX_REMAINING:
        raise ValueError("packet too large for MQTT")
    buf[0] = first
    i = 1
    while rl > 0x7F:
        buf[i] = (rl & 0x7F) | 0x80
        rl >>= 7
        i += 1
    buf[i] = rl
    return i + 1


def _packet(first, rl):
    buf = bytearray(1 + rl_size(rl) + rl)
    return buf, put_header(buf, first, rl)


def _put_str(buf, pos, s):
    n = len(s)
    buf[pos] = n >> 8
    buf[pos + 1] = n & 0xFF
    buf[pos + 2:pos + 2 + n] = s
    return pos + 2 + n


def encode_connect(client_id, clean_session=True, keepalive=0, user=None, password=None,
                   will_topic=None, will_message=b"", will_qos=0, will_retain=False):
    cid = _b(client_id)
    if len(cid) > 65535 or not valid_utf8(cid):
        raise ValueError("client id")
    if not cid and not clean_session:
        raise ValueError("an empty client id needs clean_session=True")
    if not 0 <= keepalive <= 65535:
        raise ValueError("keepalive must be 0..65535 s")
    flags = 0x02 if clean_session else 0
    rl = 10 + 2 + len(cid)
    if will_topic is not None:
        will_topic = _b(will_topic)
        will_message = _b(will_message)
        if not check_topic_name(will_topic) or len(will_message) > 65535 or will_qos not in (0, 1, 2):
            raise ValueError("will topic, message or qos")
        flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
        rl += 4 + len(will_topic) + len(will_message)
    if user is not None:
        user = _b(user)
        flags |= 0x80
        rl += 2 + len(user)
    if password is not None:
        if user is None:
            raise ValueError("MQTT 3.1.1 allows a password only with a user name")
        password = _b(password)
        flags |= 0x40
        rl += 2 + len(password)
    buf, p = _packet(0x10, rl)
    buf[p:p + 7] = b"\x00\x04MQTT\x04"
    buf[p + 7] = flags
    buf[p + 8] = keepalive >> 8
    buf[p + 9] = keepalive & 0xFF
    p = _put_str(buf, p + 10, cid)
    if will_topic is not None:
        p = _put_str(buf, p, will_topic)
        p = _put_str(buf, p, will_message)
    if user is not None:
        p = _put_str(buf, p, user)
    if password is not None:
        _put_str(buf, p, password)
    return buf


def publish_size(topic, payload_len, qos):
    rl = 2 + len(topic) + payload_len + (2 if qos else 0)
    return 1 + rl_size(rl) + rl


def encode_publish_into(buf, topic, payload, qos=0, retain=False, dup=False, pid=0):
    """PUBLISH into buf (room: publish_size()); returns the packet length. topic is bytes."""
    if qos not in (0, 1, 2):
        raise ValueError("qos must be 0, 1 or 2")
    if qos:
        _check_pid(pid)
    elif dup:
        raise ValueError("DUP is only for QoS 1 and 2")
    n = len(topic)
    rl = 2 + n + len(payload) + (2 if qos else 0)
    p = put_header(buf, 0x30 | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0), rl)
    p = _put_str(buf, p, topic)
    if qos:
        buf[p] = pid >> 8
        buf[p + 1] = pid & 0xFF
        p += 2
    buf[p:p + len(payload)] = payload
    return p + len(payload)


def encode_publish(topic, payload, qos=0, retain=False, dup=False, pid=0):
    topic = _b(topic)
    payload = _b(payload)
    if not check_topic_name(topic):
        raise ValueError("invalid topic name %r" % (topic,))
    buf = bytearray(publish_size(topic, len(payload), qos))
    encode_publish_into(buf, topic, payload, qos, retain, dup, pid)
    return buf


def encode_ack(ptype, pid):
    """PUBACK, PUBREC, PUBREL (flags 0010), PUBCOMP or UNSUBACK."""
    _check_pid(pid)
    return bytearray((ptype << 4 | (2 if ptype == PUBREL else 0), 2, pid >> 8, pid & 0xFF))


def encode_subscribe(pid, topics):
    """topics: [(filter, qos), ...]"""
    _check_pid(pid)
    if not topics:
        raise ValueError("SUBSCRIBE needs at least one filter")
    items = []
    rl = 2
    for f, q in topics:
        f = _b(f)
        if not check_topic_filter(f) or q not in (0, 1, 2):
            raise ValueError("invalid topic filter or qos: %r %r" % (f, q))
        items.append((f, q))
        rl += 3 + len(f)
    buf, p = _packet(0x82, rl)
    buf[p] = pid >> 8
    buf[p + 1] = pid & 0xFF
    p += 2
    for f, q in items:
        p = _put_str(buf, p, f)
        buf[p] = q
        p += 1
    return buf


def encode_unsubscribe(pid, topics):
    _check_pid(pid)
    if not topics:
        raise ValueError("UNSUBSCRIBE needs at least one filter")
    topics = [_b(f) for f in topics]
    for f in topics:
        if not check_topic_filter(f):
            raise ValueError("invalid topic filter %r" % (f,))
    buf, p = _packet(0xA2, 2 + sum(2 + len(f) for f in topics))
    buf[p] = pid >> 8
    buf[p + 1] = pid & 0xFF
    p += 2
    for f in topics:
        p = _put_str(buf, p, f)
    return buf


def encode_connack(session_present, rc):
    return bytearray((0x20, 2, 1 if session_present else 0, rc))


def encode_suback(pid, codes):
    buf, p = _packet(0x90, 2 + len(codes))
    buf[p] = pid >> 8
    buf[p + 1] = pid & 0xFF
    buf[p + 2:] = bytes(codes)
    return buf


# ---- parser ---------------------------------------------------------------------------------

class Parser:
    """Incremental: `feed(data)` returns the list of packets completed (see the module docstring)."""

    def __init__(self, max_packet=DEFAULT_MAX_PACKET, server=False):
        if max_packet < 16:
            raise ValueError("max_packet")
        self.max_packet = max_packet
        self.server = server
        self._allowed = _FROM_CLIENT if server else _FROM_SERVER
        self._body = bytearray(min(max_packet, 256))
        self.reset()

    def reset(self):
        """Forget any partial packet (a new connection)."""
        self._state = 0      # 0: first byte, 1: remaining length, 2: body
        self._first = 0
        self._rl = 0
        self._shift = 0
        self._rl_bytes = 0
        self._have = 0
        self.dead = None

    def feed(self, data):
        if self.dead is not None:
            raise self.dead
        try:
            return self._feed(data)
        except MQTTProtocolError as e:
            self.dead = e
            raise

    def _feed(self, data):
        out = []
        i = 0
        n = len(data)
        while i < n:
            st = self._state
            if st == 0:
                first = data[i]
                i += 1
                t = first >> 4
                if not (self._allowed >> t) & 1:
                    if t in (0, 15):
                        raise MalformedPacket("reserved packet type %d" % t)
                    raise UnexpectedPacket("%s is not sent by a %s" % (NAMES[t], "client" if self.server else "server"))
                self._first = first
                self._rl = self._shift = self._rl_bytes = 0
                self._state = 1
            elif st == 1:
                b = data[i]
                i += 1
                self._rl_bytes += 1
                if self._rl_bytes > 1 and b == 0:
                    raise MalformedRemainingLength("remaining length not minimally encoded")
                self._rl |= (b & 0x7F) << self._shift
                self._shift += 7
                if b & 0x80:
                    if self._rl_bytes == 4:
                        raise MalformedRemainingLength("remaining length longer than 4 bytes")
                    continue
                total = 1 + self._rl_bytes + self._rl
                if total > self.max_packet:
                    raise PacketTooLarge(total, self.max_packet)
                if len(self._body) < self._rl:
                    self._body = bytearray(max(self._rl, min(2 * len(self._body), self.max_packet)))
                self._have = 0
                self._state = 2
                if self._rl == 0:
                    self._state = 0
                    out.append(self._decode(memoryview(self._body)[:0]))
            else:
                k = min(self._rl - self._have, n - i)
                self._body[self._have:self._have + k] = data[i:i + k]
                self._have += k
                i += k
                if self._have == self._rl:
                    self._state = 0
                    out.append(self._decode(memoryview(self._body)[:self._rl]))
        return out

    def _decode(self, body):
        first = self._first
        t = first >> 4
        flags = first & 0x0F
        n = len(body)
        if t == PUBLISH:
            return _decode_publish(flags, body)
        want_flags = 2 if t in (PUBREL, SUBSCRIBE, UNSUBSCRIBE) else 0
        if flags != want_flags:
            raise MalformedPacket("%s with reserved flags %d" % (NAMES[t], flags))
        if t in (PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK):
            if n != 2:
                raise MalformedPacket("%s remaining length %d, want 2" % (NAMES[t], n))
            return (t, _pid(body, 0))
        if t in (PINGREQ, PINGRESP, DISCONNECT):
            if n:
                raise MalformedPacket("%s remaining length %d, want 0" % (NAMES[t], n))
            return (t,)
        if t == CONNACK:
            if n != 2:
                raise MalformedPacket("CONNACK remaining length %d, want 2" % n)
            if body[0] & 0xFE:
                raise MalformedPacket("CONNACK reserved flags set")
            if body[1] > 5:
                raise MalformedPacket("CONNACK return code %d" % body[1])
            if body[1] and body[0]:
                raise MalformedPacket("session present with a refusal")
            return (CONNACK, body[0] == 1, body[1])
        if t == SUBACK:
            if n < 3:
                raise MalformedPacket("SUBACK without return codes")
            codes = bytes(body[2:])
            for c in codes:
                if c not in (0, 1, 2, 0x80):
                    raise MalformedPacket("SUBACK return code 0x%02x" % c)
            return (SUBACK, _pid(body, 0), codes)
        if t == CONNECT:
            return _decode_connect(body)
        if t == SUBSCRIBE:
            return _decode_subscribe(body, True)
        return _decode_subscribe(body, False)


def _pid(body, pos):
    pid = (body[pos] << 8) | body[pos + 1]
    if pid == 0:
        raise MalformedPacket("packet id 0")
    return pid


def _str(body, pos, what):
    if pos + 2 > len(body):
        raise MalformedPacket("%s length runs past the packet" % what)
    k = (body[pos] << 8) | body[pos + 1]
    end = pos + 2 + k
    if end > len(body):
        raise MalformedPacket("%s runs past the packet" % what)
    return bytes(body[pos + 2:end]), end


def _decode_publish(flags, body):
    qos = (flags >> 1) & 3
    dup = bool(flags & 8)
    if qos == 3:
        raise MalformedPacket("PUBLISH with QoS 3")
    if dup and not qos:
        raise MalformedPacket("PUBLISH QoS 0 with DUP")
    topic, p = _str(body, 0, "topic")
    if not check_topic_name(topic):
        raise InvalidTopic("PUBLISH topic %r" % (topic,))
    pid = 0
    if qos:
        if p + 2 > len(body):
            raise MalformedPacket("PUBLISH without packet id")
        pid = _pid(body, p)
        p += 2
    return (PUBLISH, topic, bytes(body[p:]), qos, bool(flags & 1), dup, pid)


def _decode_connect(body):
    name, p = _str(body, 0, "protocol name")
    if name != b"MQTT" or p + 4 > len(body):
        raise MalformedPacket("protocol name %r" % (name,))
    level, flags = body[p], body[p + 1]
    keepalive = (body[p + 2] << 8) | body[p + 3]
    if level != 4:
        raise MalformedPacket("protocol level %d" % level)
    if flags & 1 or (not flags & 4 and flags & 0x38) or (flags & 0x18) == 0x18 or (flags & 0xC0) == 0x40:
        raise MalformedPacket("CONNECT flags 0x%02x" % flags)
    cid, p = _str(body, p + 4, "client id")
    will = user = password = None
    if flags & 4:
        wt, p = _str(body, p, "will topic")
        wm, p = _str(body, p, "will message")
        will = (wt, wm, (flags >> 3) & 3, bool(flags & 0x20))
    if flags & 0x80:
        user, p = _str(body, p, "user name")
    if flags & 0x40:
        password, p = _str(body, p, "password")
    if p != len(body):
        raise MalformedPacket("CONNECT has %d trailing bytes" % (len(body) - p))
    return (CONNECT, cid, bool(flags & 2), keepalive, user, password, will)


def _decode_subscribe(body, with_qos):
    if len(body) < 2:
        raise MalformedPacket("no packet id")
    pid = _pid(body, 0)
    p = 2
    items = []
    while p < len(body):
        f, p = _str(body, p, "topic filter")
        if not check_topic_filter(f):
            raise InvalidTopic("topic filter %r" % (f,))
        if with_qos:
            if p >= len(body) or body[p] > 2:
                raise MalformedPacket("requested QoS missing or invalid")
            items.append((f, body[p]))
            p += 1
        else:
            items.append(f)
    if not items:
        raise MalformedPacket("no topic filters")
    return (SUBSCRIBE if with_qos else UNSUBSCRIBE, pid, items)

"""The sans-I/O session against the in-memory broker: CONNACK codes, QoS 0/1/2 both ways, packet ids,
DUP on redelivery, keepalive on an injected clock, and the blocking client over a fake socket."""
from mpcheck import check, eq, raises

from mqtt import codec as C
from mqtt.errors import (REFUSALS, BadUsernameOrPassword, ConnectionLost, ConnectionRefused,
                         IdentifierRejected, MQTTTimeout, NotAuthorized, PacketTooLarge, ServerUnavailable,
                         SubscribeRefused, UnacceptableProtocolVersion, UnexpectedPacket)
from mqtt.session import Session
from mqtt_fake import FakeBroker, FakeClient


def pair(**kw):
    s = Session("dev", keepalive=10, **kw)
    b = FakeBroker()
    s.start(0)
    return s, b


def shuttle(s, b, now=0):
    """Move bytes both ways until quiet; returns the session's events."""
    events = []
    for _ in range(10):
        out = s.data_to_send(now)
        if out:
            b.feed(out)
        back = b.take()
        if not out and not back:
            break
        events += s.receive(back, now)
    return events


def connected(**kw):
    s, b = pair(**kw)
    eq(shuttle(s, b), [("connack", False)])
    return s, b


def test_connect_and_session_present():
    s, b = pair()
    b.session_present = True
    eq(shuttle(s, b), [("connack", True)])
    eq(b.connects[0][1:4], (b"dev", True, 10))
    check(s.session_present)


def test_every_refusal_code():
    want = (None, UnacceptableProtocolVersion, IdentifierRejected, ServerUnavailable,
            BadUsernameOrPassword, NotAuthorized)
    for rc in range(1, 6):
        s, b = pair()
        b.connack_rc = rc
        e = raises(want[rc], shuttle, s, b)
        check(isinstance(e, ConnectionRefused))
        eq(e.code, rc)
        check(REFUSALS[rc] is want[rc])
        eq(s.state, 0)


def test_packets_before_connack_are_refused():
    s, b = pair()
    s.data_to_send(0)
    raises(UnexpectedPacket, s.receive, C.encode_ack(C.PUBACK, 1), 0)
    s, b = connected()
    raises(UnexpectedPacket, s.receive, C.encode_connack(False, 0), 0)


def test_qos1_publish_and_token():
    s, b = connected()
    pid = s.publish("a/b", b"x", 1, token="rec-7")
    eq(shuttle(s, b), [("puback", pid, "rec-7")])
    eq(b.publishes[-1], (b"a/b", b"x", 1, False, False, pid))
    eq(s.inflight, [])
    eq(s.publish("a/b", b"y", 0), 0)
    eq(shuttle(s, b), [])


def test_qos2_publish_full_handshake():
    s, b = connected()
    pid = s.publish("a/b", b"x", 2, token=3)
    eq(shuttle(s, b), [("pubcomp", pid, 3)])
    eq(s.inflight, [])


def test_dup_and_same_packet_id_on_redelivery():
    s, b = connected()
    b.ack_publish = False
    s.publish("t", b"1", 1, pid=42, token=1)
    shuttle(s, b)
    s.connection_lost()
    s.start(0)
    b.new_connection()
    b.ack_publish = True
    shuttle(s, b)
    eq(s.publish("t", b"1", 1, dup=True, pid=42, token=1), 42)
    eq(shuttle(s, b), [("puback", 42, 1)])
    eq(b.publishes[0][4:], (False, 42))
    eq(b.publishes[1][4:], (True, 42))
    raises(ValueError, s.publish, "t", b"1", 0, False, True)  # DUP is not for QoS 0


def test_incoming_qos_levels():
    s, b = connected()
    b.send_publish("c/1", b"q0", 0)
    p1 = b.send_publish("c/1", b"q1", 1)
    p2 = b.send_publish("c/1", b"q2", 2)
    evs = s.receive(b.take(), 0)
    eq(evs, [("message", b"c/1", b"q0", 0, False, False), ("message", b"c/1", b"q1", 1, False, False),
             ("message", b"c/1", b"q2", 2, False, False)])
    eq(bytes(s.data_to_send(0)), bytes(C.encode_ack(C.PUBACK, p1)) + bytes(C.encode_ack(C.PUBREC, p2)))
    # The broker did not see our PUBREC and sends the QoS 2 message again: not delivered twice.
    b.send_publish("c/1", b"q2", 2, dup=True, pid=p2)
    eq(s.receive(b.take(), 0), [])
    eq(bytes(s.data_to_send(0)), bytes(C.encode_ack(C.PUBREC, p2)))
    s.receive(C.encode_ack(C.PUBREL, p2), 0)
    eq(bytes(s.data_to_send(0)), bytes(C.encode_ack(C.PUBCOMP, p2)))
    eq(s.rx_qos2, [])


def test_subscribe_unsubscribe():
    s, b = connected()
    pid = s.subscribe([("c/#", 1), ("deny/x", 0)], token="t")
    eq(shuttle(s, b), [("suback", pid, b"\x01\x80", "t")])
    pid = s.unsubscribe(["c/#"])
    eq(shuttle(s, b), [("unsuback", pid, None)])


def test_packet_ids_and_window():
    s, b = connected(max_inflight=3)
    b.ack_publish = False
    s.auto_pids = (65534, 65535)
    eq([s.publish("t", b"", 1) for _ in range(2)], [65534, 65535])
    check(s.can_publish())
    raises(Exception, s.subscribe, [("a", 0)])   # no free id in the range
    s.auto_pids = (1, 65535)
    s.publish("t", b"", 1)
    check(not s.can_publish())
    raises(Exception, s.publish, "t", b"", 1, pid=65534)  # in flight already
    b.ack_publish = True
    s.receive(C.encode_ack(C.PUBACK, 65534), 0)
    check(s.can_publish())


def test_stray_and_mismatched_acks():
    s, b = connected()
    s.receive(C.encode_ack(C.PUBACK, 999), 0)
    eq(s.stray_acks, 1)
    pid = s.subscribe([("a", 0)])
    s.data_to_send(0)
    raises(UnexpectedPacket, s.receive, C.encode_ack(C.PUBACK, pid), 0)


def test_keepalive_on_injected_clock():
    s, b = connected()
    eq(s.ms_until_tick(0), 10000)
    s.tick(9999)
    eq(s.pending_output(), 0)
    s.tick(10000)                      # keepalive reached: PINGREQ
    eq(bytes(s.data_to_send(10000)), C.PINGREQ_BYTES)
    s.tick(12000)                      # one ping at a time
    eq(s.pending_output(), 0)
    eq(s.ms_until_tick(12000), 3000)
    raises(ConnectionLost, s.tick, 15000)   # 1.5 x keepalive without a byte: dead
    s, b = connected()
    s.tick(10000)
    b.feed(s.data_to_send(10000))
    eq(s.receive(b.take(), 10500), [("pingresp",)])
    s.tick(14000)                      # heard from the broker at 10.5 s: alive
    check(not s.ping_outstanding)


def test_keepalive_pings_when_only_sending():
    s, b = connected()
    for t in range(0, 10000, 1000):
        s.publish("t", b"", 0)
        s.data_to_send(t)
        s.tick(t)
    s.tick(10000)     # sending all along, but nothing heard for 10 s: ask the broker
    check(s.ping_outstanding)


def test_max_packet_both_ways():
    s, b = connected(max_packet=128)
    raises(ValueError, s.publish, "t", bytes(200), 0)
    raises(PacketTooLarge, s.receive, C.encode_publish("t", bytes(200), 0), 0)


def test_blocking_client_over_fake_socket():
    b = FakeBroker()
    got = []
    c = FakeClient(b, "dev", "fake", keepalive=5, timeout=0.3)
    c.set_callback(lambda t, m: got.append((t, m)))
    eq(c.connect(), False)
    eq(c.subscribe("c/#", 1), 1)
    c.publish("c/x", b"hello", qos=1)
    c.publish("c/x", b"two", qos=2)
    c.check_msg()
    eq(got, [(b"c/x", b"hello"), (b"c/x", b"two")])
    raises(SubscribeRefused, c.subscribe, "deny/me", 0)
    eq(c.open_sockets(), 0)            # a refusal closes the connection
    c.connect()
    b.ack_publish = False
    raises(MQTTTimeout, c.publish, "c/x", b"lost", False, 1)
    eq(c.open_sockets(), 0)            # and so does a timeout
    b.ack_publish = True
    b.connack_rc = 5
    raises(NotAuthorized, c.connect)
    b.connack_rc = 0
    b.refuse_tcp = 2
    raises(OSError, c.connect)
    raises(OSError, c.connect)
    c.connect()
    b.closed = True
    raises(ConnectionLost, c.wait_msg, 0.1)
    eq(c.open_sockets(), 0)
    eq(len(c.sockets), 4)
    c.connect()
    c.disconnect()
    check(b.closed)
    eq(c.open_sockets(), 0)

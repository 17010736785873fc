"""MQTT 3.1.1 codec: golden bytes for every packet, the parser fed whole, byte by byte and with
trailing data, remaining-length limits, and every malformed case mapped to its specific error."""
import gc

from mpcheck import check, eq, raises, unhex

from mqtt import codec as C
from mqtt.errors import (InvalidTopic, MalformedPacket, MalformedRemainingLength, MQTTProtocolError,
                         PacketTooLarge, UnexpectedPacket)


def feed_all(data, server=False, max_packet=C.DEFAULT_MAX_PACKET):
    return C.Parser(max_packet, server).feed(data)


def feed_bytewise(data, server=False, max_packet=C.DEFAULT_MAX_PACKET):
    p = C.Parser(max_packet, server)
    out = []
    for i in range(len(data)):
        out += p.feed(data[i:i + 1])
    return out


def test_connect_golden():
    # client id "ab", keepalive 60, clean session (the spec's layout, 3.1)
    eq(bytes(C.encode_connect("ab", True, 60)), unhex("100e00044d5154540402003c00026162"))
    pkt = C.encode_connect(b"dev", False, 30, "u", b"pw", "w/t", b"bye", 1, True)
    eq(bytes(pkt), unhex("10" "20" "00044d515454" "04" "ec" "001e" "0003646576" "0003772f74" "0003627965"
                         "000175" "00027077"))
    got = feed_all(pkt, server=True)[0]
    eq(got, (C.CONNECT, b"dev", False, 30, b"u", b"pw", (b"w/t", b"bye", 1, True)))


def test_connect_argument_checks():
    raises(ValueError, C.encode_connect, "", False)            # empty id needs a clean session
    raises(ValueError, C.encode_connect, "a", True, 70000)
    raises(ValueError, C.encode_connect, "a", True, 0, None, "pw")   # password without user
    raises(ValueError, C.encode_connect, "a", True, 0, None, None, "w/#", b"x")
    eq(bytes(C.encode_connect("", True))[:2], b"\x10\x0c")


def test_publish_golden_and_flags():
    eq(bytes(C.encode_publish("a/b", b"hi")), unhex("3007" "0003612f62" "6869"))
    eq(bytes(C.encode_publish("a/b", b"hi", 1, pid=10)), unhex("3209" "0003612f62" "000a" "6869"))
    eq(bytes(C.encode_publish("a/b", b"hi", 1, True, True, 10)), unhex("3b09" "0003612f62" "000a" "6869"))
    eq(bytes(C.encode_publish("a/b", b"", 2, pid=65535))[0], 0x34)
    raises(ValueError, C.encode_publish, "a/+", b"x")
    raises(ValueError, C.encode_publish, "", b"x")
    raises(ValueError, C.encode_publish, "a", b"x", 1)           # QoS 1 needs a packet id
    raises(ValueError, C.encode_publish, "a", b"x", 0, False, True)  # DUP on QoS 0
    raises(ValueError, C.encode_publish, "a", b"x", 3, pid=1)


def test_publish_roundtrip_sizes():
    # 1- and 2-byte remaining lengths round trip; 3- and 4-byte ones are decoded (the size a
    # too-large packet reports) without holding 16 KB buffers on a board-sized heap.
    for n in (0, 120, 121, 122, 8000):
        payload = bytearray(n)
        for i in range(0, n, 97):
            payload[i] = i & 0xFF
        pkt = C.encode_publish("t", payload, 1, pid=7)
        eq(len(pkt), C.publish_size(b"t", n, 1))
        eq(feed_bytewise(pkt, max_packet=8200) if n < 200 else feed_all(pkt, max_packet=8200),
           [(C.PUBLISH, b"t", payload, 1, False, False, 7)], "size %d" % n)
        payload = pkt = None
        gc.collect()
    for hdr, size in (("30818001", 1 + 3 + 16385), ("30ffffff7f", 1 + 4 + 268435455)):
        e = raises(PacketTooLarge, feed_all, unhex(hdr), False, 8200)
        eq(e.size, size)


def test_remaining_length_encoding():
    buf = bytearray(5)
    for rl, enc in ((0, "00"), (127, "7f"), (128, "8001"), (16383, "ff7f"), (16384, "808001"),
                    (2097151, "ffff7f"), (2097152, "80808001"), (268435455, "ffffff7f")):
        n = C.put_header(buf, 0x30, rl)
        eq(bytes(buf[1:n]), unhex(enc), "rl %d" % rl)
        eq(C.rl_size(rl), n - 1)
    raises(ValueError, C.put_header, buf, 0x30, 268435456)


def test_other_packets_golden():
    eq(bytes(C.encode_ack(C.PUBACK, 1)), unhex("40020001"))
    eq(bytes(C.encode_ack(C.PUBREC, 2)), unhex("50020002"))
    eq(bytes(C.encode_ack(C.PUBREL, 3)), unhex("62020003"))
    eq(bytes(C.encode_ack(C.PUBCOMP, 4)), unhex("70020004"))
    eq(bytes(C.encode_subscribe(5, [("a/+", 1), ("b/#", 2)])), unhex("820e" "0005" "0003612f2b01" "0003622f2302"))
    eq(bytes(C.encode_unsubscribe(6, ["a/+"])), unhex("a207" "0006" "0003612f2b"))
    eq(C.PINGREQ_BYTES, unhex("c000"))
    eq(C.DISCONNECT_BYTES, unhex("e000"))
    raises(ValueError, C.encode_ack, C.PUBACK, 0)
    raises(ValueError, C.encode_subscribe, 1, [("a/#/b", 0)])
    raises(ValueError, C.encode_subscribe, 1, [("a#", 0)])
    raises(ValueError, C.encode_subscribe, 1, [("a+/b", 0)])
    raises(ValueError, C.encode_subscribe, 1, [])


def test_server_packets_decode():
    stream = unhex("20020100" "40020007" "50020008" "62020009" "7002000a" "9005000b000280" "b002000c" "d000")
    want = [(C.CONNACK, True, 0), (C.PUBACK, 7), (C.PUBREC, 8), (C.PUBREL, 9), (C.PUBCOMP, 10),
            (C.SUBACK, 11, b"\x00\x02\x80"), (C.UNSUBACK, 12), (C.PINGRESP,)]
    eq(feed_all(stream), want)
    eq(feed_bytewise(stream), want)
    # A packet split across feeds, then trailing bytes of the next one: nothing is lost or invented.
    p = C.Parser()
    eq(p.feed(stream[:9]), want[:2])
    eq(p.feed(stream[9:]), want[2:])
    eq(p.feed(unhex("30")), [])
    eq(p.feed(unhex("0400017868")), [(C.PUBLISH, b"x", b"h", 0, False, False, 0)])


def test_client_packets_decode_for_test_broker():
    stream = bytes(C.encode_subscribe(3, [("a/b", 1)])) + bytes(C.encode_unsubscribe(4, ["a/b"])) + \
        C.PINGREQ_BYTES + C.DISCONNECT_BYTES
    eq(feed_bytewise(stream, server=True),
       [(C.SUBSCRIBE, 3, [(b"a/b", 1)]), (C.UNSUBSCRIBE, 4, [b"a/b"]), (C.PINGREQ,), (C.DISCONNECT,)])


def bad(data, exc, server=False, max_packet=C.DEFAULT_MAX_PACKET):
    e = raises(exc, feed_all, unhex(data), server, max_packet)
    check(isinstance(e, MQTTProtocolError), "is a protocol error")
    e = raises(exc, feed_bytewise, unhex(data), server, max_packet)
    return e


def test_malformed_inputs():
    bad("00020000", MalformedPacket)                 # reserved type 0
    bad("f000", MalformedPacket)                     # reserved type 15
    bad("100c00044d5154540402003c0000", UnexpectedPacket)   # CONNECT from a "server"
    bad("c000", UnexpectedPacket)                    # PINGREQ from a server
    bad("d000", UnexpectedPacket, server=True)       # PINGRESP from a client
    bad("2003010000", MalformedPacket)               # CONNACK length 3
    bad("20020200", MalformedPacket)                 # CONNACK reserved flag bits
    bad("20020006", MalformedPacket)                 # return code 6
    bad("20020105", MalformedPacket)                 # session present with a refusal
    bad("21020000", MalformedPacket)                 # CONNACK with header flags
    bad("4003000100", MalformedPacket)               # PUBACK length 3
    bad("40020000", MalformedPacket)                 # packet id 0
    bad("60020001", MalformedPacket)                 # PUBREL without its 0010 flags
    bad("d00100", MalformedPacket)                   # PINGRESP with a body
    bad("9003000103", MalformedPacket)               # SUBACK code 3
    bad("90020001", MalformedPacket)                 # SUBACK without codes
    bad("3605000178000a", MalformedPacket)           # QoS 3
    bad("3803000178", MalformedPacket)               # DUP on QoS 0
    bad("300400057878", MalformedPacket)             # topic length past the end
    bad("3203000178", MalformedPacket)               # QoS 1 without packet id
    bad("32050001780000", MalformedPacket)           # QoS 1 with packet id 0
    bad("300400012b68", InvalidTopic)                # wildcard in a PUBLISH topic
    bad("300400010068", InvalidTopic)                # U+0000
    bad("30040002c328", InvalidTopic)                # broken UTF-8
    bad("30040002eda0", InvalidTopic)                # surrogate half (truncated)
    bad("30050003eda080", InvalidTopic)              # encoded surrogate U+D800
    bad("30040002c0af", InvalidTopic)                # overlong "/"


def test_remaining_length_limits():
    bad("40ffffffff01", MalformedRemainingLength)     # five bytes
    bad("408000", MalformedRemainingLength)           # non-minimal zero
    e = bad("30ff7f", PacketTooLarge, max_packet=1024)
    eq((e.size, e.limit), (1 + 2 + 16383, 1024))
    # exactly at the limit passes
    pkt = C.encode_publish("t", bytes(1024 - 1 - 2 - 3), 0)
    eq(len(pkt), 1024)
    eq(len(feed_all(pkt, max_packet=1024)), 1)


def test_parser_dead_after_error():
    p = C.Parser()
    raises(MalformedPacket, p.feed, unhex("40020000"))
    raises(MalformedPacket, p.feed, unhex("d000"))
    p.reset()
    eq(p.feed(unhex("d000")), [(C.PINGRESP,)])


def test_topic_checks():
    check(C.check_topic_name(b"a/b/c"))
    check(C.check_topic_name("é/ü".encode()))
    check(C.check_topic_name(b"/"))
    check(not C.check_topic_name(b""))
    check(not C.check_topic_name(b"a/#"))
    check(C.check_topic_filter(b"#"))
    check(C.check_topic_filter(b"+/+/x"))
    check(C.check_topic_filter(b"a/+/#"))
    check(not C.check_topic_filter(b"a/b#"))
    check(not C.check_topic_filter(b"a/#/c"))
    check(C.valid_utf8("\U0001F600".encode()))
    check(not C.valid_utf8(b"\xf4\x90\x80\x80"))    # above U+10FFFF
    check(not C.valid_utf8(b"\xe0\x80\xaf"))        # overlong
    check(not C.valid_utf8(b"\xff"))

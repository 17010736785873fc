"""The supervisor over the in-memory broker: backoff with jitter, resubscription, in-order resend of
unacknowledged records with DUP and their original packet ids, keepalive death, QoS 0 accounting."""
# On a board lib/mqtt is frozen into flash; the VM loads all of it (~52 KB on this 64-bit build) plus
# the fake broker into the heap. 130 KB is the lowest cap that passes; 140 leaves a margin.
HEAP_KB = 140

from mpcheck import check, eq, raises  # noqa: E402

from mqtt.outbox import MemoryOutbox, Outbox  # noqa: E402
from mqtt.robust import Backoff, RobustClient  # noqa: E402
from mqtt_fake import FakeBroker, FakeClient, fresh  # noqa: E402


class Clock:
    def __init__(self):
        self.t = 1000
        self.slept = []

    def __call__(self):
        return self.t

    def sleep(self, ms):
        self.slept.append(ms)
        self.t += ms


def setup(outbox=None, keepalive=30, first_ms=100):
    b = FakeBroker()
    clk = Clock()
    c = FakeClient(b, "dev", "fake", keepalive=keepalive, timeout=0.3)
    sup = RobustClient(c, outbox if outbox is not None else MemoryOutbox(), Backoff(first_ms, 1000, rand_below=lambda n: n - 1),
                       clock=clk, sleep_ms=clk.sleep)
    return b, c, sup, clk


def test_backoff_doubles_caps_and_jitters():
    eq([Backoff(100, 1000, rand_below=lambda n: 0).next_ms() for _ in range(1)], [50])
    b = Backoff(100, 1000, rand_below=lambda n: 0)
    eq([b.next_ms() for _ in range(6)], [50, 100, 200, 400, 500, 500])
    b = Backoff(100, 1000, rand_below=lambda n: n - 1)
    eq([b.next_ms() for _ in range(6)], [100, 200, 400, 800, 1000, 1000])
    b.reset()
    eq(b.next_ms(), 100)
    b = Backoff(1000, 60000)
    for _ in range(20):
        d = b.next_ms()
        check(0 < d <= 60000)
    ds = set(Backoff(1000, 60000).next_ms() for _ in range(20))
    check(len(ds) > 1, "jitter varies")


def test_publish_flow_and_resubscribe():
    b, c, sup, clk = setup()
    got = []
    c.set_callback(lambda t, m: got.append(m))
    sup.subscribe("cmd/#", 1)           # not connected yet: remembered
    sup.pump(0)
    eq(b.subs, [(b"cmd/#", 1)])
    for i in range(5):
        sup.publish("tele", b"%d" % i)
    sup.pump(0)
    eq([p[1] for p in b.publishes], [b"0", b"1", b"2", b"3", b"4"])
    eq(len(sup.outbox), 0)
    eq(sup.stats["acked"], 5)
    b.send_publish("cmd/x", b"reboot", 1)
    sup.pump(0)
    eq(got, [b"reboot"])
    b.closed = True                     # the broker goes away and comes back with no session
    sup.pump(0)
    eq((sup.connected(), sup.stats["links_lost"]), (False, 1))
    b.subs = []
    clk.t += 1000
    sup.pump(0)
    check(sup.connected())
    eq(b.subs, [(b"cmd/#", 1)])
    eq(c.open_sockets(), 1)


def test_resend_in_order_with_dup_and_same_packet_id():
    b, c, sup, clk = setup()
    sup.pump(0)
    b.ack_publish = False
    for i in range(4):
        sup.publish("tele", b"%d" % i)
    sup.pump(0)
    first = [(p[1], p[4], p[5]) for p in b.publishes]
    eq(first, [(b"0", False, 1), (b"1", False, 2), (b"2", False, 3), (b"3", False, 4)])
    b.closed = True
    sup.pump(0)
    sup.publish("tele", b"4")           # appended while offline
    b.publishes = []
    b.ack_publish = True
    clk.t += 1000
    sup.pump(0)
    eq([(p[1], p[4], p[5]) for p in b.publishes],
       [(b"0", True, 1), (b"1", True, 2), (b"2", True, 3), (b"3", True, 4), (b"4", False, 5)])
    eq(sup.stats["resent"], 4)
    eq(len(sup.outbox), 0)


def test_window_limits_unacknowledged():
    b, c, sup, clk = setup()
    c.session.max_inflight = 3
    sup.pump(0)
    b.ack_publish = False
    for i in range(10):
        sup.publish("tele", b"%d" % i)
    sup.pump(0)
    eq(len(b.publishes), 3)
    b.ack_publish = True
    for pid in (1, 2, 3):
        b.out += b"\x40\x02\x00" + bytes((pid,))
    sup.drain(2000)
    eq(len(sup.outbox), 0)
    eq([p[1] for p in b.publishes], [b"%d" % i for i in range(10)])


def test_reconnect_backoff_grows_then_resets():
    b, c, sup, clk = setup(first_ms=100)
    b.refuse_tcp = 4
    delays = []
    for _ in range(4):
        t0 = clk.t
        sup.pump(0)
        eq(sup.connected(), False)
        delays.append(sup._next_try - t0)
        clk.t = sup._next_try
    eq(delays, [100, 200, 400, 800])
    eq(sup.stats["connect_failures"], 4)
    check("ECONNREFUSED" in sup.last_error)
    sup.pump(0)
    check(sup.connected())
    eq(sup.backoff.attempt, 0)
    eq(c.open_sockets(), 1)
    eq(len(c.sockets), 1)               # refused attempts never got a socket to leak


def test_pump_sleeps_until_next_attempt():
    b, c, sup, clk = setup()
    b.refuse_tcp = 1
    sup.pump(0)
    wait = sup._next_try - clk.t
    sup.pump(30)
    eq(clk.slept, [30])
    sup.pump(5000)
    eq(clk.slept, [30, wait - 30])
    sup.pump(0)
    check(sup.connected())


def test_keepalive_declares_a_silent_link_dead():
    b, c, sup, clk = setup(keepalive=1)
    sup.pump(0)
    b.silent = True                     # the socket stays open, nothing comes back
    import time
    t0 = time.time()
    while sup.connected() and time.time() - t0 < 5:
        sup.pump(50)
        time.sleep(0.05)
    eq(sup.connected(), False)
    check("keepalive" in sup.last_error, sup.last_error)
    check(b.pings >= 0)
    eq(c.open_sockets(), 0)


def test_qos0_and_qos2_policy():
    b, c, sup, clk = setup()
    sup.publish("t", b"lost", 0)        # not connected: dropped and counted
    eq(sup.stats["qos0_dropped"], 1)
    sup.pump(0)
    sup.publish("t", b"sent", 0)
    eq(b.publishes[-1][1:3], (b"sent", 0))
    raises(ValueError, sup.publish, "t", b"x", 2)


def test_durable_outbox_through_a_reboot():
    p = fresh("robust")
    b, c, sup, clk = setup(Outbox(p))
    sup.pump(0)
    b.ack_publish = False
    for i in range(3):
        sup.publish("tele", b"%d" % i)
    sup.pump(0)
    sup.outbox._close_file()           # power cut: nothing acked
    b.publishes = []
    b.ack_publish = True
    b2, c2, sup2, clk2 = setup(Outbox(p))
    b2.ack_publish = True
    sup2.pump(0)
    eq([(x[1], x[4], x[5]) for x in b2.publishes], [(b"0", True, 1), (b"1", True, 2), (b"2", True, 3)])
    eq(len(sup2.outbox), 0)
    sup2.outbox.close()

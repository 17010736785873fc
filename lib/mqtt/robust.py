"""Supervisor: keeps an MQTTClient connected and drains a (durable) outbox through it.

    ob = Outbox("/outbox.log")
    sup = RobustClient(MQTTClient("dev1", "broker", ssl=ctx, keepalive=30), ob)
    sup.subscribe(b"devices/dev1/cmd", 1)
    while True:
        sup.publish(b"devices/dev1/t", reading())    # QoS 1: on flash first, then sent
        sup.pump(1000)                                # network work for up to a second

What it adds to the client, none of which lives in the codec:
- reconnects after any failure, waiting with exponential backoff and jitter between attempts;
- keepalive health: nothing received for 1.5x keepalive means the link is dead (a stalled Wi-Fi link
  can keep a TCP socket "up" for minutes);
- resubscribes after every reconnect;
- QoS 1 records go out in id order, at most `max_inflight` unacknowledged; after a reconnect or a
  reboot every unacknowledged record is sent again with DUP set and the same packet id (derived from
  the record id, so it survives a reboot); a record leaves the outbox only when its PUBACK arrives.
pump() never raises for network or broker trouble: it counts it in `stats` and keeps `last_error`.
"""
import os

from mqtt.errors import MQTTError
from mqtt.outbox import MemoryOutbox
from mqtt.session import ticks_add, ticks_diff, ticks_ms

# Outbox records use packet ids 1..0xFEFF (from their record id); subscriptions use the rest.
_PID_SPAN = 0xFEFF
_AUTO_PIDS = (0xFF00, 0xFFFF)
_BATCH = 1400   # bytes of PUBLISHes gathered into one write (one TLS record, one TCP segment)


def _rand_below(n):
    if n <= 1:
        return 0
    r = os.urandom(4)
    return ((r[0] << 24) | (r[1] << 16) | (r[2] << 8) | r[3]) % n


class Backoff:
    """Delays of first_ms, 2x, 4x ... capped at max_ms, each with "equal jitter": half fixed, half
    random, so a fleet that lost its broker at once does not come back in lockstep."""

    def __init__(self, first_ms=500, max_ms=60000, factor=2, rand_below=_rand_below):
        self.first_ms = first_ms
        self.max_ms = max_ms
        self.factor = factor
        self._rand = rand_below
        self.attempt = 0

    def next_ms(self):
        d = self.first_ms
        for _ in range(self.attempt):
            d *= self.factor
            if d >= self.max_ms:
                d = self.max_ms
                break
        self.attempt += 1
        return d // 2 + self._rand(d // 2 + 1)

    def reset(self):
        self.attempt = 0


class RobustClient:
    def __init__(self, client, outbox=None, backoff=None, on_message=None, clock=ticks_ms, sleep_ms=None):
        self.client = client
        self.outbox = outbox if outbox is not None else MemoryOutbox()
        self.backoff = backoff or Backoff()
        self.clock = clock
        self._sleep_ms = sleep_ms or _sleep_ms
        client.session.auto_pids = _AUTO_PIDS
        if on_message is not None:
            client.set_callback(on_message)
        self.subs = []
        self.last_error = None
        self.errors = []         # the last few failures, oldest first
        self.stats = {"connects": 0, "connect_failures": 0, "links_lost": 0, "sent": 0, "resent": 0,
                      "acked": 0, "qos0_dropped": 0}
        self._next_try = clock()
        self._sent_upto = -1     # highest record id sent on the current connection
        self._prev_sent = -1     # highest record id sent on any earlier connection

    def connected(self):
        return self.client.is_connected()

    def subscribe(self, topic, qos=0):
        """Kept for every reconnect; subscribed now if connected."""
        self.subs.append((topic, qos))
        if self.connected():
            try:
                self.client.subscribe(topic, qos)
            except (OSError, MQTTError) as e:
                self._lost(e)

    def publish(self, topic, payload, qos=1, retain=False):
        """QoS 1: appended to the outbox (durable before this returns), then sent when the window
        allows; returns the record id. QoS 0: sent if connected, else dropped and counted."""
        if qos == 1:
            rid = self.outbox.append(topic, payload, retain)
            if self.connected():
                self._guarded(self._send_pending)
            return rid
        if qos != 0:
            raise ValueError("the outbox carries QoS 1 (QoS 2 would need PUBREL state across reboots)")
        if self.connected():
            self._guarded(self.client.publish, topic, payload, retain, 0)
        else:
            self.stats["qos0_dropped"] += 1
        return None

    def pump(self, timeout_ms=0):
        """Do the network work due now, waiting for input up to timeout_ms."""
        if not self.connected():
            wait = ticks_diff(self._next_try, self.clock())
            if wait > 0:
                if timeout_ms > 0:
                    self._sleep_ms(min(wait, timeout_ms))
                return
            if not self._connect():
                return
        self._guarded(self._exchange, timeout_ms)

    def drain(self, timeout_ms):
        """Pump until the outbox is empty or timeout_ms passes; True when empty."""
        deadline = ticks_add(self.clock(), timeout_ms)
        while len(self.outbox):
            left = ticks_diff(deadline, self.clock())
            if left <= 0:
                return False
            self.pump(min(left, 200))
        return True

    def disconnect(self):
        self.outbox.flush_acks()
        self.client.disconnect()

    # ---- internals ----------------------------------------------------------------------------
    def _guarded(self, fn, *args):
        try:
            fn(*args)
        except (OSError, MQTTError) as e:
            self._lost(e)

    def _note(self, e):
        self.last_error = "%s: %s" % (type(e).__name__, e)
        self.errors.append(self.last_error)
        if len(self.errors) > 8:
            self.errors.pop(0)

    def _lost(self, e):
        self._note(e)
        self.client.close()
        self.stats["links_lost"] += 1
        self._schedule()

    def _schedule(self):
        self._next_try = ticks_add(self.clock(), self.backoff.next_ms())

    def _connect(self):
        c = self.client
        try:
            c.connect()
            for topic, qos in self.subs:
                c.subscribe(topic, qos)
        except (OSError, MQTTError) as e:
            self._connect_failed(e)
            return False
        self._on_connected()
        return True

    def _connect_failed(self, e):
        self._note(e)
        self.client.close()
        self.stats["connect_failures"] += 1
        self._schedule()

    def _on_connected(self):
        self.stats["connects"] += 1
        self.backoff.reset()
        if self._sent_upto > self._prev_sent:
            self._prev_sent = self._sent_upto
        self._sent_upto = -1  # what was sent before goes again, with DUP

    def _exchange(self, timeout_ms):
        c = self.client
        self._send_pending()
        # A full window waits for acks; otherwise only as long as asked.
        events = c._poll(timeout_ms)
        self._on_events(events)
        while c.sock is not None and self._send_pending():
            self._on_events(c._poll(0))
        self.outbox.flush_acks()

    def _on_events(self, events):
        ob = self.outbox
        for ev in events:
            if ev[0] == "puback" and ev[2] is not None:
                if ob.ack(ev[2]):
                    self.stats["acked"] += 1

    def _send_pending(self):
        """Queue the next records while the window has room, in one write; True when any went."""
        s = self.client.session
        ob = self.outbox
        rid = ob.next_after(self._sent_upto)
        sent = 0
        while rid is not None and s.can_publish():
            topic, payload, retain = ob.read(rid)
            dup = rid <= self._prev_sent or rid < ob.recovered_next
            s.publish(topic, payload, 1, retain, dup, rid % _PID_SPAN + 1, rid)
            self._sent_upto = rid
            sent += 1
            if dup:
                self.stats["resent"] += 1
            if s.pending_output() >= _BATCH:
                self._flush_now()
            rid = ob.next_after(rid)
        if sent:
            self.stats["sent"] += sent
            self._flush_now()
        return sent > 0

    def _flush_now(self):
        self.client._flush()


def _sleep_ms(ms):
    import time
    if hasattr(time, "sleep_ms"):
        time.sleep_ms(ms)
    else:
        time.sleep(ms / 1000)

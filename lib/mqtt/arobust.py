"""asyncio supervisor: keeps an MQTTAsyncClient connected and drains a (durable) outbox through it.

    ob = Outbox("/outbox.log")
    sup = AsyncRobustClient(MQTTAsyncClient("dev1", "broker", ssl=ctx, keepalive=30), ob)
    sup.subscribe(b"devices/dev1/cmd", 1)
    asyncio.create_task(sup.run())                        # connects, reconnects, sends, forever
    while True:
        sup.publish(b"devices/dev1/t", reading())          # QoS 1: on flash first, then sent
        await asyncio.sleep(60)

The same guarantees as the blocking mqtt.robust.RobustClient (it shares its outbox bookkeeping):
reconnects with exponential backoff and jitter, resubscribes, sends QoS 1 records in id order with at
most the session's max_inflight unacknowledged, re-sends every unacknowledged record with DUP and its
packet id after a reconnect or a reboot, and drops a record from the outbox only when its PUBACK
arrives. Keepalive health (1.5x keepalive of silence = dead link) is the async client's own task.
run() never raises for network or broker trouble: it counts it in `stats` and keeps `last_error`.
Anything else (MemoryError above all) ends the task with that exception: await the task, or check
it, rather than leaving it unobserved. The asyncio path needs more heap than the blocking one (about
16 KB more on the 64-bit VM in the fault tests).
"""
try:
    import asyncio
except ImportError:
    import uasyncio as asyncio

from mqtt.errors import ConnectionLost, MQTTError
from mqtt.robust import RobustClient

class AsyncRobustClient(RobustClient):
    def __init__(self, client, outbox=None, backoff=None, on_message=None):
        RobustClient.__init__(self, client, outbox, backoff, on_message)
        self._wake = asyncio.Event()
        self._stopping = False
        self._new_subs = []   # subscribed at the next chance (all of self.subs at every connect)
        client.on_ack = self._on_ack
        client.on_close = self._wake.set

    def subscribe(self, topic, qos=0):
        """Kept for every (re)connect; run() subscribes at its next connect."""
        self.subs.append((topic, qos))
        self._new_subs.append((topic, qos))
        self._wake.set()

    def publish(self, topic, payload, qos=1, retain=False):
        """QoS 1: appended to the outbox (durable before this returns) and handed to run(); returns
        the record id. QoS 0 is not kept: use the client's own publish() while connected."""
        if qos != 1:
            raise ValueError("the outbox carries QoS 1 (QoS 0: client.publish; QoS 2 needs PUBREL state)")
        rid = self.outbox.append(topic, payload, retain)
        self._wake.set()
        return rid

    async def run(self):
        """Connect, send, wait for acks and reconnect until stop()."""
        self._stopping = False
        while not self._stopping:
            if not self.connected():
                await self._sleep_until_next_try()  # the backoff after a failure or a lost link
                if self._stopping or not await self._aconnect():
                    continue
            try:
                await self._serve()
            except (OSError, MQTTError) as e:
                self._lost(e)

    async def drain(self, timeout_ms):
        """Wait until the outbox is empty (True) or timeout_ms passes (False); run() does the work."""
        from mqtt.session import ticks_add, ticks_diff
        deadline = ticks_add(self.clock(), timeout_ms)
        while len(self.outbox):
            if ticks_diff(deadline, self.clock()) <= 0:
                return False
            await asyncio.sleep(0.02)
        return True

    async def stop(self):
        """End run() and disconnect cleanly (unacknowledged records stay in the outbox)."""
        self._stopping = True
        self._wake.set()
        self.outbox.flush_acks()
        await self.client.disconnect()

    # ---- internals ----------------------------------------------------------------------------
    async def _aconnect(self):
        c = self.client
        try:
            await c.connect()
            for topic, qos in self.subs:
                await c.subscribe(topic, qos)
        except (OSError, MQTTError) as e:
            self._connect_failed(e)
            return False
        self._new_subs = []
        self._on_connected()
        return True

    async def _sleep_until_next_try(self):
        from mqtt.session import ticks_diff
        wait = ticks_diff(self._next_try, self.clock())
        if wait > 0:
            try:
                await asyncio.wait_for(self._stop_requested(), wait / 1000)
            except asyncio.TimeoutError:
                pass

    async def _stop_requested(self):
        while not self._stopping:
            self._wake.clear()
            await self._wake.wait()

    async def _serve(self):
        """While connected: queue what the window allows, flush, then sleep until something changes
        (a new record, an ack freeing the window, the link closing, stop())."""
        c = self.client
        while c.is_connected() and not self._stopping:
            while self._new_subs:
                topic, qos = self._new_subs.pop(0)
                await c.subscribe(topic, qos)
            self._wake.clear()
            if self._send_pending():
                await c._flush()
            self.outbox.flush_acks()
            # Everything that changes what to do sets the event: publish(), subscribe(), an ack,
            # the link closing (the client's on_close), stop(). No timeout task per round.
            await self._wake.wait()
        if not self._stopping:
            # The reader or keepalive task closed the link: report why, as the blocking client would.
            e = c.error
            raise e if isinstance(e, (OSError, MQTTError)) else ConnectionLost(
                "connection closed" if e is None else "%s: %s" % (type(e).__name__, e))

    def _flush_now(self):
        pass  # _serve() awaits the client's flush once the batch is queued

    def _on_ack(self, rid):
        if self.outbox.ack(rid):
            self.stats["acked"] += 1
        self._wake.set()

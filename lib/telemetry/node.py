"""The telemetry loop: read sensors, publish through the durable outbox, keep the TLS session, sleep.

    n = Node(cfg, board, ctx)       # cfg: firmware/config.example.json; ctx: a tls13.SSLContext
    n.run()                         # forever; run(cycles=6) stops once readings 0..5 are acknowledged

Two ways to spend the time between readings, chosen by cfg["sleep"] ("deep", "light" or "auto": deep
where the board has it):
- deep: each wake is a fresh start (on a board it literally is: machine.deepsleep ends in a reset and
  main.py runs again). Take a reading, connect (resuming the stored TLS session), drain the outbox,
  store the newest session ticket (RTC memory on ESP32), disconnect, deep sleep. Where the port has no
  deep sleep (the unix VM) the sleep happens in place and the next wake rebuilds everything from the
  stores, exercising the same path.
- light: stay connected; between readings the supervisor keeps the link (keepalive, acks,
  reconnects with backoff) and every reconnect offers the newest session ticket.

Sequence numbers are outbox record ids: durable on flash, so they continue across resets, and a
reading is only forgotten once the broker acknowledged it. Console lines start with "NODE " so a
host can follow the node (the emulated board and the tests do).
"""
import gc

from mqtt.client import MQTTClient
from mqtt.outbox import Outbox
from mqtt.robust import Backoff, RobustClient
from mqtt.session import ticks_diff, ticks_ms
from telemetry import clock, payload, store
from telemetry.sensors import Sensors

try:
    from time import ticks_add
except ImportError:
    def ticks_add(t, delta):
        return t + delta


class ResumingContext:
    """What MQTTClient calls wrap_socket on: offers the stored session, remembers the newest ticket."""

    def __init__(self, ctx, session_store=None):
        self.ctx = ctx
        self.store = session_store
        self.session = None
        self._loaded = False
        self.sock = None
        self.handshakes = 0
        self.resumed = 0
        self.last_ms = 0

    def _load(self):
        self._loaded = True
        data = self.store.load() if self.store is not None else None
        if data:
            from tls13.resumption import Session
            try:
                self.session = Session.from_bytes(data)
            except ValueError:
                self.store.clear()

    def wrap_socket(self, sock, server_hostname=None):
        if not self._loaded:
            self._load()
        t0 = ticks_ms()
        s = self.ctx.wrap_socket(sock, server_hostname=server_hostname, session=self.session)
        self.last_ms = ticks_diff(ticks_ms(), t0)
        self.sock = s
        self.handshakes += 1
        if s.session_reused:
            self.resumed += 1
        return s

    def capture(self):
        """Store the newest ticket the broker sent on the current connection; True when it was new."""
        s = self.sock
        new = getattr(s, "session", None) if s is not None else None
        if new is None or new is self.session:
            return False
        self.session = new
        if self.store is not None:
            try:
                self.store.save(new.to_bytes())
            except (OSError, ValueError):
                return False
        return True


def _sub(template, device):
    return template.replace("{device}", device)


class Node:
    def __init__(self, cfg, board, ctx, secrets=None, wifi=None, log=print):
        self.cfg = cfg
        self.wifi = wifi
        self.board = board
        self.log = log
        self.secrets = secrets or {}
        self.device = cfg.get("device_id") or board.unique_id() or "node"
        self.topic = _sub(cfg.get("topic", "devices/{device}/telemetry"), self.device)
        self.status_topic = _sub(cfg.get("status_topic", "devices/{device}/status"), self.device)
        self.interval_ms = int(float(cfg.get("interval_s", 60)) * 1000)
        mode = cfg.get("sleep", "auto")
        if mode == "auto":
            mode = "deep" if board.get("deep_sleep", False) else "light"
        self.mode = mode
        st = cfg.get("state_dir", "state")
        self.outbox_path = st + "/outbox.log"
        self.clock_path = st + "/clock.txt"
        ob = cfg.get("outbox", {})
        self.outbox_limits = (ob.get("max_records", 256), ob.get("max_bytes", 32768))
        self.rctx = ResumingContext(ctx, store.session_store(board, st + "/session.bin"))
        self.sensors = Sensors(board.get("sensors", {}), board.emulated, self.device)
        self.floor = 0
        self.outbox = None
        self._connects = 0

    # ---- pieces --------------------------------------------------------------------------------
    def _supervisor(self):
        b = self.cfg.get("broker", {})
        host = b.get("host", "127.0.0.1")
        c = MQTTClient(self.device, host, b.get("port", 8883), user=self.secrets.get("mqtt_user"),
                       password=self.secrets.get("mqtt_password"), keepalive=b.get("keepalive_s", 30),
                       ssl=self.rctx, server_hostname=b.get("server_hostname") or host,
                       timeout=b.get("timeout_s", 10), clean_session=True)
        if self.outbox is None:
            store.makedirs(self.outbox_path)
            self.outbox = Outbox(self.outbox_path, max_records=self.outbox_limits[0],
                                 max_bytes=self.outbox_limits[1])
        if self.mode == "light":
            # the broker announces a node that vanished without a DISCONNECT (power, Wi-Fi)
            c.set_last_will(self.status_topic, payload.status(self.device, self.board.name, False, []),
                            retain=True)
        bo = self.cfg.get("backoff_ms", (500, 60000))
        return RobustClient(c, self.outbox, Backoff(bo[0], bo[1]))

    def reading(self, seq):
        ts = clock.unix_time() if clock.clock_ok(self.floor) else None
        readings = self.sensors.read()
        return payload.encode(self.device, seq, ts, readings, self.board.name), readings

    def take_reading(self, sup):
        seq = self.outbox.next_id
        data, readings = self.reading(seq)
        sup.publish(self.topic, data, 1)
        self.log("NODE reading seq=%d %s" % (seq, " ".join("%s=%s" % (k, _short(v)) for k, v in readings)))
        return seq

    def _after_pump(self, sup):
        """Once per new connection: report it, publish the retained status, keep the new ticket."""
        n = sup.stats["connects"]
        if n != self._connects:
            self._connects = n
            s = self.rctx.sock
            suite = s.cipher()[0] if s is not None and s.cipher() else "?"
            reused = bool(s is not None and s.session_reused)
            mtls = self.rctx.ctx.config.client_identity is not None
            self.log("NODE connected tls=%s suite=%s resumed=%d mtls=%d handshake_ms=%d connects=%d" % (
                s.version() if s is not None else "?", suite, reused, mtls, self.rctx.last_ms, n))
            st = payload.status(self.device, self.board.name, True, [
                ("tls", s.version() if s is not None else None), ("suite", suite), ("resumed", reused),
                ("mtls", mtls), ("handshake_ms", self.rctx.last_ms),
                ("heap_free", gc.mem_free() if hasattr(gc, "mem_free") else None)])
            sup.publish(self.status_topic, st, qos=0, retain=True)
        if self.rctx.capture():
            self.log("NODE session stored in %s" % self.rctx.store.kind)

    def _pump(self, sup, ms):
        if self.wifi is not None and not sup.connected():
            self.wifi.ensure()
        sup.pump(ms)
        self._after_pump(sup)

    def _drain(self, sup, budget_ms):
        deadline = ticks_add(ticks_ms(), budget_ms)
        while len(self.outbox):
            left = ticks_diff(deadline, ticks_ms())
            if left <= 0:
                return False
            self._pump(sup, min(left, 200))
        return True

    def _done(self, cycles):
        return cycles is not None and self.outbox.next_id >= cycles

    # ---- the loop --------------------------------------------------------------------------------
    def start(self):
        self.floor = clock.time_floor(self.board.get("built_at", 0), self.clock_path)
        self.log("NODE start device=%s board=%s mode=%s reset=%s clock_ok=%d" % (
            self.device, self.board.name, self.mode, self.board.reset_cause(), clock.clock_ok(self.floor)))

    def run(self, cycles=None):
        self.start()
        if self.mode == "deep":
            while self.wake(cycles):
                pass
        else:
            self.run_light(cycles)
        self.log("NODE halt seq=%d pending=%d" % (self.outbox.next_id, len(self.outbox)))
        self.outbox.close()

    def wake(self, cycles=None):
        """One deep-sleep cycle; returns False when `cycles` readings are all acknowledged."""
        t0 = ticks_ms()
        # As after a reset: the session comes from its store again (RTC memory or flash).
        self.rctx.session = None
        self.rctx._loaded = False
        sup = self._supervisor()
        if not self._done(cycles):
            self.take_reading(sup)
        drained = self._drain(sup, int(self.cfg.get("drain_s", 10) * 1000))
        self.rctx.capture()
        if sup.connected():
            sup.disconnect()
        self._connects = 0
        if not drained:
            self.log("NODE offline pending=%d last_error=%s" % (len(self.outbox), sup.last_error))
        if self._done(cycles) and not len(self.outbox):
            return False
        self.outbox.close()
        self.outbox = None
        ms = max(self.interval_ms - ticks_diff(ticks_ms(), t0), 10)
        self.log("NODE sleep ms=%d deep=%d" % (ms, self.board.can_deep_sleep()))
        self.board.deep_sleep(ms)
        return True

    def run_light(self, cycles=None):
        sup = self._supervisor()
        next_at = ticks_ms()
        drain_deadline = None
        while True:
            now = ticks_ms()
            if not self._done(cycles):
                if ticks_diff(now, next_at) >= 0:
                    self.take_reading(sup)
                    next_at = ticks_add(next_at, self.interval_ms)
                    if ticks_diff(next_at, now) < 0:
                        next_at = ticks_add(now, self.interval_ms)  # fell behind: no burst of catch-up readings
                wait = max(0, min(ticks_diff(next_at, ticks_ms()), 1000))
            else:
                if not len(self.outbox):
                    break
                if drain_deadline is None:
                    drain_deadline = ticks_add(ticks_ms(), int(self.cfg.get("drain_s", 10) * 1000))
                if ticks_diff(drain_deadline, ticks_ms()) <= 0:
                    self.log("NODE offline pending=%d last_error=%s" % (len(self.outbox), sup.last_error))
                    break
                wait = 200
            self._pump(sup, wait)
        self.rctx.capture()
        if sup.connected():
            sup.publish(self.status_topic, payload.status(self.device, self.board.name, False, []), 0, True)
            sup.disconnect()


def _short(v):
    return "%.2f" % v if isinstance(v, float) else str(v)

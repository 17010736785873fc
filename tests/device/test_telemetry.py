"""lib/telemetry on both runtimes: the payload format, the session stores (file framing, torn and
garbage contents, RTC memory capacity), the clock floor, sensors (simulated where the port lacks the
hardware, a failing driver left out), the board profile, and ResumingContext offering a stored session
and storing the newest ticket."""
import json
import os
import sys

from mpcheck import check, eq, raises

from telemetry import clock, payload, store
from telemetry.board import Board, load_profile
from telemetry.sensors import Sensors

# The last test loads telemetry.node (MQTT client, outbox, supervisor) and tls13.resumption: modules
# a board keeps frozen in flash, so the module gets the board's heap plus the stack's resident size.
STACK = True

_DIR = (os.getenv("TLS13_ROOT") or ".") + "/build/telemetry-unit-" + sys.implementation.name


def _path(name):
    store.makedirs(_DIR + "/x")
    p = _DIR + "/" + name
    for q in (p, p + ".new"):
        try:
            os.remove(q)
        except OSError:
            pass
    return p


def test_payload_layout():
    b = payload.encode("device-001", 41, 1767225600, [("chip_temp_c", 41.257), ("heap_free", 61440)], "esp32")
    eq(b, b'{"device":"device-001","seq":41,"ts":1767225600,"board":"esp32","chip_temp_c":41.26,"heap_free":61440}')
    d = payload.decode(b)
    eq((d["seq"], d["chip_temp_c"], d["board"]), (41, 41.26, "esp32"))
    eq(payload.encode("d", 0, None, []), b'{"device":"d","seq":0,"ts":null}')
    eq(payload.decode(payload.encode("d", 1, None, [("x", float("nan")), ("ok", True)]))["x"], None)
    raises(ValueError, payload.encode, "d", 1, None, [("seq", 3)])
    eq(payload.status("d", "pico_w", False, []), b'{"device":"d","board":"pico_w","online":false}')
    st = json.loads(payload.status('q"d', "esp32", True, [("resumed", True), ("tls", None), ("ms", 57)]))
    eq((st["device"], st["online"], st["resumed"], st["tls"], st["ms"]), ('q"d', True, True, None, 57))
    raises(ValueError, payload.decode, b'{"seq":1}')
    raises(ValueError, payload.decode, b"[1,2]")


def test_file_store_roundtrip_and_damage():
    p = _path("session.bin")
    s = store.FileStore(p)
    eq(s.load(), None)
    s.save(b"ticket" * 50)
    eq(s.load(), b"ticket" * 50)
    s.save(b"newer")
    eq(s.load(), b"newer")
    with open(p, "rb") as f:
        raw = f.read()
    for cut in (0, 3, 8, len(raw) - 1):  # a reset in the middle of a write
        with open(p, "wb") as f:
            f.write(raw[:cut])
        eq(s.load(), None, "cut at %d" % cut)
    bad = bytearray(raw)
    bad[-1] ^= 1
    with open(p, "wb") as f:
        f.write(bad)
    eq(s.load(), None)
    s.clear()
    eq(s.load(), None)


class FakeRTC:
    def __init__(self, data=b""):
        self.data = data

    def memory(self, data=None):
        if data is None:
            return self.data
        self.data = bytes(data)


def test_rtc_store():
    r = FakeRTC(b"\x00\xff garbage after power-on")
    s = store.RTCStore(r, 64)
    eq(s.load(), None)
    s.save(b"x" * 56)
    eq(s.load(), b"x" * 56)
    raises(ValueError, s.save, b"x" * 57)  # 8 bytes of framing
    s.clear()
    eq(s.load(), None)


def test_makedirs_and_clock_floor():
    p = _path("deep/er/clock.txt")
    eq(clock.load_floor(p), 0)
    clock.save_floor(p, 1767225600)
    eq(clock.load_floor(p), 1767225600)
    eq(clock.time_floor(1700000000, p), 1767225600)
    eq(clock.time_floor(1800000000, p), 1800000000)
    now = clock.unix_time()
    check(now > 1700000000, "the host's clock is set: %d" % now)
    check(clock.clock_ok(1700000000) and not clock.clock_ok(now + 86400))
    eq(clock.ntp_sync(), None)  # no ntptime module on the VM or CPython


def test_sensors():
    s = Sensors({"chip_temp_c": "esp32_raw_temperature", "heap_free": "heap_free", "rssi_dbm": "wlan_rssi",
                 "nothing": "no_such_driver"}, emulated=True, seed="device-001")
    r = dict(s.read())
    check(30 < r["chip_temp_c"] < 50, r)
    check(-75 < r["rssi_dbm"] < -50, r)
    check("nothing" not in r)
    if sys.implementation.name == "micropython":
        check(r["heap_free"] > 0)
    # On a real board a missing driver leaves the reading out and is counted, never simulated.
    real = Sensors({"chip_temp_c": "rp2_adc_temperature"}, emulated=False)
    if sys.platform != "rp2":
        eq(real.read(), [])
        eq(real.failures, 1)
    other = dict(Sensors({"t": "simulated_temperature"}, emulated=True, seed="device-002").read())
    check(abs(other["t"] - r["chip_temp_c"]) < 15)


def test_board_profile():
    b = Board(load_profile("/nonexistent/board.json"))
    check(b.name)
    prof = {"board": "pico_w", "cipher_order": ["TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"],
            "deep_sleep": False, "rtc_memory": 0}
    b = Board(prof)
    eq(b.cipher_string(), "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256")
    eq(b.rtc(), None)
    check(not b.can_deep_sleep())
    b.deep_sleep(1)  # no deep sleep here: it sleeps in place and returns
    eq(store.session_store(b, _path("s/session.bin")).kind, "file")


class _Conn:
    def __init__(self):
        self.session_reused = True


class _Sock:
    def __init__(self, session):
        self.session = session
        self.session_reused = True


class _Ctx:
    def __init__(self, ticket):
        self.offered = []
        self.ticket = ticket

    def wrap_socket(self, sock, server_hostname=None, session=None):
        self.offered.append(session)
        return _Sock(self.ticket)


def test_resuming_context_offers_and_keeps_sessions():
    from telemetry.node import ResumingContext
    from tls13.resumption import Session
    old = Session(0x1303, b"k" * 32, b"ticket-1", 7200, 5, 1767225600, "localhost", 0)
    new = Session(0x1303, b"n" * 32, b"ticket-2", 7200, 6, 1767225700, "localhost", 0)
    s = store.FileStore(_path("rc-session.bin"))
    s.save(old.to_bytes())
    ctx = _Ctx(new)
    rc = ResumingContext(ctx, s)
    rc.wrap_socket(object(), "localhost")
    eq(ctx.offered[0].ticket, b"ticket-1")
    eq((rc.handshakes, rc.resumed), (1, 1))
    check(rc.capture())
    check(not rc.capture())  # the same ticket is not stored twice
    eq(Session.from_bytes(s.load()).ticket, b"ticket-2")
    # garbage in the store: no session offered, the store is cleared
    s.save(b"not a session")
    rc2 = ResumingContext(_Ctx(None), s)
    rc2.wrap_socket(object(), "localhost")
    eq(rc2.ctx.offered, [None])
    eq(s.load(), None)


class FakeWLAN:
    """Joins on the `succeed_on`-th connect() call, after `polls` isconnected() checks."""

    def __init__(self, succeed_on, polls=2):
        self.succeed_on = succeed_on
        self.polls = polls
        self.calls = 0
        self.checks = 0
        self.up = False
        self.disconnects = 0

    def active(self, flag=None):
        return True

    def connect(self, ssid, password):
        self.calls += 1
        self.checks = 0
        if self.calls == 1 and self.succeed_on > 1:
            raise OSError("Wifi Internal Error")

    def isconnected(self):
        self.checks += 1
        if self.calls >= self.succeed_on and self.checks > self.polls:
            self.up = True
        return self.up

    def disconnect(self):
        self.disconnects += 1

    def status(self, *a):
        return 1

    def ifconfig(self):
        return ("10.0.0.7", "255.255.255.0", "10.0.0.1", "10.0.0.1")


def test_wifi_retries_then_joins():
    from telemetry.wifi import Wifi, join
    logs = []
    w = FakeWLAN(succeed_on=3)
    wifi = Wifi(w, "net", "pw", timeout_ms=30, retries=5, log=logs.append, pause_ms=1)
    check(wifi.connect())
    eq(w.calls, 3)
    check(any("connected 10.0.0.7" in m for m in logs), logs)
    never = Wifi(FakeWLAN(succeed_on=99), "net", "pw", timeout_ms=20, retries=2, log=logs.append, pause_ms=1)
    check(not never.connect())
    eq(never.wlan.calls, 2)
    # ensure() rejoins at most once per 30 s
    never.ensure()
    never.ensure()
    eq(never.wlan.calls, 3)
    eq(join({"wifi": {"ssid": "x"}}, {}), None)  # no network.WLAN on the VM or CPython

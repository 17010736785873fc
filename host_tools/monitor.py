"""Watch device telemetry arrive: subscribe and show the latest reading per device (`mptls monitor`).

    mptls monitor --pki build/pki --port 8883                 # ca.crt + monitor.crt/.key from mptls pki
    mptls monitor --host 127.0.0.1 --port 8883 --cafile ca.crt --cert monitor.crt --key monitor.key \\
                  --topic 'devices/+/telemetry' --seconds 30

It connects with the project's own MQTT client over its own TLS 1.3 client (lib/mqtt, lib/tls13; mutual
TLS when --cert/--key are given), subscribes, and keeps one row per device: the device id is the topic
level matched by the first '+' of the filter. A JSON object payload is shown field by field (nested
objects as a.b), anything else as text. On a terminal the table is redrawn in place (ANSI); when
stdout is not a terminal every message is one plain line instead, which is what logs and CI want.
A lost connection (e.g. a broker restart) is reported and re-established until the time is up.
Ctrl-C stops it cleanly.
"""
import argparse
import json
import os
import shutil
import sys
import time

HELP = "subscribe to device telemetry and show the latest reading per device, live"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _lib_on_path():
    lib = os.path.join(ROOT, "lib")
    if lib not in sys.path:
        sys.path.insert(0, lib)


def device_of(topic, topic_filter):
    """The level of `topic` matched by the first '+' of the filter (else the whole topic)."""
    levels = topic_filter.split("/")
    parts = topic.split("/")
    for i, lv in enumerate(levels):
        if lv == "+" and i < len(parts):
            return parts[i]
        if lv == "#":
            break
    return topic


def fields_of(payload):
    """Ordered (name, text) pairs for a payload: JSON object fields, else one "payload" field."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return [("payload", payload.hex()[:40])]
    try:
        obj = json.loads(text)
    except ValueError:
        return [("payload", text[:60])]
    if not isinstance(obj, dict):
        return [("payload", json.dumps(obj)[:60])]
    out = []

    def walk(prefix, d):
        for k, v in d.items():
            if isinstance(v, dict):
                walk(prefix + k + ".", v)
            else:
                out.append((prefix + k, _fmt(v)))
    walk("", obj)
    return out


def _fmt(v):
    if isinstance(v, float):
        return "%.2f" % v
    if isinstance(v, (list, tuple)):
        return json.dumps(v)[:24]
    return str(v)


class Monitor:
    """One subscriber. `run(seconds, out)` returns {device: row} where a row is a dict with
    "topic", "count", "fields" (the latest payload's (name, text) pairs), "payload" (raw bytes),
    "first" and "last" (time.time() of the first and latest message)."""

    def __init__(self, host="127.0.0.1", port=8883, topic="devices/+/telemetry", cafile=None, cert=None,
                 key=None, server_hostname=None, client_id=None, tls=True, qos=0, keepalive=30, timeout=5):
        self.host = host
        self.port = port
        self.topic = topic
        self.cafile = cafile
        self.cert = cert
        self.key = key
        self.server_hostname = server_hostname or host
        self.client_id = client_id or "mptls-monitor-%d" % os.getpid()
        self.tls = tls
        self.qos = qos
        self.keepalive = keepalive
        self.timeout = timeout
        self.devices = {}
        self.messages = 0
        self.connects = 0
        self.errors = []
        self.version = None
        self._client = None
        self._fresh = []
        self._status = ""
        self._last_error = None

    def _make_client(self):
        _lib_on_path()
        from mqtt.client import MQTTClient
        ctx = None
        if self.tls:
            import tls13
            ctx = tls13.SSLContext(tls13.PROTOCOL_TLS_CLIENT)
            if not self.cafile:
                raise ValueError("--cafile (or --pki) is needed to check the broker's certificate")
            ctx.load_verify_locations(cafile=self.cafile)
            if self.cert:
                ctx.load_cert_chain(self.cert, self.key)
        c = MQTTClient(self.client_id, self.host, self.port, ssl=ctx, server_hostname=self.server_hostname,
                       keepalive=self.keepalive, timeout=self.timeout, max_packet=65536)
        c.set_callback(self._on_message)
        return c

    def _on_message(self, topic, msg):
        t = bytes(topic).decode("utf-8", "replace")
        payload = bytes(msg)
        dev = device_of(t, self.topic)
        now = time.time()
        row = self.devices.get(dev)
        if row is None:
            row = self.devices[dev] = {"topic": t, "count": 0, "first": now}
        row["topic"] = t
        row["count"] += 1
        row["last"] = now
        row["payload"] = payload
        row["fields"] = fields_of(payload)
        self.messages += 1
        self._fresh.append(dev)

    def connect(self):
        if self._client is None:
            self._client = self._make_client()
        c = self._client
        c.connect()
        c.subscribe(self.topic, self.qos)
        self.connects += 1
        sock = getattr(c.sock, "version", None)
        self.version = sock() if sock else "plain"

    def close(self):
        if self._client is not None:
            self._client.disconnect()

    def run(self, seconds=None, out=None, live=None, until=None):
        """Show telemetry for `seconds` (None: until Ctrl-C) on `out` (default stdout); live=True
        redraws a table with ANSI codes (default: when out is a terminal). `until(devices)` returning
        True stops early. Returns self.devices."""
        out = out or sys.stdout
        if live is None:
            live = hasattr(out, "isatty") and out.isatty()
        deadline = None if seconds is None else time.monotonic() + seconds
        self._fresh = []
        if self._client is None:
            self._client = self._make_client()  # bad files or options fail here, not in the retry loop
        backoff = 0.2
        last_draw = 0.0
        dirty = False
        connected = False
        if live:
            out.write("\x1b[H\x1b[2J")
        try:
            while deadline is None or time.monotonic() < deadline:
                if not connected:
                    try:
                        self.connect()
                        connected = True
                        backoff = 0.2
                        self._last_error = None
                        self._say(out, live, "connected to %s:%d (%s), subscribed to %s"
                                  % (self.host, self.port, self.version, self.topic))
                    except Exception as e:
                        self._error(out, live, "connect failed: %s: %s" % (type(e).__name__, e))
                        self._client.close()
                        time.sleep(min(backoff, self._left(deadline)))
                        backoff = min(backoff * 2, 5.0)
                        continue
                try:
                    wait = 0.25 if deadline is None else max(0.0, min(0.25, self._left(deadline)))
                    self._client.wait_msg(wait)
                except Exception as e:
                    connected = False
                    self._error(out, live, "connection lost: %s: %s" % (type(e).__name__, e))
                    continue
                if live:
                    dirty = dirty or bool(self._fresh)
                    since = time.monotonic() - last_draw
                    # New readings show within 0.2 s; the AGE column ticks once a second.
                    if (dirty and since > 0.2) or since > 1.0:
                        self._draw(out)
                        last_draw = time.monotonic()
                        dirty = False
                else:
                    for dev in self._fresh:
                        out.write(self.line(dev) + "\n")
                    out.flush()
                self._fresh = []
                if until is not None and until(self.devices):
                    break
        except KeyboardInterrupt:
            pass
        finally:
            if live:
                self._draw(out)
            if connected:
                self.close()
            elif self._client is not None:
                self._client.close()
        return self.devices

    @staticmethod
    def _left(deadline):
        return 1e9 if deadline is None else max(0.0, deadline - time.monotonic())

    def _say(self, out, live, text):
        if not live:
            out.write("# %s\n" % text)
            out.flush()
        self._status = text

    def _error(self, out, live, text):
        # A broker that stays down fails every retry the same way: say it once per outage.
        if text != self._last_error:
            self._last_error = text
            self.errors.append(text)
            del self.errors[:-50]
            self._say(out, live, text)
        self._status = text

    def line(self, dev):
        row = self.devices[dev]
        f = " ".join("%s=%s" % kv for kv in row["fields"])
        return "%s %-12s #%-4d %s" % (time.strftime("%H:%M:%S", time.localtime(row["last"])), dev,
                                      row["count"], f)

    def table(self, width=None, now=None):
        """The table as lines: DEVICE, MSGS, AGE, then the payload fields (first seen first)."""
        now = time.time() if now is None else now
        width = width or shutil.get_terminal_size((100, 24)).columns
        cols = []
        for dev in sorted(self.devices):
            for name, _ in self.devices[dev]["fields"]:
                if name not in cols:
                    cols.append(name)
        head = ["DEVICE", "MSGS", "AGE"] + cols
        rows = []
        for dev in sorted(self.devices):
            r = self.devices[dev]
            vals = dict(r["fields"])
            rows.append([dev, str(r["count"]), "%.1fs" % max(0.0, now - r["last"])] + [vals.get(c, "")
                                                                                     for c in cols])
        widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(head)]
        lines = []
        for r in [head] + rows:
            s = "  ".join(v.ljust(widths[i]) for i, v in enumerate(r)).rstrip()
            lines.append(s[:width])
        return lines

    def _draw(self, out):
        lines = ["mptls monitor  %s:%d  %s  %d messages" % (self.host, self.port, self.topic, self.messages),
                 self._status, ""] + self.table()
        # Home, draw, clear each line's tail and everything below: no flicker from a full clear.
        out.write("\x1b[H" + "".join(line + "\x1b[K\n" for line in lines) + "\x1b[J")
        out.flush()


def configure(p):
    p.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the examples as laid out
    p.add_argument("--host", default="127.0.0.1", help="broker host (default %(default)s)")
    p.add_argument("--port", type=int, default=8883, help="broker port (default %(default)s)")
    p.add_argument("--topic", default="devices/+/telemetry", help="topic filter (default %(default)s)")
    p.add_argument("--pki", metavar="DIR", help="use DIR/ca.crt, DIR/monitor.crt, DIR/monitor.key (mptls pki)")
    p.add_argument("--cafile", help="CA that issued the broker's certificate")
    p.add_argument("--cert", help="client certificate for mutual TLS")
    p.add_argument("--key", help="client key for mutual TLS (P-256)")
    p.add_argument("--servername", help="name to check in the broker's certificate (default: --host)")
    p.add_argument("--plain", action="store_true", help="plain MQTT without TLS (port 1883 listeners)")
    p.add_argument("--client-id", help="MQTT client id (default mptls-monitor-<pid>)")
    p.add_argument("--qos", type=int, choices=(0, 1), default=0)
    p.add_argument("--seconds", type=float, help="stop after this many seconds (default: run until Ctrl-C)")
    p.add_argument("--plain-lines", action="store_true", help="one line per message even on a terminal")


def run(args):
    cafile, cert, key = args.cafile, args.cert, args.key
    if args.pki:
        cafile = cafile or os.path.join(args.pki, "ca.crt")
        cert = cert or os.path.join(args.pki, "monitor.crt")
        key = key or os.path.join(args.pki, "monitor.key")
    if cert and not key:
        print("mptls monitor: --cert needs --key")
        return 2
    m = Monitor(args.host, args.port, args.topic, cafile, cert, key, args.servername, args.client_id,
                tls=not args.plain, qos=args.qos)
    try:
        devices = m.run(args.seconds, live=False if args.plain_lines else None)
    except (ValueError, OSError) as e:
        print("mptls monitor: %s" % e)
        return 2
    print("# %d messages from %d devices (%s)" % (m.messages, len(devices), ", ".join(sorted(devices)) or "none"))
    return 0 if m.connects else 1

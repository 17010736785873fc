"""Two emulated boards publish telemetry over TLS 1.3 with client certificates (`mptls demo`).

    mptls demo                      # DEMO_SECONDS (default 30) of live telemetry, then everything stops
    make demo                       # the same after `make setup`

What it does, all on loopback and under --workdir (default build/demo):
1. a development PKI (host_tools/pki_cmd.py): a root CA, a broker certificate, a device CA with
   device-001 and device-002, and a `monitor` client certificate;
2. mosquitto with one listener: TLS 1.3 only, client certificate required, the certificate's CN as
   the MQTT user name, an ACL that lets each device write only below devices/<its CN>/;
3. two emulated boards (host_tools/board.py) with the esp32 and pico_w profiles: each one's flash is
   provisioned with the firmware (lib/ compiled for this machine's VM), config.json, ca.crt and its
   own certificate and key, and runs boot.py + main.py under the board's heap budget. The ESP32 deep
   sleeps between readings (the VM restarts, resuming its TLS session from RTC memory); the Pico W
   stays connected;
4. `mptls monitor`'s subscriber, itself over TLS 1.3 with the monitor certificate, shows the latest
   reading per device (a live table on a terminal, one line per message otherwise);
5. after DEMO_SECONDS or Ctrl-C: boards off, broker stopped, a summary; no process is left behind.
"""
import json
import os
import shutil
import signal
import sys
import threading
import time

from host_tools import build, deploy, vm
from host_tools.board import EmulatedBoard
from host_tools.broker import Broker

HELP = "run mosquitto (TLS 1.3 + mTLS) and two emulated boards, show their telemetry live"

BOARDS = (("esp32", "device-001"), ("pico_w", "device-002"))


def make_pki(out):
    try:
        from host_tools import pki_cmd
    except ImportError:
        raise RuntimeError("host_tools/pki_cmd.py is missing")
    return pki_cmd.make_pki(out, devices=[d for _, d in BOARDS],
                            server_names=("localhost", "127.0.0.1"))


def node_config(device, board, port, interval_s):
    with open(deploy.EXAMPLE_CONFIG) as f:
        cfg = json.load(f)
    cfg.update(device_id=device, board=board, interval_s=interval_s, drain_s=5, wifi={})
    cfg["broker"].update(host="127.0.0.1", port=port, server_hostname="localhost", timeout_s=5,
                         keepalive_s=10)
    cfg["backoff_ms"] = [300, 3000]
    return cfg


def provision(workdir, board, device, pki_dir, port, interval_s):
    """The board's flash, as `mptls deploy` would leave it (fresh: no outbox or session yet)."""
    bdir = os.path.join(workdir, "board-%s" % board)
    fs = os.path.join(bdir, "fs")
    shutil.rmtree(fs, ignore_errors=True)
    os.makedirs(fs)
    cfg_path = os.path.join(bdir, "config.json")
    with open(cfg_path, "w") as f:
        json.dump(node_config(device, board, port, interval_s), f, indent=1)
    out, _ = build.build(board, "host")
    files = deploy.plan(out, cfg_path, None, deploy.credentials(pki_dir, device))
    deploy.provision_dir(fs, files)
    return fs


class _Seen:
    """What the boards' consoles said (NODE lines), for the summary."""

    def __init__(self, out, echo):
        self.out = out
        self.echo = echo
        self.lock = threading.Lock()
        self.connects = {}
        self.errors = {}

    def listener(self, device):
        def on_line(line):
            with self.lock:
                if line.startswith("NODE connected"):
                    self.connects.setdefault(device, []).append(line)
                elif "Error" in line or "Traceback" in line:
                    self.errors.setdefault(device, []).append(line)
            if self.echo and (line.startswith("NODE connected") or line.startswith("[board")):
                self.out.write("# %s: %s\n" % (device, line[5:] if line.startswith("NODE ") else line))
                self.out.flush()
        return on_line


def _fields(line):
    return dict(kv.split("=", 1) for kv in line.split()[2:] if "=" in kv)


def summary(mon, seen, boards, broker, seconds, out):
    ok = True
    out.write("\ndemo summary (%.0f s, broker 127.0.0.1:%d, TLS 1.3 only, client certificate required)\n"
              % (seconds, broker.port))
    for board, device in BOARDS:
        row = mon.devices.get(device)
        conns = seen.connects.get(device, [])
        f = _fields(conns[0]) if conns else {}
        resumed = sum(1 for c in conns if _fields(c).get("resumed") == "1")
        seqs = "none"
        if row:
            try:
                seqs = "last seq %s" % json.loads(row["payload"]).get("seq")
            except ValueError:
                pass
        out.write("  %-10s %-7s %3d readings received (%s); %d connections over %s %s, mtls=%s, %d resumed\n"
                  % (device, board, row["count"] if row else 0, seqs, len(conns), f.get("tls", "-"),
                     f.get("suite", "-"), f.get("mtls", "-"), resumed))
        for e in seen.errors.get(device, [])[:3]:
            out.write("      console: %s\n" % e)
        if not row or not conns:
            ok = False
    out.write("  monitor: %s with the monitor certificate, %d messages\n" % (mon.version or "-", mon.messages))
    out.write("  logs: %s\n" % os.path.dirname(broker.log_path).rsplit(os.sep, 1)[0])
    out.write("demo %s\n" % ("OK: telemetry from both boards over TLS 1.3 with mTLS" if ok else "FAILED"))
    out.flush()
    return ok


def run_demo(seconds, workdir, interval_s=2.0, out=sys.stdout, live=None):
    from host_tools.monitor import Monitor
    workdir = os.path.abspath(workdir)
    os.makedirs(workdir, exist_ok=True)
    if live is None:
        live = hasattr(out, "isatty") and out.isatty()
    out.write("# workdir %s\n" % workdir)
    pki = make_pki(os.path.join(workdir, "pki"))
    broker = Broker(pki, os.path.join(workdir, "broker"))
    boards = []
    seen = _Seen(out, echo=not live)
    mon = None
    t0 = time.monotonic()
    try:
        broker.start()
        out.write("# mosquitto on 127.0.0.1:%d (TLS 1.3, mTLS)\n" % broker.port)
        for board, device in BOARDS:
            fs = provision(workdir, board, device, os.path.dirname(pki["ca.crt"]), broker.port, interval_s)
            b = EmulatedBoard(board, fs, log_path=os.path.join(workdir, "board-%s" % board, "console.log"),
                              on_line=seen.listener(device))
            boards.append(b)
            out.write("# %s: emulated %s, heap %d KB (%d KB board budget + frozen modules)\n"
                      % (device, board, b.heap_kb, b.profile["heap_kb"]))
        out.flush()
        mon = Monitor("127.0.0.1", broker.port, "devices/+/telemetry", pki["ca.crt"], pki["monitor.crt"],
                      pki["monitor.key"], "localhost", "mptls-demo-monitor")
        started = []

        def start_boards(_devices):
            if not started:  # once the monitor is subscribed: no reading goes unseen
                started.append(time.monotonic())
                for b in boards:
                    b.start()
            return False

        mon.run(seconds, out, live=live, until=start_boards)
    finally:
        for b in boards:
            b.stop()
        broker.stop()
    if mon is None:
        return False
    return summary(mon, seen, boards, broker, time.monotonic() - t0, out)


def configure(p):
    p.add_argument("--seconds", type=float, default=float(os.environ.get("DEMO_SECONDS", 30)),
                   help="how long the boards run (default $DEMO_SECONDS or 30)")
    p.add_argument("--workdir", default=os.path.join(vm.ROOT, "build", "demo"),
                   help="PKI, broker, boards' flash and logs (default build/demo)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between readings (default 2)")


def _terminate(*_):
    raise KeyboardInterrupt


def run(args):
    old = signal.signal(signal.SIGTERM, _terminate)  # `kill` cleans up like Ctrl-C does
    try:
        ok = run_demo(args.seconds, args.workdir, args.interval)
    except KeyboardInterrupt:
        print("\ndemo interrupted; everything stopped")
        return 130
    except RuntimeError as e:
        print("mptls demo: %s" % e)
        return 2
    finally:
        signal.signal(signal.SIGTERM, old)
    return 0 if ok else 1

"""`make bench`: the project's figures beside their anchors, measured in one run on loopback.

    .venv/bin/python host_tools/bench.py [--rounds 3] [--quick] [--only tls,phases,...] [--out build/bench]

Starts what it needs (openssl s_server with the test PKI's ECDSA P-256 certificate, mosquitto with
TLS 1.3, mTLS and TLS 1.2 listeners), runs every figure --rounds times and writes into --out:

    results.json         one key per figure: median, min, max, quartiles, spread, samples, unit, and
                         the key of its anchor with the ratio to it
    results.md           the same as Markdown tables (what the README's benchmark section shows)
    handshake_heap.png   heap over the phases of one handshake on the VM (16 KB records and MFL 2048)

Sections (--only): tls (handshakes, connection heap), phases (the plot), minheap (smallest -X heapsize
by bisection), footprint (.mpy import heap and flash per package), mqtt (QoS 1 publishes/s), records
(record-layer throughput per suite and crypto backend). Not a test: numbers only.

The VM runs lib/ as .mpy compiled by mpy-cross, like a board would load it. Unless a figure says
otherwise its heap is a board's: the ESP32 profile's free heap plus the resident size of the modules a
board keeps frozen in flash (see host_tools/vm.py), so the collector runs about as often as it would
there. The VM is a 64-bit x86 process: see the README for what that means on a 32-bit board.
"""
import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HELP = "the benchmark suite: every figure beside its anchor -> build/bench/ (what `make bench` runs)"

# The test bench's harness (peers, PKI, mosquitto, the VM), imported by _load_harness() when a run
# starts, so `mptls --help` does not pay for it.
bench_tls = H = peers = pki_mod = vmbench = None


def _load_harness():
    global bench_tls, H, peers, pki_mod, vmbench
    for p in (os.path.join(ROOT, "tests"), os.path.join(ROOT, "tests", "device"), HERE):
        if p not in sys.path:
            sys.path.insert(0, p)
    import bench_tls as _bench_tls
    import mqtt_harness as _H
    import peers as _peers
    import pki as _pki
    import vmbench as _vmbench
    bench_tls, H, peers, pki_mod, vmbench = _bench_tls, _H, _peers, _pki, _vmbench


SECTIONS = ("tls", "phases", "minheap", "footprint", "mqtt", "records")
BENCH_MPY = os.path.join(ROOT, "build", "bench", "mpy")
# Footprint groups, imported in this order (dependencies first). The asyncio adapters are a group of their
# own: they pull in asyncio, which the ESP32 and RP2040 firmware already has frozen.
ASYNC_ADAPTERS = ("tls13.aio", "mqtt.aclient")
PACKAGES = ("tls13.crypto", "tls13.x509", "tls13", "mqtt", "telemetry", "asyncio adapters")


# ---- results -------------------------------------------------------------------------------------------

def _quartiles(xs):
    if len(xs) < 4:
        return xs[0], xs[-1]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


class Results:
    def __init__(self):
        self.figures = {}
        self.order = []

    def add(self, key, samples, unit, label, runtime, anchor=None, note=None, better="lower", hidden=False):
        """Samples of one figure (appended to, if the key exists: rounds accumulate)."""
        f = self.figures.get(key)
        if f is None:
            f = self.figures[key] = {"label": label, "runtime": runtime, "unit": unit, "samples": [],
                                     "better": better}
            self.order.append(key)
        f["samples"].extend(samples)
        if anchor:
            f["anchor"] = anchor
        if note:
            f["note"] = note
        if hidden:
            f["hidden"] = True  # in results.json only

    def summarize(self):
        for key in self.order:
            f = self.figures[key]
            xs = sorted(f["samples"])
            if not xs:
                continue
            med = statistics.median(xs)
            q1, q3 = _quartiles(xs)
            f.update(median=_r(med), min=_r(xs[0]), max=_r(xs[-1]), q1=_r(q1), q3=_r(q3), n=len(xs),
                     spread_pct=_r(100.0 * (xs[-1] - xs[0]) / med) if med else 0.0)
        for key in self.order:
            f = self.figures[key]
            a = self.figures.get(f.get("anchor"))
            if a and a.get("median"):
                f["ratio_to_anchor"] = _r(f["median"] / a["median"], 3)

    def get(self, key):
        return self.figures.get(key)


def _r(x, nd=2):
    return round(float(x), nd)


def _say(msg):
    print(msg, flush=True)


# ---- the VM --------------------------------------------------------------------------------------------

def board_heap_kb():
    """The ESP32 profile's heap plus the resident size of the frozen TLS stack (as tests with STACK=True)."""
    return vmbench.default_heap_kb() + vmbench.stack_resident_kb()


def build_bench_mpy(umqtt_dir=None):
    """The device scripts (and umqtt.simple) as .mpy, so the VM does not compile them in the measured heap."""
    vmbench.build_mpy()
    tool = vmbench.mpy_cross_bin()
    os.makedirs(os.path.join(BENCH_MPY, "umqtt"), exist_ok=True)
    srcs = [(os.path.join(HERE, "bench_minheap_device.py"), os.path.join(BENCH_MPY, "bench_minheap_device.mpy")),
            (os.path.join(HERE, "bench_footprint_device.py"), os.path.join(BENCH_MPY, "bench_footprint_device.mpy"))]
    if umqtt_dir:
        srcs.append((os.path.join(umqtt_dir, "umqtt", "simple.py"), os.path.join(BENCH_MPY, "umqtt", "simple.mpy")))
    for src, dst in srcs:
        if not os.path.exists(dst) or os.path.getmtime(dst) < os.path.getmtime(src):
            subprocess.run([tool, "-march=" + vmbench.vm_march(), "-o", dst, src], check=True)


def vm_module(module, args, heap_kb, timeout=120, preload=None):
    """`micropython -X heapsize=<heap_kb>k -m <module> args` with lib/ and the bench scripts as .mpy."""
    env = vmbench.vm_env()
    env["MICROPYPATH"] = ":".join([".frozen", vmbench.MPY_DIR, BENCH_MPY])
    if preload:
        env["LD_PRELOAD"] = preload
    cmd = [vmbench.micropython_bin(), "-X", "heapsize=%dk" % heap_kb, "-m", module] + [str(a) for a in args]
    try:
        p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return -1, (e.stdout or b"").decode("utf-8", "replace") + "\n[timeout]"
    return p.returncode, p.stdout.decode("utf-8", "replace")


def vm_script(script, args, heap_kb, timeout=300):
    cmd = [vmbench.micropython_bin(), "-X", "heapsize=%dk" % heap_kb, os.path.join(HERE, script)] + [str(a) for a in args]
    p = subprocess.run(cmd, cwd=ROOT, env=vmbench.vm_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def cpython_script(script, args, timeout=600):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "lib"))
    p = subprocess.run([sys.executable, os.path.join(HERE, script)] + [str(a) for a in args], cwd=ROOT, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def json_lines(out):
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


# ---- tls: handshakes and connection heap ---------------------------------------------------------------

def tlslite_handshakes(port, n):
    """tlslite-ng (pure Python, TLS 1.3, x25519 only, no certificate checks at all) on CPython."""
    from tlslite.api import HandshakeSettings, TLSConnection
    st = HandshakeSettings()
    st.maxVersion = (3, 4)
    st.keyShares = ["x25519"]
    out = []
    info = None
    for i in range(n + 1):
        t0 = time.perf_counter()
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = TLSConnection(s)
        c.handshakeClientCert(settings=st, serverName="localhost")
        c.write(b"ping\n")
        got = b""
        while not got.endswith(b"\n"):
            chunk = c.read(max=16)
            if not chunk:
                break
            got += chunk
        dt = (time.perf_counter() - t0) * 1000
        info = "TLS %d.%d %s" % (c.version[0] - 2, c.version[1] - 1, c.getCipherName())
        c.close()
        if i:  # the first one is a warm-up, as for the other clients
            out.append(dt)
    return out, info


def section_tls(res, rounds, n, paths):
    heap_kb = board_heap_kb()
    with peers.Peer("bench-openssl", bench_tls.server_argv(paths)) as srv:
        for r in range(rounds):
            _say("tls: round %d/%d" % (r + 1, rounds))
            vm = bench_tls.run_device(srv.port, paths["ca"], n, heap_kb, "vm")
            anchor = "tls.vm.builtin_ssl_tls12_full_ms"
            res.add(anchor, vm["builtin_ssl_tls12_full_ms"]["samples_ms"], "ms",
                    "MicroPython built-in ssl (Mbed TLS), TLS 1.2 full handshake, chain + host name checked",
                    "vm")
            res.add("tls.vm.full_handshake_ms", vm["full_handshake_ms"]["samples_ms"], "ms",
                    "full handshake (x25519, ECDSA P-256 server, chain + host name checked)", "vm", anchor)
            res.add("tls.vm.resumed_psk_dhe_ke_ms", vm["resumed_psk_dhe_ke_ms"]["samples_ms"], "ms",
                    "resumed handshake, psk_dhe_ke (x25519)", "vm", anchor)
            res.add("tls.vm.resumed_psk_ke_ms", vm["resumed_psk_ke_ms"]["samples_ms"], "ms",
                    "resumed handshake, psk_ke (no key exchange)", "vm", anchor)
            res.add("tls.vm.connection_heap_16k_bytes", [vm["connection_heap_16k_records"]["bytes"]], "B",
                    "heap a connection holds (ClientHello to first app byte), 16 KB records", "vm")
            res.add("tls.vm.connection_heap_mfl2048_bytes", [vm["connection_heap_mfl2048"]["bytes"]], "B",
                    "heap a connection holds, max_fragment_length 2048 agreed", "vm",
                    "tls.vm.connection_heap_16k_bytes")
            res.add("tls.vm.ecdsa_p256_sign_ms", vm["ecdsa_p256_sign_ms"]["samples_ms"], "ms",
                    "ECDSA P-256 signature (mTLS CertificateVerify)", "vm")
            cp = bench_tls.run_device(srv.port, paths["ca"], n, heap_kb, "cpython")
            samples, info = tlslite_handshakes(srv.port, n)
            anchor = "tls.cpython.tlslite_ng_full_ms"
            res.add(anchor, samples, "ms", "tlslite-ng 0.8.2 full handshake (%s; checks no chain)" % info,
                    "cpython")
            res.add("tls.cpython.full_handshake_ms", cp["full_handshake_ms"]["samples_ms"], "ms",
                    "full handshake (x25519, ECDSA P-256 server, chain + host name checked)", "cpython", anchor)
            res.add("tls.cpython.resumed_psk_dhe_ke_ms", cp["resumed_psk_dhe_ke_ms"]["samples_ms"], "ms",
                    "resumed handshake, psk_dhe_ke", "cpython", anchor)
            res.add("tls.cpython.ecdsa_p256_sign_ms", cp["ecdsa_p256_sign_ms"]["samples_ms"], "ms",
                    "ECDSA P-256 signature", "cpython")
    return {"tls_vm_heap_kb": heap_kb}


# ---- phases: heap over a handshake, and the plot -------------------------------------------------------

PHASE_HEAP_KB = 16384  # the collector is paused inside each phase to count its garbage: X25519 makes ~1.5 MB


def section_phases(res, rounds, paths, out_dir):
    runs = {}
    with peers.Peer("bench-openssl", bench_tls.server_argv(paths)) as srv:
        for mfl in (0, 2048):
            rc, out = vm_script("bench_phases_device.py", [srv.port, paths["ca"], mfl, rounds], PHASE_HEAP_KB)
            if rc:
                raise RuntimeError("phases on the VM failed:\n" + out)
            runs[mfl] = [d["phases"] for d in json_lines(out)]
    tag = {0: "16k", 2048: "mfl2048"}
    table = []
    for mfl, rs in runs.items():
        names = [p[0] for p in rs[0]]
        for i, name in enumerate(names):
            live = [r[i][1] for r in rs if len(r) > i and r[i][0] == name]
            churn = [max(0, r[i][2]) for r in rs if len(r) > i and r[i][0] == name]
            base = "phases.vm.%s.%02d" % (tag[mfl], i)
            res.add(base + ".live_bytes", live, "B", "live heap after: " + name, "vm")
            res.add(base + ".churn_bytes", churn, "B", "allocated during: " + name, "vm")
        table.append([tag[mfl], names])
    return {"phases_heap_kb": PHASE_HEAP_KB, "phases": table}


def plot_phases(res, table, png):
    """The two-panel PNG from summarized phase figures; False when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        _say("phases: matplotlib is missing (make bench installs requirements-bench.txt); no plot")
        return False
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 8), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    names = table[0][1]
    xs = list(range(len(names)))
    for tag, nm in table:
        ys = [res.get("phases.vm.%s.%02d.live_bytes" % (tag, i))["median"] / 1024 for i in range(len(nm))]
        ax1.step(xs[:len(ys)], ys, where="post", marker="o",
                 label="16 KB records" if tag == "16k" else "max_fragment_length 2048")
        for x, y in zip(xs, ys):
            ax1.annotate("%.1f" % y, (x, y), textcoords="offset points", xytext=(0, 6), fontsize=7, ha="center")
    ax1.set_ylabel("heap held by the connection (KB)")
    ax1.set_title("TLS 1.3 handshake on the MicroPython VM (64-bit): heap after each phase")
    ax1.grid(alpha=0.3)
    ax1.legend(loc="upper left")
    churn = [res.get("phases.vm.16k.%02d.churn_bytes" % i)["median"] / 1024 for i in range(len(names))]
    ax2.bar(xs, [max(c, 0.01) for c in churn], color="tab:gray")
    ax2.set_yscale("log")
    ax2.set_ylabel("allocated in the phase (KB, log)")
    ax2.grid(alpha=0.3, axis="y")
    ax2.set_xticks(xs)
    ax2.set_xticklabels([n.split(":")[0] for n in names], rotation=30, ha="right", fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return True


# ---- minheap: bisection of -X heapsize ------------------------------------------------------------------

def _works(client, port, paths, heap_kb, certs, preload=None):
    args = [client, port, paths["ca"]] + (certs if client == "ours-mtls" else [])
    rc, out = vm_module("bench_minheap_device", args, heap_kb, timeout=60, preload=preload)
    return rc == 0 and "MINHEAP-OK" in out, out


def malloc_meter():
    """host_tools/malloc_meter.c built into build/bench (None without a C compiler)."""
    src = os.path.join(HERE, "malloc_meter.c")
    so = os.path.join(ROOT, "build", "bench", "malloc_meter.so")
    if os.path.exists(so) and os.path.getmtime(so) >= os.path.getmtime(src):
        return so
    import shutil
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None
    os.makedirs(os.path.dirname(so), exist_ok=True)
    p = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", so, src, "-ldl"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if p.returncode:
        _say("minheap: could not build malloc_meter.so:\n" + p.stdout.decode())
        return None
    return so


def resident_bytes(modules):
    """Heap the given modules take once imported from .mpy on the VM (what freezing them would save)."""
    rc, out = vm_module("bench_footprint_device", ["+all"] + list(modules), 4096)
    d = json_lines(out)
    if rc or not d:
        raise RuntimeError("resident probe failed:\n" + out)
    return d[0]["bytes"]


def bisect_heap(client, port, paths, certs, lo, hi):
    """Smallest heap (KB) at which the client works, lo known (or assumed) to fail, hi to work."""
    while True:
        ok, out = _works(client, port, paths, hi, certs)
        if ok:
            break
        # The threshold moves by a few KB from run to run (random keys, where the heap fragments):
        # a later round's guess may be just under it.
        if hi >= 1024:
            raise RuntimeError("%s does not work even with %d KB:\n%s" % (client, hi, out[-3000:]))
        lo, hi = hi, hi + 32
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _works(client, port, paths, mid, certs)[0]:
            hi = mid
        else:
            lo = mid
    return hi


def section_minheap(res, rounds, paths, broker, umqtt_dir):
    build_bench_mpy(umqtt_dir)
    certs = [paths["device-001.crt"], paths["device-001.key"]]
    clients = [
        ("umqtt-builtin", broker.tls12_port, "umqtt.simple 1.3.4 over built-in ssl (Mbed TLS, TLS 1.2), CERT_REQUIRED"),
        ("ours", broker.tls_port, "tls13 + mqtt.client, 16 KB records"),
        ("ours-mfl2048", broker.tls_port, "tls13 + mqtt.client, max_fragment_length 2048"),
        ("ours-mtls", broker.mtls_port, "tls13 + mqtt.client, 16 KB records, mTLS (P-256 client cert)"),
    ]
    meter = malloc_meter()
    anchor = anchor_frozen = None
    for client, port, label in clients:
        found = []
        for r in range(rounds):
            if found:  # later rounds search near the first answer (still checked at both ends)
                lo, hi = max(8, found[0] - 12), found[0] + 12
                if _works(client, port, paths, lo, certs)[0]:
                    lo = 8
            else:
                lo, hi = 8, 512
            found.append(bisect_heap(client, port, paths, certs, lo, hi))
            _say("minheap: %-14s round %d/%d: %d KB" % (client, r + 1, rounds, found[-1]))
        # One more run with room to spare: which modules it imported, and (malloc_meter) the C heap.
        ok, out = _works(client, port, paths, max(found) + 32, certs, preload=meter)
        if not ok:
            raise RuntimeError("%s failed at %d KB:\n%s" % (client, max(found) + 32, out[-3000:]))
        mods = [x for x in out.split("MODULES ", 1)[1].splitlines()[0].split()]
        code = resident_bytes(mods)
        c_peak = 0
        if "C-HEAP " in out:
            c_peak, c_held = [int(x) for x in out.split("C-HEAP ", 1)[1].split()[:2]]
        elif client == "umqtt-builtin":
            _say("minheap: no C compiler for malloc_meter: Mbed TLS's C heap is not counted")
        c_kb = c_peak / 1024.0
        key = "minheap.vm.%s" % client
        desc = label
        if client == "umqtt-builtin":
            res.add(key + "_kb", found, "KB", desc + ": MicroPython heap only", "vm")
            res.add(key + "_c_heap_peak_kb", [c_kb], "KB",
                    "C heap Mbed TLS takes during that connection (outside -X heapsize on unix; from the "
                    "MicroPython heap on RP2040)", "vm")
            anchor = key + "_total_kb"
            res.add(anchor, [f + c_kb for f in found], "KB",
                    "umqtt.simple + built-in ssl: MicroPython heap + Mbed TLS C heap", "vm")
            anchor_frozen = key + "_frozen_total_kb"
            res.add(anchor_frozen, [f - code / 1024.0 + c_kb for f in found], "KB",
                    "umqtt.simple + built-in ssl, umqtt frozen: heap for data + Mbed TLS C heap", "vm")
        else:
            res.add(key + "_kb", found, "KB", desc, "vm", anchor)
            res.add(key + "_frozen_kb", [f - code / 1024.0 for f in found], "KB",
                    "the same, modules frozen in flash (estimate: minus their %.0f KB resident on the VM)" % (
                        code / 1024.0), "vm", anchor_frozen)
            if c_peak > 1024:
                _say("minheap: %s used %d bytes of C heap: unexpected" % (client, c_peak))
        res.add(key + "_code_resident_kb", [code / 1024.0], "KB",
                "heap the modules it imported take (%d modules)" % len(mods), "vm", hidden=True)


# ---- footprint: import heap and flash per package --------------------------------------------------------

def package_modules(pkg):
    """Module names of a footprint group: a package's own files (not its subpackages'), from lib/."""
    if pkg == "asyncio adapters":
        return list(ASYNC_ADAPTERS)
    d = os.path.join(ROOT, "lib", *pkg.split("."))
    mods = []
    for name in sorted(os.listdir(d)):
        if name == "__init__.py":
            mods.insert(0, pkg)
        elif name.endswith(".py") and pkg + "." + name[:-3] not in ASYNC_ADAPTERS:
            mods.append(pkg + "." + name[:-3])
    return mods


def _mpy_sizes(mpy_root, pkg):
    files = []
    for m in package_modules(pkg):
        parts = m.split(".")
        f = os.path.join(mpy_root, *parts) + ".mpy"
        if not os.path.exists(f):
            f = os.path.join(mpy_root, *parts, "__init__.mpy")
        files.append(f)
    return len(files), sum(os.path.getsize(f) for f in files)


def section_footprint(res, paths):
    build_bench_mpy()
    from host_tools import build as board_build
    flash_roots = {"vm-x64": vmbench.MPY_DIR}
    for board in ("esp32", "pico_w"):
        out, _ = board_build.build(board, out=os.path.join(ROOT, "build", "bench", "flash-" + board))
        flash_roots[board] = os.path.join(out, "lib")
    args = []
    for pkg in PACKAGES:
        if pkg == "asyncio adapters":
            args += ["+asyncio", "asyncio"]
        args += ["+" + pkg] + package_modules(pkg)
    rc, out = vm_module("bench_footprint_device", args, 4096)
    heaps = {d["package"]: d for d in json_lines(out)}
    if rc or len(heaps) != len(PACKAGES) + 1:
        raise RuntimeError("footprint probe failed:\n" + out)
    res.add("footprint.vm.asyncio.import_heap_bytes", [heaps["asyncio"]["bytes"]], "B",
            "heap asyncio takes on the VM (frozen in the firmware on boards: not counted below)", "vm")
    meta = {"asyncio_import_heap": heaps["asyncio"]["bytes"]}
    rows = []
    for pkg in PACKAGES:
        row = {"package": pkg, "modules": len(package_modules(pkg)), "import_heap": heaps[pkg]["bytes"]}
        res.add("footprint.vm.%s.import_heap_bytes" % pkg, [heaps[pkg]["bytes"]], "B",
                "heap %s's modules add once imported from .mpy" % pkg, "vm")
        for where, root in flash_roots.items():
            nfiles, size = _mpy_sizes(root, pkg)
            row[where] = size
            res.add("footprint.%s.%s.flash_bytes" % (where, pkg), [size], "B",
                    "%s .mpy files on flash (%d files)" % (pkg, nfiles), where)
        rows.append(row)
    meta["footprint_rows"] = rows
    return meta


# ---- mqtt: QoS 1 publishes per second ---------------------------------------------------------------------

def section_mqtt(res, rounds, count, paths, broker, umqtt_dir):
    runs = [
        ("mqtt.vm.umqtt_builtin_nodelay_per_s", "umqtt_simple",
         dict(umqtt_dir=umqtt_dir, builtin_ssl=True, nodelay=True, port=broker.tls12_port, topic="test/bench"),
         "umqtt.simple 1.3.4 over built-in ssl (TLS 1.2), sockets given TCP_NODELAY", None, count),
        ("mqtt.vm.umqtt_builtin_per_s", "umqtt_simple",
         dict(umqtt_dir=umqtt_dir, builtin_ssl=True, port=broker.tls12_port, topic="test/bench"),
         "umqtt.simple 1.3.4 over built-in ssl (TLS 1.2) as shipped (Nagle on)", None, max(20, count // 10)),
        ("mqtt.vm.ours_sync_per_s", "bench_publish",
         dict(mode="sync", suites="TLS_AES_128_GCM_SHA256", port=broker.tls_port),
         "tls13 + mqtt.client, waiting for each PUBACK (AES-128-GCM)", "mqtt.vm.umqtt_builtin_nodelay_per_s", count),
        ("mqtt.vm.ours_window16_per_s", "bench_publish",
         dict(mode="window", suites="TLS_AES_128_GCM_SHA256", port=broker.tls_port),
         "tls13 + mqtt.robust, 16 unacknowledged in flight (RAM outbox)", "mqtt.vm.umqtt_builtin_nodelay_per_s",
         count),
        ("mqtt.vm.umqtt_over_tls13_per_s", "umqtt_simple",
         dict(umqtt_dir=umqtt_dir, nodelay=True, port=broker.tls_port, topic="test/bench"),
         "umqtt.simple 1.3.4 unmodified over tls13 (TLS 1.3), TCP_NODELAY", "mqtt.vm.umqtt_builtin_nodelay_per_s",
         count),
    ]
    for r in range(rounds):
        _say("mqtt: round %d/%d" % (r + 1, rounds))
        for key, fn, kw, label, anchor, n in runs:
            out = H.call("vm", "mqtt_scenarios", fn, timeout=300, **dict(kw, count=n, cafile=paths["ca"]))
            res.add(key, [out["per_s"]], "msg/s", label, "vm", anchor, better="higher")


# ---- records: throughput per suite and backend --------------------------------------------------------------

RECORD_HEAP_KB = 256  # two 16 KB record buffers and the plaintext in one heap: the speed, not the memory


def section_records(res, rounds, seconds):
    for runtime in ("vm", "cpython"):
        for r in range(rounds):
            _say("records: %s round %d/%d" % (runtime, r + 1, rounds))
            if runtime == "vm":
                rc, out = vm_script("bench_records_device.py", [seconds, 2048, 16384], RECORD_HEAP_KB)
            else:
                rc, out = cpython_script("bench_records_device.py", [seconds, 2048, 16384])
            if rc:
                raise RuntimeError("record benchmark failed on %s:\n%s" % (runtime, out))
            for d in json_lines(out):
                key = "records.%s.%s.%s.%d" % (runtime, d["suite"], d["backend"].replace(" ", "_").replace(",", ""),
                                               d["size"])
                res.add(key, d["samples_mbps"], "MB/s", "%s [%s] %d-byte records, seal + open" % (
                    d["suite"], d["backend"], d["size"]), runtime, better="higher")


# ---- report ---------------------------------------------------------------------------------------------------

def _fmt(f):
    if f is None or "median" not in f:
        return "–"
    u = f["unit"]
    if u == "B":
        if f["min"] == f["max"]:
            return "%.1f KB" % (f["median"] / 1024)
        return "%.1f KB (%.1f–%.1f)" % (f["median"] / 1024, f["min"] / 1024, f["max"] / 1024)
    nd = 2 if f["median"] < 10 else (1 if f["median"] < 100 else 0)
    v = "%.*f %s" % (nd, f["median"], u)
    if f["n"] > 1 and f["min"] != f["max"]:
        v += " (%.*f–%.*f)" % (nd, f["min"], nd, f["max"])
    return v


def markdown(res, meta):
    L = []
    F = res.figures
    L.append("Machine: %s; MicroPython VM %s (64-bit); CPython %s; %d rounds; %s." % (
        meta["machine"], meta["vm_version"], meta["cpython"], meta["rounds"], meta["date"]))
    L.append("Cells: median (min–max) over all samples of all rounds.")
    groups = (("tls.", "Handshakes (each includes TCP connect and one echoed line) and the heap a connection holds"),
              ("minheap.", "Smallest heap for import (.mpy) + TLS handshake + MQTT CONNECT + one QoS 1 publish "
                           "(bisection of `-X heapsize`, 1 KB steps)"),
              ("mqtt.", "MQTT: QoS 1 publishes per second over one connection, 100-byte payloads, mosquitto"))
    for prefix, title in groups:
        keys = [k for k in res.order if k.startswith(prefix) and "median" in F[k] and not F[k].get("hidden")]
        if not keys:
            continue
        L.append("")
        L.append(title + ":")
        L.append("")
        L.append("| figure | runtime | ours | anchor | anchor value | ours / anchor |")
        L.append("|---|---|---|---|---|---|")
        for key in keys:
            f = F[key]
            a = F.get(f.get("anchor"))
            is_anchor = any(F[k].get("anchor") == key for k in res.order)
            if is_anchor and not f.get("anchor"):
                continue  # shown beside the figures that refer to it
            L.append("| %s | %s | %s | %s | %s | %s |" % (
                f["label"], f["runtime"], _fmt(f), a["label"] if a else "–", _fmt(a) if a else "–",
                "%.2f" % f["ratio_to_anchor"] if "ratio_to_anchor" in f else "–"))
    rows = meta.get("footprint_rows")
    if rows:
        L.append("")
        L.append("Import footprint and flash, per package (.mpy; import heap measured on the VM in dependency "
                 "order, so each row is what that package adds; asyncio itself, %.1f KB on the VM, is frozen in "
                 "the boards' firmware and not counted):" % (meta.get("asyncio_import_heap", 0) / 1024))
        L.append("")
        L.append("| package | modules | import heap (VM) | flash x64 (VM) | flash ESP32 (xtensawin) | "
                 "flash Pico W (armv6m) |")
        L.append("|---|---:|---:|---:|---:|---:|")
        tot = {"import_heap": 0, "vm-x64": 0, "esp32": 0, "pico_w": 0, "modules": 0}
        for r in rows:
            L.append("| %s | %d | %.1f KB | %.1f KB | %.1f KB | %.1f KB |" % (
                r["package"], r["modules"], r["import_heap"] / 1024, r["vm-x64"] / 1024, r["esp32"] / 1024,
                r["pico_w"] / 1024))
            for k in tot:
                tot[k] += r[k]
        L.append("| all | %d | %.1f KB | %.1f KB | %.1f KB | %.1f KB |" % (
            tot["modules"], tot["import_heap"] / 1024, tot["vm-x64"] / 1024, tot["esp32"] / 1024,
            tot["pico_w"] / 1024))
    rec = [k for k in res.order if k.startswith("records.") and "median" in F[k]]
    if rec:
        L.append("")
        L.append("Record layer, seal + open in memory (MB/s of application data):")
        L.append("")
        L.append("| suite | backend | runtime | 2 KB records | 16 KB records |")
        L.append("|---|---|---|---:|---:|")
        seen = []
        for k in rec:
            base = k.rsplit(".", 1)[0]
            if base not in seen:
                seen.append(base)
        for base in seen:
            f2, f16 = F.get(base + ".2048"), F.get(base + ".16384")
            f = f2 or f16
            suite, backend = f["label"].split(" [", 1)
            backend = backend.split("]", 1)[0]
            L.append("| %s | %s | %s | %s | %s |" % (suite, backend, f["runtime"], _fmt(f2), _fmt(f16)))
    ph = [k for k in res.order if k.startswith("phases.vm.16k.") and k.endswith(".live_bytes")]
    if ph:
        L.append("")
        L.append("Heap over one handshake on the VM (%s): live = held after the phase, relative to before the "
                 "context; allocated = everything the phase allocated (the garbage the collector must absorb)." %
                 meta.get("phases_png", "handshake_heap.png"))
        L.append("")
        L.append("| phase | live, 16 KB records | live, MFL 2048 | allocated in the phase |")
        L.append("|---|---:|---:|---:|")
        for k in ph:
            f = F[k]
            m = F.get(k.replace(".16k.", ".mfl2048."))
            c = F.get(k.replace(".live_bytes", ".churn_bytes"))
            L.append("| %s | %.1f KB | %s | %.1f KB |" % (f["label"][len("live heap after: "):], f["median"] / 1024,
                                                          "%.1f KB" % (m["median"] / 1024) if m else "–",
                                                          c["median"] / 1024))
    return "\n".join(L) + "\n"


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _vm_version():
    try:
        return subprocess.run([vmbench.micropython_bin(), "-c", "import sys; print(sys.version.split('; ')[-1])"],
                              stdout=subprocess.PIPE, timeout=30).stdout.decode().strip()
    except Exception as e:  # noqa: BLE001 - only a label in the report
        return "unknown (%s)" % e


def report_only(out):
    with open(os.path.join(out, "results.json")) as f:
        doc = json.load(f)
    res = Results()
    res.figures = doc["figures"]
    res.order = list(doc["figures"])
    meta = doc["meta"]
    if meta.get("phases"):
        png = os.path.join(out, "handshake_heap.png")
        if plot_phases(res, meta["phases"], png):
            meta["phases_png"] = os.path.relpath(png, ROOT)
    md = markdown(res, meta)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(md)
    print(md)
    return 0


def configure(ap):
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer samples per round (noisier)")
    ap.add_argument("--only", help="comma-separated sections: " + ",".join(SECTIONS))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--report-only", action="store_true",
                    help="measure nothing: write results.md and the plot again from --out's results.json")


def run(a):
    if a.report_only:
        return report_only(a.out)
    only = a.only.split(",") if a.only else list(SECTIONS)
    bad = [s for s in only if s not in SECTIONS]
    if bad:
        print("unknown section(s): %s (choose from %s)" % (", ".join(bad), ", ".join(SECTIONS)), file=sys.stderr)
        return 2
    _load_harness()
    os.makedirs(a.out, exist_ok=True)
    n = 5 if a.quick else 10
    t_start = time.monotonic()
    paths = pki_mod.ensure()
    vmbench.build_all_mpy()
    res = Results()
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rounds": a.rounds,
            "machine": "%s %s, %d CPUs" % (_cpu_model(), platform.machine(), os.cpu_count() or 0),
            "cpython": platform.python_version(), "vm_version": _vm_version(),
            "board_heap_kb": board_heap_kb(), "sections": only}
    if "tls" in only:
        meta.update(section_tls(res, a.rounds, n, paths))
    if "phases" in only:
        meta.update(section_phases(res, a.rounds, paths, a.out))
    if "footprint" in only:
        meta.update(section_footprint(res, paths))
    if "records" in only:
        section_records(res, a.rounds if not a.quick else 1, 0.3 if a.quick else 0.6)
    if "minheap" in only or "mqtt" in only:
        umqtt_dir = H.fetch_umqtt()
        with H.Mosquitto(paths, tls12=True) as broker:
            if "minheap" in only:
                section_minheap(res, a.rounds, paths, broker, umqtt_dir)
            if "mqtt" in only:
                section_mqtt(res, a.rounds, 150 if a.quick else 300, paths, broker, umqtt_dir)
    res.summarize()
    if "phases" in only:
        png = os.path.join(a.out, "handshake_heap.png")
        if plot_phases(res, meta["phases"], png):
            meta["phases_png"] = os.path.relpath(png, ROOT)
    meta["seconds"] = round(time.monotonic() - t_start, 1)
    doc = {"meta": meta, "figures": {k: res.figures[k] for k in res.order}}
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(doc, f, indent=1)
    md = markdown(res, meta)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(md)
    print()
    print(md)
    print("wrote %s, results.md%s (%.0f s)" % (
        os.path.relpath(os.path.join(a.out, "results.json"), ROOT),
        ", handshake_heap.png" if meta.get("phases_png") else "", meta["seconds"]))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    configure(ap)
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

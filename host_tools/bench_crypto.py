"""Crypto benchmarks on both runtimes: one table for CPython (in this process) and one for the
MicroPython VM (host_tools/bench_crypto_device.py under `micropython -X heapsize=...`).

    .venv/bin/python host_tools/bench_crypto.py [--quick] [--heap-kb N] [--only cpython|vm] [--source]

Not a test: numbers only. The VM heap defaults to the smallest board budget in boards/, so allocation
and GC costs look like they would on that board (the VM itself is faster and 64-bit). As on a board, the
VM loads lib/ and adafruit's _sha512 precompiled by mpy-cross (build/bench-mpy/): compiling them from
source on the VM peaks far above their resident size (about 95 KB for _sha512.py alone). `--source`
runs the .py files instead.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "host_tools")
DEVICE_SCRIPT = os.path.join(HERE, "bench_crypto_device.py")


def smallest_board_heap_kb():
    heaps = []
    for path in glob.glob(os.path.join(ROOT, "boards", "*.json")):
        with open(path) as f:
            prof = json.load(f)
        if "heap_kb" in prof:
            heaps.append(prof["heap_kb"])
    return min(heaps) if heaps else 110


def micropython_bin():
    cand = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.exists(cand):
        return cand
    return shutil.which("micropython")


def adafruit_hashlib_dir():
    try:
        import adafruit_hashlib
    except ImportError:
        return None
    return os.path.dirname(adafruit_hashlib.__file__)


def build_mpy_tree(dst):
    """mpy-cross every lib/ module (x64 native code for viper kernels) and _sha512 into dst.

    A file mpy-cross rejects is copied as source, and named, so the bench still runs."""
    mpy_cross = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if not os.path.exists(mpy_cross):
        mpy_cross = shutil.which("mpy-cross")
    if not mpy_cross:
        return None
    if os.path.isdir(dst):
        shutil.rmtree(dst)
    lib = os.path.join(ROOT, "lib")
    srcs = []
    for base, dirs, files in os.walk(lib):
        dirs[:] = [d for d in dirs if not d.endswith(".egg-info") and d != "__pycache__"]
        srcs += [(os.path.join(base, f), os.path.relpath(os.path.join(base, f), lib))
                 for f in files if f.endswith(".py")]
    ada = adafruit_hashlib_dir()
    if ada:
        srcs.append((os.path.join(ada, "_sha512.py"), "_sha512.py"))
    for src, rel in srcs:
        out = os.path.join(dst, rel[:-3] + ".mpy")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        proc = subprocess.run([mpy_cross, "-march=x64", "-o", out, src], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            print("mpy-cross failed on %s, using the source: %s" % (rel, proc.stdout.decode().strip()))
            shutil.copy(src, os.path.join(dst, rel))
    return dst


def run_cpython(quick):
    for p in (os.path.join(ROOT, "lib"), HERE):
        if p not in sys.path:
            sys.path.insert(0, p)
    import bench_crypto_device
    bench_crypto_device.main(["quick"] if quick else [])


def run_vm(quick, heap_kb, source):
    mp = micropython_bin()
    if not mp:
        print("MicroPython VM: missing (run `make setup`)")
        return 1
    tree = None if source else build_mpy_tree(os.path.join(ROOT, "build", "bench-mpy"))
    if tree:
        paths = [".frozen", tree]
        how = ".mpy"
    else:
        paths = [".frozen", os.path.join(ROOT, "lib")]
        ada = adafruit_hashlib_dir()
        if ada:
            paths.append(ada)  # the flat _sha512 module, as boards get it
        how = "source"
    env = dict(os.environ, MICROPYPATH=":".join(paths))
    cmd = [mp, "-X", "heapsize=%dk" % heap_kb, DEVICE_SCRIPT] + (["quick"] if quick else [])
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    print("micropython -X heapsize=%dk, lib from %s:" % (heap_kb, how))
    sys.stdout.write(proc.stdout.decode("utf-8", "replace"))
    return proc.returncode


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter sampling (noisier numbers)")
    ap.add_argument("--heap-kb", type=int, default=None, help="VM heap (default: smallest board budget)")
    ap.add_argument("--only", choices=("cpython", "vm"), default=None)
    ap.add_argument("--source", action="store_true", help="VM runs lib/*.py instead of mpy-cross output")
    args = ap.parse_args(argv)
    rc = 0
    if args.only in (None, "cpython"):
        run_cpython(args.quick)
        sys.stdout.flush()
    if args.only in (None, "vm"):
        if args.only is None:
            print()
        rc = run_vm(args.quick, args.heap_kb or smallest_board_heap_kb(), args.source)
    return rc


if __name__ == "__main__":
    sys.exit(main())

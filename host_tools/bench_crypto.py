"""Crypto benchmarks on both runtimes: one table for CPython (in this process) and one for the
MicroPython VM (host_tools/bench_crypto_device.py under `micropython -X heapsize=...`).

    .venv/bin/python host_tools/bench_crypto.py [--quick] [--heap-kb N] [--only cpython|vm] [--source]

Not a test: numbers only. The VM heap defaults to the smallest board budget in boards/, so allocation
and GC costs look like they would on that board (the VM itself is faster and 64-bit). As on a board, the
VM loads lib/ and adafruit's _sha512 precompiled by mpy-cross (the test bench's build/vm-mpy/):
compiling them from source on the VM peaks far above their resident size (about 95 KB for _sha512.py
alone). `--source` runs the .py files instead.
"""
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "host_tools")
DEVICE_SCRIPT = os.path.join(HERE, "bench_crypto_device.py")


def _vmbench():
    # The test bench knows how to find the VM, build lib/ as .mpy and set MICROPYPATH; reuse it.
    tests = os.path.join(ROOT, "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import vmbench
    return vmbench


def run_cpython(quick):
    for p in (os.path.join(ROOT, "lib"), HERE):
        if p not in sys.path:
            sys.path.insert(0, p)
    import bench_crypto_device
    bench_crypto_device.main(["quick"] if quick else [])


def run_vm(quick, heap_kb, source):
    vb = _vmbench()
    try:
        mp = vb.micropython_bin()
        if not source:
            vb.build_mpy()
    except RuntimeError as e:
        print("MicroPython VM: %s" % e)
        return 1
    heap_kb = heap_kb or vb.default_heap_kb()
    cmd = [mp, "-X", "heapsize=%dk" % heap_kb, DEVICE_SCRIPT] + (["quick"] if quick else [])
    proc = subprocess.run(cmd, cwd=ROOT, env=vb.vm_env(source=source), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    print("micropython -X heapsize=%dk, lib from %s:" % (heap_kb, "source" if source else ".mpy"))
    sys.stdout.write(proc.stdout.decode("utf-8", "replace"))
    return proc.returncode


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter sampling (noisier numbers)")
    ap.add_argument("--heap-kb", type=int, default=None, help="VM heap (default: smallest board budget)")
    ap.add_argument("--only", choices=("cpython", "vm"), default=None)
    ap.add_argument("--source", action="store_true", help="the VM runs lib/*.py instead of .mpy")
    args = ap.parse_args(argv)
    rc = 0
    if args.only in (None, "cpython"):
        run_cpython(args.quick)
        sys.stdout.flush()
    if args.only in (None, "vm"):
        if args.only is None:
            print()
        rc = run_vm(args.quick, args.heap_kb, args.source)
    return rc


if __name__ == "__main__":
    sys.exit(main())

"""Certificate-validation benchmark on both runtimes: CPython with lib/ on the path, and the MicroPython
VM with lib/ compiled to .mpy (as a board loads it).

    .venv/bin/python host_tools/bench_x509.py [--only cpython|vm] [--no-heap]

Not a test: numbers only. Times are medians per validation; the heap is the most held at once during a
validation, live objects sampled at every call boundary (bench_x509_device.py says how). The code
itself is reported apart, since boards freeze it into flash.
"""
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEVICE = os.path.join(ROOT, "host_tools", "bench_x509_device.py")


def _run(cmd, env):
    p = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout


def _parse(out):
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0].isupper():
            rows.setdefault(parts[0], []).append(parts[1:])
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=("cpython", "vm"), default=None)
    ap.add_argument("--no-heap", action="store_true", help="skip the (slower) heap sampling")
    args = ap.parse_args(argv)
    sys.path[:0] = [os.path.join(ROOT, "tests"), os.path.join(ROOT, "lib")]
    import pki_fixtures
    import vmbench
    fixtures = pki_fixtures.generate()
    labels = {"stream": "same 3 certificates streamed in 256-byte chunks"}
    for key, label, _ in _cases():
        labels[key] = label
    if args.only in (None, "cpython"):
        rc, out = _run([sys.executable, DEVICE, fixtures, "times"], dict(os.environ, PYTHONPATH=os.path.join(ROOT, "lib")))
        print("CPython %s" % sys.version.split()[0])
        _table(_parse(out), labels)
    if args.only in (None, "vm"):
        vmbench.build_mpy()
        env = vmbench.vm_env()
        vm = vmbench.micropython_bin()
        rc, out = _run([vm, "-X", "heapsize=512k", DEVICE, fixtures, "times"], env)
        rows = _parse(out)
        held = None
        if not args.no_heap:
            rc2, out2 = _run([vm, "-X", "heapsize=512k", DEVICE, fixtures, "held"], env)
            held = {k: v for k, v in _parse(out2).get("HELD", [])}
            if rc2:
                print(out2)
        print("\nMicroPython VM (lib/ as .mpy)")
        if rc:
            print(out)
        _table(rows, labels)
        if held is not None:
            print("\nmost heap held at once (live objects at every call boundary of the validator and "
                  "the signature code), bytes:")
            print("  (warm: signature tables built before; cold: built during; own: the validator alone, "
                  "signature checks stubbed)")
            cols = ("list-warm", "list-cold", "list-own", "stream-warm", "stream-cold", "stream-own")
            print("  %-48s" % "" + "".join("%12s" % c for c in cols))
            for key, _, _ in _cases():
                print("  %-48s" % labels[key] + "".join("%12s" % held.get(key + "-" + c) for c in cols))
        if "CODE" in rows:
            x, c = rows["CODE"][0][1], rows["CODE"][0][3]
            print("code resident when loaded from .mpy: x509 %s B, signature/hash primitives %s B" % (x, c))
            print("ECDSA tables kept between validations: %s B" % rows["TABLES"][0][0])
            print("allocated in total (mostly big-int garbage) per 3-certificate validation: %s B"
                  % rows["ALLOCATED"][0][0])
    return 0


def _cases():
    ns = {}
    with open(DEVICE) as f:
        src = f.read()
    start = src.index("CASES = (")
    end = src.index("\n)\n", start) + 3
    exec(src[start:end], ns)
    return ns["CASES"]


def _table(rows, labels):
    print("%-52s %9s" % ("chain", "ms"))
    for key, ms in rows.get("TIME", []):
        print("%-52s %9s" % (labels.get(key, key), ms))
    if "SIZES" in rows:
        print("certificate sizes (leaf, intermediate, root): %s bytes" % "/".join(rows["SIZES"][0]))


if __name__ == "__main__":
    sys.exit(main())

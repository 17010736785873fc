# Runs one device-side test module on the MicroPython VM: every top-level `test_*` function, in
# source order, with a gc.collect() between tests. Prints a traceback per failure and a summary line;
# exits 1 if anything failed. Usage: micropython vmrun.py <module> [name-filter]
import sys
import gc


def main():
    modname = sys.argv[1]
    only = sys.argv[2] if len(sys.argv) > 2 else None
    mod = __import__(modname)
    from mpcheck import VM_SKIP
    names = []
    # Source order: functions are defined top to bottom, so read the file's `def test_` lines.
    import os
    src = (os.getenv("TLS13_ROOT") or ".") + "/tests/device/" + modname + ".py"
    with open(src) as f:
        for line in f:
            if line.startswith("def test_"):
                names.append(line[4:line.index("(")])
    passed = failed = skipped = 0
    for name in names:
        fn = getattr(mod, name)
        if only and only not in name:
            continue
        if name in VM_SKIP:
            skipped += 1
            continue
        gc.collect()
        try:
            fn()
            passed += 1
            print("PASS", name)
        except Exception as e:
            failed += 1
            print("FAIL", name)
            sys.print_exception(e)
    print("VMRESULT %s passed=%d failed=%d skipped=%d" % (modname, passed, failed, skipped))
    sys.exit(1 if failed else 0)


main()

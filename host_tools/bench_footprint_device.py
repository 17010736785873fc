"""Device side of the import-footprint figure (MicroPython VM, lib/ as .mpy):

    micropython -m bench_footprint_device +pkg mod mod ... +pkg mod ...

Imports the packages in the order given and prints, per package, the heap its modules add once
imported (after a collection) on top of everything imported before it:
{"package": name, "bytes": n, "modules": k}.
"""
import gc
import json
import sys


def main(argv):
    groups = []
    for a in argv:
        if a.startswith("+"):
            groups.append((a[1:], []))
        elif groups:
            groups[-1][1].append(a)
    for pkg, mods in groups:
        gc.collect()
        a0 = gc.mem_alloc()
        for m in mods:
            __import__(m)
        gc.collect()
        print(json.dumps({"package": pkg, "bytes": gc.mem_alloc() - a0, "modules": len(mods)}))


if __name__ == "__main__":
    main(sys.argv[1:])

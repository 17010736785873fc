# Calls one function of a device-side module on the MicroPython VM with JSON keyword arguments and
# prints its JSON result: the host test starts the peers (servers, brokers), then runs the same
# client-side function here and in-process on CPython.
# Usage: micropython vmcall.py <module> <function> ['<json kwargs>' | @<file holding them>]
#        VMCALL_KWARGS='<json kwargs>' micropython vmcall.py <module> <function>
# (the unix port dies with "FATAL: uncaught NLR" on a command-line argument of 256 bytes or more, and
# certificate or outbox paths get there easily: hence the file and the environment.)
import json
import os
import sys


def main():
    mod = __import__(sys.argv[1])
    fn = getattr(mod, sys.argv[2])
    arg = sys.argv[3] if len(sys.argv) > 3 else (os.getenv("VMCALL_KWARGS") or "{}")
    if arg.startswith("@"):
        with open(arg[1:]) as f:
            arg = f.read()
    kwargs = json.loads(arg)
    try:
        result = fn(**kwargs)
    except Exception as e:
        print("VMCALL-ERROR %s: %s" % (type(e).__name__, e))
        sys.print_exception(e)
        sys.exit(1)
    print("VMCALL-RESULT " + json.dumps(result))


main()

# Calls one function of a device-side module on the MicroPython VM with JSON keyword arguments and
# prints its JSON result: the host test starts the peers (servers, brokers), then runs the same
# client-side function here and in-process on CPython.
# Usage: micropython vmcall.py <module> <function> '<json kwargs>'
import sys
import json


def main():
    mod = __import__(sys.argv[1])
    fn = getattr(mod, sys.argv[2])
    kwargs = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    try:
        result = fn(**kwargs)
    except Exception as e:
        print("VMCALL-ERROR %s: %s" % (type(e).__name__, e))
        sys.print_exception(e)
        sys.exit(1)
    print("VMCALL-RESULT " + json.dumps(result))


main()

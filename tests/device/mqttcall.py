# Like vmcall.py, but the JSON keyword arguments come from the environment (MQTTCALL_KWARGS): the
# unix port dies with "FATAL: uncaught NLR" on any command-line argument of 256 bytes or more, and
# scenario arguments (certificate paths, outbox paths) easily get there.
# Usage: MQTTCALL_KWARGS='{...}' micropython mqttcall.py <module> <function>
import json
import os
import sys


def main():
    mod = __import__(sys.argv[1])
    fn = getattr(mod, sys.argv[2])
    kwargs = json.loads(os.getenv("MQTTCALL_KWARGS") or "{}")
    try:
        result = fn(**kwargs)
    except Exception as e:
        print("VMCALL-ERROR %s: %s" % (type(e).__name__, e))
        sys.print_exception(e)
        sys.exit(1)
    print("VMCALL-RESULT " + json.dumps(result))


main()

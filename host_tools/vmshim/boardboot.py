# Power-on of the emulated board: its flash is a host directory (argv[1]) mounted at /, then
# boot.py and main.py run as a board's firmware runs them after a reset: in one namespace, a failure
# printed, main.py started even when boot.py failed. MPTLS_SKIP_MAIN=1 stops after boot.py (a soft
# reset from the raw REPL, as mpremote does it).
import os
import sys

import machine  # noqa: F401  (the emulated one, imported before the mount hides the host's files)

os.mount(os.VfsPosix(sys.argv[1]), "/")
os.chdir("/")
sys.path[:] = ["", ".frozen", "/lib"]


def _run(name):
    try:
        os.stat(name)
    except OSError:
        return
    try:
        with open(name) as f:
            src = f.read()
        exec(src, globals())
    except KeyboardInterrupt as e:
        sys.print_exception(e)
    except Exception as e:
        sys.print_exception(e)


_run("boot.py")
if not os.getenv("MPTLS_SKIP_MAIN"):
    _run("main.py")

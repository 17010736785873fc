"""Access to the X.509 test PKI written by tests/pki_fixtures.py (run it on the host first; pytest and
tests/test_on_vm.py do). Device-side, so no `cryptography` here: only the DER files are read."""
import sys

# Must equal pki_fixtures.NOW (2025-06-01T00:00:00Z): the fixtures' validity dates are fixed around it.
NOW = 1748736000
DAY = 86400

if sys.implementation.name == "micropython":
    import os
    DIR = (os.getenv("TLS13_ROOT") or ".") + "/build/x509-fixtures/"
else:
    import os
    DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "build", "x509-fixtures") + os.sep

def load(name):
    """DER bytes of fixture `name`."""
    with open(DIR + name + ".der", "rb") as f:
        return f.read()


def chain(*names):
    """DER list from fixture names (bytes entries are taken as they are)."""
    return [n if isinstance(n, bytes) else load(n) for n in names]


def store(*names):
    from tls13.x509 import TrustStore
    return TrustStore.from_der([load(n) for n in names])


def read_text(name):
    with open(DIR + name, "rb") as f:
        return f.read()

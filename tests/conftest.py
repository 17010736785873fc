import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# Device-side tests import the helpers (mpcheck, wyche) and lib/ packages by bare name, as on the VM.
for p in (os.path.join(HERE, "device"), os.path.join(ROOT, "lib"), HERE):
    if p not in sys.path:
        sys.path.insert(0, p)


import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _x509_fixtures():
    """The X.509 test PKI (tests/pki_fixtures.py) read by tests/device/test_x509_*.py; regenerated
    only when pki_fixtures.py changes."""
    import pki_fixtures
    pki_fixtures.generate()


@pytest.fixture(scope="session")
def pki():
    """The test PKI's paths (tests/pki.py) for tests that run mosquitto (test_interop.py has its own,
    checking the TLS servers instead)."""
    import peers
    import pki as pki_mod
    if not peers.have("mosquitto"):
        pytest.fail("mosquitto is missing: run `make setup`")
    return pki_mod.ensure()

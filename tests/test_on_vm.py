"""Run every device-side test module on the MicroPython VM (the CPython run is pytest's own)."""
import glob
import os

import pytest

import pki_fixtures
import vmbench

MODULES = sorted(glob.glob(os.path.join(vmbench.DEVICE_DIR, "test_*.py")))


@pytest.fixture(scope="session", autouse=True)
def _vectors():
    vmbench.prepare_vectors()
    vmbench.build_all_mpy()
    pki_fixtures.generate()


@pytest.mark.parametrize("path", MODULES, ids=[os.path.basename(m)[:-3] for m in MODULES])
def test_device_module_on_vm(path):
    rc, out = vmbench.run_module(path)
    summary = [line for line in out.splitlines() if line.startswith("VMRESULT")]
    if rc != 0 or not summary:
        pytest.fail("on the MicroPython VM (heap %d KB):\n%s" % (vmbench.heap_kb_for(path), out), pytrace=False)
    # A module whose every test is skipped on the VM runs nothing there: that is a bench defect.
    assert " passed=0 " not in summary[0], summary[0]

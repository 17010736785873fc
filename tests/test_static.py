"""Static checks (`mptls check`): ruff, and lib/ + firmware/ against the esp32 and rp2 MicroPython stubs.
The checker itself is tested on small sample files: an API a board lacks must fail, ordinary dynamic
Python must pass."""
import os
import subprocess
import sys

import pytest

from host_tools import check

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SAMPLES = {
    # Capacitive touch exists on the ESP32 only.
    "touch_sample.py": "import machine\n\n\ndef touched():\n    return machine.TouchPad(machine.Pin(4)).read()\n",
    "from_touch_sample.py": "from machine import TouchPad\n\nTP = TouchPad\n",
    # The esp32 module exists on the ESP32 port only.
    "rawtemp_sample.py": "import esp32\n\n\ndef chip_temp():\n    return esp32.raw_temperature()\n",
    # CPython-only modules, at module level and inside a function.
    "typing_sample.py": "import typing\n\nX = typing\n",
    "dataclass_sample.py": "def f():\n    from dataclasses import dataclass\n    return dataclass\n",
    # A typo in a port API is caught on every board.
    "typo_sample.py": "import time\n\n\ndef f():\n    return time.ticks_mss()\n",
    # Ticks wrap at 2**30 on 32-bit boards: deadlines need time.ticks_add.
    "ticks_sample.py": "import time\n\n\ndef deadline(ms):\n    return time.ticks_ms() + ms\n",
    # Ordinary dynamic Python, guarded imports and per-port code: must pass on both.
    "dynamic_sample.py": """import sys
import time

try:
    from typing import Optional  # noqa: F401
except ImportError:
    pass

try:
    from time import ticks_ms
except ImportError:
    import zlib  # noqa: F401

    def ticks_ms():
        return int(time.monotonic() * 1000)


class Rec:
    def __init__(self):
        self.buf = None

    def fill(self, n):
        self.buf = bytearray(n)
        self.buf[0] = 1
        self.late = time.ticks_add(ticks_ms(), 5)
        return self.late, self.buf[0]


def chip_temp():
    if sys.platform == "esp32":
        import esp32
        return esp32.raw_temperature()
    try:
        return time.monotonic()
    except AttributeError:
        return None
""",
}


def test_mptls_check_passes_on_the_tree():
    r = subprocess.run([sys.executable, "-m", "host_tools.cli", "check"], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=300)
    assert r.returncode == 0, r.stdout
    assert "ruff: ok" in r.stdout
    for board in check.BOARDS:
        assert "%s (" % board in r.stdout and "ok, lib/ and firmware/" in r.stdout


@pytest.fixture(scope="module")
def findings(tmp_path_factory):
    d = tmp_path_factory.mktemp("samples")
    files = []
    for name, src in SAMPLES.items():
        (d / name).write_text(src)
        files.append(str(d / name))
    out = {}
    for board in check.BOARDS:
        lines = check.check_board(board, files, cache_dir=str(d / (".mypy-" + board)))
        out[board] = {name: [line for line in lines if "/" + name + ":" in line] for name in SAMPLES}
    return out


def test_api_missing_on_rp2_fails(findings):
    rp2, esp = findings["pico_w"], findings["esp32"]
    assert any('no attribute "TouchPad"' in line and "[attr-defined]" in line for line in rp2["touch_sample.py"])
    assert any('"TouchPad"' in line for line in rp2["from_touch_sample.py"]), rp2
    assert esp["touch_sample.py"] == [] and esp["from_touch_sample.py"] == []


def test_esp32_module_on_rp2_fails(findings):
    assert any("import of 'esp32'" in line for line in findings["pico_w"]["rawtemp_sample.py"])
    assert findings["esp32"]["rawtemp_sample.py"] == []


def test_cpython_only_imports_fail_everywhere(findings):
    for board in check.BOARDS:
        assert any("import of 'typing'" in line for line in findings[board]["typing_sample.py"])
        assert any("import of 'dataclasses'" in line for line in findings[board]["dataclass_sample.py"])
        assert any('no attribute "ticks_mss"' in line for line in findings[board]["typo_sample.py"])
        assert any("[ticks-arith]" in line for line in findings[board]["ticks_sample.py"])


def test_dynamic_python_passes(findings):
    for board in check.BOARDS:
        assert findings[board]["dynamic_sample.py"] == [], findings[board]["dynamic_sample.py"]


def test_package_json_lists_every_library_file():
    """package.json (for `mpremote mip install`) must carry every module under lib/."""
    import json
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "package.json")) as f:
        urls = json.load(f)["urls"]
    files = set()
    for d, dirs, names in os.walk(os.path.join(root, "lib")):
        dirs[:] = [x for x in dirs if x != "__pycache__" and not x.endswith(".egg-info")]
        files.update(os.path.relpath(os.path.join(d, n), os.path.join(root, "lib")) for n in names
                     if n.endswith(".py"))
    assert sorted(u[0] for u in urls) == sorted(files)
    assert all(src == "lib/" + dst for dst, src in urls)

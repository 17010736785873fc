"""`make demo` itself with a short DEMO_SECONDS: telemetry from both emulated boards over TLS 1.3 with
client certificates reaches the monitor, the summary says so, it exits 0, and no process it started
(mosquitto, the boards' VMs) is left running."""
import os
import re
import shutil
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def processes_mentioning(text):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if text in cmd:
            found.append((int(pid), cmd))
    return found


def test_make_demo(tmp_path):
    if not shutil.which("make"):
        pytest.fail("make is missing")
    work = str(tmp_path / "demo")
    env = dict(os.environ, DEMO_SECONDS="8")
    env.pop("MAKEFLAGS", None)
    t0 = time.monotonic()
    p = subprocess.run(["make", "--no-print-directory", "demo", "DEMO_ARGS=--workdir %s" % work], cwd=ROOT,
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180)
    elapsed = time.monotonic() - t0
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, out
    # the monitor (itself over TLS 1.3 with its client certificate) saw both boards' readings
    assert re.search(r"connected to 127\.0\.0\.1:\d+ \(TLSv1\.3\)", out), out
    for device, board in (("device-001", "esp32"), ("device-002", "pico_w")):
        assert re.search(r"%s\s+#\d+\s+device=%s seq=\d+ ts=\d+ board=%s chip_temp_c=" % (device, device, board),
                         out), out
        m = re.search(r"  %s\s+%s\s+(\d+) readings received.*over TLSv1\.3 TLS_\w+, mtls=1" % (device, board), out)
        assert m and int(m.group(1)) >= 2, out
    assert "demo OK: telemetry from both boards over TLS 1.3 with mTLS" in out, out
    assert re.search(r"device-001\s+esp32 .* [1-9]\d* resumed", out), "the deep-sleeping board never resumed:\n" + out
    # the broker took each device's identity from its certificate (use_identity_as_username)
    with open(os.path.join(work, "broker", "mosquitto.log")) as f:
        log = f.read()
    assert "u'device-001'" in log and "u'device-002'" in log and "u'monitor'" in log, log
    leftovers = processes_mentioning(work)
    assert not leftovers, leftovers
    print("make demo (DEMO_SECONDS=8): %.1f s" % elapsed)

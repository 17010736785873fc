"""`mptls deploy` end to end with the real mpremote against the emulated board (`mptls board`'s
EmulatedBoard behind a pty): a dry run, a first deploy to an empty flash verified by SHA-256 on the
board, the reset that starts the firmware (telemetry over TLS 1.3 with the device certificate reaches
mosquitto), an incremental re-deploy that copies nothing, and a file damaged on the board that the
next deploy notices and replaces."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

import mqtt_harness as H
from host_tools import deploy
from host_tools.board import EmulatedBoard

ROOT = H.ROOT
WORK = os.path.join(ROOT, "build", "deploy-test-%d" % os.getpid())


@pytest.fixture(scope="module", autouse=True)
def _workdir():
    yield
    shutil.rmtree(WORK, ignore_errors=True)  # the boards' flash and builds' copies; failures print the console


def mptls(*args, timeout=180):
    p = subprocess.run([sys.executable, "-m", "host_tools.cli"] + list(args), cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def write_config(port, board="pico_w"):
    with open(deploy.EXAMPLE_CONFIG) as f:
        cfg = json.load(f)
    cfg.update(device_id="device-001", board=board, interval_s=0.5, wifi={}, drain_s=3)
    cfg["broker"].update(host="127.0.0.1", port=port, server_hostname="localhost", timeout_s=5)
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, "config.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def cred_args(pki):
    return ["--ca", pki["ca"], "--cert", pki["device-001.crt"], "--key", pki["device-001.key"]]


def test_dry_run_lists_the_plan(pki):
    cfg = write_config(8883)
    rc, out = mptls("deploy", "--board", "esp32", "--config", cfg, "--dry-run", *cred_args(pki))
    assert rc == 0, out
    for remote in ("/lib/tls13/connection.mpy", "/lib/mqtt/outbox.mpy", "/lib/telemetry/node.mpy", "/boot.py",
                   "/main.py", "/board.json", "/config.json", "/certs/ca.crt", "/certs/device.crt",
                   "/certs/device.key"):
        assert remote in out, (remote, out)
    assert out.index("/lib/") < out.index("/main.py")  # the firmware entry point goes last
    rc, out = mptls("deploy", "--board", "esp32", "--dry-run")
    assert rc == 2 and "--config is required" in out


def test_deploy_to_the_emulated_board(pki):
    with H.Mosquitto(pki) as br, H.SeqSubscriber(br.port, "devices/device-001/#") as sub:
        cfg = write_config(br.mtls_port)
        fs = os.path.join(WORK, "fs")
        link = os.path.join(WORK, "board.pty")
        with EmulatedBoard("pico_w", fs, pty_link=link, log_path=os.path.join(WORK, "console.log")) as board:
            t0 = time.monotonic()
            rc, out = mptls("deploy", "--board", "pico_w", "--port", link, "--config", cfg, "--reset",
                            *cred_args(pki))
            first = time.monotonic() - t0
            assert rc == 0, out + "\n---- console\n" + board.output()
            assert "board reports linux" in out and "verified" in out, out
            assert os.path.exists(os.path.join(fs, "lib", "tls13", "connection.mpy"))
            with open(os.path.join(fs, "board.json")) as f:
                assert json.load(f)["march"] in ("x64", "x86", "aarch64", "armv7m")  # built for the VM
            # the reset started the firmware: telemetry arrives over mTLS
            line = board.wait_line(r"^NODE connected", 60)
            assert line and "tls=TLSv1.3" in line and "mtls=1" in line, board.output()
            deadline = time.monotonic() + 30
            while not sub.other and time.monotonic() < deadline:
                time.sleep(0.1)
            topics = [t for t, _ in sub.other]
            assert b"devices/device-001/telemetry" in topics, (topics, board.output())

            # Nothing changed: mpremote's hash check skips every file (the node is interrupted by
            # mpremote's Ctrl-C and restarted by --reset).
            t0 = time.monotonic()
            rc, out = mptls("deploy", "--board", "pico_w", "--port", link, "--config", cfg, *cred_args(pki))
            again = time.monotonic() - t0
            assert rc == 0, out + "\n---- console\n" + board.output()
            assert "copied 0 files" in out, out

            # A file damaged on the board is noticed by its hash and replaced.
            victim = os.path.join(fs, "lib", "mqtt", "codec.mpy")
            with open(victim, "r+b") as f:
                f.seek(100)
                f.write(b"\x00\x01\x02")
            rc, out = mptls("deploy", "--board", "pico_w", "--port", link, "--config", cfg, *cred_args(pki))
            assert rc == 0 and "copied 1 files" in out, out
            rc, out = mptls("deploy", "--board", "pico_w", "--port", link, "--config", cfg, *cred_args(pki))
            assert "copied 0 files" in out, out
    print("deploy: first %.1f s, unchanged re-deploy %.1f s" % (first, again))

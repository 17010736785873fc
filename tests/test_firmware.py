"""The firmware (boot.py + main.py + lib/telemetry) on the MicroPython VM as an emulated board,
against a real mosquitto over TLS 1.3 with the device certificate, for several readings with a broker
restart in the middle: every sequence number arrives.

Two boards, two ways of sleeping:
- esp32: deep sleep. Each wake is a new VM (the emulated machine.deepsleep restarts it); the TLS
  session comes back from (emulated) RTC memory and is resumed; readings taken while the broker is
  down wait in the outbox on flash and go out at a later wake.
- pico_w: stays connected between readings; the supervisor reconnects after the restart and the
  session ticket is kept in a flash file.
The VM heap is the board's budget plus the measured resident size of the modules a board keeps frozen.
"""
import json
import os
import shutil
import time

import pytest

import mqtt_harness as H
from host_tools import build, deploy
from host_tools.board import EmulatedBoard

WORK = os.path.join(H.ROOT, "build", "firmware-test-%d" % os.getpid())
CYCLES = 8


@pytest.fixture(scope="module", autouse=True)
def _workdir():
    yield
    shutil.rmtree(WORK, ignore_errors=True)  # the boards' flash and builds' copies; failures print the console


class TelemetrySubscriber(H.SeqSubscriber):
    """The harness's reconnecting persistent-session subscriber, counting the JSON payload's seq."""

    def _on(self, topic, msg):
        try:
            d = json.loads(bytes(msg))
            seq = d["seq"]
        except (ValueError, KeyError, TypeError):
            self.other.append((bytes(topic), bytes(msg)))
            return
        with self._lock:
            self.counts[seq] = self.counts.get(seq, 0) + 1
            self.last = d


def provision(board, pki, port):
    fs = os.path.join(WORK, board, "fs")
    shutil.rmtree(fs, ignore_errors=True)
    with open(deploy.EXAMPLE_CONFIG) as f:
        cfg = json.load(f)
    cfg.update(device_id="device-001", board=board, interval_s=0.6, wifi={}, drain_s=1.5, cycles=CYCLES,
               backoff_ms=[100, 500])
    cfg["broker"].update(host="127.0.0.1", port=port, server_hostname="localhost", timeout_s=3, keepalive_s=5)
    cfg_path = os.path.join(WORK, board, "config.json")
    os.makedirs(os.path.dirname(cfg_path), exist_ok=True)
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    out, _ = build.build(board, "host")
    creds = deploy.credentials(ca=pki["ca"], cert=pki["device-001.crt"], key=pki["device-001.key"])
    deploy.provision_dir(fs, deploy.plan(out, cfg_path, None, creds))
    return fs


@pytest.mark.parametrize("board", ("esp32", "pico_w"))
def test_firmware_loop_survives_a_broker_restart(pki, board):
    topic = "devices/device-001/telemetry"
    with H.Mosquitto(pki) as br, TelemetrySubscriber(br.port, topic, client_id="fw-sub-%s-%d" % (board, os.getpid())) as sub:
        fs = provision(board, pki, br.mtls_port)
        t0 = time.monotonic()
        with EmulatedBoard(board, fs, log_path=os.path.join(WORK, board, "console.log")) as dev:
            assert sub.wait_for(3, 60), "no telemetry:\n%s\n---- mosquitto\n%s" % (dev.output(), br.log())
            br.restart(down_s=3.0)  # longer than a wake's drain_s: readings wait on flash
            restarted_at = len(dev.lines)
            halted = dev.wait_halt(90)
            out = dev.output()
        elapsed = time.monotonic() - t0
        assert halted, "the node did not finish %d readings:\n%s" % (CYCLES, out)
        sub.wait_for(CYCLES, 15)
        rep = sub.report(CYCLES)
    assert not rep["missing"] and not rep["unexpected"], (rep, out)
    connects = [line for line in out.splitlines() if line.startswith("NODE connected")]
    assert all("tls=TLSv1.3" in c and "mtls=1" in c for c in connects), connects
    assert "NODE halt seq=%d pending=0" % CYCLES in out, out
    assert "Traceback" not in out, out
    after = "\n".join(dev.lines[restarted_at:])
    assert "NODE connected" in after, "no reconnect after the broker restart:\n" + out
    if board == "esp32":
        assert dev.boots >= CYCLES, dev.boots  # one VM per wake
        assert "reset=deepsleep" in out
        assert any("resumed=1" in c for c in connects), connects  # the RTC-memory session was resumed
        assert "NODE session stored in rtc" in out
    else:
        assert dev.boots == 1
        assert "NODE session stored in file" in out
    print("%s: %d readings, %d duplicates, %d connections, %d offline wakes in %.1f s" % (
        board, CYCLES, rep["duplicates"], len(connects), out.count("NODE offline"), elapsed))

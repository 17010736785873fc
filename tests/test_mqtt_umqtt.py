"""Unmodified umqtt.simple (PyPI micropython-umqtt.simple 1.3.4, fetched at test time) publishing over
tls13 on CPython and on the MicroPython VM, given our SSLContext through mqtt.compat."""
import pytest

import mqtt_harness as H
import peers
import pki as pki_mod

RUNTIMES = ("cpython", "vm")


@pytest.fixture(scope="module")
def umqtt_dir():
    return H.fetch_umqtt()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_umqtt_simple_publishes_over_tls13(umqtt_dir, runtime):
    if not peers.have("mosquitto"):
        pytest.fail("mosquitto is missing: run `make setup`")
    pki = pki_mod.ensure()
    topic = "test/seq/umqtt-" + runtime
    with H.Mosquitto(pki) as br, H.SeqSubscriber(br.port, topic) as sub:
        r = H.call(runtime, "mqtt_scenarios", "umqtt_simple", port=br.tls_port, umqtt_dir=umqtt_dir,
                   cafile=pki["ca"], count=20, topic=topic, client_id="umqtt-" + runtime)
        sub.wait_for(20, 10)
        rep = sub.report(20)
    assert r["version"] == "TLSv1.3"
    assert not rep["missing"] and rep["duplicates"] == 0, rep

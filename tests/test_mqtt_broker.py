"""MQTT against a real mosquitto on CPython and on the MicroPython VM: plain, TLS 1.3-only and mTLS
listeners, the asyncio client, ACLs keyed on the device certificate's CN, refusals, and no socket
leaks when connecting fails. Client code: tests/device/mqtt_scenarios.py."""
import socket
import time

import pytest

import mqtt_harness as H
from peers import deadline

RUNTIMES = ("cpython", "vm")


@pytest.fixture(scope="module")
def broker(pki):
    with H.Mosquitto(pki) as br:
        yield br




def run(runtime, fn, broker=None, timeout=60, heap_kb=None, **kw):
    try:
        if runtime == "cpython":
            import mqtt_scenarios
            with deadline(timeout):
                return getattr(mqtt_scenarios, fn)(**kw)
        return H.call("vm", "mqtt_scenarios", fn, timeout=timeout, heap_kb=heap_kb, **kw)
    except Exception as e:
        detail = getattr(e, "output", None) or "%s: %s" % (type(e).__name__, e)
        log = broker.log() if broker is not None else ""
        pytest.fail("%s on %s failed:\n%s\n---- mosquitto log\n%s" % (fn, runtime, detail, log), pytrace=False)


def expect_loopback(r, prefix):
    assert r["received"] == [[prefix + "/q0", "zero"], [prefix + "/q1", "one"], [prefix + "/q2", "two"]]
    assert r["granted"] == 2
    assert r["ping_ok"] and r["closed"]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("listener", ("plain", "tls13"))
def test_publish_subscribe_roundtrip(broker, pki, runtime, listener):
    prefix = "test/basic/%s-%s" % (runtime, listener)
    tls = listener == "tls13"
    r = run(runtime, "basic", broker, port=broker.tls_port if tls else broker.port, cafile=pki["ca"],
            tls=tls, prefix=prefix, client_id="basic-%s-%s" % (runtime, listener))
    expect_loopback(r, prefix)
    if tls:
        assert r["version"] == "TLSv1.3"


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("listener", ("plain", "tls13"))
def test_asyncio_client(broker, pki, runtime, listener):
    prefix = "test/async/%s-%s" % (runtime, listener)
    tls = listener == "tls13"
    # The board keeps asyncio and the asyncio adapters frozen too: their resident size on the VM is
    # added to the device heap (without it the data margin shrinks by ~12 KB and the handshake's
    # peak hits MemoryError now and then).
    heap_kb = H.device_heap_kb() + H.async_resident_kb()
    r = run(runtime, "async_basic", broker, port=broker.tls_port if tls else broker.port, cafile=pki["ca"],
            tls=tls, prefix=prefix, client_id="async-%s-%s" % (runtime, listener), heap_kb=heap_kb)
    assert r["received"] == [[prefix + "/late", "late"], [prefix + "/q0", "zero"], [prefix + "/q1", "one"],
                             [prefix + "/q2", "two"]]
    assert r["alive_after_idle"], "keepalive pings should have kept the link up"
    assert r["error"] is None


def _have_client_certs():
    try:
        import tls13.identity  # noqa: F401
        return True
    except ImportError:
        return False


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_mtls_identity_is_the_username(broker, pki, runtime):
    if not _have_client_certs():
        pytest.skip("tls13.identity (client certificate support for load_cert_chain) is not in lib/ yet")
    prefix = "devices/device-001/%s" % runtime
    with H.SeqSubscriber(broker.port, "devices/#", qos=1) as sub:
        r = run(runtime, "basic", broker, port=broker.mtls_port, cafile=pki["ca"], tls=True,
                certfile=pki["device-001.crt"], keyfile=pki["device-001.key"], prefix=prefix,
                client_id="mtls-%s" % runtime, extra_topics=["devices/device-002/%s/spoof" % runtime])
        time.sleep(0.3)
    expect_loopback(r, prefix)
    topics = [t.decode() for t, _ in sub.other]
    # The ACL grants user "device-001" only devices/device-001/#: the broker took the user name from
    # the certificate's CN, so the spoofed topic was dropped (QoS 1 still gets its PUBACK).
    assert prefix + "/q1" in topics
    assert not [t for t in topics if t.startswith("devices/device-002/")]
    assert len(r["extra_results"]) == 1  # PUBACK, or mosquitto hung up (it may do either)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("who", ("no-certificate", "rogue-device"))
def test_mtls_rejects_without_a_trusted_certificate(broker, pki, runtime, who):
    kw = {}
    if who == "rogue-device":
        if not _have_client_certs():
            pytest.skip("tls13.identity (client certificates) is not in lib/ yet")
        kw = {"certfile": pki["rogue-device.crt"], "keyfile": pki["rogue-device.key"]}
    r = run(runtime, "connect_fails", broker, port=broker.mtls_port, cafile=pki["ca"], tls=True,
            attempts=3, **kw)
    assert all(e != "connected" for e in r["errors"]), r
    if who == "no-certificate":
        # The TLS 1.3 handshake completes, then the broker sends certificate_required and closes;
        # when our CONNECT is already on its way the broker's kernel answers it with a reset, which
        # discards the alert before the client reads it: which of the two the client sees is a race.
        assert all("certificate_required" in e or "reset" in e.lower() or "104" in e or "pipe" in e.lower()
                   or "32" in e for e in r["errors"]), r
    assert r["fds_after"] <= r["fds_before"], "sockets leaked: %r" % r
    assert r["sock_none"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_failed_connects_leak_no_sockets(broker, pki, runtime):
    r = run(runtime, "connect_fails", broker, port=H._free_ports(1)[0], attempts=10)
    assert all("ECONNREFUSED" in e or "111" in e or "refused" in e.lower() for e in r["errors"]), r
    assert r["fds_after"] <= r["fds_before"]
    r = run(runtime, "connect_fails", broker, port=broker.tls_port, cafile=pki["ca"], tls=True,
            server_hostname="not-the-broker.example", attempts=3)
    assert all("bad_certificate" in e or "certificate" in e for e in r["errors"]), r
    assert r["fds_after"] <= r["fds_before"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_connack_refusal_raises_not_authorized(pki, runtime):
    with H.Mosquitto(pki, extra="allow_anonymous false") as br:
        r = run(runtime, "connect_fails", br, port=br.port, attempts=2)
    assert all(e.startswith("NotAuthorized") for e in r["errors"]), r
    assert r["fds_after"] <= r["fds_before"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_async_supervisor_backs_off_while_the_broker_is_away(runtime):
    """Nothing listens on the port: attempts are spaced by the backoff (200 ms doubling, half of it
    jitter: at most 5 in 1.2 s, where a spinning loop would make hundreds) and the record stays."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # a port that refuses connections
    r = run(runtime, "async_backoff", port=port, heap_kb=H.device_heap_kb() + H.async_resident_kb())
    assert 2 <= r["attempts"] <= 5, r
    assert r["pending"] == 1, r
    assert "refused" in r["last_error"].lower() or "111" in r["last_error"], r

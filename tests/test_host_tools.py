"""The `mptls` host tools: pki, roots, monitor (against mosquitto with the PKI that `mptls pki` made)
and probe (against `openssl s_server` and mosquitto)."""
import datetime
import io
import itertools
import json
import os
import stat
import threading
import time

import pytest

import mqtt_harness as H
import peers
import pki as test_pki
from host_tools import cli, monitor, pki_cmd, probe

DEVICES = ("device-001", "device-002")
_IDS = itertools.count(1)
# The monitor's certificate CN is its MQTT user name (use_identity_as_username).
EXTRA_ACL = "\nuser monitor\ntopic read devices/#\n\nuser device-002\ntopic readwrite devices/device-002/#\n"


@pytest.fixture(scope="module")
def our_pki(tmp_path_factory):
    return pki_cmd.make_pki(str(tmp_path_factory.mktemp("pki")), DEVICES)


@pytest.fixture(scope="module")
def broker(our_pki):
    if not peers.have("mosquitto"):
        pytest.fail("mosquitto is missing: run `make setup`")
    as_harness = {"ca": our_pki["ca"], "server-ec.crt": our_pki["broker.crt"],
                  "server-ec.key": our_pki["broker.key"], "client-ca.crt": our_pki["device-ca"]}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(H, "ACL", H.ACL + EXTRA_ACL)
        br = H.Mosquitto(as_harness)
    try:
        yield br
    finally:
        br.stop()


@pytest.fixture(scope="module")
def tpki():
    if not peers.have("openssl"):
        pytest.fail("openssl is missing: run `make setup`")
    return test_pki.ensure()


def _x509(path):
    from cryptography import x509
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def _device_client(paths, dev, port):
    import tls13
    from mqtt.client import MQTTClient
    ctx = tls13.SSLContext(tls13.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=paths["ca"])
    ctx.load_cert_chain(paths[dev + ".crt"], paths[dev + ".key"])
    c = MQTTClient(dev, "127.0.0.1", port, ssl=ctx, timeout=5)
    c.connect()
    return c


def _publish(paths, dev, port, readings, retain=False):
    c = _device_client(paths, dev, port)
    try:
        for r in readings:
            c.publish("devices/%s/telemetry" % dev, json.dumps(r).encode(), retain=retain, qos=1)
    finally:
        c.disconnect()


# ---- pki ------------------------------------------------------------------------------------------

def test_pki_files_keys_and_extensions(our_pki):
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509 import oid
    for name in ("ca", "device-ca", "broker") + DEVICES + ("monitor",):
        cert = _x509(our_pki[name + ".crt"])
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
        assert cert.public_key().curve.name == "secp256r1"
        mode = stat.S_IMODE(os.stat(our_pki[name + ".key"]).st_mode)
        # mosquitto drops root before reading broker.key; the CA keys stay private.
        assert mode == (0o600 if name in ("ca", "device-ca") else 0o644), (name, oct(mode))
    broker = _x509(our_pki["broker.crt"])
    eku = broker.extensions.get_extension_for_oid(oid.ExtensionOID.EXTENDED_KEY_USAGE).value
    assert list(eku) == [oid.ExtendedKeyUsageOID.SERVER_AUTH]
    san = broker.extensions.get_extension_for_oid(oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    assert [str(v.value) for v in san] == ["broker.local", "localhost", "127.0.0.1", "::1"]
    for dev in DEVICES:
        c = _x509(our_pki[dev + ".crt"])
        assert c.subject.get_attributes_for_oid(oid.NameOID.COMMON_NAME)[0].value == dev
        eku = c.extensions.get_extension_for_oid(oid.ExtensionOID.EXTENDED_KEY_USAGE).value
        assert list(eku) == [oid.ExtendedKeyUsageOID.CLIENT_AUTH]
        c.verify_directly_issued_by(_x509(our_pki["device-ca"]))


def test_pki_broker_chain_validates_on_the_device_validator(our_pki):
    from tls13.identity import ClientIdentity
    from tls13.x509 import CertificateError, TrustStore, verify_chain
    from tls13.x509.trust import pem_blocks
    with open(our_pki["ca"], "rb") as f:
        store = TrustStore.from_pem(f.read())
    with open(our_pki["broker.crt"], "rb") as f:
        chain = list(pem_blocks(f.read()))
    for name in ("broker.local", "localhost", "127.0.0.1", "::1"):
        verify_chain(chain, store, name, int(time.time()))
    with pytest.raises(CertificateError) as e:
        verify_chain(chain, store, "evil.example", int(time.time()))
    assert e.value.reason == "hostname_mismatch"
    ident = ClientIdentity.load(our_pki["device-001.crt"], our_pki["device-001.key"])
    assert ident is not None


def test_pki_is_idempotent_and_force_renews(tmp_path):
    out = str(tmp_path / "p")
    seen = []
    first = pki_cmd.make_pki(out, ["dev-a"], ["localhost"], log=lambda s, n: seen.append((s, n)))
    assert set(s for s, _ in seen) == {"created"}
    ca_before = open(first["ca"], "rb").read()
    broker_before = open(first["broker.crt"], "rb").read()
    seen.clear()
    pki_cmd.make_pki(out, ["dev-a", "dev-b"], ["localhost"], log=lambda s, n: seen.append((s, n)))
    assert ("created", "dev-b.crt") in seen and ("kept", "dev-a.crt") in seen and ("kept", "ca.crt") in seen
    assert open(first["broker.crt"], "rb").read() == broker_before
    # A new broker name re-issues the broker certificate under the same CA.
    seen.clear()
    pki_cmd.make_pki(out, ["dev-a"], ["localhost", "10.0.0.5"], log=lambda s, n: seen.append((s, n)))
    assert ("created", "broker.crt") in seen and ("kept", "ca.crt") in seen
    assert open(first["ca"], "rb").read() == ca_before
    pki_cmd.make_pki(out, ["dev-a"], ["localhost"], force=True)
    assert open(first["ca"], "rb").read() != ca_before
    _x509(first["dev-a.crt"]).verify_directly_issued_by(_x509(first["device-ca"]))
    with pytest.raises(ValueError):
        pki_cmd.make_pki(out, ["../evil"], ["localhost"])


def test_pki_command(tmp_path, capsys):
    out = str(tmp_path / "cli")
    assert cli.main(["pki", "--out", out, "--devices", "node-1", "--server-name", "mqtt.lan",
                     "--server-ip", "192.0.2.7"]) == 0
    text = capsys.readouterr().out
    assert "created  broker.crt" in text and "SAN mqtt.lan,192.0.2.7" in text
    assert "created  node-1.crt" in text and "CN=node-1" in text
    assert cli.main(["pki", "--out", out, "--devices", "node-1"]) == 0
    text = capsys.readouterr().out
    assert "kept     node-1.crt" in text and "created  broker.crt" in text  # default names now


# ---- roots ---------------------------------------------------------------------------------------

def test_roots_module_report_and_use(our_pki, tmp_path, capsys):
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(open(our_pki["ca"], "rb").read() + open(our_pki["device-ca"], "rb").read())
    out = str(tmp_path / "anchors_dev.py")
    assert cli.main(["roots", "--bundle", str(bundle), "--subject", "root ca", "-o", out, "--report"]) == 0
    text = capsys.readouterr()
    assert "wrote 1 anchors" in text.err
    assert "bytes .py" in text.out and "bytes .mpy" in text.out
    assert "bytes of heap for 1 anchors" in text.out, text.out
    import importlib.util
    spec = importlib.util.spec_from_file_location("anchors_dev", out)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from tls13.x509 import TrustStore, verify_chain
    from tls13.x509.trust import pem_blocks
    chain = list(pem_blocks(open(our_pki["broker.crt"], "rb").read()))
    verify_chain(chain, TrustStore.from_module(mod), "localhost", int(time.time()))
    # Listing only, and --report on a temporary module.
    assert cli.main(["roots", "--bundle", str(bundle)]) == 0
    text = capsys.readouterr()
    assert "CN=mptls Development Device CA" in text.out and "2 of 2 roots selected" in text.err
    assert cli.main(["roots", "--bundle", str(bundle), "--report"]) == 0
    assert "bytes of heap for 2 anchors" in capsys.readouterr().out
    assert cli.main(["roots", "--pins", our_pki["broker.crt"]]) == 0
    line = capsys.readouterr().out.strip()
    assert line.endswith("CN=broker.local,O=micro-tls13 development") and len(line.split()[0]) == 44


# ---- monitor -------------------------------------------------------------------------------------

def test_monitor_helpers():
    assert monitor.device_of("devices/d7/telemetry", "devices/+/telemetry") == "d7"
    assert monitor.device_of("a/b", "a/#") == "a/b"
    assert monitor.fields_of(b'{"t": 21.456, "heap": {"free": 9}}') == [("t", "21.46"), ("heap.free", "9")]
    assert monitor.fields_of(b"hello") == [("payload", "hello")]
    assert monitor.fields_of(b"\xff\x00") == [("payload", "ff00")]
    m = monitor.Monitor()
    m._on_message(b"devices/d1/telemetry", b'{"temp": 20.5, "seq": 1}')
    m._on_message(b"devices/d2/telemetry", b'{"temp": 30, "rssi": -60}')
    m._on_message(b"devices/d1/telemetry", b'{"temp": 21.5, "seq": 2}')
    lines = m.table(width=80, now=m.devices["d1"]["last"])
    assert lines[0].split() == ["DEVICE", "MSGS", "AGE", "temp", "seq", "rssi"]
    assert lines[1].split() == ["d1", "2", "0.0s", "21.50", "2"]
    buf = io.StringIO()
    m._draw(buf)
    assert buf.getvalue().startswith("\x1b[H") and "\x1b[K" in buf.getvalue() and "d2" in buf.getvalue()


def _start_monitor(our_pki, broker, **kw):
    m = monitor.Monitor("127.0.0.1", broker.mtls_port, cafile=our_pki["ca"], cert=our_pki["monitor.crt"],
                        key=our_pki["monitor.key"], client_id="mon-%d-%d" % (os.getpid(), next(_IDS)))
    out = io.StringIO()
    result = {}
    t = threading.Thread(target=lambda: result.update(devices=m.run(out=out, live=False, **kw)), daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while m.connects < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert m.connects == 1, (m.errors, broker.log())
    return m, t, out, result


def test_monitor_over_mtls_shows_latest_per_device(our_pki, broker):
    want = lambda d: all(d.get(x, {}).get("count", 0) >= 3 for x in DEVICES)
    m, t, out, result = _start_monitor(our_pki, broker, seconds=15, until=want)
    for dev in DEVICES:
        _publish(our_pki, dev, broker.mtls_port, [{"seq": i, "temp": 20 + i, "board": dev} for i in range(3)])
    t.join(15)
    assert not t.is_alive()
    devs = result["devices"]
    assert sorted(devs) == list(DEVICES), (devs, m.errors)
    for dev in DEVICES:
        assert devs[dev]["count"] == 3
        assert dict(devs[dev]["fields"]) == {"seq": "2", "temp": "22", "board": dev}
    text = out.getvalue()
    assert "(TLSv1.3)" in text
    assert [line.split()[1:3] for line in text.splitlines() if "device-002" in line][-1] == ["device-002", "#3"]


def test_monitor_reconnects_after_broker_restart(our_pki, broker):
    want = lambda d: d.get("device-001", {}).get("fields", [("seq", "")])[0] == ("seq", "after")
    m, t, out, result = _start_monitor(our_pki, broker, seconds=20, until=want)
    broker.restart(down_s=0.3)
    deadline = time.monotonic() + 10
    while m.connects < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert m.connects == 2, (m.errors, out.getvalue())
    _publish(our_pki, "device-001", broker.mtls_port, [{"seq": "after"}])
    t.join(10)
    assert not t.is_alive()
    assert any(e.startswith("connection lost") for e in m.errors), m.errors
    assert "connected to" in out.getvalue().split("connection lost")[-1]


def test_monitor_command_plain_lines(our_pki, broker, capsys):
    for dev in DEVICES:
        _publish(our_pki, dev, broker.mtls_port, [{"seq": 99, "note": "retained"}], retain=True)
    pki_dir = os.path.dirname(our_pki["ca"])
    rc = cli.main(["monitor", "--pki", pki_dir, "--port", str(broker.mtls_port), "--seconds", "1.0"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "device-001   #1    seq=99 note=retained" in text, text
    assert text.strip().splitlines()[-1] == "# 2 messages from 2 devices (device-001, device-002)"
    for dev in DEVICES:  # clear the retained messages
        c = _device_client(our_pki, dev, broker.mtls_port)
        c.publish("devices/%s/telemetry" % dev, b"", retain=True, qos=1)
        c.disconnect()


# ---- probe ---------------------------------------------------------------------------------------

def test_probe_reports_suite_alpn_mfl_chain_and_board_verdicts(tpki, our_pki, tmp_path, capsys):
    with peers.openssl(tpki, alpn="mqtt") as srv:
        r = probe.probe("127.0.0.1", srv.port, cafiles=[tpki["ca"]], servername="localhost", alpn=["mqtt"],
                        mfl=512, send=b"x" * 3000 + b"\n")
        assert r["handshake"] and r["error"] is None, r
        assert r["suite"] == "TLS_AES_128_GCM_SHA256" and r["group"] == "x25519" and not r["hrr"]
        assert r["alpn"] == "mqtt"
        assert r["mfl_agreed"] and r["mfl_honoured"] and r["max_encrypted_record"] <= 512 + 17, r
        assert r["received"] == 3001  # s_server -rev echoed the line back in 512-byte records
        assert [c["subject"] for c in r["chain"]] == ["CN=localhost,O=micro-tls13 tests"]
        assert r["chain"][0]["key"] == "EC P-256" and r["chain"][0]["days_left"] > 300
        assert r["validation"] is None
        assert r["anchors_ok"] == ["CN=Test Root CA,O=micro-tls13 tests"]
        b = r["board"]
        assert b["clock_set"] is None and b["no_clock_with_floor"] is None
        assert b["no_clock_no_floor"]["reason"] == "clock_unset"
        assert b["no_clock_no_floor"]["alert"] == "certificate_unknown"
        # Without MFL the same transfer comes in bigger records.
        r = probe.probe("127.0.0.1", srv.port, cafiles=[tpki["ca"]], servername="localhost",
                        send=b"x" * 3000 + b"\n")
        assert r["max_encrypted_record"] > 512 + 17 and "mfl_honoured" not in r
        # Which anchors of a mixed store validate the chain.
        r = probe.probe("127.0.0.1", srv.port, cafiles=[tpki["other-ca.crt"], tpki["ca"], our_pki["ca"]],
                        servername="localhost", wait=0)
        assert r["validation"] is None and r["anchors_ok"] == ["CN=Test Root CA,O=micro-tls13 tests"]
        rc = cli.main(["probe", "127.0.0.1:%d" % srv.port, "--cafile", tpki["ca"], "--servername", "localhost",
                       "--board", "pico_w", "--wait", "0"])
    text = capsys.readouterr().out
    assert rc == 0, text
    for want in ("cipher suite  TLS_CHACHA20_POLY1305_SHA256", "group         x25519", "validation for localhost: OK",
                 "[0] CN=localhost,O=micro-tls13 tests", "issuer CN=Test Root CA", "clock_unset",
                 "subjectAltName localhost, 127.0.0.1, ::1", "on Raspberry Pi Pico W (RP2040) (160 KB heap)"):
        assert want in text, (want, text)


def test_probe_shows_the_chain_when_validation_fails(tpki, capsys):
    with peers.openssl(tpki) as srv:
        rc = cli.main(["probe", "127.0.0.1:%d" % srv.port, "--cafile", tpki["other-ca.crt"], "--wait", "0"])
        text = capsys.readouterr().out
        assert rc == 1, text
        assert "[0] CN=localhost,O=micro-tls13 tests" in text
        assert "validation for 127.0.0.1: FAILED: unknown_issuer (certificate [0]) -> alert unknown_ca" in text
        assert "WITHOUT validation" in text and "cipher suite" in text
        assert "anchors that validate this chain: none" in text
        # --strict stops where a board stops, with the board's alert, and still shows the chain.
        r = probe.probe("127.0.0.1", srv.port, cafiles=[tpki["ca"]], servername="wrong.example", strict=True)
        assert not r["handshake"] and r["alert"] == 42 and not r["alert_remote"], r
        assert r["validation"]["reason"] == "hostname_mismatch"
        assert r["chain"][0]["san"] == ["localhost", "127.0.0.1", "::1"]


def test_probe_hello_retry_and_rsa(tpki):
    with peers.openssl(tpki, cert="rsa", groups="P-256") as srv:
        r = probe.probe("127.0.0.1", srv.port, cafiles=[tpki["ca"]], wait=0)
    assert r["hrr"] and r["group"] == "secp256r1" and r["validation"] is None, r
    assert r["chain"][0]["key"] == "RSA 2048"


def _expired_server(tpki, tmp_path):
    """A server certificate from the test root that expired ten days ago."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    ca = _x509(tpki["ca"])
    with open(tpki["ca.key"], "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name.from_rfc4514_string("CN=old"))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(7)
            .not_valid_before(now - datetime.timedelta(days=100)).not_valid_after(now - datetime.timedelta(days=10))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    crt, k = tmp_path / "old.crt", tmp_path / "old.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return {"server-old.crt": str(crt), "server-old.key": str(k)}


def test_probe_expired_certificate_verdicts(tpki, tmp_path):
    with peers.openssl(_expired_server(tpki, tmp_path), cert="old") as srv:
        r = probe.probe("127.0.0.1", srv.port, cafiles=[tpki["ca"]], servername="localhost", wait=0)
    assert r["handshake"] and r["chain"][0]["days_left"] < 0
    b = r["board"]
    assert b["clock_set"]["reason"] == "expired" and b["clock_set"]["alert"] == "certificate_expired"
    assert b["no_clock_no_floor"]["reason"] == "clock_unset"
    assert b["no_clock_with_floor"]["reason"] == "expired"  # expired before the floor (today)
    lines = probe.render(r)
    assert any("clock set (after NTP):         expired" in line for line in lines), lines


def test_probe_mtls_broker_asks_for_a_client_certificate(our_pki, broker):
    r = probe.probe("127.0.0.1", broker.mtls_port, cafiles=[our_pki["ca"]], wait=1.0)
    assert r["cert_requested"] is True and r["validation"] is None
    # mosquitto completes the TLS 1.3 handshake, then sends certificate_required (or resets).
    assert r["alert"] == 116 or "reset" in (r["error"] or "").lower(), r
    r = probe.probe("127.0.0.1", broker.mtls_port, cafiles=[our_pki["ca"]], cert=our_pki["monitor.crt"],
                    key=our_pki["monitor.key"], wait=0.3)
    assert r["cert_requested"] is True and r["error"] is None and r["tickets"] >= 1, r

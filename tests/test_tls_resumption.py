"""mTLS, resumption across processes and 0-RTT against `openssl s_server`, on CPython and the VM.

Each scenario runs the client functions of tests/device/tls_resume.py in-process (CPython) and in a
fresh MicroPython process per connection (the VM), so a session that resumes was serialised by one
process and loaded by another, as across a board's deep sleep.
"""
import pytest

import peers
import pki
import vmbench
import tls_resume
from vmbench import VMCallError

RUNTIMES = ("cpython", "vm")


@pytest.fixture(scope="module")
def paths():
    return pki.ensure()


def run(runtime, fn, **kw):
    if runtime == "cpython":
        return getattr(tls_resume, fn)(**kw)
    return vmbench.call_on_vm("tls_resume", fn, timeout=120, **kw)


def fails_with(runtime, exc_name, fn, **kw):
    """The call must fail with the named exception class; returns its text."""
    if runtime == "cpython":
        with pytest.raises(Exception) as ei:
            getattr(tls_resume, fn)(**kw)
        assert type(ei.value).__name__ == exc_name, repr(ei.value)
        return str(ei.value)
    with pytest.raises(VMCallError) as ei:
        vmbench.call_on_vm("tls_resume", fn, timeout=120, **kw)
    assert ei.value.exc_type == exc_name, ei.value.output
    return ei.value.output


def _mtls_server(paths):
    return peers.Peer("openssl-mtls", [
        "openssl", "s_server", "-accept", "127.0.0.1:0", "-tls1_3", "-rev",
        "-cert", paths["server-ec.crt"], "-key", paths["server-ec.key"],
        "-Verify", "1", "-verify_return_error", "-verifyCAfile", paths["client-ca.crt"]])


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_client_certificate_accepted(paths, runtime):
    for dev in ("device-001", "device-002"):  # PKCS#8 and SEC1 keys
        with _mtls_server(paths) as srv:
            r = run(runtime, "echo", port=srv.port, cafile=paths["ca"], cert=paths[dev + ".crt"],
                    key=paths[dev + ".key"])
            assert r["reply"] == "sltm olleh\n"
            assert r["verified"] == "chain"
            assert "CN=" + dev in srv.log() or "CN = " + dev in srv.log(), srv.log()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_wrong_ca_client_certificate_refused(paths, runtime):
    with _mtls_server(paths) as srv:
        fails_with(runtime, "UnknownCa", "echo", port=srv.port, cafile=paths["ca"],
                   cert=paths["rogue-device.crt"], key=paths["rogue-device.key"])


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_missing_client_certificate_refused(paths, runtime):
    with _mtls_server(paths) as srv:
        text = fails_with(runtime, "CertificateRequired", "echo", port=srv.port, cafile=paths["ca"])
        assert "certificate_required(116)" in text


def _resume_server(paths, *extra):
    return peers.Peer("openssl-resume", [
        "openssl", "s_server", "-accept", "127.0.0.1:0", "-tls1_3",
        "-cert", paths["server-ec.crt"], "-key", paths["server-ec.key"]] + list(extra),
        keep_stdin="-rev" not in extra)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("mode", ("psk_dhe_ke", "psk_ke"))
def test_resumption_across_processes(paths, runtime, mode):
    with _resume_server(paths, "-rev", "-allow_no_dhe_kex") as srv:
        first = run(runtime, "connect", port=srv.port, cafile=paths["ca"], payload="first")
        assert not first["reused"] and first["reply"] == "tsrif\n"
        assert first["session"], "no NewSessionTicket kept"
        assert first["session_size"] < 512, "session too big for RTC memory"
        second = run(runtime, "connect", port=srv.port, cafile=paths["ca"], session=first["session"],
                     psk_ke=(mode == "psk_ke"), payload="again")
        assert second["reused"], "server did not accept the PSK"
        assert second["reply"] == "niaga\n"
        # psk_ke: no key exchange at all; psk_dhe_ke: a fresh x25519 exchange (forward secrecy).
        assert second["group"] == (None if mode == "psk_ke" else 0x001D)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_rejected_ticket_falls_back_to_full_handshake(paths, runtime):
    with _resume_server(paths, "-rev") as srv:
        first = run(runtime, "connect", port=srv.port, cafile=paths["ca"], payload="x")
    # A new server process has new ticket keys: the old ticket cannot be decrypted there.
    with _resume_server(paths, "-rev") as srv:
        second = run(runtime, "connect", port=srv.port, cafile=paths["ca"], session=first["session"],
                     payload="full")
        assert not second["reused"] and second["reply"] == "lluf\n"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_early_data_accepted_then_replay_rejected(paths, runtime):
    with _resume_server(paths, "-early_data") as srv:
        first = run(runtime, "connect", port=srv.port, cafile=paths["ca"], payload="boot", rev=False)
        assert first["max_early_data"] > 0
        early = run(runtime, "connect", port=srv.port, cafile=paths["ca"], session=first["session"],
                    early="TELEMETRY-0RTT-1", rev=False)
        assert early["reused"] and early["early_accepted"] and not early["early_resent"]
        # The same ticket again: OpenSSL's anti-replay refuses 0-RTT; the data goes after the handshake.
        again = run(runtime, "connect", port=srv.port, cafile=paths["ca"], session=first["session"],
                    early="TELEMETRY-0RTT-2", rev=False)
        assert not again["early_accepted"] and again["early_resent"]
        srv.stop()
        log = srv.log()
    assert "Early data received" in log and "TELEMETRY-0RTT-1" in log
    assert "Early data was rejected" in log and "TELEMETRY-0RTT-2" in log
    assert log.index("TELEMETRY-0RTT-1") < log.index("Early data was rejected") < log.index("TELEMETRY-0RTT-2")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_session_bound_to_server_name(paths, runtime):
    """A session from "localhost" is not offered under another name; the same server resumes it
    under the right one (so the refusal is the client's, not the server's)."""
    import tls13.resumption
    with _resume_server(paths, "-rev") as srv:
        first = run(runtime, "connect", port=srv.port, cafile=paths["ca"], payload="x")
        s = tls13.resumption.Session.from_bytes(bytes.fromhex(first["session"]))
        assert s.server_name == "localhost"
        s.server_name = "other.example"
        r = run(runtime, "connect", port=srv.port, cafile=paths["ca"], session=s.to_bytes().hex(), payload="y")
        assert not r["reused"]
        ok = run(runtime, "connect", port=srv.port, cafile=paths["ca"], session=first["session"], payload="z")
        assert ok["reused"]

"""Interop: our TLS 1.3 client against real servers on loopback, on CPython and on the MicroPython VM.

Servers (tests/peers.py): `openssl s_server -rev` (reverses lines), `gnutls-serv --echo`, and
tlslite-ng and CPython `ssl` echo servers (tests/peers/). The client side is
tests/device/tls_scenarios.session, run in-process ("cpython") and through vmbench.call_on_vm ("vm");
a RecordingProxy between them shows what went over the wire (ClientHellos, HelloRetryRequest, cookie,
CCS, record sizes). Every scenario checks the negotiated parameters, that the certificate chain was
verified, and the SHA-256 of what came back against what the server should have sent.

Volume: 1 MiB each way per cipher suite on both runtimes against gnutls-serv, and against the CPython
`ssl` server on the VM only (the pure-Python AEADs on CPython move ~100 KB/s each way, so the CPython
leg keeps to the one peer); the other scenarios move up to 256 KiB, most with a KeyUpdate half way.
`openssl s_server -rev` sleeps one second after reading a non-data record (its retry path), so each
KeyUpdate against it costs a second of wall time, not CPU.
INTEROP_HEAP_KB=<n> runs the VM side under another heap cap (to find the floor).
"""
import json
import os
import time

import pytest

import peers
from peers import deadline
import pki as pki_mod
import tls_scenarios
import vmbench

RUNTIMES = ("cpython", "vm")
SUITES = peers.SUITES
MIB = 1 << 20
KIB64 = 64 << 10
CLIENT_TIMEOUT = 60  # whole-scenario cap; every socket read also has its own timeout
RESULTS = os.path.join(peers.LOG_DIR, "results-%d.jsonl" % os.getpid())
# VM heap cap: tls_scenarios.HEAP_KB unless INTEROP_HEAP_KB says otherwise (to find the floor).
VM_HEAP_KB = int(os.environ.get("INTEROP_HEAP_KB", "0")) or None


@pytest.fixture(scope="module")
def pki():
    for tool in ("openssl", "gnutls-serv"):
        if not peers.have(tool):
            pytest.fail("%s is missing: run `make setup` (installs openssl gnutls-bin socat)" % tool)
    return pki_mod.ensure()


@pytest.fixture(scope="module", autouse=True)
def _mpy():
    vmbench.build_mpy()




def run(runtime, peer, pki, port=None, heap_kb=VM_HEAP_KB, **kw):
    """The client scenario on one runtime; any failure carries the server's log."""
    kw.setdefault("io_timeout", 20)
    kw.update(port=port or peer.port, cafile=pki["ca"])
    try:
        if runtime == "cpython":
            with deadline(CLIENT_TIMEOUT):
                r = tls_scenarios.session(**kw)
        else:
            r = vmbench.call_on_vm("tls_scenarios", "session", heap_kb=heap_kb, timeout=CLIENT_TIMEOUT, **kw)
    except Exception as e:
        detail = getattr(e, "output", None) or "%s: %s" % (type(e).__name__, e)
        pytest.fail("client on %s failed against %s:\n%s\n---- server log (%s)\n%s"
                    % (runtime, peer.name, detail, peer.log_path, peer.log()), pytrace=False)
    with open(RESULTS, "a") as f:
        f.write(json.dumps({"peer": peer.name, "args": {k: v for k, v in kw.items() if k != "cafile"},
                            "result": {k: v for k, v in r.items() if k != "events"}}) + "\n")
    return r


def check(r, peer, suite=None, key_update=False, alpn=None, group="x25519"):
    ctx = "%s on %s: %r\n---- server log\n%s" % (peer.name, r.get("runtime"), r, peer.log())
    assert r["version"] == "TLSv1.3", ctx
    assert r["peer_verified"] == "chain", ctx
    assert r["group"] == group, ctx
    if suite:
        assert r["cipher"] == suite, ctx
    assert r["bytes_received"] == r["bytes_sent"], ctx
    assert r["sha256_received"] == r["sha256_expected"], ctx
    if key_update:
        assert r["key_update_sent"], ctx
        # The peer answered our update_requested with its own KeyUpdate (update_not_requested).
        assert ["key_update", 0] in r["key_updates_seen"], ctx
    assert r["alpn"] == alpn, ctx


def wait_log(peer, text, timeout=5.0):
    """The server reports the clean close a moment after our close_notify reaches it."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if text in peer.log():
            return True
        time.sleep(0.05)
    return False


# ---- openssl s_server ---------------------------------------------------------------------------

@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("cert", ("ec", "rsa"))
def test_openssl_cert_and_suite(pki, cert, suite, runtime):
    ku = cert == "ec"  # each KeyUpdate costs s_server a 1 s sleep: the EC runs carry it
    with peers.openssl(pki, cert=cert, suite=suite) as srv:
        r = run(runtime, srv, pki, nbytes=KIB64, mode="rev", key_update=ku)
        check(r, srv, suite=suite, key_update=ku)
        assert r["tickets_received"] >= 1, r  # OpenSSL sends NewSessionTickets; they must parse
        assert wait_log(srv, "CONNECTION CLOSED"), srv.log()
        assert "CONNECTION FAILURE" not in srv.log(), srv.log()


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("cert", ("p384", "ed25519"))
def test_openssl_other_server_keys(pki, cert, runtime):
    """CertificateVerify with ecdsa_secp384r1_sha384 and ed25519 (chains signed by the P-256 root)."""
    with peers.openssl(pki, cert=cert, suite="TLS_AES_128_GCM_SHA256") as srv:
        r = run(runtime, srv, pki, nbytes=4096, mode="rev")
        check(r, srv, suite="TLS_AES_128_GCM_SHA256")


def _expect_failure(runtime, peer, pki, exc_name, **kw):
    """The scenario must fail with the named TLSError subclass; returns the message."""
    kw.update(port=peer.port)
    kw.setdefault("cafile", pki["ca"])
    if runtime == "cpython":
        import tls13
        with deadline(CLIENT_TIMEOUT):
            with pytest.raises(tls13.TLSError) as ei:
                tls_scenarios.session(**kw)
        assert type(ei.value).__name__ == exc_name, repr(ei.value)
        return str(ei.value)
    with pytest.raises(vmbench.VMCallError) as ei:
        vmbench.call_on_vm("tls_scenarios", "session", heap_kb=VM_HEAP_KB, timeout=CLIENT_TIMEOUT, **kw)
    assert ei.value.exc_type == exc_name, ei.value.output
    return ei.value.output


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("case", ("wrong_ca", "wrong_name"))
def test_openssl_untrusted_server_rejected(pki, case, runtime):
    """Verification is real on both runtimes: the server sees our alert."""
    if case == "wrong_ca":
        kw, exc, alert = {"cafile": pki["other-ca.crt"]}, "UnknownCa", "alert unknown ca"
    else:
        kw, exc, alert = {"server_hostname": "wrong.example"}, "BadCertificate", "alert bad certificate"
    with peers.openssl(pki) as srv:
        _expect_failure(runtime, srv, pki, exc, **kw)
        assert wait_log(srv, alert), srv.log()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_tls12_only_server(pki, runtime):
    """A TLS-1.2-only OpenSSL refuses our 1.3-only hello; the client reports the remote alert."""
    with peers.openssl(pki, version="-tls1_2") as srv:
        msg = _expect_failure(runtime, srv, pki, "ProtocolVersion")
        assert "peer sent" in msg, msg


# case -> (server factory, payload mode, client key_share groups, group the handshake ends with)
HRR_CASES = {
    # Empty key_share: the server names a group from supported_groups (tlslite-ng prefers P-256
    # and puts a cookie in its HelloRetryRequest, which it checks in the second ClientHello).
    "openssl-empty-share": (lambda pki: peers.openssl(pki, groups="X25519"), "rev", [], "x25519"),
    "gnutls-empty-share": (lambda pki: peers.gnutls(pki), "echo", [], "x25519"),
    "tlslite-empty-share": (lambda pki: peers.tlslite(pki), "echo", [], "secp256r1"),
    # The usual x25519 share, but the server only does P-256: HRR to the second group.
    "openssl-insists-p256": (lambda pki: peers.openssl(pki, groups="P-256"), "rev", None, "secp256r1"),
    "gnutls-insists-p256": (lambda pki: peers.gnutls(pki, group="SECP256R1"), "echo", None, "secp256r1"),
}


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("case", sorted(HRR_CASES))
def test_hello_retry_request(pki, case, runtime):
    start, mode, shares, group = HRR_CASES[case]
    with start(pki) as srv, peers.RecordingProxy(srv.port) as proxy:
        r = run(runtime, srv, pki, port=proxy.port, key_share_groups=shares, nbytes=8192, mode=mode,
                key_update=True)
        check(r, srv, group=group, key_update=True)
        t = proxy.totals()
        assert (t["client_hellos"], t["hrr"], t["server_hellos"]) == (2, 1, 1), t
        assert t["client_ccs"] == 1, t  # compatibility mode: one CCS, before the second ClientHello
        hrr_ext, ch2_ext = t["server_hello_extensions"][0], t["client_hello_extensions"][1]
        assert 51 in hrr_ext, t  # key_share naming the group
        if case.startswith("tlslite"):
            assert 44 in hrr_ext, t
        assert (44 in hrr_ext) == (44 in ch2_ext), t  # a cookie goes back unchanged


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_openssl_fragmented_flights(pki, runtime):
    """512-byte records split the server's handshake messages (the RSA Certificate spans several);
    no middlebox CCS from the server; five NewSessionTickets."""
    extra = ["-max_send_frag", "512", "-no_middlebox", "-num_tickets", "5"]
    with peers.openssl(pki, cert="rsa", extra=extra) as srv, peers.RecordingProxy(srv.port) as proxy:
        r = run(runtime, srv, pki, port=proxy.port, nbytes=16384, mode="rev", key_update=True)
        check(r, srv, key_update=True)
        assert r["tickets_received"] == 5, r
        assert proxy.totals()["max_server_record"] <= 512 + 17, proxy.totals()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_openssl_max_fragment_length(pki, runtime):
    """4 KB lines make s_server write 4 KB at once; with 2048 agreed every record must stay small."""
    with peers.openssl(pki) as srv, peers.RecordingProxy(srv.port) as proxy:
        r = run(runtime, srv, pki, port=proxy.port, mfl=2048, nbytes=KIB64, line=4096, mode="rev",
                key_update=True)
        check(r, srv, key_update=True)
        assert r["mfl_agreed"] is True and r["record_limit"] == 2048, r
        t = proxy.totals()
        assert t["max_server_record"] <= 2048 + 256, t
        assert t["max_client_record"] <= 2048 + 256, t
        assert t["server_records"] >= KIB64 // 2048, t


def test_openssl_without_mfl_sends_big_records(pki):
    """Control for the test above: the same transfer without the extension has 4 KB records."""
    with peers.openssl(pki) as srv, peers.RecordingProxy(srv.port) as proxy:
        r = run("cpython", srv, pki, port=proxy.port, nbytes=32768, line=4096, mode="rev")
        check(r, srv)
        assert r["mfl_agreed"] is False, r
        assert proxy.totals()["max_server_record"] > 2048 + 256, proxy.totals()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_gnutls_full_size_records(pki, runtime):
    """16 KB records both ways: we send them (max_send_record) and gnutls echoes each as one."""
    with peers.gnutls(pki) as srv, peers.RecordingProxy(srv.port) as proxy:
        r = run(runtime, srv, pki, port=proxy.port, nbytes=4 * KIB64, chunk=16384, window=32768,
                key_update=True, config={"max_send_record": 16384})
        check(r, srv, key_update=True)
        t = proxy.totals()
        assert t["max_client_record"] == 16384 + 17 and t["max_server_record"] == 16384 + 17, t


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_openssl_padding_without_compat_mode(pki, runtime):
    """Padded inner plaintext (RFC 8446 5.4) and no middlebox-compatibility CCS."""
    with peers.openssl(pki) as srv, peers.RecordingProxy(srv.port) as proxy:
        r = run(runtime, srv, pki, port=proxy.port, nbytes=16384, mode="rev",
                config={"record_padding": 512, "compat_mode": False})
        check(r, srv)
        t = proxy.totals()
        assert t["client_ccs"] == 0, t
        inner = [n - 16 for n in t["client_encrypted_lengths"]]
        # full records are the default max_send_record (2048) + content type, capped, not padded
        assert inner and all(n % 512 == 0 or n == 2048 + 1 for n in inner), inner


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("mode", ("request", "require"))
def test_openssl_certificate_request_without_identity(pki, mode, runtime):
    """A client without a certificate answers CertificateRequest with an empty Certificate: fine when
    the server only asks, certificate_required from the server when it insists."""
    flag = "-verify" if mode == "request" else "-Verify"
    with peers.openssl(pki, extra=[flag, "1"]) as srv:
        if mode == "request":
            check(run(runtime, srv, pki, nbytes=4096, mode="rev"), srv)
        else:
            msg = _expect_failure(runtime, srv, pki, "CertificateRequired", nbytes=4096, mode="rev")
            assert "peer sent" in msg, msg


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("server", ("gnutls", "tlslite"))
def test_record_size_limit(pki, server, runtime):
    """RFC 8449 (OpenSSL 3.0 lacks it): the echo of our 4 KB records must come back in <= 2 KB ones."""
    with getattr(peers, server)(pki) as srv, peers.RecordingProxy(srv.port) as proxy:
        r = run(runtime, srv, pki, port=proxy.port, rsl=2048, nbytes=KIB64, key_update=True)
        check(r, srv, key_update=True)
        assert r["record_limit"] == 2048 and r["mfl_agreed"] is False, r
        t = proxy.totals()
        assert t["max_server_record"] <= 2048 + 256 and t["max_client_record"] <= 2048 + 256, t
        assert t["server_records"] >= KIB64 // 2048, t


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("server", ("openssl", "gnutls", "pyssl"))
def test_alpn(pki, server, runtime):
    start = {"openssl": lambda: peers.openssl(pki, alpn="mqtt,http/1.1"),
             "gnutls": lambda: peers.gnutls(pki, alpn="mqtt"),
             "pyssl": lambda: peers.pyssl(pki, alpn="mqtt,http/1.1")}[server]
    with start() as srv:
        r = run(runtime, srv, pki, alpn=["x-unknown/1", "mqtt"], nbytes=2048,
                mode="rev" if server == "openssl" else "echo")
        check(r, srv, alpn="mqtt")


# ---- gnutls-serv, tlslite-ng, CPython ssl ------------------------------------------------------

@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("cert", ("ec", "rsa"))
@pytest.mark.parametrize("server", ("gnutls", "tlslite", "pyssl"))
def test_echo_servers(pki, server, cert, runtime):
    with getattr(peers, server)(pki, cert=cert) as srv:
        r = run(runtime, srv, pki, nbytes=KIB64, key_update=True)
        check(r, srv, key_update=True)
        if server != "gnutls":
            assert wait_log(srv, "echoed %d bytes, clean close" % r["bytes_sent"]), srv.log()


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("suite", SUITES)
def test_tlslite_suites(pki, suite, runtime):
    with peers.tlslite(pki, suite=suite) as srv:
        r = run(runtime, srv, pki, nbytes=KIB64, key_update=True)
        check(r, srv, suite=suite, key_update=True)
        assert wait_log(srv, "echoed %d bytes, clean close" % r["bytes_sent"]), srv.log()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_tlslite_server_requests_key_update(pki, runtime):
    """The server's KeyUpdate(update_requested) a quarter of the way in: the client switches its read
    keys, answers with its own KeyUpdate and the rest of the echo still decrypts on both sides."""
    with peers.tlslite(pki, key_update_after=KIB64 // 4) as srv:
        r = run(runtime, srv, pki, nbytes=KIB64)
        check(r, srv)
        assert ["key_update", 1] in r["key_updates_seen"], r
        assert wait_log(srv, "echoed %d bytes, clean close" % KIB64), srv.log()
        assert "sent KeyUpdate(update_requested)" in srv.log(), srv.log()


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("server", ("openssl", "pyssl"))
def test_server_closes_with_close_notify(pki, server, runtime):
    """A "CLOSE" line makes the server end the session properly: a clean end of stream (read -> 0)."""
    srv_cm = peers.openssl(pki) if server == "openssl" else peers.pyssl(pki)
    with srv_cm as srv:
        r = run(runtime, srv, pki, nbytes=8192, mode="rev" if server == "openssl" else "echo",
                close_line=True)
        check(r, srv)
        assert r["peer_close"] == "close_notify", r


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_server_drops_connection_without_close_notify(pki, runtime):
    """A TCP FIN with no close_notify after the echo: TruncationError, never a clean EOF."""
    with peers.pyssl(pki, drop_after=16384) as srv:
        msg = _expect_failure(runtime, srv, pki, "TruncationError", nbytes=16384, read_to_end=True)
        assert "close_notify" in msg, msg
        assert "dropped after 16384 bytes" in srv.log(), srv.log()


# ---- volume -------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("suite", SUITES)
def test_gnutls_1mib_each_suite(pki, suite, runtime):
    """1 MiB each way per suite (gnutls-serv picks the one suite its priority string allows) with a
    KeyUpdate both ways in the middle."""
    with peers.gnutls(pki, suite=suite) as srv:
        r = run(runtime, srv, pki, nbytes=MIB, key_update=True)
        check(r, srv, suite=suite, key_update=True)


@pytest.mark.slow
@pytest.mark.parametrize("suite", SUITES)
def test_pyssl_1mib_each_suite_on_vm(pki, suite):
    """The client's own suite choice (it offers only one) against OpenSSL through CPython's ssl."""
    with peers.pyssl(pki) as srv:
        r = run("vm", srv, pki, suites=suite, nbytes=MIB, key_update=True)
        check(r, srv, suite=suite, key_update=True)
        assert wait_log(srv, "echoed %d bytes, clean close" % MIB), srv.log()


# ---- nothing hangs ------------------------------------------------------------------------------

class _SilentPeer:
    """A listener that completes TCP handshakes (the kernel's backlog) and never says a word."""

    name = "silent-listener"
    log_path = "(none)"

    def __init__(self):
        import socket
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]

    def log(self):
        return ""


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_silent_server_times_out(pki, runtime):
    """The client's socket timeout ends a handshake the server never answers, on both runtimes."""
    peer = _SilentPeer()
    kw = dict(port=peer.port, cafile=pki["ca"], io_timeout=1)
    t0 = time.monotonic()
    try:
        if runtime == "cpython":
            with deadline(10):
                with pytest.raises(OSError) as ei:  # socket.timeout is an OSError
                    tls_scenarios.session(**kw)
            assert isinstance(ei.value, TimeoutError), repr(ei.value)
        else:
            with pytest.raises(vmbench.VMCallError) as ei:
                vmbench.call_on_vm("tls_scenarios", "session", heap_kb=VM_HEAP_KB, timeout=30, **kw)
            assert ei.value.exc_type == "OSError" and "ETIMEDOUT" in ei.value.output, ei.value.output
    finally:
        peer.sock.close()
    assert time.monotonic() - t0 < 8

"""Stream edge cases on CPython and on the MicroPython VM: a read timeout in the middle of a record
loses nothing; the asyncio streams carry writes that span several records.

The server (tests/evilserver.py, mode slow_echo) sends the echo record in two parts with a pause
longer than the client's read timeout between them: the client's read times out (at least once) and
the read after that returns the whole message, decrypted and authenticated."""
import pytest

import evilserver
import pki
import vmbench
import tls_scenarios

MESSAGE = "a record that arrives in two halves, 0123456789"


@pytest.mark.parametrize("runtime", ["cpython", "vm"])
def test_timeout_mid_record_consumes_nothing(runtime):
    paths = pki.ensure()
    srv = evilserver.EvilServer("slow_echo", pause=1.2).start()
    try:
        kw = dict(port=srv.port, cafile=paths["ca"], read_timeout=0.4, message=MESSAGE)
        if runtime == "cpython":
            r = tls_scenarios.slow_record(**kw)
        else:
            r = vmbench.call_on_vm("tls_scenarios", "slow_record", timeout=60, **kw)
    finally:
        srv.stop()
    assert r["got"] == MESSAGE
    assert r["timeouts"] >= 1


@pytest.mark.parametrize("runtime", ["cpython", "vm"])
def test_aio_streams_carry_multi_record_writes(runtime):
    """tls13.aio: 200 KB in 5,000-byte writes (each sealed into several records straight into the
    stream) echoed back by Python's ssl server, concurrently with the reads; hashes must match."""
    import peers
    paths = pki.ensure()
    with peers.pyssl(paths) as srv:
        kw = dict(port=srv.port, cafile=paths["ca"], nbytes=200000, chunk=5000)
        if runtime == "cpython":
            r = tls_scenarios.aio_echo(**kw)
        else:
            r = vmbench.call_on_vm("tls_scenarios", "aio_echo", timeout=120, **kw)
    assert r == {"sent": 200000, "received": 200000, "same": True}

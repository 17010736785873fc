"""Client-side mTLS, resumption and 0-RTT scenarios, the same code on CPython and the VM.

Each function makes one connection and returns a JSON-able dict; tests/test_tls_resumption.py starts
`openssl s_server` and calls them in-process and via vmbench.call_on_vm. A session travels between
calls as hex bytes, so "resume in another process" is literally a second VM process, as after a
board's deep sleep.
"""
import socket

import tls13
from tls13.resumption import Session

HEAP_KB = 320  # the stack from .mpy on the 64-bit VM plus a 16 KB record buffer; see tls_scenarios

try:
    from time import ticks_diff, ticks_ms
except ImportError:
    import time

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b


def _ctx(cafile, cert=None, key=None, psk_ke=False):
    ctx = tls13.SSLContext(tls13.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=cafile)
    if cert:
        ctx.load_cert_chain(cert, key)
    if psk_ke:
        ctx.set_psk_modes(dhe=False, psk_only=True)
    return ctx


def _sock(port, timeout):
    s = socket.socket()
    s.settimeout(timeout)
    s.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
    return s


def _wait_tickets(ss, ms):
    """Read until the server's NewSessionTicket arrives (it follows our Finished)."""
    conn = ss.connection
    t0 = ticks_ms()
    while not conn.tickets and ticks_diff(ticks_ms(), t0) < ms:
        if ss.pending():
            break
        ss._fill()


def echo(port, cafile, cert=None, key=None, line="hello mtls", timeout=10):
    """Connect (optionally with a client certificate) to `s_server -rev`; send one line, read it back."""
    ctx = _ctx(cafile, cert, key)
    ss = ctx.wrap_socket(_sock(port, timeout), server_hostname="localhost")
    try:
        ss.write(line.encode() + b"\n")
        got = b""
        while not got.endswith(b"\n"):
            chunk = ss.recv(256)
            if not chunk:
                break
            got += chunk
        return {"reply": got.decode(), "verified": ss.connection.peer_verified}
    finally:
        ss.close()


def connect(port, cafile, session=None, psk_ke=False, early=None, payload="", rev=True, timeout=10,
            want_ticket=True):
    """One connection; returns what happened and the newest session (hex) for the next call."""
    ctx = _ctx(cafile, psk_ke=psk_ke)
    sess = Session.from_bytes(bytes.fromhex(session)) if session else None
    sock = _sock(port, timeout)
    t0 = ticks_ms()
    ss = ctx.wrap_socket(sock, server_hostname="localhost", session=sess,
                         early_data=early.encode() if early else None)
    handshake_ms = ticks_diff(ticks_ms(), t0)
    try:
        reply = ""
        if payload:
            ss.write(payload.encode() + b"\n")
            if rev:
                got = b""
                while not got.endswith(b"\n"):
                    chunk = ss.recv(256)
                    if not chunk:
                        break
                    got += chunk
                reply = got.decode()
        if want_ticket:
            _wait_tickets(ss, 3000)
        new = ss.session
        conn = ss.connection
        return {
            "reused": ss.session_reused,
            "early_accepted": ss.early_data_accepted,
            "early_resent": conn.early_data_rejected,
            "handshake_ms": handshake_ms,
            "reply": reply,
            "session": new.to_bytes().hex() if new else None,
            "session_size": len(new.to_bytes()) if new else 0,
            "max_early_data": new.max_early_data if new else 0,
            "group": conn.group,
        }
    finally:
        ss.close()

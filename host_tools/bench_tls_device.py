"""Device side of the TLS handshake benchmark (runs on the MicroPython VM and on CPython).

    micropython bench_tls_device.py <port> <cafile> <n>

Prints one JSON line per figure: {"figure": name, "samples_ms": [...]} or {"figure": name, "bytes": n}.
Handshake times include TCP connect; every connection sends one line and reads the echo, so the
server has finished its side too.
"""
import gc
import json
import socket
import sys

from benchclock import now, since

MP = sys.implementation.name == "micropython"


def _sock(port):
    s = socket.socket()
    s.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
    return s


def _echo(ss):
    ss.write(b"ping\n")
    got = b""
    while not got.endswith(b"\n"):
        chunk = ss.recv(16) if hasattr(ss, "recv") else ss.read(1)
        if not chunk:
            break
        got += chunk
    return got


def ours(port, cafile, session=None, psk_ke=False, mfl=None):
    import tls13
    ctx = tls13.SSLContext(tls13.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=cafile)
    if psk_ke:
        ctx.set_psk_modes(dhe=False, psk_only=True)
    if mfl:
        ctx.max_fragment_length = mfl
    t0 = now()
    ss = ctx.wrap_socket(_sock(port), server_hostname="localhost", session=session)
    _echo(ss)
    dt = since(t0) * 1000
    # collect the tickets the server sent after our Finished
    conn = ss.connection
    while not conn.tickets:
        ss._fill()
    reused = ss.session_reused
    sess = ss.session
    ss.close()
    return dt, reused, sess


def builtin(port, cafile):
    import ssl
    import binascii
    with open(cafile) as f:
        pem = f.read()
    der = binascii.a2b_base64("".join(x for x in pem.splitlines() if not x.startswith("-----")))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=der)
    t0 = now()
    ss = ctx.wrap_socket(_sock(port), server_hostname="localhost")
    _echo(ss)
    dt = since(t0) * 1000
    ss.close()
    return dt


def held(port, cafile, mfl):
    """Heap the connection holds from ClientHello to the first application byte (code loaded)."""
    import tls13
    ctx = tls13.SSLContext(tls13.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=cafile)
    if mfl:
        ctx.max_fragment_length = mfl
    s = _sock(port)
    from tls13 import bufpool
    del bufpool._free[:]  # count the record buffers too (closed connections park theirs there)
    gc.collect()
    a0 = gc.mem_alloc()
    ss = ctx.wrap_socket(s, server_hostname="localhost")
    _echo(ss)
    gc.collect()
    n = gc.mem_alloc() - a0
    ss.close()
    return n


def out(figure, **kw):
    kw["figure"] = figure
    print(json.dumps(kw))


def main(argv):
    port, cafile, n = int(argv[0]), argv[1], int(argv[2])
    _, _, sess = ours(port, cafile)  # warm-up: loads the code, the G tables, gets a ticket
    full = []
    for _ in range(n):
        dt, _, sess = ours(port, cafile)
        full.append(dt)
    out("full_handshake_ms", samples_ms=full)
    for name, ke in (("resumed_psk_dhe_ke_ms", False), ("resumed_psk_ke_ms", True)):
        xs = []
        for _ in range(n):
            dt, reused, new = ours(port, cafile, sess, psk_ke=ke)
            if not reused:
                raise RuntimeError("server did not resume")
            sess = new
            xs.append(dt)
        out(name, samples_ms=xs)
    if MP:
        xs = [builtin(port, cafile) for _ in range(n)]
        out("builtin_ssl_tls12_full_ms", samples_ms=xs)
        if MP:
            out("connection_heap_16k_records", bytes=held(port, cafile, None))
            out("connection_heap_mfl2048", bytes=held(port, cafile, 2048))
    from tls13.crypto import ecdsa, hashes
    priv = bytes(31) + b"\x07"
    d = hashes.sha256(b"x").digest()
    ecdsa.sign_p256(priv, d)
    xs = []
    for _ in range(n):
        t0 = now()
        ecdsa.sign_p256(priv, d, b"\x01" * 32)
        xs.append(since(t0) * 1000)
    out("ecdsa_p256_sign_ms", samples_ms=xs)


if __name__ == "__main__":
    main(sys.argv[1:])

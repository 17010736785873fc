"""Device side of the heap-over-handshake figure (MicroPython VM; runs on CPython without heap numbers).

    micropython -X heapsize=16m bench_phases_device.py <port> <cafile> <mfl or 0> <runs>

One JSON line per run: {"figure": "phases", "mfl": n, "phases": [[name, live, churn], ...]} where
`live` is the heap in use after a collection at the end of the phase, relative to the heap before the
context was made (code already loaded by a warm-up handshake, so only the connection's data counts),
and `churn` is what the phase allocated in total with the collector paused (the garbage a board's GC
has to find room for; an upper bound of the phase's transient peak). Bytes, 64-bit VM objects.
"""
import gc
import json
import sys

from bench_tls_device import _echo, _sock  # the same folder, on both runtimes

MP = sys.implementation.name == "micropython"
# handshake message type -> phase name (what the client does when it arrives)
NAMES = {2: "ServerHello: X25519 shared secret, handshake keys",
         8: "EncryptedExtensions",
         13: "CertificateRequest",
         11: "Certificate: chain parsed and validated",
         15: "CertificateVerify: ECDSA P-256 verify",
         20: "server Finished, client Finished queued",
         4: "NewSessionTicket"}


def _alloc():
    return gc.mem_alloc() if MP else 0


class Meter:
    def __init__(self):
        self.base = 0
        self.mark0 = 0
        self.rows = []

    def begin(self):
        gc.collect()
        self.base = _alloc()
        gc.disable()
        self.mark0 = _alloc()

    def mark(self, name):
        churn = _alloc() - self.mark0
        gc.enable()
        gc.collect()
        live = _alloc() - self.base
        self.rows.append([name, live, churn])
        gc.disable()
        self.mark0 = _alloc()

    def end(self):
        gc.enable()


class Probe:
    """Stands in for the connection's handshake state and marks the heap after each message."""

    def __init__(self, inner, meter):
        self.inner = inner
        self.meter = meter

    def handle(self, conn, mtype, body, raw):
        nxt = self.inner.handle(conn, mtype, body, raw)
        self.meter.mark(NAMES.get(mtype, "message %d" % mtype))
        return Probe(nxt, self.meter) if nxt is not None else None


def one(port, cafile, mfl, meter=None):
    import tls13
    from tls13 import bufpool
    del bufpool._free[:]  # the record buffers are the connection's: count them
    m = meter or Meter()
    m.begin()
    ctx = tls13.SSLContext(tls13.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=cafile)
    if mfl:
        ctx.max_fragment_length = mfl
    m.mark("context, CA loaded")
    ss = ctx.wrap_socket(_sock(port), server_hostname="localhost", do_handshake_on_connect=False)
    conn = ss.connection
    m.mark("socket, connection, record buffers")
    conn.start()
    ss._flush()
    m.mark("ClientHello: X25519 key pair")
    conn.state = Probe(conn.state, m)
    ss.do_handshake()
    _echo(ss)
    m.mark("client Finished sent, first application data")
    while not conn.tickets:
        ss._fill()
    ss.close()
    del ss, conn, ctx
    m.mark("closed (buffers back in the pool)")
    m.end()
    return m.rows


def main(argv):
    port, cafile, mfl, runs = int(argv[0]), argv[1], int(argv[2]), int(argv[3])
    one(port, cafile, mfl)  # warm-up: loads the code and the lazily built tables
    for _ in range(runs):
        print(json.dumps({"figure": "phases", "mfl": mfl, "phases": one(port, cafile, mfl)}))


if __name__ == "__main__":
    main(sys.argv[1:])

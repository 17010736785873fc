"""Client-side interop scenarios, the same code on CPython and on the MicroPython VM.

tests/test_interop.py starts a real server on loopback, then calls `session(...)` here in-process and
through tests/vmbench.call_on_vm; the result is a JSON-able dict of what the client observed, and the
host test judges it. Nothing here asserts: a failure is an exception, whose type and traceback the
host test shows.

The payload is lines of `line` bytes (line feed included) made of a per-line counter and a body
pattern, so data cannot be reordered or repeated unnoticed. mode "echo" expects the bytes back as
sent; mode "rev" expects each line reversed before its line feed (`openssl s_server -rev`).
"""
import gc
import hashlib
import socket
import sys

import tls13

# The TLS stack imported from .mpy holds ~180 KB on the 64-bit VM today; these scenarios pass from
# ~240 KB (AES-128 / ChaCha20) to ~272 KB (SHA-384 suite or P-384 certificate: the pure SHA-512
# fallback). call_on_vm uses this cap unless a test asks otherwise.
HEAP_KB = 320

IS_MICROPYTHON = sys.implementation.name == "micropython"

try:
    from time import ticks_diff, ticks_ms
except ImportError:
    import time

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

GROUP_NAMES = {0x001D: "x25519", 0x0017: "secp256r1"}


def _connect(host, port, timeout):
    addr = socket.getaddrinfo(host, port)[0][-1]
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect(addr)
    except BaseException:
        s.close()
        raise
    return s


def _context(cafile, suites, alpn, mfl, rsl, key_share_groups, config):
    ctx = tls13.SSLContext(tls13.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=cafile)
    # All three suites unless told otherwise: the servers force one each (the library's own default
    # leaves the SHA-384 suite out where hashlib has no SHA-384, as on the VM and the boards).
    ctx.set_ciphers(suites or "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384")
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if mfl:
        ctx.max_fragment_length = mfl
    if rsl:
        ctx.record_size_limit = rsl
    if key_share_groups is not None:
        ctx.config.key_share_groups = list(key_share_groups)
    for name in config or ():
        if not hasattr(ctx.config, name):
            raise ValueError("no ClientConfig setting " + name)
        setattr(ctx.config, name, config[name])
    return ctx


class Lines:
    """Generates whole lines into a reusable buffer and hashes what should come back."""

    def __init__(self, line, mode, chunk):
        if line < 16:
            raise ValueError("line too short")
        self.line = line
        self.mode = mode
        self.per_chunk = max(1, chunk // line)
        self.buf = bytearray(self.per_chunk * line)
        body = bytearray(line - 9)  # 8-byte counter + body + line feed
        for i in range(len(body)):
            body[i] = 33 + (i * 7 + i // 94) % 94
        self.body = bytes(body)
        self.body_rev = bytes(reversed(self.body))
        self.n = 0
        self.h_sent = hashlib.sha256()
        self.h_expect = hashlib.sha256() if mode == "rev" else None

    def fill(self, max_lines):
        """Next chunk of at most max_lines lines; returns a memoryview of it."""
        k = min(self.per_chunk, max_lines)
        b = self.buf
        L = self.line
        for j in range(k):
            off = j * L
            ctr = b"%08x" % (self.n & 0xFFFFFFFF)
            self.n += 1
            b[off:off + 8] = ctr
            b[off + 8:off + L - 1] = self.body
            b[off + L - 1] = 10
            if self.h_expect is not None:
                self.h_expect.update(self.body_rev)
                self.h_expect.update(bytes(reversed(ctr)))
                self.h_expect.update(b"\n")
        mv = memoryview(b)[:k * L]
        self.h_sent.update(mv)
        return mv

    def digests(self):
        sent = _hex(self.h_sent.digest())
        return sent, (_hex(self.h_expect.digest()) if self.h_expect is not None else sent)


def _hex(b):
    return "".join("%02x" % x for x in b)


def session(port, cafile, host="127.0.0.1", server_hostname="localhost", suites=None, alpn=None,
            mfl=None, rsl=None, key_share_groups=None, nbytes=0, line=1024, mode="echo", chunk=4096,
            window=16384, key_update=False, io_timeout=20, config=None, close_line=False,
            read_to_end=False):
    """Connect, handshake, send nbytes (rounded up to whole lines) while reading the answer back,
    with one KeyUpdate (request_peer=True) once half is sent if key_update, then close_notify.
    config: other ClientConfig attributes to set (e.g. {"record_padding": 256}).
    close_line: finally send "CLOSE" (openssl -rev and the ssl echo server then close with
    close_notify) and require a clean end of stream; read_to_end: the same without sending it (for a
    server that ends the connection by itself)."""
    # The payload buffers come first, while the heap is still in one piece.
    lines = Lines(line, mode, chunk)
    inbuf = bytearray(2048)
    gc.collect()
    mem0 = gc.mem_alloc() if IS_MICROPYTHON else None
    t0 = ticks_ms()
    ctx = _context(cafile, suites, alpn, mfl, rsl, key_share_groups, config)
    sock = _connect(host, port, io_timeout)
    s = None
    try:
        s = ctx.wrap_socket(sock, server_hostname=server_hostname)
        t_hs = ticks_ms()
        conn = s.connection
        result = {
            "runtime": sys.implementation.name,
            "version": s.version(),
            "cipher": s.cipher()[0],
            "cipher_bits": s.cipher()[2],
            "group": GROUP_NAMES.get(conn.group, conn.group),
            "alpn": s.selected_alpn_protocol(),
            "mfl_agreed": conn.mfl_agreed,
            "record_limit": conn.record_limit,
            "peer_verified": conn.peer_verified,
            "handshake_ms": ticks_diff(t_hs, t0),
        }
        if IS_MICROPYTHON:
            # Modules the handshake imported on first use count here too.
            gc.collect()
            result["mem_alloc_before_connect"] = mem0
            result["mem_alloc_after_handshake"] = gc.mem_alloc()
        total_lines = (nbytes + line - 1) // line
        h_recv = hashlib.sha256()
        sent = recvd = 0
        ku_sent = False
        half = total_lines // 2 if key_update else -1
        while lines.n < total_lines:
            # Stop at half to send the KeyUpdate: the peer's own KeyUpdate precedes its next write.
            upto = half if lines.n < half else total_lines
            mv = lines.fill(upto - lines.n)
            s.write(mv)
            sent += len(mv)
            if lines.n == half:
                s.key_update(request_peer=True)
                ku_sent = True
            while sent - recvd > window:
                recvd += _read_some(s, inbuf, h_recv)
        while recvd < sent:
            recvd += _read_some(s, inbuf, h_recv)
        peer_close = None
        if close_line or read_to_end:
            if close_line:
                s.write(b"CLOSE\n")
            n = s.recv_into(inbuf)
            if n != 0:
                raise OSError("expected the end of the stream after CLOSE, read %r" % (n,))
            peer_close = "close_notify" if conn.peer_closed else "eof"
        t_done = ticks_ms()
        sha_sent, sha_expect = lines.digests()
        result.update({
            "bytes_sent": sent,
            "bytes_received": recvd,
            "sha256_sent": sha_sent,
            "sha256_expected": sha_expect,
            "sha256_received": _hex(h_recv.digest()),
            "key_update_sent": ku_sent,
            "key_updates_seen": [list(e) for e in conn.events if e[0] == "key_update"],
            "events": [_event(e) for e in conn.events],
            "tickets": len(conn.tickets),
            "tickets_received": len([e for e in conn.events if e[0] == "ticket"]),
            "peer_close": peer_close,
            "transfer_ms": ticks_diff(t_done, t_hs),
        })
        s.close()
        s = None
        result["elapsed_ms"] = ticks_diff(ticks_ms(), t0)
        return result
    finally:
        if s is not None:
            s.close()
        else:
            sock.close()


def _event(e):
    # Events may carry objects (a ticket's Session): keep their type name only.
    return [x if x is None or isinstance(x, (int, str, bool)) else type(x).__name__ for x in e]


def _read_some(s, buf, h):
    n = s.recv_into(buf)  # what has arrived (readinto on MicroPython waits to fill the buffer)
    if not n:
        raise OSError("peer closed the connection mid-transfer (readinto -> %r)" % (n,))
    h.update(memoryview(buf)[:n])
    return n


def slow_record(port, cafile, read_timeout=0.5, message="a record that arrives in two halves", tries=20,
                host="127.0.0.1", server_hostname="localhost"):
    """The server sends the echo record in two parts with a pause longer than our read timeout between
    them (tests/evilserver.py mode slow_echo). Each read that times out must consume nothing, so the
    record is whole when the rest arrives. Returns what was read and how many reads timed out."""
    ctx = _context(cafile, None, None, None, None, None, None)
    ss = ctx.wrap_socket(_connect(host, port, 10), server_hostname=server_hostname)
    ss.settimeout(read_timeout)
    want = message.encode()
    ss.write(want)
    got = b""
    timeouts = 0
    try:
        for _ in range(tries):
            try:
                chunk = ss.read(len(want) - len(got))
            except OSError as e:
                if "TimeoutError" not in type(e).__name__ and "timed out" not in str(e) and \
                        (not e.args or e.args[0] not in (110, 116)):
                    raise
                timeouts += 1
                continue
            if not chunk:
                break
            got += chunk
            if len(got) >= len(want):
                break
    finally:
        ss.close()
    return {"got": got.decode(), "timeouts": timeouts}


def aio_echo(port, cafile, nbytes=200000, chunk=5000, host="127.0.0.1", server_hostname="localhost"):
    """tls13.aio streams against an echo server: a writer task sends nbytes in writes of `chunk`
    bytes (several records each) while the reader reads the echo; both sides hashed."""
    try:
        import asyncio
    except ImportError:
        import uasyncio as asyncio
    from tls13 import aio

    ctx = _context(cafile, None, None, None, None, None, None)
    out = {}

    async def main():
        r, w = await aio.open_connection(host, port, ctx, server_hostname=server_hostname)
        h_out = hashlib.sha256()
        h_in = hashlib.sha256()
        buf = bytearray(chunk)

        async def writer():
            sent = 0
            while sent < nbytes:
                n = min(chunk, nbytes - sent)
                for i in range(n):
                    buf[i] = (sent + i) * 7 & 0xFF
                w.write(memoryview(buf)[:n])
                await w.drain()
                h_out.update(memoryview(buf)[:n])
                sent += n
            out["sent"] = sent

        task = asyncio.create_task(writer())
        got = 0
        while got < nbytes:
            data = await asyncio.wait_for(r.read(4096), 20)
            if not data:
                break
            h_in.update(data)
            got += len(data)
        await task
        out["received"] = got
        out["same"] = h_in.digest() == h_out.digest()
        w.close()
        await w.wait_closed()

    asyncio.run(main())
    return out

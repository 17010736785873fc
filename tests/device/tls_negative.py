"""Client side of the negative TLS tests: the same functions run in-process on CPython and on the
MicroPython VM (tests/vmbench.call_on_vm) against tests/evilserver.py, and return what they saw as
JSON-able observations; tests/test_tls_negative.py holds the expectations.
"""
import gc
import socket
import sys
import time

# A connection with the client stack loaded from .mpy (tls13 + x509 + crypto) needs 190-230 KB on
# the 64-bit VM (lowest passing heaps per section of test_tls_negative.py: 193-228 KB); the board
# budget is a separate piece of work on connection memory.
HEAP_KB = 256

IS_MICROPYTHON = sys.implementation.name == "micropython"


def _ms():
    if IS_MICROPYTHON:
        return time.ticks_ms()
    return int(time.monotonic() * 1000)


def _connect(port, timeout):
    s = socket.socket()
    s.settimeout(timeout)
    s.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
    return s


def _closed(sock):
    try:
        return sock.fileno() == -1
    except (OSError, ValueError):
        return True


def _read_exact(s, n):
    buf = bytearray(n)
    mv = memoryview(buf)
    have = 0
    while have < n:
        k = s.readinto(mv[have:])
        if not k:
            break
        have += k
    return bytes(mv[:have]) if have < n else buf


def run_case(port, cafile, ciphers=None, mfl=None, alpn=None, messages=("ping",), read_to_end=False,
             timeout=10):
    """One connection: handshake, write each message and read its echo, optionally read on until
    EOF, close. Returns {"exc": class name | None, "alert", "remote", "step", "echo": [...],
    "closed", ...}; a timeout is reported as "timeout" on both runtimes."""
    import tls13
    t0 = _ms()
    obs = {"exc": None, "alert": None, "remote": None, "msg": None, "step": "handshake", "echo": [],
           "closed": None, "tickets": None, "cipher": None, "mfl_agreed": None, "eof": None,
           "group": None, "alpn": None}
    ctx = tls13.SSLContext(tls13.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=cafile)
    if ciphers:
        ctx.set_ciphers(ciphers)
    if mfl:
        ctx.max_fragment_length = mfl
    if alpn:
        ctx.set_alpn_protocols(alpn)
    raw = _connect(port, timeout)
    s = None
    try:
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        obs["cipher"] = s.cipher()[0]
        obs["alpn"] = s.selected_alpn_protocol()
        for m in messages:
            obs["step"] = "echo"
            # a message is a str, or [str, n] for that string repeated n times
            data = m.encode() if isinstance(m, str) else m[0].encode() * m[1]
            s.write(data)
            got = _read_exact(s, len(data))
            obs["echo"].append(bytes(got).decode() if got == data and len(got) < 64 else
                               "%d bytes%s" % (len(got), "" if got == data else " (mismatch)"))
        if read_to_end:
            obs["step"] = "read_to_end"
            first = s.read(100)
            obs["eof"] = [first.decode(), s.read(100).decode()]  # and a second read after EOF
        conn = s.connection
        obs["tickets"] = len([e for e in conn.events if e[0] == "ticket"])  # tickets parsed (only the newest is kept)
        obs["mfl_agreed"] = conn.mfl_agreed
        obs["group"] = conn.group
        obs["step"] = "close"
        s.close()
    except Exception as e:
        obs["exc"] = _exc_name(e)
        obs["alert"] = getattr(e, "alert", None)
        obs["remote"] = getattr(e, "remote", None)
        obs["msg"] = str(e)[:120]
    obs["closed"] = _closed(raw)
    if not obs["closed"]:
        raw.close()  # not leaking it here; the observation already says the client left it open
    obs["ms"] = _ms() - t0
    return obs


def _exc_name(e):
    if isinstance(e, OSError) and not hasattr(e, "alert"):
        code = e.args[0] if e.args else None
        if code == 110 or type(e).__name__ in ("TimeoutError", "timeout"):
            return "timeout"
    return type(e).__name__


def run_cases(path, out):
    """Several cases in one VM start. path: a JSON file holding a list of run_case keyword dicts,
    each with an "id" (a file, because the VM dies on a command-line argument of 256+ bytes).
    Each observation is appended to the file `out` as one JSON line {"id": ..., "obs": ...} as soon
    as it is known (one big result string would not fit a fragmented heap). Returns the count."""
    import json
    with open(path) as f:
        cases = json.load(f)
    n = 0
    with open(out, "w") as f:
        for kw in cases:
            cid = kw.pop("id")
            gc.collect()
            f.write(json.dumps({"id": cid, "obs": run_case(**kw)}))
            f.write("\n")
            f.flush()
            n += 1
    return n

"""Connect to a TLS server with this project's own TLS 1.3 client and say what a board would meet
(`mptls probe`, in the spirit of `openssl s_client`).

    mptls probe broker.example.com:8883
    mptls probe 127.0.0.1:8883 --cafile build/pki/ca.crt --servername localhost --mfl 2048
    mptls probe a1b2c3-ats.iot.eu-west-1.amazonaws.com:443 --alpn x-amzn-mqtt-ca --roots lib/trust_anchors.py

It reports the negotiated cipher suite and key-exchange group (and whether a HelloRetryRequest was
needed), the ALPN protocol, whether the server honoured max_fragment_length (it watches the size of
every record the server sends), whether it asked for a client certificate, and the certificate chain
as sent, with subjects, keys and validity dates (parsed by tls13.x509, the board's own parser).

The chain is printed even when it does not validate: the verifier is wrapped so that the certificates
are captured and validated on the side, and the handshake is then continued WITHOUT validation
purely to report the rest; the failure is printed and the exit status is 1 (--strict aborts the
handshake at that point instead, as a board does). Validation runs against the anchors of --cafile
and/or --roots (a module made by `mptls roots`), or the system bundle when neither is given; the
report lists which anchors of that store validate the chain, and the exact CertificateError reason a
board would raise: with its clock set, before NTP with no time floor (clock_unset), and before NTP
with a time floor (the firmware build time; default: today).

Exit status: 0 handshake done and chain valid, 1 chain invalid, 2 connection or handshake failed.
"""
import argparse
import datetime
import json
import os
import select
import socket
import sys
import time

HELP = "connect with our TLS 1.3 client like `openssl s_client`: suite, group, ALPN, MFL, chain, board verdict"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GROUP_NAMES = {0x17: "secp256r1", 0x18: "secp384r1", 0x19: "secp521r1", 0x1D: "x25519", 0x1E: "x448"}
TAG_LEN = 16
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
_ATTR = {b"\x55\x04\x03": "CN", b"\x55\x04\x06": "C", b"\x55\x04\x07": "L", b"\x55\x04\x08": "ST",
         b"\x55\x04\x0a": "O", b"\x55\x04\x0b": "OU", b"\x55\x04\x05": "serialNumber",
         b"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x01": "emailAddress",
         b"\x09\x92\x26\x89\x93\xf2\x2c\x64\x01\x19": "DC"}


def _lib_on_path():
    lib = os.path.join(ROOT, "lib")
    if lib not in sys.path:
        sys.path.insert(0, lib)


# ---- certificate details (the device's parser) -----------------------------------------------------

def dn_string(name_der):
    """RFC 4514-style text of a DER Name (most specific first), read with tls13.x509.der."""
    from tls13.x509 import cert as C
    from tls13.x509 import der
    buf = memoryview(bytes(name_der))
    s, e = der.whole(buf, der.SEQUENCE)
    rdns = []
    while s < e:
        rs, re_ = der.expect(buf, s, e, der.SET)
        parts = []
        p = rs
        while p < re_:
            as_, ae = der.expect(buf, p, re_, der.SEQUENCE)
            os_, oe = der.expect(buf, as_, ae, der.OID)
            _, vs, ve = der.tlv(buf, oe, ae)
            oid = bytes(buf[os_:oe])
            value = bytes(buf[vs:ve]).decode("utf-8", "replace")
            parts.append("%s=%s" % (_ATTR.get(oid) or C.oid_str(oid), value.replace(",", "\\,")))
            p = ae
        rdns.append("+".join(parts))
        s = re_
    return ",".join(reversed(rdns))


def _date(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def cert_info(der_bytes, now=None):
    """What a certificate says, read with tls13.x509.cert (dict; "error" when it does not parse)."""
    from tls13.x509 import CertificateError
    from tls13.x509 import cert as C
    from tls13.x509 import names
    now = time.time() if now is None else now
    try:
        c = C.parse(bytes(der_bytes))
    except CertificateError as e:
        return {"error": str(e), "length": len(der_bytes)}
    key = "unsupported"
    if c.key is not None:
        kind = c.key[0]
        key = ("EC " + c.key[1]) if kind == "ec" else ("RSA %d" % c.key_bits if kind == "rsa" else "Ed25519")
    san = []
    if c.san is not None:
        for t, s, e in names.general_names(c.san, 0, len(c.san)):
            v = bytes(c.san[s:e])
            if t == names.GN_DNS:
                san.append(v.decode("ascii", "replace"))
            elif t == names.GN_IP:
                san.append(str(_ip(v)))
    return {"subject": dn_string(c.subject), "issuer": dn_string(c.issuer), "key": key,
            "not_before": c.not_before, "not_after": c.not_after,
            "days_left": int((c.not_after - now) // 86400), "san": san, "ca": bool(c.ca),
            "self_issued": bytes(c.subject) == bytes(c.issuer), "length": len(der_bytes),
            "policy_issue": c.err}


def _ip(v):
    import ipaddress
    return ipaddress.ip_address(v) if len(v) in (4, 16) else v.hex()


# ---- trust stores and verdicts ------------------------------------------------------------------------

def load_store(cafiles=(), roots_module=None):
    """(TrustStore, description) from PEM files and/or a generated anchors module; the system
    bundle when neither is given."""
    from tls13.x509 import TrustStore
    store = TrustStore([])
    what = []
    for f in cafiles:
        with open(f, "rb") as fh:
            store.extend(TrustStore.from_pem(fh.read()))
        what.append(os.path.basename(f))
    if roots_module:
        import importlib.util
        spec = importlib.util.spec_from_file_location("_probe_anchors", roots_module)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for a in mod.ANCHORS:
            store.add_anchor(a)
        what.append(os.path.basename(roots_module))
    if not what:
        from host_tools import roots
        bundle = roots.default_bundle()
        with open(bundle, "rb") as fh:
            store.extend(TrustStore.from_pem(fh.read()))
        what.append(bundle)
    return store, "%s (%d anchors)" % (", ".join(what), len(store))


def verdict(chain, store, server_name, now, time_floor=None, pins=None):
    """None when the board's validator accepts the chain, else {"reason", "detail", "index", "alert"}."""
    from tls13.x509 import CertificateError, verify_chain
    try:
        verify_chain(chain, store, server_name, now, pins=pins, time_floor=time_floor)
        return None
    except CertificateError as e:
        return {"reason": e.reason, "detail": e.detail, "index": e.index, "alert": e.alert}


def validating_anchors(chain, store, now):
    """Subjects of the anchors that, alone, validate the chain (host name not considered)."""
    from tls13.x509 import CertificateError, TrustStore, verify_chain
    ok = []
    for a in store.anchors:
        try:
            verify_chain(chain, TrustStore([a]), None, now)
        except CertificateError:
            continue
        ok.append(dn_string(a[0]))
    return ok


# ---- the connection --------------------------------------------------------------------------------

class RecordTap:
    """The TCP socket under our TLS client; parses the record framing of what the server sends."""

    def __init__(self, sock):
        self.sock = sock
        self._buf = bytearray()
        self.records = []        # (content type, length) in arrival order
        self.server_hello = None

    def recv_into(self, buf, nbytes=0):
        n = self.sock.recv_into(buf, nbytes)
        self._feed(bytes(memoryview(buf)[:n]))
        return n

    def send(self, data):
        return self.sock.send(data)

    def _feed(self, data):
        b = self._buf
        b += data
        while len(b) >= 5:
            n = (b[3] << 8) | b[4]
            if len(b) < 5 + n:
                break
            self.records.append((b[0], n))
            if b[0] == 22 and len(b) >= 5 + 38 and b[5] == 2:
                random = bytes(b[11:43])
                if random == HRR_RANDOM:
                    self.server_hello = self.server_hello or "hrr"
                else:
                    self.server_hello = "retried" if self.server_hello == "hrr" else "direct"
            del b[:5 + n]

    def __getattr__(self, name):
        return getattr(self.sock, name)


def _context_class():
    import tls13

    class ProbeContext(tls13.SSLContext):
        """Captures the chain and judges it on the side; continues unless strict."""
        strict = False
        chain = None
        cert_requested = None
        failure = None

        def _verify(self, conn, certs):
            from tls13.context import _leaf_key
            self.chain = [bytes(c) for c in certs]
            self.cert_requested = getattr(conn.state, "cert_request", None) is not None
            name = conn.server_name if self.check_hostname else None
            self.failure = verdict(self.chain, self.trust_store, name, self.clock() if self.clock else time.time(),
                                   pins=self.pins or None)
            if self.failure is not None and self.strict:
                return tls13.SSLContext._verify(self, conn, certs)  # raises the board's alert
            conn.peer_verified = "chain" if self.failure is None else "none"
            return _leaf_key(certs[0])

    return ProbeContext


def probe(host, port, cafiles=(), roots_module=None, servername=None, alpn=(), mfl=None, ciphers=None,
          cert=None, key=None, send=None, wait=0.5, timeout=10.0, strict=False, time_floor=None,
          pins=()):
    """Connect once and return a JSON-serialisable report (see run() for how it is printed)."""
    _lib_on_path()
    import tls13
    from tls13.keysched import SUITES
    store, store_desc = load_store(cafiles, roots_module)
    ctx = _context_class()()
    ctx.strict = strict
    ctx.trust_store = store
    for p in pins:
        from tls13.x509 import pin_from_base64
        ctx.pin_sha256(pin_from_base64(p))
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    if mfl:
        ctx.max_fragment_length = mfl
    if ciphers:
        ctx.set_ciphers(ciphers)
    if cert:
        ctx.load_cert_chain(cert, key)
    name = servername or host
    rep = {"target": "%s:%d" % (host, port), "server_name": name, "store": store_desc, "alpn_offered": list(alpn),
           "mfl_offered": mfl, "client_cert": bool(cert), "handshake": False, "error": None}
    t0 = time.monotonic()
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        rep["error"] = "connect: %s" % e
        return rep
    tap = RecordTap(raw)
    s = None
    try:
        try:
            s = ctx.wrap_socket(tap, server_hostname=name)
            rep["handshake"] = True
            rep["handshake_ms"] = round((time.monotonic() - t0) * 1000, 1)
            if send:
                s.sendall(send)
            rep["received"] = _drain(s, raw, wait)
        except tls13.TLSError as e:
            rep["error"] = "%s: %s%s" % (type(e).__name__, e, " (sent by the server)" if e.remote else "")
            rep["alert"] = getattr(e, "alert", None)
            rep["alert_remote"] = bool(e.remote)
        except OSError as e:
            rep["error"] = "%s: %s" % (type(e).__name__, e)
        conn = s.connection if s is not None else None
        if conn is not None:
            rep["suite"] = SUITES[conn.suite][2] if conn.suite in SUITES else None
            rep["group"] = GROUP_NAMES.get(conn.group, conn.group)
            rep["alpn"] = conn.alpn.decode() if conn.alpn else None
            rep["mfl_agreed"] = bool(conn.mfl_agreed)
            rep["tickets"] = len(conn.tickets)
    finally:
        if s is not None:
            s.close()
        else:
            raw.close()
    rep["hrr"] = tap.server_hello == "retried"
    enc = [n for t, n in tap.records if t == 23]
    rep["server_records"] = len(tap.records)
    rep["max_server_record"] = max([n for _, n in tap.records] or [0])
    rep["max_encrypted_record"] = max(enc or [0])
    if mfl:
        rep["mfl_honoured"] = bool(rep.get("mfl_agreed")) and rep["max_encrypted_record"] <= mfl + 1 + TAG_LEN
    rep["cert_requested"] = ctx.cert_requested
    chain = ctx.chain
    if chain is None:
        return rep
    now = time.time()
    rep["chain"] = [cert_info(d, now) for d in chain]
    rep["certificate_bytes"] = sum(len(d) for d in chain)
    vname = name if ctx.check_hostname else None
    pins_b = ctx.pins or None
    rep["validation"] = verdict(chain, store, vname, now, pins=pins_b)
    rep["anchors_ok"] = validating_anchors(chain, store, now)
    floor = int(time_floor if time_floor is not None else now // 86400 * 86400)
    rep["board"] = {
        "clock_set": rep["validation"],
        "no_clock_no_floor": verdict(chain, store, vname, None, pins=pins_b),
        "no_clock_with_floor": verdict(chain, store, vname, None, time_floor=floor, pins=pins_b),
        "time_floor": floor,
    }
    return rep


def _drain(s, raw, wait):
    """Read what the server sends within `wait` seconds (tickets, an alert, a reply). The socket
    timeout bounds each read: a read returns only with application data, and tickets are not."""
    got = 0
    deadline = time.monotonic() + wait
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return got
            if not s.pending() and not select.select([raw], [], [], left)[0]:
                return got
            raw.settimeout(max(left, 0.01))
            try:
                data = s.recv(16384)
            except (socket.timeout, BlockingIOError):
                continue
            if not data:
                return got
            got += len(data)
    finally:
        try:
            raw.settimeout(None)
        except OSError:
            pass  # closed after an alert: the alert is what propagates


# ---- the command ---------------------------------------------------------------------------------------

def parse_target(text):
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":")
    else:
        host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError("target must be HOST:PORT (e.g. broker.example.com:8883 or [::1]:8883)")
    return host, int(port)


def load_board(name):
    """A board profile from boards/<name>.json; the probe uses its cipher order, max_fragment_length
    and heap budget when the profile has them."""
    path = os.path.join(ROOT, "boards", name + ".json")
    if not os.path.exists(path):
        have = sorted(f[:-5] for f in os.listdir(os.path.join(ROOT, "boards")) if f.endswith(".json"))
        raise ValueError("no board profile %r (have: %s)" % (name, ", ".join(have)))
    with open(path) as f:
        prof = json.load(f)
    ciphers = prof.get("ciphers") or prof.get("cipher_order") or prof.get("preferred_ciphers")
    if isinstance(ciphers, list):
        ciphers = ":".join(ciphers)
    mfl = prof.get("max_fragment_length") or prof.get("mfl")
    return {"name": prof.get("name", name), "heap_kb": prof.get("heap_kb"), "ciphers": ciphers, "mfl": mfl}


def _reason(v):
    if v is None:
        return "OK"
    where = "" if v["index"] is None else " (certificate [%d])" % v["index"]
    return "%s%s%s -> alert %s" % (v["reason"], ": %s" % v["detail"] if v["detail"] else "", where, v["alert"])


def render(rep, board=None):
    """The report as text lines."""
    out = []
    w = out.append
    if not rep["handshake"]:
        w("handshake with %s FAILED: %s" % (rep["target"], rep["error"]))
    else:
        w("connected to %s (server name %s) in %.1f ms" % (rep["target"], rep["server_name"], rep["handshake_ms"]))
    if rep.get("suite"):
        w("  protocol      TLSv1.3")
        w("  cipher suite  %s" % rep["suite"])
        w("  group         %s%s" % (rep["group"], "  (after a HelloRetryRequest: one more round trip "
                                                   "and key generation on the board)" if rep["hrr"] else ""))
        if rep["alpn_offered"]:
            w("  ALPN          offered %s; server chose %s" % (",".join(rep["alpn_offered"]),
                                                              rep["alpn"] or "none"))
        if rep["mfl_offered"]:
            honoured = rep.get("mfl_honoured")
            w("  max_fragment_length  offered %d: %s; largest record from the server %d bytes (limit %d)"
              % (rep["mfl_offered"], "honoured" if honoured else ("acknowledged but NOT honoured"
                                                                   if rep.get("mfl_agreed") else "ignored"),
                 rep["max_encrypted_record"], rep["mfl_offered"] + 1 + TAG_LEN))
        else:
            w("  records       largest from the server %d bytes" % rep["max_server_record"])
        w("  client cert   %s%s" % ("requested by the server" if rep["cert_requested"] else "not requested",
                                   "; ours was sent" if rep["cert_requested"] and rep["client_cert"] else ""))
        w("  resumption    %s" % ("session ticket received" if rep.get("tickets") else "no session ticket seen"))
    if rep["handshake"] and rep.get("error"):
        w("  after the handshake: %s" % rep["error"])
    if rep.get("alert") == 116 or (rep.get("cert_requested") and rep.get("error") and not rep["client_cert"]):
        w("  the server requires a client certificate (use --cert and --key)")
    chain = rep.get("chain")
    if chain is None:
        return out
    w("certificate chain as sent (%d certificates, %d bytes):" % (len(chain), rep["certificate_bytes"]))
    for i, c in enumerate(chain):
        if "error" in c:
            w("  [%d] unparseable (%d bytes): %s" % (i, c["length"], c["error"]))
            continue
        w("  [%d] %s" % (i, c["subject"]))
        w("      issuer %s" % c["issuer"])
        w("      key %s, valid %s .. %s (%s)%s" % (
            c["key"], _date(c["not_before"]), _date(c["not_after"]),
            "expired" if c["days_left"] < 0 else "%d days left" % c["days_left"],
            ", CA" if c["ca"] else ""))
        if c["san"]:
            w("      subjectAltName %s" % ", ".join(c["san"]))
    w("trust store: %s" % rep["store"])
    w("validation for %s: %s" % (rep["server_name"], "OK" if rep["validation"] is None
                                 else "FAILED: " + _reason(rep["validation"])))
    if rep["validation"] is not None and not rep.get("strict"):
        w("  (the handshake above went on WITHOUT validation, only to report the rest)")
    w("anchors that validate this chain: %s" % ("; ".join(rep["anchors_ok"]) or "none"))
    b = rep["board"]
    title = "on a board" if board is None else "on %s (%s KB heap)" % (board["name"], board["heap_kb"])
    w("%s:" % title)
    w("  clock set (after NTP):         %s" % _reason(b["clock_set"]))
    w("  clock unset, no time floor:    %s" % _reason(b["no_clock_no_floor"]))
    w("  clock unset, floor %s: %s" % (_date(b["time_floor"])[:10], _reason(b["no_clock_with_floor"])))
    if (rep.get("suite") or "").endswith("SHA384"):
        w("  %s needs SHA-384, which MicroPython's hashlib lacks: the pure-Python fallback runs (slow); "
          "a cipher order without it avoids that" % rep["suite"])
    limit = rep["mfl_offered"] if rep.get("mfl_honoured") else 16384
    w("  receive buffer: records up to %d bytes%s; the %d-byte chain is held while it is checked"
      % (limit, "" if rep.get("mfl_honoured") else " (no max_fragment_length in force)",
         rep["certificate_bytes"]))
    return out


def configure(p):
    p.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the examples as laid out
    p.add_argument("target", metavar="HOST:PORT")
    p.add_argument("--cafile", action="append", default=[], help="PEM anchors (repeatable)")
    p.add_argument("--roots", metavar="MODULE.py", help="trust-anchor module made by `mptls roots`")
    p.add_argument("--servername", help="SNI and the name to check (default: HOST)")
    p.add_argument("--alpn", action="append", default=[], help="ALPN protocol to offer (repeatable)")
    p.add_argument("--mfl", type=int, choices=(512, 1024, 2048, 4096), help="offer max_fragment_length")
    p.add_argument("--ciphers", help="TLS 1.3 suites in preference order, ':'-separated")
    p.add_argument("--cert", help="client certificate (mutual TLS)")
    p.add_argument("--key", help="client key (P-256)")
    p.add_argument("--pin", action="append", default=[], help="SPKI SHA-256 pin (base64) the chain must contain")
    p.add_argument("--board", help="board profile (boards/NAME.json): its cipher order, MFL and heap")
    p.add_argument("--time-floor", type=int, metavar="UNIX", help="time floor for the no-clock verdict "
                   "(default: today 00:00 UTC, like a firmware built today)")
    p.add_argument("--send", help="text to send after the handshake (a line feed is added)")
    p.add_argument("--send-bytes", type=int, metavar="N", help="send N bytes ('x' * N + LF) after the handshake")
    p.add_argument("--wait", type=float, default=0.5, help="seconds to read after the handshake (default 0.5)")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--strict", action="store_true", help="abort the handshake when validation fails, as a board does")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args):
    try:
        host, port = parse_target(args.target)
        board = load_board(args.board) if args.board else None
    except ValueError as e:
        print("mptls probe: %s" % e)
        return 2
    send = None
    if args.send is not None:
        send = args.send.encode() + b"\n"
    elif args.send_bytes:
        send = b"x" * args.send_bytes + b"\n"
    ciphers = args.ciphers or (board and board["ciphers"])
    mfl = args.mfl or (board and board["mfl"]) or None
    rep = probe(host, port, args.cafile, args.roots, args.servername, args.alpn, mfl, ciphers, args.cert,
                args.key, send, args.wait, args.timeout, args.strict, args.time_floor, args.pin)
    rep["strict"] = args.strict
    if args.json:
        print(json.dumps(rep, indent=1, default=str))
    else:
        print("\n".join(render(rep, board)))
    if not rep["handshake"] and rep.get("chain") is None:
        return 2
    if rep.get("validation") is not None:
        return 1
    return 0 if rep["handshake"] else 2

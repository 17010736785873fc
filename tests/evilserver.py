"""A scriptable TLS 1.3 test server: correct by default, misbehaving in one named way per instance.

It is an independent oracle for the client in lib/: everything here is written from RFC 8446 with
`cryptography` (X25519, AES-GCM, ChaCha20-Poly1305, HKDF-Expand, ECDSA/RSA-PSS/Ed25519 signing) and
hashlib/hmac, and imports nothing from lib/.

    srv = EvilServer("bad_finished").start()      # listens on 127.0.0.1:srv.port
    ... run a client against it (in-process, or on the MicroPython VM) ...
    rec = srv.wait_session(0)                      # what the server saw from the first connection
    rec["alerts"] == [[2, 51]] and rec["client_eof"]
    srv.stop()

Connections are served one after another in a background thread; each gets a session record (see
_new_record). Every socket operation has a timeout, so a client that stops talking cannot hang it.
A misbehaving server stops sending after the message the client must reject: records the client
never reads would turn its close() into a TCP RST, and an RST can cost the alert it sent just before.
MODES lists the misbehaviours; "normal" completes the handshake and echoes application data.
"""
import hashlib
import hmac
import os
import socket
import struct
import threading
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

import pki

CT_CCS, CT_ALERT, CT_HANDSHAKE, CT_APP = 20, 21, 22, 23
HS_CLIENT_HELLO, HS_SERVER_HELLO, HS_NST, HS_EE = 1, 2, 4, 8
HS_CERT, HS_CV, HS_FINISHED, HS_KEY_UPDATE, HS_MESSAGE_HASH = 11, 15, 20, 24, 254
EXT_SNI, EXT_MFL, EXT_GROUPS, EXT_SIGALGS, EXT_ALPN = 0, 1, 10, 13, 16
EXT_VERSIONS, EXT_COOKIE, EXT_KEY_SHARE = 43, 44, 51
X25519, SECP256R1, SECP384R1, SECP521R1 = 0x001D, 0x0017, 0x0018, 0x0019
CURVES = {SECP256R1: ec.SECP256R1, SECP384R1: ec.SECP384R1, SECP521R1: ec.SECP521R1}
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
SERVER_CV_CONTEXT = b" " * 64 + b"TLS 1.3, server CertificateVerify\x00"
CLIENT_CV_CONTEXT = b" " * 64 + b"TLS 1.3, client CertificateVerify\x00"
# suite -> (hash, AEAD class, key length)
SUITES = {0x1301: ("sha256", AESGCM, 16), 0x1302: ("sha384", AESGCM, 32),
          0x1303: ("sha256", ChaCha20Poly1305, 32)}
MFL_SIZES = {1: 512, 2: 1024, 3: 2048, 4: 4096}

MODES = {
    # positive controls
    "normal": "full handshake, echo application data",
    "compat_ccs": "one dummy change_cipher_spec after ServerHello",
    "padding": "every encrypted server record padded with zeros",
    "tickets": "two NewSessionTickets after the client's Finished",
    "key_update": "KeyUpdate(update_requested) before the first echo",
    "hrr_cookie": "HelloRetryRequest with a cookie, then a normal handshake",
    "hrr_p256": "HelloRetryRequest for secp256r1, then a handshake with a P-256 key exchange",
    "mfl": "max_fragment_length echoed; echo split into records of the agreed size",
    "coalesce": "EncryptedExtensions .. Finished in a single record",
    "fragment": "the encrypted flight in 40-byte records (messages split across records)",
    # ServerHello / HelloRetryRequest
    "tls12_server_hello": "TLS 1.2 ServerHello (no supported_versions)",
    "tls12_downgrade_sentinel": "TLS 1.2 ServerHello whose random ends in DOWNGRD\\x01",
    "downgrade_sentinel": "TLS 1.3 ServerHello whose random ends in DOWNGRD\\x01",
    "unoffered_suite": "ServerHello chooses a suite the client did not offer (opts: suite)",
    "unoffered_group": "key_share for a group not in supported_groups (secp384r1)",
    "unshared_group": "key_share for a supported group the client sent no share for (secp256r1)",
    "zero_x25519": "x25519 key_share of 32 zero bytes",
    "sid_not_echoed": "legacy_session_id_echo differs from the client's",
    "sh_forbidden_ext": "ServerHello carrying server_name (offered, but not allowed there)",
    "two_hrr": "a second HelloRetryRequest",
    "hrr_bad_group": "HelloRetryRequest for secp384r1 (not in supported_groups)",
    "hrr_same_group": "HelloRetryRequest for x25519 (a share was already sent)",
    "hrr_then_other_group": "HelloRetryRequest for secp256r1, then a ServerHello with an x25519 share",
    "hrr_then_other_suite": "ServerHello with another (offered) suite than the HelloRetryRequest",
    "sh_spans_key_change": "ServerHello and the start of another message in one record",
    # encrypted flight
    "tamper_ee": "one bit of the EncryptedExtensions record flipped",
    "bad_finished": "server Finished with a wrong verify_data",
    "bad_cv_sig": "CertificateVerify signed over the client context string",
    "cv_unoffered_scheme": "CertificateVerify with ecdsa_secp521r1_sha512 (not offered)",
    "finished_before_cert": "Finished right after EncryptedExtensions",
    "ee_unoffered_ext": "EncryptedExtensions with ALPN the client did not offer",
    "ee_forbidden_ext": "EncryptedExtensions carrying key_share (not allowed there)",
    "empty_certificate": "Certificate with an empty certificate_list",
    "mfl_mismatch": "max_fragment_length answered with another size than offered",
    "alpn_unoffered_proto": "ALPN answered with a protocol the client did not list",
    "finished_bad_length": "server Finished one byte short",
    "appdata_in_handshake": "application data between EncryptedExtensions and Certificate",
    "nst_in_handshake": "NewSessionTicket between EncryptedExtensions and Certificate",
    "unknown_record_type": "a record of content type 24 after ServerHello",
    "double_ccs": "two change_cipher_spec records",
    "bad_ccs_byte": "change_cipher_spec with the byte 0x02",
    "zero_len_hs_plain": "a zero-length plaintext handshake record before ServerHello",
    "zero_len_hs_enc": "an encrypted handshake record with empty content",
    "all_padding": "an encrypted record whose plaintext is all zeros (no content type)",
    "oversize_plain_record": "a plaintext handshake record header announcing 2^14+1 bytes",
    "fin_spans_key_change": "server Finished and a NewSessionTicket in one record",
    "server_alert": "handshake_failure alert instead of ServerHello",
    "truncate_handshake": "TCP FIN after ServerHello and EncryptedExtensions",
    "silent": "reads the ClientHello and never answers",
    # after the handshake (acting on the first application data from the client)
    "tamper_appdata": "one bit of the echo record flipped",
    "oversize_plaintext": "echo record with 2^14+1 bytes of plaintext",
    "oversize_ciphertext": "record header announcing 2^14+257 bytes",
    "mfl_overflow": "max_fragment_length 2048 agreed, then a 2049-byte record",
    "keyupdate_bad": "KeyUpdate with request_update=2",
    "ku_spans_key_change": "KeyUpdate and the start of another message in one record",
    "ccs_after_handshake": "change_cipher_spec after the handshake",
    "alert_after_handshake": "encrypted internal_error alert instead of the echo",
    "truncate_after": "echo, then TCP FIN without close_notify",
    "close_then_data": "echo, close_notify, then more application data",
    "slow_echo": "echo record sent in two parts with a pause (opts: pause seconds, default 1.5) between",
}


# Modes whose last act is the ServerHello (the client must reject it).
SH_FINAL = ("tls12_server_hello", "tls12_downgrade_sentinel", "downgrade_sentinel", "unoffered_suite",
            "unoffered_group", "unshared_group", "zero_x25519", "sid_not_echoed", "sh_forbidden_ext",
            "sh_spans_key_change", "zero_len_hs_plain", "oversize_plain_record", "hrr_then_other_group",
            "hrr_then_other_suite")


# ---- crypto helpers -----------------------------------------------------------------------------
def _hash_cls(name):
    return {"sha256": hashes.SHA256, "sha384": hashes.SHA384}[name]()


def hkdf_extract(h, salt, ikm):
    return hmac.new(salt, ikm, h).digest()


def hkdf_expand_label(h, secret, label, context, length):
    full = b"tls13 " + label
    info = struct.pack(">HB", length, len(full)) + full + bytes([len(context)]) + context
    return HKDFExpand(_hash_cls(h), length, info).derive(secret)


def derive_secret(h, secret, label, th):
    return hkdf_expand_label(h, secret, label, th, hashlib.new(h).digest_size)


def finished_data(h, base, th):
    fk = hkdf_expand_label(h, base, b"finished", b"", hashlib.new(h).digest_size)
    return hmac.new(fk, th, h).digest()


class Protection:
    def __init__(self, suite, secret):
        h, cls, klen = SUITES[suite]
        self.suite, self.secret, self.h = suite, secret, h
        self.aead = cls(hkdf_expand_label(h, secret, b"key", b"", klen))
        self.iv = hkdf_expand_label(h, secret, b"iv", b"", 12)
        self.seq = 0

    def _nonce(self):
        n = bytes(a ^ b for a, b in zip(self.iv, self.seq.to_bytes(12, "big")))
        self.seq += 1
        return n

    def seal(self, ctype, content, pad=0):
        inner = content + bytes([ctype]) + bytes(pad)
        hdr = struct.pack(">BHH", CT_APP, 0x0303, len(inner) + 16)
        return hdr + self.aead.encrypt(self._nonce(), inner, hdr)

    def open(self, hdr, body):
        return self.aead.decrypt(self._nonce(), body, hdr)

    def updated(self):
        h = self.h
        return Protection(self.suite, hkdf_expand_label(h, self.secret, b"traffic upd", b"",
                                                        hashlib.new(h).digest_size))


# ---- wire helpers ---------------------------------------------------------------------------------
def vec(n, data):
    return len(data).to_bytes(n, "big") + data


def ext(etype, body):
    return struct.pack(">HH", etype, len(body)) + body


def hs(mtype, body):
    return bytes([mtype]) + vec(3, body)


def parse_client_hello(body):
    p = 2 + 32
    sid = body[p + 1:p + 1 + body[p]]
    p += 1 + body[p]
    n = int.from_bytes(body[p:p + 2], "big")
    suites = [int.from_bytes(body[p + 2 + i:p + 4 + i], "big") for i in range(0, n, 2)]
    p += 2 + n
    p += 1 + body[p]
    exts = {}
    end = p + 2 + int.from_bytes(body[p:p + 2], "big")
    p += 2
    while p < end:
        t, ln = struct.unpack(">HH", body[p:p + 4])
        exts[t] = body[p + 4:p + 4 + ln]
        p += 4 + ln
    shares = {}
    ks = exts.get(EXT_KEY_SHARE, b"\x00\x00")[2:]
    while ks:
        g, ln = struct.unpack(">HH", ks[:4])
        shares[g] = ks[4:4 + ln]
        ks = ks[4 + ln:]

    def u16s(b):
        return [int.from_bytes(b[i:i + 2], "big") for i in range(2, len(b), 2)]
    return {"session_id": sid, "suites": suites, "exts": exts, "shares": shares,
            "groups": u16s(exts.get(EXT_GROUPS, b"")), "sig_algs": u16s(exts.get(EXT_SIGALGS, b"")),
            "mfl": exts[EXT_MFL][0] if EXT_MFL in exts else None,
            "cookie": exts[EXT_COOKIE][2:] if EXT_COOKIE in exts else None}


class ClientAlert(Exception):
    pass


class PeerEOF(Exception):
    pass


def _new_record(mode):
    return {"mode": mode, "alerts": [], "client_eof": False, "handshake_done": False,
            "server_error": None, "undecryptable": 0, "app_in": b"", "max_client_record": 0,
            "client_key_update": False, "client_rst": False, "cookie_echoed": None, "offer": None,
            "ccs_from_client": 0}


# ---- one connection ---------------------------------------------------------------------------------
class _Conn:
    def __init__(self, server, sock):
        self.srv, self.sock, self.mode, self.opts = server, sock, server.mode, server.opts
        self.rec = _new_record(self.mode)
        self.rbuf = b""
        self.rprot = self.wprot = None
        self.next_rprot = None  # client application keys, armed once its Finished is expected
        self.hs_buf = b""
        self.transcript = b""
        self.pad = 0
        self.send_limit = 16384
        self.kx_group = X25519
        self.hs_out = b""
        sock.settimeout(server.timeout)

    # -- I/O
    def _recv_exact(self, n):
        while len(self.rbuf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise PeerEOF()
            self.rbuf += chunk
        out, self.rbuf = self.rbuf[:n], self.rbuf[n:]
        return out

    def send(self, data):
        self.sock.sendall(data)

    def plain(self, ctype, data):
        return struct.pack(">BHH", ctype, 0x0303, len(data)) + data

    def sealed(self, ctype, data, pad=None):
        return self.wprot.seal(ctype, data, self.pad if pad is None else pad)

    def read_record(self):
        """Next record from the client as (type, content); alerts are logged and raised."""
        while True:
            hdr = self._recv_exact(5)
            body = self._recv_exact(int.from_bytes(hdr[3:5], "big"))
            ctype = hdr[0]
            if ctype == CT_APP and self.rprot is not None:
                inner = self._open(hdr, body)
                if inner is None:
                    continue
                inner = inner.rstrip(b"\x00")
                ctype, body = inner[-1], inner[:-1]
                self.rec["max_client_record"] = max(self.rec["max_client_record"], len(body))
            if ctype == CT_CCS:
                self.rec["ccs_from_client"] += 1
                continue
            if ctype == CT_ALERT:
                self.rec["alerts"].append([body[0], body[1]] if len(body) == 2 else list(body))
                raise ClientAlert()
            return ctype, body

    def _open(self, hdr, body):
        for prot in (self.rprot, self.next_rprot):
            if prot is None:
                continue
            seq = prot.seq
            try:
                out = prot.open(hdr, body)
            except InvalidTag:
                prot.seq = seq
                continue
            if prot is self.next_rprot:  # the client moved on (its Finished was sent or lost)
                self.rprot, self.next_rprot = prot, None
            return out
        self.rec["undecryptable"] += 1
        return None

    def read_handshake(self):
        """(type, body, raw) of the next handshake message from the client."""
        while len(self.hs_buf) < 4 or len(self.hs_buf) < 4 + int.from_bytes(self.hs_buf[1:4], "big"):
            ctype, body = self.read_record()
            if ctype != CT_HANDSHAKE:
                raise RuntimeError("expected a handshake record, got type %d" % ctype)
            self.hs_buf += body
        n = 4 + int.from_bytes(self.hs_buf[1:4], "big")
        raw, self.hs_buf = self.hs_buf[:n], self.hs_buf[n:]
        return raw[0], raw[4:], raw

    def drain(self):
        """After a misbehaviour: log what the client sends until it closes the connection."""
        deadline = time.monotonic() + self.srv.drain_timeout
        self.sock.settimeout(self.srv.drain_timeout)
        try:
            while time.monotonic() < deadline:
                try:
                    self.read_record()
                except ClientAlert:
                    pass
        except PeerEOF:
            self.rec["client_eof"] = True
        except ConnectionResetError:
            # A client that closes with our records unread makes its kernel answer with RST.
            self.rec["client_eof"] = self.rec["client_rst"] = True
        except (socket.timeout, OSError):
            pass

    # -- handshake
    def th(self):
        return hashlib.new(self.h, self.transcript).digest()

    def handle(self):
        mode = self.mode
        mtype, body, raw = self.read_handshake()
        ch = parse_client_hello(body)
        self.rec["offer"] = {"suites": ch["suites"], "groups": ch["groups"], "sig_algs": ch["sig_algs"],
                             "mfl": ch["mfl"], "session_id_len": len(ch["session_id"])}
        if mode == "server_alert":
            self.send(self.plain(CT_ALERT, b"\x02\x28"))
            return
        if mode == "silent":
            return
        suite = self.opts.get("suite") or next(s for s in ch["suites"] if s in SUITES)
        self.suite, self.h = suite, SUITES[suite][0]
        self.transcript = raw
        if mode.startswith("hrr_") or mode == "two_hrr":
            ch = self.hello_retry(ch, raw)
            if ch is None:
                return
        self.server_hello(ch)
        if mode in SH_FINAL:
            return
        if self.flight(ch) is False:
            return
        self.client_finished()
        self.rec["handshake_done"] = True
        self.after_handshake()

    def hello_retry(self, ch, raw):
        mode = self.mode
        exts = ext(EXT_VERSIONS, b"\x03\x04")
        if mode == "hrr_bad_group":
            exts += ext(EXT_KEY_SHARE, struct.pack(">H", SECP384R1))
        elif mode in ("hrr_p256", "hrr_then_other_group"):
            exts += ext(EXT_KEY_SHARE, struct.pack(">H", SECP256R1))
            self.kx_group = SECP256R1
        elif mode == "hrr_same_group":
            exts += ext(EXT_KEY_SHARE, struct.pack(">H", X25519))
        cookie = os.urandom(20)
        exts += ext(EXT_COOKIE, vec(2, cookie))
        hrr = hs(HS_SERVER_HELLO, b"\x03\x03" + HRR_RANDOM + vec(1, ch["session_id"]) +
                 struct.pack(">HB", self.suite, 0) + vec(2, exts))
        self.transcript = hs(HS_MESSAGE_HASH, hashlib.new(self.h, raw).digest()) + hrr
        self.send(self.plain(CT_HANDSHAKE, hrr))
        if mode in ("hrr_bad_group", "hrr_same_group"):
            return None
        _, body, raw2 = self.read_handshake()
        ch2 = parse_client_hello(body)
        self.rec["cookie_echoed"] = ch2["cookie"] == cookie
        self.transcript += raw2
        if mode == "two_hrr":
            self.send(self.plain(CT_HANDSHAKE, hrr))
            return None
        return ch2

    def server_hello(self, ch):
        mode = self.mode
        random = os.urandom(32)
        if mode in ("downgrade_sentinel", "tls12_downgrade_sentinel"):
            random = random[:24] + b"DOWNGRD\x01"
        sid = os.urandom(32) if mode == "sid_not_echoed" else ch["session_id"]
        suite = self.suite
        if mode == "hrr_then_other_suite":
            suite = next(x for x in ch["suites"] if x in SUITES and x != self.suite)
        exts = b""
        if not mode.startswith("tls12"):
            exts += ext(EXT_VERSIONS, b"\x03\x04")
        group = self.kx_group
        if mode == "unoffered_group":
            group = next(g for g in (SECP384R1, SECP521R1) if g not in ch["groups"])
        elif mode == "unshared_group":
            group = next(g for g in ch["groups"] if g not in ch["shares"])
        elif mode == "hrr_then_other_group":
            group = X25519
        if group == X25519:
            priv = x25519.X25519PrivateKey.generate()
            pub = priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        else:
            priv = ec.generate_private_key(CURVES[group]())
            pub = priv.public_key().public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint)
        if mode == "zero_x25519":
            pub = bytes(32)
        if mode.startswith("tls12"):
            exts += ext(0xFF01, b"\x00") + ext(11, b"\x01\x00")  # renegotiation_info, ec_point_formats
        else:
            exts += ext(EXT_KEY_SHARE, struct.pack(">H", group) + vec(2, pub))
        if mode == "sh_forbidden_ext":
            exts += ext(EXT_SNI, b"")
        sh = hs(HS_SERVER_HELLO, b"\x03\x03" + random + vec(1, sid) + struct.pack(">HB", suite, 0) +
                vec(2, exts))
        if mode == "zero_len_hs_plain":
            self.send(self.plain(CT_HANDSHAKE, b""))
            return
        if mode == "oversize_plain_record":
            # only the header: the client must refuse on the length alone, and a body it never
            # reads would turn its close into an RST (which can cost the alert it just sent)
            self.send(struct.pack(">BHH", CT_HANDSHAKE, 0x0303, 16385))
            return
        trailer = b"\x08\x00\x00\x02\x00" if mode == "sh_spans_key_change" else b""
        step = 40 if mode == "fragment" else len(sh) + len(trailer)
        self.send(b"".join(self.plain(CT_HANDSHAKE, (sh + trailer)[i:i + step])
                           for i in range(0, len(sh) + len(trailer), step)))
        if self.mode in SH_FINAL:
            return
        if group not in ch["shares"]:
            raise RuntimeError("the client sent no share for group 0x%04x" % group)
        self.transcript += sh
        if group == X25519:
            shared = priv.exchange(x25519.X25519PublicKey.from_public_bytes(ch["shares"][X25519]))
        else:
            peer = ec.EllipticCurvePublicKey.from_encoded_point(CURVES[group](), ch["shares"][group])
            shared = priv.exchange(ec.ECDH(), peer)
        h = self.h
        hl = hashlib.new(h).digest_size
        empty = hashlib.new(h).digest()
        early = hkdf_extract(h, bytes(hl), bytes(hl))
        hs_secret = hkdf_extract(h, derive_secret(h, early, b"derived", empty), shared)
        th = self.th()
        self.c_hs = derive_secret(h, hs_secret, b"c hs traffic", th)
        self.s_hs = derive_secret(h, hs_secret, b"s hs traffic", th)
        self.master = hkdf_extract(h, derive_secret(h, hs_secret, b"derived", empty), bytes(hl))
        self.wprot = Protection(suite, self.s_hs)
        self.rprot = Protection(suite, self.c_hs)

    def hs_record(self, msg):
        """Send one encrypted handshake message: a record of its own, or (coalesce/fragment modes)
        kept until flush_hs() packs the flight into one record or into 40-byte fragments."""
        if self.mode in ("coalesce", "fragment"):
            self.hs_out += msg
        else:
            self.send(self.sealed(CT_HANDSHAKE, msg))

    def flush_hs(self):
        data, self.hs_out = self.hs_out, b""
        step = 40 if self.mode == "fragment" else len(data)
        self.send(b"".join(self.sealed(CT_HANDSHAKE, data[i:i + step]) for i in range(0, len(data), step)))

    def flight(self, ch):
        """EncryptedExtensions .. Finished; False when the mode stops before the handshake ends."""
        mode = self.mode
        if mode in ("compat_ccs", "double_ccs"):
            self.send(self.plain(CT_CCS, b"\x01"))
        if mode == "double_ccs":
            self.send(self.plain(CT_CCS, b"\x01"))
            return False
        if mode == "bad_ccs_byte":
            self.send(self.plain(CT_CCS, b"\x02"))
            return False
        if mode == "unknown_record_type":
            self.send(self.plain(24, b"\x01"))  # heartbeat: not a TLS 1.3 content type
            return False
        if mode == "padding":
            self.pad = 200
        if mode == "zero_len_hs_enc":
            self.send(self.sealed(CT_HANDSHAKE, b""))
            return False
        if mode == "all_padding":
            hdr = struct.pack(">BHH", CT_APP, 0x0303, 64 + 16)
            self.send(hdr + self.wprot.aead.encrypt(self.wprot._nonce(), bytes(64), hdr))
            return False
        exts = b""
        if ch["mfl"] is not None and mode in ("mfl", "mfl_overflow", "mfl_mismatch"):
            code = ch["mfl"] if mode != "mfl_mismatch" else ch["mfl"] % 4 + 1
            exts += ext(EXT_MFL, bytes([code]))
            self.send_limit = MFL_SIZES[code]
        if mode == "ee_unoffered_ext" or (EXT_ALPN in ch["exts"] and mode == "alpn_unoffered_proto"):
            exts += ext(EXT_ALPN, vec(2, vec(1, b"h2")))
        elif EXT_ALPN in ch["exts"]:
            first = ch["exts"][EXT_ALPN][2:]
            exts += ext(EXT_ALPN, vec(2, first[:1 + first[0]]))
        if mode == "ee_forbidden_ext":
            exts += ext(EXT_KEY_SHARE, struct.pack(">H", X25519) + vec(2, bytes(32)))
        ee = hs(HS_EE, vec(2, exts))
        if mode == "tamper_ee":
            rec = self.sealed(CT_HANDSHAKE, ee)
            self.send(rec[:8] + bytes([rec[8] ^ 0x01]) + rec[9:])
            return False
        self.hs_record(ee)
        if mode in ("ee_unoffered_ext", "ee_forbidden_ext", "mfl_mismatch", "alpn_unoffered_proto"):
            return False
        if mode == "appdata_in_handshake":
            self.send(self.sealed(CT_APP, b"too early"))
            return False
        if mode == "nst_in_handshake":
            self.send(self.sealed(CT_HANDSHAKE, self.ticket()))
            return False
        self.transcript += ee
        if mode == "truncate_handshake":
            self.sock.shutdown(socket.SHUT_WR)
            return False
        if mode != "finished_before_cert":
            certs = b"" if mode == "empty_certificate" else vec(3, self.srv.cert_der) + vec(2, b"")
            cert = hs(HS_CERT, vec(1, b"") + vec(3, certs))
            self.hs_record(cert)
            self.transcript += cert
            if mode == "empty_certificate":
                return False
            scheme, sig = self.srv.sign(SERVER_CV_CONTEXT + self.th() if mode != "bad_cv_sig"
                                        else CLIENT_CV_CONTEXT + self.th())
            if mode == "cv_unoffered_scheme":
                scheme = 0x0603
            cv = hs(HS_CV, struct.pack(">H", scheme) + vec(2, sig))
            self.hs_record(cv)
            if mode in ("bad_cv_sig", "cv_unoffered_scheme"):
                return False
            self.transcript += cv
        vd = finished_data(self.h, self.s_hs, self.th())
        if mode == "bad_finished":
            vd = bytes([vd[0] ^ 0x80]) + vd[1:]
        fin = hs(HS_FINISHED, vd[:-1] if mode == "finished_bad_length" else vd)
        self.transcript += fin
        th = self.th()
        self.c_ap = derive_secret(self.h, self.master, b"c ap traffic", th)
        self.s_ap = derive_secret(self.h, self.master, b"s ap traffic", th)
        self.next_rprot = Protection(self.suite, self.c_ap)
        self.hs_record(fin + self.ticket() if mode == "fin_spans_key_change" else fin)
        if self.hs_out:
            self.flush_hs()
        self.wprot = Protection(self.suite, self.s_ap)
        return mode not in ("bad_finished", "finished_bad_length", "finished_before_cert",
                            "fin_spans_key_change")

    def client_finished(self):
        mtype, body, raw = self.read_handshake()
        if mtype != HS_FINISHED:
            raise RuntimeError("expected the client's Finished, got %d" % mtype)
        if not hmac.compare_digest(body, finished_data(self.h, self.c_hs, self.th())):
            raise RuntimeError("the client's Finished does not verify")
        if self.rprot is not self.next_rprot and self.next_rprot is not None:
            self.rprot, self.next_rprot = self.next_rprot, None

    def ticket(self, lifetime=3600, extra_ext=b""):
        return hs(HS_NST, struct.pack(">II", lifetime, 0x01020304) + vec(1, os.urandom(8)) +
                  vec(2, os.urandom(48)) + vec(2, extra_ext))

    # -- application data
    def after_handshake(self):
        if self.mode == "tickets":
            self.send(self.sealed(CT_HANDSHAKE, self.ticket(extra_ext=ext(0x5A5A, b"grease"))))
            self.send(self.sealed(CT_HANDSHAKE, self.ticket(7200)))
        first = True
        while True:
            ctype, body = self.read_record()
            if ctype == CT_HANDSHAKE:
                self.hs_buf += body
                while len(self.hs_buf) >= 4:
                    if self.hs_buf[0] != HS_KEY_UPDATE:
                        raise RuntimeError("unexpected post-handshake message %d" % self.hs_buf[0])
                    self.hs_buf = self.hs_buf[5:]
                    self.rec["client_key_update"] = True
                    self.rprot = self.rprot.updated()
                continue
            if ctype != CT_APP:
                raise RuntimeError("unexpected record type %d" % ctype)
            self.rec["app_in"] += body
            if first and len(body):
                first = False
                if self.first_reply(body) is False:
                    return
            else:
                self.echo(body)

    def echo(self, data):
        step = self.send_limit
        self.send(b"".join(self.sealed(CT_APP, data[i:i + step]) for i in range(0, len(data), step)))

    def first_reply(self, data):
        mode = self.mode
        if mode == "padding":
            # the largest legal inner plaintext: content + type + zeros = 2^14 + 1 bytes
            self.send(self.sealed(CT_APP, data, pad=16384 - len(data)))
            return True
        if mode == "key_update":
            self.send(self.sealed(CT_HANDSHAKE, hs(HS_KEY_UPDATE, b"\x01")))
            self.wprot = self.wprot.updated()
        elif mode == "tamper_appdata":
            rec = self.sealed(CT_APP, data)
            self.send(rec[:-1] + bytes([rec[-1] ^ 0x40]))
            return False
        elif mode == "oversize_plaintext":
            self.send(self.sealed(CT_APP, data + bytes(16385 - len(data))))
            return False
        elif mode == "oversize_ciphertext":
            self.send(struct.pack(">BHH", CT_APP, 0x0303, 16384 + 257))  # header only, as above
            return False
        elif mode == "mfl_overflow":
            self.send(self.sealed(CT_APP, data + bytes(2049 - len(data))))
            return False
        elif mode == "keyupdate_bad":
            self.send(self.sealed(CT_HANDSHAKE, hs(HS_KEY_UPDATE, b"\x02")))
            return False
        elif mode == "ku_spans_key_change":
            self.send(self.sealed(CT_HANDSHAKE, hs(HS_KEY_UPDATE, b"\x00") + b"\x04\x00\x00"))
            return False
        elif mode == "ccs_after_handshake":
            self.send(self.plain(CT_CCS, b"\x01"))
            return False
        elif mode == "alert_after_handshake":
            self.send(self.sealed(CT_ALERT, b"\x02\x50"))
            return False
        if mode == "slow_echo":
            rec = self.sealed(CT_APP, data)
            cut = 5 + (len(rec) - 5) // 2
            self.send(rec[:cut])
            time.sleep(self.opts.get("pause", 1.5))
            self.send(rec[cut:])
            return True
        self.echo(data)
        if mode == "truncate_after":
            self.sock.shutdown(socket.SHUT_WR)
            return False
        if mode == "close_then_data":
            self.send(self.sealed(CT_ALERT, b"\x01\x00") + self.sealed(CT_APP, b"after close_notify"))
            return False
        return True


# ---- the server ---------------------------------------------------------------------------------------
class EvilServer:
    def __init__(self, mode="normal", cert="server-ec", timeout=10.0, drain_timeout=5.0, **opts):
        if mode not in MODES:
            raise ValueError("unknown mode %r" % mode)
        self.mode, self.opts = mode, opts
        self.timeout, self.drain_timeout = timeout, drain_timeout
        paths = pki.ensure()
        with open(paths[cert + ".crt"], "rb") as f:
            from cryptography import x509
            self.cert_der = x509.load_pem_x509_certificate(f.read()).public_bytes(serialization.Encoding.DER)
        with open(paths[cert + ".key"], "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), None)
        self.cafile = paths["ca"]
        self.sessions = []
        self._cond = threading.Condition()
        self._stop = False
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="evilserver-" + mode, daemon=True)

    def sign(self, message):
        k = self.key
        if isinstance(k, ec.EllipticCurvePrivateKey):
            if k.curve.name == "secp384r1":
                return 0x0503, k.sign(message, ec.ECDSA(hashes.SHA384()))
            return 0x0403, k.sign(message, ec.ECDSA(hashes.SHA256()))
        if isinstance(k, rsa.RSAPrivateKey):
            return 0x0804, k.sign(message, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
        if isinstance(k, ed25519.Ed25519PrivateKey):
            return 0x0807, k.sign(message)
        raise ValueError("unsupported key type")

    def start(self):
        self._thread.start()
        return self

    def _serve(self):
        while not self._stop:
            try:
                sock, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            c = _Conn(self, sock)
            try:
                c.handle()
                c.drain()
            except ClientAlert:
                c.drain()
            except PeerEOF:
                c.rec["client_eof"] = True
            except ConnectionResetError:
                c.rec["client_eof"] = c.rec["client_rst"] = True
            except Exception as e:  # a client that broke protocol, or a timeout: part of the record
                c.rec["server_error"] = "%s: %s" % (type(e).__name__, e)
                c.drain()
            finally:
                sock.close()
            with self._cond:
                self.sessions.append(c.rec)
                self._cond.notify_all()

    def wait_session(self, index=-1, timeout=30.0):
        """The record of the index-th connection (negative: counted from the end), once it is over."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                n = len(self.sessions)
                if (index >= 0 and n > index) or (index < 0 and n >= -index):
                    return self.sessions[index]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no finished session %d from the %s server" % (index, self.mode))
                self._cond.wait(left)

    def stop(self):
        self._stop = True
        self.lsock.close()
        self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

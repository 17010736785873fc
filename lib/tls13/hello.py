"""ClientHello construction and ServerHello / HelloRetryRequest parsing (RFC 8446 4.1)."""
import struct

from tls13 import alerts
from tls13.wire import Reader, ext, handshake, vec8, vec16

# Handshake message types
CLIENT_HELLO = 1
SERVER_HELLO = 2
NEW_SESSION_TICKET = 4
END_OF_EARLY_DATA = 5
ENCRYPTED_EXTENSIONS = 8
CERTIFICATE = 11
CERTIFICATE_REQUEST = 13
CERTIFICATE_VERIFY = 15
FINISHED = 20
KEY_UPDATE = 24
MESSAGE_HASH = 254

# Extensions
EXT_SERVER_NAME = 0
EXT_MAX_FRAGMENT_LENGTH = 1
EXT_SUPPORTED_GROUPS = 10
EXT_SIGNATURE_ALGORITHMS = 13
EXT_ALPN = 16
EXT_RECORD_SIZE_LIMIT = 28
EXT_PRE_SHARED_KEY = 41
EXT_EARLY_DATA = 42
EXT_SUPPORTED_VERSIONS = 43
EXT_COOKIE = 44
EXT_PSK_KEY_EXCHANGE_MODES = 45
EXT_SIGNATURE_ALGORITHMS_CERT = 50
EXT_KEY_SHARE = 51

TLS13 = 0x0304
GROUP_X25519 = 0x001D
GROUP_SECP256R1 = 0x0017

MFL_CODES = {512: 1, 1024: 2, 2048: 3, 4096: 4}

# Extensions RFC 8446 (and 6066/7301/8449) define: one of these where its message may not carry it is
# illegal_parameter; anything else unsolicited is unsupported_extension (RFC 8446 4.2).
KNOWN_EXTENSIONS = (0, 1, 5, 10, 13, 14, 15, 16, 18, 19, 20, 21, 28, 41, 42, 43, 44, 45, 47, 48, 49, 50, 51)


def unexpected_extension(etype, where):
    if etype in KNOWN_EXTENSIONS:
        return alerts.IllegalParameter("extension %d is not allowed in %s" % (etype, where))
    return alerts.UnsupportedExtension("extension %d in %s was not offered" % (etype, where))

HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
DOWNGRADE_TLS12 = b"DOWNGRD\x01"
DOWNGRADE_TLS11 = b"DOWNGRD\x00"


def _u16list(values):
    return vec16(b"".join(struct.pack(">H", v) for v in values))


def build_client_hello(random, session_id, cfg, server_name, shares, cookie=None, psk_ext=None,
                       early_data=False):
    """Serialise a ClientHello. shares: list of (group, public key bytes). psk_ext: the
    pre_shared_key extension body with zeroed binders (patched by the caller), always last."""
    exts = []
    if server_name and not _is_ip_literal(server_name):
        name = server_name.encode() if isinstance(server_name, str) else server_name
        exts.append(ext(EXT_SERVER_NAME, vec16(b"\x00" + vec16(name))))
    exts.append(ext(EXT_SUPPORTED_VERSIONS, vec8(struct.pack(">H", TLS13))))
    exts.append(ext(EXT_SUPPORTED_GROUPS, _u16list(cfg.groups)))
    exts.append(ext(EXT_SIGNATURE_ALGORITHMS, _u16list(cfg.signature_algorithms)))
    exts.append(ext(EXT_SIGNATURE_ALGORITHMS_CERT, _u16list(cfg.signature_algorithms_cert)))
    exts.append(ext(EXT_KEY_SHARE, vec16(b"".join(struct.pack(">H", g) + vec16(k) for g, k in shares))))
    if cfg.alpn_protocols:
        exts.append(ext(EXT_ALPN, vec16(b"".join(vec8(p) for p in cfg.alpn_protocols))))
    if cfg.max_fragment_length:
        exts.append(ext(EXT_MAX_FRAGMENT_LENGTH, bytes((MFL_CODES[cfg.max_fragment_length],))))
    if cfg.record_size_limit:
        exts.append(ext(EXT_RECORD_SIZE_LIMIT, struct.pack(">H", cfg.record_size_limit + 1)))
    exts.append(ext(EXT_PSK_KEY_EXCHANGE_MODES, vec8(bytes(cfg.psk_modes))))
    if cookie is not None:
        exts.append(ext(EXT_COOKIE, vec16(cookie)))
    if early_data:
        exts.append(ext(EXT_EARLY_DATA, b""))
    if psk_ext is not None:
        exts.append(ext(EXT_PRE_SHARED_KEY, psk_ext))
    body = (b"\x03\x03" + random + vec8(session_id) + _u16list(cfg.cipher_suites) + b"\x01\x00"
            + vec16(b"".join(exts)))
    return handshake(CLIENT_HELLO, body)


def _is_ip_literal(name):
    # RFC 6066: literal IPv4 and IPv6 addresses are not permitted in server_name.
    if ":" in name:
        return True
    parts = name.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


class ServerHello:
    """The fields of a ServerHello or HelloRetryRequest that the client acts on."""

    def __init__(self):
        self.is_hrr = False
        self.random = None
        self.suite = 0
        self.key_share = None      # (group, key_exchange) in a ServerHello
        self.selected_group = None  # in a HelloRetryRequest
        self.cookie = None
        self.psk_identity = None


def parse_server_hello(body, offered_session_id, offered_suites):
    r = Reader(body)
    legacy_version = r.u16()
    sh = ServerHello()
    sh.random = bytes(r.take(32))
    sh.is_hrr = sh.random == HRR_RANDOM
    sid = r.vec(1, 0, 32)
    sh.suite = r.u16()
    compression = r.u8()
    if r.done():
        exts = None  # TLS 1.2 and older may omit extensions
    else:
        exts = r.sub(2)
        r.expect_end()
    items = []
    versions = None
    if exts is not None:
        while not exts.done():
            etype = exts.u16()
            data = exts.sub(2)
            for e, _ in items:
                if e == etype:
                    raise alerts.IllegalParameter("duplicate extension %d" % etype)
            items.append((etype, data))
            if etype == EXT_SUPPORTED_VERSIONS:
                versions = data.u16()
                data.expect_end()
    # Version first: a TLS 1.2 server's hello carries extensions a TLS 1.3 one never does.
    if versions is None:
        if sh.random[24:] in (DOWNGRADE_TLS12, DOWNGRADE_TLS11):
            # The server speaks TLS 1.3 but something in between removed it from our offer.
            raise alerts.IllegalParameter("downgrade sentinel: TLS 1.3 was stripped on the path")
        raise alerts.ProtocolVersion("server does not support TLS 1.3 (legacy_version 0x%04x)" % legacy_version)
    for etype, data in items:
        if etype == EXT_SUPPORTED_VERSIONS:
            continue
        if etype == EXT_KEY_SHARE:
            if sh.is_hrr:
                sh.selected_group = data.u16()
            else:
                group = data.u16()
                sh.key_share = (group, bytes(data.vec(2, 1)))
        elif etype == EXT_COOKIE and sh.is_hrr:
            sh.cookie = bytes(data.vec(2, 1))
        elif etype == EXT_PRE_SHARED_KEY and not sh.is_hrr:
            sh.psk_identity = data.u16()
        else:
            raise unexpected_extension(etype, "HelloRetryRequest" if sh.is_hrr else "ServerHello")
        data.expect_end()
    if versions != TLS13:
        raise alerts.IllegalParameter("server selected version 0x%04x" % versions)
    if legacy_version != 0x0303:
        raise alerts.ProtocolVersion("bad legacy_version 0x%04x" % legacy_version)
    tail = sh.random[24:]
    if not sh.is_hrr and (tail == DOWNGRADE_TLS12 or tail == DOWNGRADE_TLS11):
        raise alerts.IllegalParameter("downgrade sentinel in a TLS 1.3 ServerHello")
    if bytes(sid) != offered_session_id:
        raise alerts.IllegalParameter("legacy_session_id not echoed")
    if sh.suite not in offered_suites:
        raise alerts.IllegalParameter("server chose cipher suite 0x%04x that was not offered" % sh.suite)
    if compression != 0:
        raise alerts.IllegalParameter("non-null compression")
    if sh.is_hrr:
        if sh.selected_group is None and sh.cookie is None:
            raise alerts.IllegalParameter("HelloRetryRequest that changes nothing")
    elif sh.key_share is None and sh.psk_identity is None:
        raise alerts.MissingExtension("ServerHello without key_share")
    return sh

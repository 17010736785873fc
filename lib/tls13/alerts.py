"""TLS alerts as exceptions: one class per alert description, carrying its code.

`TLSError.remote` tells which side raised it: False when this client detected the problem (and sent
the alert), True when the peer sent the alert. After any TLSError the connection is dead and remembers
why (`Connection.error`). TLSError subclasses OSError because code written for MicroPython's and
CPython's `ssl` catches OSError around socket I/O.
"""

CLOSE_NOTIFY = 0
UNEXPECTED_MESSAGE = 10
BAD_RECORD_MAC = 20
RECORD_OVERFLOW = 22
HANDSHAKE_FAILURE = 40
BAD_CERTIFICATE = 42
UNSUPPORTED_CERTIFICATE = 43
CERTIFICATE_REVOKED = 44
CERTIFICATE_EXPIRED = 45
CERTIFICATE_UNKNOWN = 46
ILLEGAL_PARAMETER = 47
UNKNOWN_CA = 48
ACCESS_DENIED = 49
DECODE_ERROR = 50
DECRYPT_ERROR = 51
PROTOCOL_VERSION = 70
INSUFFICIENT_SECURITY = 71
INTERNAL_ERROR = 80
INAPPROPRIATE_FALLBACK = 86
USER_CANCELED = 90
MISSING_EXTENSION = 109
UNSUPPORTED_EXTENSION = 110
UNRECOGNIZED_NAME = 112
BAD_CERTIFICATE_STATUS_RESPONSE = 113
UNKNOWN_PSK_IDENTITY = 115
CERTIFICATE_REQUIRED = 116
NO_APPLICATION_PROTOCOL = 120


class TLSError(OSError):
    alert = INTERNAL_ERROR
    name = "internal_error"

    def __init__(self, msg="", remote=False):
        self.remote = remote
        self.msg = msg
        side = "peer sent" if remote else "local"
        super().__init__("%s alert %s(%d)%s" % (side, self.name, self.alert, ": " + msg if msg else ""))


class TruncationError(TLSError):
    """The transport ended without close_notify: data may have been cut off by an attacker."""
    alert = CLOSE_NOTIFY
    name = "truncated"


class ConnectionClosed(TLSError):
    """The peer sent close_notify (reading after it, or writing after either side closed)."""
    alert = CLOSE_NOTIFY
    name = "close_notify"


class HandshakeTimeout(TLSError):
    alert = USER_CANCELED
    name = "handshake_timeout"


# Alert code -> exception class name. The classes are made on first use (module __getattr__):
# a class object costs ~0.5 KB of heap on MicroPython and most are never raised.
_NAMES = {
    UNEXPECTED_MESSAGE: "unexpected_message", BAD_RECORD_MAC: "bad_record_mac",
    RECORD_OVERFLOW: "record_overflow", HANDSHAKE_FAILURE: "handshake_failure",
    BAD_CERTIFICATE: "bad_certificate", UNSUPPORTED_CERTIFICATE: "unsupported_certificate",
    CERTIFICATE_REVOKED: "certificate_revoked", CERTIFICATE_EXPIRED: "certificate_expired",
    CERTIFICATE_UNKNOWN: "certificate_unknown", ILLEGAL_PARAMETER: "illegal_parameter",
    UNKNOWN_CA: "unknown_ca", ACCESS_DENIED: "access_denied", DECODE_ERROR: "decode_error",
    DECRYPT_ERROR: "decrypt_error", PROTOCOL_VERSION: "protocol_version",
    INSUFFICIENT_SECURITY: "insufficient_security", INTERNAL_ERROR: "internal_error",
    INAPPROPRIATE_FALLBACK: "inappropriate_fallback", USER_CANCELED: "user_canceled",
    MISSING_EXTENSION: "missing_extension", UNSUPPORTED_EXTENSION: "unsupported_extension",
    UNRECOGNIZED_NAME: "unrecognized_name",
    BAD_CERTIFICATE_STATUS_RESPONSE: "bad_certificate_status_response",
    UNKNOWN_PSK_IDENTITY: "unknown_psk_identity", CERTIFICATE_REQUIRED: "certificate_required",
    NO_APPLICATION_PROTOCOL: "no_application_protocol",
}
_CLASSES = {}


def _class_name(name):
    # "decode_error" -> "DecodeError"
    return "".join(p[0].upper() + p[1:] for p in name.split("_"))


def alert_class(code):
    cls = _CLASSES.get(code)
    if cls is None:
        name = _NAMES[code]
        cls = type(_class_name(name), (TLSError,), {"alert": code, "name": name})
        _CLASSES[code] = cls
    return cls


def __getattr__(attr):
    for code, name in _NAMES.items():
        if _class_name(name) == attr:
            return alert_class(code)
    raise AttributeError(attr)


def from_code(code, msg="", remote=True):
    """The exception for an alert code (an unknown code still gets a TLSError carrying it)."""
    if code not in _NAMES:
        e = TLSError(msg, remote)
        e.alert = code
        e.name = "alert_%d" % code
        return e
    return alert_class(code)(msg, remote)

"""Certificate errors and the TLS alert each one maps to.

Every failure raises `CertificateError` with a short `.reason` string from `REASONS`; the handshake sends
`ALERT_FOR_REASON[reason]` (an alert name; `ALERT_CODES` gives its number from RFC 8446 section 6).
`.index` is the position in the list the server sent of the certificate at fault (0 = the leaf) when
that is known, else None; `.detail` is a human-readable hint and never decides anything.
"""

ALERT_FOR_REASON = {
    "malformed": "decode_error",
    "expired": "certificate_expired",
    "not_yet_valid": "certificate_expired",
    "unknown_issuer": "unknown_ca",
    "bad_signature": "bad_certificate",
    "hostname_mismatch": "bad_certificate",
    "not_a_ca": "bad_certificate",
    "path_too_long": "bad_certificate",
    "bad_key_usage": "unsupported_certificate",
    "unsupported_critical_extension": "unsupported_certificate",
    "name_constraints": "bad_certificate",
    "weak_key": "unsupported_certificate",
    "unsupported_algorithm": "unsupported_certificate",
    "pin_mismatch": "bad_certificate",
    # The board does not know the time and no floor was given: a local condition, not the peer's fault,
    # but the handshake must still stop.
    "clock_unset": "certificate_unknown",
}

REASONS = tuple(ALERT_FOR_REASON)

ALERT_CODES = {
    "bad_certificate": 42,
    "unsupported_certificate": 43,
    "certificate_expired": 45,
    "certificate_unknown": 46,
    "unknown_ca": 48,
    "decode_error": 50,
}


class CertificateError(Exception):
    def __init__(self, reason, detail=None, index=None):
        super().__init__(reason if detail is None else "%s: %s" % (reason, detail))
        self.reason = reason
        self.detail = detail
        self.index = index

    @property
    def alert(self):
        return ALERT_FOR_REASON.get(self.reason, "bad_certificate")


def malformed(detail=None):
    return CertificateError("malformed", detail)

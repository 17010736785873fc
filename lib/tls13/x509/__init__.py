"""X.509 certificate validation on the device: streaming DER, path building, host names, trust anchors.

    verify_chain(certs_der, trust_store, server_name, now, max_depth=8, pins=None, time_floor=None,
                 min_rsa_bits=2048) -> leaf public key
    ChainValidator(...)     the same, fed one certificate (or one chunk) at a time
    TrustStore.from_pem(pem) / .from_der(list_of_der) / .from_module(generated_module)
    CertificateError        .reason (see ALERT_FOR_REASON), .detail, .index
    ALERT_FOR_REASON        reason -> TLS alert name; ALERT_CODES: alert name -> number

The leaf public key is a tuple: ("ec", "P-256"|"P-384", point) | ("rsa", n, e) | ("ed25519", None,
pub); `tls13.x509.keys.verify_tls(key, scheme, message, signature)` checks a CertificateVerify with it.
The clock policy (`now=None` -> "clock_unset" unless `time_floor` is given) is described in chain.py.
Modules load on first use, so importing CertificateError alone stays cheap.
"""
from tls13.x509.errors import ALERT_CODES, ALERT_FOR_REASON, REASONS, CertificateError  # noqa: F401


def __getattr__(name):
    if name in ("verify_chain", "ChainValidator"):
        from tls13.x509 import chain
        return getattr(chain, name)
    if name in ("TrustStore", "spki_sha256", "pin_from_base64"):
        from tls13.x509 import trust
        return getattr(trust, name)
    if name == "verify_tls":
        from tls13.x509 import keys
        return keys.verify_tls
    raise AttributeError(name)

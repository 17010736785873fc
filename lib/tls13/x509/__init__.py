"""X.509 certificate validation on the device: streaming DER, path building, host names, trust anchors.

    verify_chain(certs_der, trust_store, server_name, now, max_depth=8, pins=None, time_floor=None,
                 min_rsa_bits=2048) -> leaf public key
    ChainValidator(...)     the same, fed one certificate (or one chunk) at a time
    TrustStore.from_pem(pem) / .from_der(list_of_der) / .from_module(generated_module)
    CertificateError        .reason (see ALERT_FOR_REASON), .detail, .index
    ALERT_FOR_REASON        reason -> TLS alert name; ALERT_CODES: alert name -> number
    leaf_public_key(der), leaf_spki(der)   a certificate's key / SubjectPublicKeyInfo, unvalidated
    spki_sha256(spki), pin_from_base64(s)  SPKI pins

The leaf public key is a tuple: ("ec", "P-256"|"P-384", point) | ("rsa", n, e) | ("ed25519", pub), the
form tls13.sigverify checks a CertificateVerify with. The clock policy (`now=None` -> "clock_unset"
unless `time_floor` is given) is described in chain.py. Modules load on first use, so importing
CertificateError alone stays cheap.
"""
from tls13.x509.errors import ALERT_CODES, ALERT_FOR_REASON, REASONS, CertificateError  # noqa: F401

_SUBMODULES = ("cert", "chain", "der", "errors", "keys", "names", "trust")


def leaf_public_key(der):
    """The key of one certificate, with no validation beyond parsing it (CERT_NONE, pin-only)."""
    from tls13.x509 import cert, keys
    c = cert.parse(der)
    if c.key is None:
        raise CertificateError(c.err, c.err_detail, 0)
    return keys.detach(c.key)


def leaf_spki(der):
    """The SubjectPublicKeyInfo DER of one certificate (what an SPKI pin hashes)."""
    from tls13.x509 import cert
    return bytes(cert.parse(der).spki)


def key_tuple(key):
    """The key in the form tls13.sigverify takes (the form this package returns already)."""
    from tls13.x509 import keys
    return keys.detach(key)


def __getattr__(name):
    if name in ("verify_chain", "ChainValidator"):
        from tls13.x509 import chain
        return getattr(chain, name)
    if name in ("TrustStore", "spki_sha256", "pin_from_base64"):
        from tls13.x509 import trust
        return getattr(trust, name)
    if name in _SUBMODULES:
        # MicroPython's `from package import submodule` asks __getattr__ first and does not fall back.
        return __import__("tls13.x509." + name, None, None, [name])
    raise AttributeError(name)

"""CertificateVerify signatures (RFC 8446 4.4.3) checked against the peer's leaf key.

A key is a tuple: ("ec", curve, uncompressed_point) | ("rsa", n, e) | ("ed25519", public32).
"""
from tls13 import alerts
from tls13.crypto import hashes

ECDSA_SECP256R1_SHA256 = 0x0403
ECDSA_SECP384R1_SHA384 = 0x0503
RSA_PSS_RSAE_SHA256 = 0x0804
RSA_PSS_RSAE_SHA384 = 0x0805
RSA_PSS_RSAE_SHA512 = 0x0806
ED25519 = 0x0807
RSA_PKCS1_SHA256 = 0x0401
RSA_PKCS1_SHA384 = 0x0501
RSA_PKCS1_SHA512 = 0x0601

# What a CertificateVerify may use (TLS 1.3 forbids PKCS#1 v1.5 there).
DEFAULT_SIGNATURE_ALGORITHMS = (ECDSA_SECP256R1_SHA256, ECDSA_SECP384R1_SHA384, ED25519,
                                RSA_PSS_RSAE_SHA256, RSA_PSS_RSAE_SHA384, RSA_PSS_RSAE_SHA512)
# What certificates in the chain may be signed with.
DEFAULT_SIGNATURE_ALGORITHMS_CERT = DEFAULT_SIGNATURE_ALGORITHMS + (
    RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512)

_EC = {ECDSA_SECP256R1_SHA256: ("P-256", "sha256"), ECDSA_SECP384R1_SHA384: ("P-384", "sha384")}
_PSS = {RSA_PSS_RSAE_SHA256: "sha256", RSA_PSS_RSAE_SHA384: "sha384", RSA_PSS_RSAE_SHA512: "sha512"}


def verify_scheme(key, scheme, message, sig):
    """True if sig is key's signature of message under scheme; a scheme that does not fit the key
    type is illegal_parameter (the server chose it knowing its own key)."""
    kind = key[0]
    if scheme in _EC:
        curve, h = _EC[scheme]
        if kind != "ec" or key[1] != curve:
            raise alerts.IllegalParameter("signature scheme does not match the certificate key")
        from tls13.crypto import ecdsa
        return ecdsa.verify(curve, key[2], hashes.new(h, message).digest(), sig)
    if scheme in _PSS:
        if kind != "rsa":
            raise alerts.IllegalParameter("signature scheme does not match the certificate key")
        h = _PSS[scheme]
        from tls13.crypto import rsa
        return rsa.verify_pss(key[1], key[2], h, hashes.new(h, message).digest(), sig)
    if scheme == ED25519:
        if kind != "ed25519":
            raise alerts.IllegalParameter("signature scheme does not match the certificate key")
        from tls13.crypto import ed25519
        return ed25519.verify(key[1], message, sig)
    raise alerts.IllegalParameter("unsupported signature scheme 0x%04x" % scheme)

"""The client's own certificate chain and ECDSA P-256 key, for mutual TLS (RFC 8446 4.4.2-4.4.3).

Keys: SEC1 ("EC PRIVATE KEY") or PKCS#8 ("PRIVATE KEY") holding a P-256 key, PEM or DER, from files
or bytes. Signatures use RFC 6979 deterministic nonces hedged with fresh randomness (a faulty RNG
cannot leak the key, and a glitch-induced repeat of the same input does not repeat k).
RSA and other key types are refused when the key is loaded, with ValueError saying so: a P-256 key
is what AWS IoT, HiveMQ and EMQX device certificates use, and RSA signing in Python is slow on a board.
"""
import binascii

from tls13.x509 import der

ECDSA_SECP256R1_SHA256 = 0x0403

_OID_EC_PUBLIC_KEY = bytes((0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01))
_OID_P256 = bytes((0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07))
_OID_RSA = bytes((0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01))


def _pem_blocks(data, label):
    begin = b"-----BEGIN " + label + b"-----"
    end = b"-----END " + label + b"-----"
    out = []
    pos = 0
    while True:
        a = data.find(begin, pos)
        if a < 0:
            return out
        b = data.find(end, a)
        if b < 0:
            raise ValueError("unterminated PEM block " + label.decode())
        out.append(binascii.a2b_base64(data[a + len(begin):b]))
        pos = b + len(end)


def _read(x):
    if isinstance(x, str):
        with open(x, "rb") as f:
            return f.read()
    return bytes(x)


def load_certificates(data):
    """PEM (one or more CERTIFICATE blocks) or one DER certificate -> list of DER."""
    if b"-----BEGIN" in data:
        certs = _pem_blocks(data, b"CERTIFICATE")
        if not certs:
            raise ValueError("no CERTIFICATE block in the PEM data")
        return certs
    return [data]


def _sec1_private(buf, s, e):
    """ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING, [0] params OPTIONAL, ...}"""
    vs, ve = der.expect(buf, s, e, der.INTEGER)
    if bytes(buf[vs:ve]) != b"\x01":
        raise ValueError("unsupported ECPrivateKey version")
    ks, ke = der.expect(buf, ve, e, der.OCTET_STRING)
    pos = ke
    while pos < e:
        tag, ps, pe = der.tlv(buf, pos, e)
        if tag == 0xA0:
            os_, oe = der.expect(buf, ps, pe, der.OID)
            if bytes(buf[os_:oe]) != _OID_P256:
                raise ValueError("only P-256 client keys are supported")
        pos = pe
    key = bytes(buf[ks:ke])
    if len(key) > 32:
        key = key[-32:] if not any(key[:-32]) else None
    if key is None:
        raise ValueError("bad P-256 private key length")
    return bytes(32 - len(key)) + key


def load_private_key(data):
    """PEM or DER, SEC1 or PKCS#8, P-256 only -> 32-byte private scalar."""
    if b"-----BEGIN" in data:
        if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data:
            raise ValueError("encrypted private keys are not supported; store the key unencrypted")
        if b"-----BEGIN RSA PRIVATE KEY-----" in data:
            raise ValueError("RSA client keys are not supported; use an ECDSA P-256 key")
        blocks = _pem_blocks(data, b"EC PRIVATE KEY")
        if blocks:
            buf = memoryview(blocks[0])
            s, e = der.whole(buf, der.SEQUENCE)
            return _sec1_private(buf, s, e)
        blocks = _pem_blocks(data, b"PRIVATE KEY")
        if not blocks:
            raise ValueError("no private key block in the PEM data")
        data = blocks[0]
    buf = memoryview(data)
    s, e = der.whole(buf, der.SEQUENCE)
    t, vs, ve = der.tlv(buf, s, e)
    if t != der.INTEGER:
        raise ValueError("not a private key")
    if bytes(buf[vs:ve]) == b"\x01":
        return _sec1_private(buf, s, e)
    # PKCS#8: version 0, AlgorithmIdentifier, OCTET STRING { ECPrivateKey }
    as_, ae = der.expect(buf, ve, e, der.SEQUENCE)
    os_, oe = der.expect(buf, as_, ae, der.OID)
    alg = bytes(buf[os_:oe])
    if alg == _OID_RSA:
        raise ValueError("RSA client keys are not supported; use an ECDSA P-256 key")
    if alg != _OID_EC_PUBLIC_KEY:
        raise ValueError("unsupported private key algorithm")
    ps, pe = der.expect(buf, oe, ae, der.OID)
    if bytes(buf[ps:pe]) != _OID_P256:
        raise ValueError("only P-256 client keys are supported")
    ks, ke = der.expect(buf, ae, e, der.OCTET_STRING)
    s2, e2 = der.expect(buf, ks, ke, der.SEQUENCE)
    return _sec1_private(buf, s2, e2)


class ClientIdentity:
    scheme = ECDSA_SECP256R1_SHA256

    def __init__(self, chain, private_key, hedge=True):
        if not chain:
            raise ValueError("empty certificate chain")
        from tls13.crypto import ecdsa
        self.chain = chain
        self._key = private_key
        self.hedge = hedge
        pub = ecdsa.public_key_p256(private_key)
        from tls13 import x509
        try:
            leaf = x509.leaf_public_key(chain[0])
        except x509.CertificateError as e:
            raise ValueError("client certificate: %s" % e)
        if leaf[0] != "ec" or leaf[1] != "P-256":
            raise ValueError("the client certificate's key is not P-256")
        if bytes(leaf[2]) != pub:
            raise ValueError("the private key does not match the client certificate")

    @classmethod
    def load(cls, certfile, keyfile=None):
        cert = _read(certfile)
        key = _read(keyfile) if keyfile is not None else cert  # PEM with both in one file
        return cls.from_bytes(cert, key)

    @classmethod
    def from_bytes(cls, cert, key):
        from tls13.x509 import CertificateError
        try:
            return cls(load_certificates(bytes(cert)), load_private_key(bytes(key)))
        except CertificateError as e:
            raise ValueError("malformed certificate or key: %s" % e)

    def sign(self, message, urandom=None):
        from tls13.crypto import ecdsa, hashes
        digest = hashes.sha256(message).digest()
        extra = urandom(32) if (self.hedge and urandom is not None) else None
        return ecdsa.sign_p256(self._key, digest, extra)

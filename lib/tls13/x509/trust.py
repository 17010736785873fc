"""Trust anchors (BearSSL's form): the subject Name, the public key and a few flags, not certificates.

An anchor is the 4-tuple
    (subject Name DER, SubjectPublicKeyInfo DER, flags, NameConstraints contents or None)
flags: FLAG_CA (bit 0) lets the anchor issue certificates; bits 8-15 hold pathLenConstraint + 1 (0 = no
limit). The validity period and signature of a root certificate are not kept: a configured anchor is
trusted as it is (as in RFC 5280 6.1.1 (d) and BearSSL).

The generated module form (host_tools/roots.py) is a module with `ANCHORS = ((...), ...)` of such
tuples made only of bytes constants and ints, so a frozen firmware keeps them in flash;
`TrustStore.from_module(mod)` uses that tuple as it is, without copying.

Pinning: `spki_sha256(spki_der)` is the pin of a key (the SHA-256 of its SubjectPublicKeyInfo, the
value HPKP and `openssl ... | sha256` pipelines print); `pin_from_base64()` decodes the usual form.
"""
import binascii

from tls13.x509 import cert as _cert
from tls13.x509.errors import CertificateError

FLAG_CA = 1

_BEGIN = b"-----BEGIN CERTIFICATE-----"
_END = b"-----END CERTIFICATE-----"


def spki_sha256(spki):
    from tls13.crypto import hashes
    return hashes.new("sha256", spki).digest()


def pin_from_base64(s):
    if isinstance(s, str):
        s = s.encode()
    pin = binascii.a2b_base64(s)
    if len(pin) != 32:
        raise ValueError("an SPKI pin is a SHA-256 digest (32 bytes)")
    return pin


def pem_blocks(pem):
    """Iterate the DER of each CERTIFICATE block in PEM text (bytes or str)."""
    if isinstance(pem, str):
        pem = pem.encode()
    pos = 0
    while True:
        a = pem.find(_BEGIN, pos)
        if a < 0:
            return
        b = pem.find(_END, a)
        if b < 0:
            raise CertificateError("malformed", "unterminated PEM block")
        try:
            yield binascii.a2b_base64(pem[a + len(_BEGIN):b])
        except ValueError:
            raise CertificateError("malformed", "bad base64 in PEM")
        pos = b + len(_END)


def anchor_from_der(data):
    """Anchor tuple for a certificate. Its own signature algorithm and extensions do not matter (a
    SHA-1 self-signature on a root is fine); only a key we cannot use makes it unusable."""
    c = _cert.parse(data)
    if c.key is None:
        raise CertificateError(c.err, c.err_detail)
    # A v1 root (no extensions) is a CA by convention; a v3 one says so in basicConstraints.
    ca = c.ca or c.version < 2
    if c.ku >= 0 and not c.ku & _cert.KU_KEY_CERT_SIGN:
        ca = False
    flags = (FLAG_CA if ca else 0) | ((c.pathlen + 1) << 8 if c.pathlen >= 0 else 0)
    return (bytes(c.subject), bytes(c.spki), flags, None if c.nc is None else bytes(c.nc))


def anchor_pathlen(anchor):
    """The anchor's pathLenConstraint, or -1."""
    return ((anchor[2] >> 8) & 0xFF) - 1


class TrustStore:
    """A list of anchors. `skipped` counts certificates given to from_pem/from_der that could not be
    anchors (unsupported key types); they are left out rather than failing the whole bundle."""

    def __init__(self, anchors=()):
        self.anchors = anchors
        self.skipped = 0

    @classmethod
    def from_der(cls, certs):
        store = cls([])
        for d in certs:
            store.add_der(d)
        return store

    @classmethod
    def from_pem(cls, pem):
        return cls.from_der(pem_blocks(pem))

    @classmethod
    def from_module(cls, mod):
        return cls(mod.ANCHORS)

    def add_der(self, data):
        try:
            a = anchor_from_der(data)
        except CertificateError as e:
            if e.reason == "malformed":
                raise
            self.skipped += 1
            return False
        self.add_anchor(a)
        return True

    def add_anchor(self, anchor):
        if not isinstance(self.anchors, list):
            self.anchors = list(self.anchors)
        self.anchors.append(anchor)

    def extend(self, other):
        """Add the anchors of another store (several CA files)."""
        for a in other.anchors:
            self.add_anchor(a)
        self.skipped += other.skipped

    def __len__(self):
        return len(self.anchors)

    def find(self, subject):
        """Iterate the anchors whose subject Name equals `subject` (bytes or memoryview)."""
        for a in self.anchors:
            if len(a[0]) == len(subject) and a[0] == subject:
                yield a

    def contains(self, subject, spki):
        for a in self.find(subject):
            if a[1] == spki:
                return True
        return False


def anchor_key(anchor):
    """(key tuple, bits) of an anchor."""
    from tls13.x509 import keys
    return keys.spki_key(anchor[1])


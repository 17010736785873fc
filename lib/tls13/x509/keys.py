"""Public keys and signature algorithms: SubjectPublicKeyInfo and AlgorithmIdentifier parsing, and the
signature check of a certificate.

A public key is a tuple, the form `verify_chain` returns for the leaf and tls13.sigverify takes:
    ("ec", "P-256" | "P-384", point)   point: uncompressed 04||X||Y (65 or 97 bytes)
    ("rsa", n, e)                      n, e: ints
    ("ed25519", pub)                   pub: 32 bytes
Byte fields may be memoryviews into the certificate while a chain is being checked; `detach()` (and so
`verify_chain`) hands back bytes.

Signature algorithms are small ints (the ALG_* constants); RSA-PSS carries its salt length separately.
Primitives are imported when first needed, so a board that only meets ECDSA never loads RSA code.
"""
from tls13.x509 import der
from tls13.x509.errors import CertificateError, malformed

ALG_RSA_SHA256 = 1
ALG_RSA_SHA384 = 2
ALG_RSA_SHA512 = 3
ALG_PSS_SHA256 = 4
ALG_PSS_SHA384 = 5
ALG_PSS_SHA512 = 6
ALG_ECDSA_SHA256 = 7
ALG_ECDSA_SHA384 = 8
ALG_ECDSA_SHA512 = 9
ALG_ED25519 = 10

_HASH_OF_ALG = (None, "sha256", "sha384", "sha512", "sha256", "sha384", "sha512",
                "sha256", "sha384", "sha512", None)

_PKCS1 = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01"       # 1.2.840.113549.1.1
OID_RSA = _PKCS1 + b"\x01"
OID_RSA_PSS = _PKCS1 + b"\x0a"
OID_MGF1 = _PKCS1 + b"\x08"
OID_EC = b"\x2a\x86\x48\xce\x3d\x02\x01"            # 1.2.840.10045.2.1
OID_P256 = b"\x2a\x86\x48\xce\x3d\x03\x01\x07"      # 1.2.840.10045.3.1.7
OID_P384 = b"\x2b\x81\x04\x00\x22"                  # 1.3.132.0.34
OID_ED25519 = b"\x2b\x65\x70"                       # 1.3.101.112
_ECDSA = b"\x2a\x86\x48\xce\x3d\x04\x03"            # 1.2.840.10045.4.3
_SHA2 = b"\x60\x86\x48\x01\x65\x03\x04\x02"         # 2.16.840.1.101.3.4.2

# (OID, algorithm) for the signature algorithms that take no parameters or NULL ones.
_SIMPLE = (
    (_PKCS1 + b"\x0b", ALG_RSA_SHA256),
    (_PKCS1 + b"\x0c", ALG_RSA_SHA384),
    (_PKCS1 + b"\x0d", ALG_RSA_SHA512),
    (_ECDSA + b"\x02", ALG_ECDSA_SHA256),
    (_ECDSA + b"\x03", ALG_ECDSA_SHA384),
    (_ECDSA + b"\x04", ALG_ECDSA_SHA512),
    (OID_ED25519, ALG_ED25519),
)
_HASH_OIDS = ((_SHA2 + b"\x01", "sha256"), (_SHA2 + b"\x02", "sha384"), (_SHA2 + b"\x03", "sha512"))
_PSS_ALG = {"sha256": ALG_PSS_SHA256, "sha384": ALG_PSS_SHA384, "sha512": ALG_PSS_SHA512}

MAX_RSA_BITS = 8192


def unsupported(detail):
    return CertificateError("unsupported_algorithm", detail)


def hash_name(alg):
    """Hash that digests the signed data for `alg` (None for Ed25519, which signs the data itself)."""
    return _HASH_OF_ALG[alg]


def _hash_alg_id(buf, s, e):
    """AlgorithmIdentifier of a SHA-2 hash (parameters absent or NULL); returns the hash name."""
    os_, oe = der.expect(buf, s, e, der.OID)
    if oe != e:
        ps, pe = der.expect(buf, oe, e, der.NULL)
        der.null(ps, pe)
        der.done(pe, e)
    oid = buf[os_:oe]
    for o, name in _HASH_OIDS:
        if oid == o:
            return name
    raise unsupported("hash")


def _pss_params(buf, s, e):
    """RSASSA-PSS-params (RFC 4055): the hash and MGF1 hash must be the same SHA-2 hash, trailer 1.
    Returns (alg, salt_len). The SHA-1 defaults are refused."""
    h = mgf = None
    salt = 20
    pos = s
    last = 0x9F
    while pos < e:
        tag, vs, ve = der.tlv(buf, pos, e)
        # Fields are [0]..[3] EXPLICIT, each optional, in order.
        if tag <= last or tag > 0xA3:
            raise malformed("RSASSA-PSS parameters")
        last = tag
        if tag == 0xA0:
            hs, he = der.expect(buf, vs, ve, der.SEQUENCE)
            der.done(he, ve)
            h = _hash_alg_id(buf, hs, he)
        elif tag == 0xA1:
            ms, me = der.expect(buf, vs, ve, der.SEQUENCE)
            der.done(me, ve)
            os_, oe = der.expect(buf, ms, me, der.OID)
            if buf[os_:oe] != OID_MGF1:
                raise unsupported("PSS mask generation function")
            hs, he = der.expect(buf, oe, me, der.SEQUENCE)
            der.done(he, me)
            mgf = _hash_alg_id(buf, hs, he)
        else:
            is_, ie = der.expect(buf, vs, ve, der.INTEGER)
            der.done(ie, ve)
            if tag == 0xA2:
                salt = der.small_uint(buf, is_, ie, 1024)
            elif der.small_uint(buf, is_, ie, 255) != 1:
                raise unsupported("PSS trailer field")
        pos = ve
    if h is None or mgf != h:
        raise unsupported("PSS with SHA-1 or mixed hashes")
    return _PSS_ALG[h], salt


def sig_alg(buf, s, e):
    """A certificate's signature AlgorithmIdentifier (contents s..e): returns (alg, pss_salt_len).
    Raises unsupported_algorithm for anything else, SHA-1 and MD5 included."""
    os_, oe = der.expect(buf, s, e, der.OID)
    oid = buf[os_:oe]
    for o, alg in _SIMPLE:
        if oid == o:
            if oe != e:
                # RSA PKCS#1 takes NULL parameters (RFC 4055 lets them be absent); ECDSA/EdDSA none.
                if alg > ALG_RSA_SHA512:
                    raise malformed("algorithm parameters")
                ps, pe = der.expect(buf, oe, e, der.NULL)
                der.null(ps, pe)
                der.done(pe, e)
            return alg, 0
    if oid == OID_RSA_PSS:
        ps, pe = der.expect(buf, oe, e, der.SEQUENCE)
        der.done(pe, e)
        return _pss_params(buf, ps, pe)
    raise unsupported("signature algorithm")


def _rsa_bits(buf, s, e):
    b = buf[s]
    bits = (e - s) * 8
    while not b & 0x80:
        b <<= 1
        bits -= 1
    return bits


def parse_spki(buf, s, e):
    """SubjectPublicKeyInfo contents (s..e) -> (key tuple, key bits). Key bytes are slices of buf."""
    as_, ae = der.expect(buf, s, e, der.SEQUENCE)
    ks, ke = der.expect(buf, ae, e, der.BIT_STRING)
    der.done(ke, e)
    ks, ke = der.bit_string(buf, ks, ke)
    os_, oe = der.expect(buf, as_, ae, der.OID)
    oid = buf[os_:oe]
    if oid == OID_EC:
        ps, pe = der.expect(buf, oe, ae, der.OID)
        der.done(pe, ae)
        curve = buf[ps:pe]
        if curve == OID_P256:
            name, size = "P-256", 65
        elif curve == OID_P384:
            name, size = "P-384", 97
        else:
            raise unsupported("elliptic curve")
        if buf[ks] != 4:
            raise unsupported("compressed EC point")
        if ke - ks != size:
            raise malformed("EC point length")
        return ("ec", name, buf[ks:ke]), size * 4 - 4
    if oid == OID_RSA:
        if oe != ae:
            ps, pe = der.expect(buf, oe, ae, der.NULL)
            der.null(ps, pe)
            der.done(pe, ae)
        rs, re_ = der.expect(buf, ks, ke, der.SEQUENCE)
        der.done(re_, ke)
        ns, ne = der.expect(buf, rs, re_, der.INTEGER)
        es, ee = der.expect(buf, ne, re_, der.INTEGER)
        der.done(ee, re_)
        ns, ne = der.uint_bytes(buf, ns, ne)
        es, ee = der.uint_bytes(buf, es, ee)
        bits = _rsa_bits(buf, ns, ne)
        if bits > MAX_RSA_BITS or ee - es > 4:
            raise unsupported("RSA key size or exponent")
        pub_e = int.from_bytes(buf[es:ee], "big")
        if pub_e < 3 or not pub_e & 1:
            raise CertificateError("weak_key", "RSA exponent")
        return ("rsa", int.from_bytes(buf[ns:ne], "big"), pub_e), bits
    if oid == OID_ED25519:
        if oe != ae:
            raise malformed("Ed25519 parameters")
        if ke - ks != 32:
            raise malformed("Ed25519 key length")
        return ("ed25519", buf[ks:ke]), 256
    raise unsupported("public key algorithm")


def spki_key(spki):
    """Key tuple and bits from a whole SubjectPublicKeyInfo TLV (trust anchors store them that way)."""
    buf = memoryview(spki)
    s, e = der.whole(buf, der.SEQUENCE)
    return parse_spki(buf, s, e)


def detach(key):
    """The key with its byte fields copied out of the certificate buffer."""
    kind = key[0]
    if kind == "ec":
        return (kind, key[1], bytes(key[2]))
    if kind == "ed25519":
        return (kind, bytes(key[1]))
    return key


def verify(key, alg, salt, data, sig):
    """Check a certificate signature. `data` is the digest of the TBSCertificate for RSA and ECDSA and
    the TBSCertificate itself for Ed25519. False on any mismatch, wrong key type included."""
    kind = key[0]
    if not alg:
        return False
    try:
        if alg <= ALG_PSS_SHA512:
            if kind != "rsa":
                return False
            if alg <= ALG_RSA_SHA512:
                from tls13.crypto import rsa
                return rsa.verify_pkcs1v15(key[1], key[2], _HASH_OF_ALG[alg], data, sig)
            from tls13.crypto import rsa
            return rsa.verify_pss(key[1], key[2], _HASH_OF_ALG[alg], data, sig, salt)
        if alg <= ALG_ECDSA_SHA512:
            if kind != "ec":
                return False
            from tls13.crypto import ecdsa
            return ecdsa.verify(key[1], key[2], data, sig)
        if alg == ALG_ED25519 and kind == "ed25519":
            from tls13.crypto import ed25519
            return ed25519.verify(key[1], data, sig)
    except ValueError:
        # The primitives raise ValueError only for keys they cannot use (e.g. a point off the curve).
        return False
    return False


"""One X.509 certificate, read into just what path validation needs (RFC 5280 section 4).

`parse(der)` walks the DER once and records memoryview slices into it (no copies, no object tree):

    tbs          the TBSCertificate TLV (the signed bytes)
    alg, salt    signature algorithm (keys.ALG_*) and RSA-PSS salt length; 0 if unsupported
    sig          signature bytes (BIT STRING contents)
    issuer, subject   the Name TLVs, compared byte for byte (as BearSSL and webpki do)
    not_before, not_after   Unix seconds
    spki         the SubjectPublicKeyInfo TLV (pinning hashes it)
    key, key_bits     keys.parse_spki() result; key None if unsupported
    version      0 (v1) .. 2 (v3)
    ca, pathlen  basicConstraints (pathlen -1 = none); ca False when the extension is absent
    ku           keyUsage bits (KU_*), or -1 when absent
    eku          extendedKeyUsage: -1 when absent, else EKU_SERVER_AUTH | EKU_ANY bits for what it lists
    san          GeneralNames contents of subjectAltName, or None
    nc           NameConstraints contents, or None
    ski, aki     key identifiers, or None
    err          first policy problem that does not stop reading: "unsupported_algorithm" or
                 "unsupported_critical_extension" (None if none); err_detail says what

Malformed DER raises CertificateError("malformed"). Problems of policy are recorded rather than raised
so the subject of an unusable certificate can still be seen while building a path.
"""
from tls13.x509 import der, keys
from tls13.x509.errors import CertificateError, malformed

KU_DIGITAL_SIGNATURE = 1 << 0
KU_KEY_CERT_SIGN = 1 << 5
EKU_SERVER_AUTH = 1
EKU_ANY = 2

_EXT = b"\x55\x1d"                  # 2.5.29
_BASIC_CONSTRAINTS = 0x13
_KEY_USAGE = 0x0F
_EXT_KEY_USAGE = 0x25
_SAN = 0x11
_NAME_CONSTRAINTS = 0x1E
_AKI = 0x23
_SKI = 0x0E
OID_SERVER_AUTH = b"\x2b\x06\x01\x05\x05\x07\x03\x01"   # 1.3.6.1.5.5.7.3.1
OID_ANY_EKU = b"\x55\x1d\x25\x00"                        # 2.5.29.37.0


class Cert:
    def __init__(self):
        self.err = self.err_detail = None
        self.key = None
        self.key_bits = 0
        self.ca = False
        self.pathlen = -1
        self.ku = -1
        self.eku = -1
        self.san = self.nc = self.ski = self.aki = None

    def _fail(self, reason, detail):
        if self.err is None:
            self.err = reason
            self.err_detail = detail


def parse(data):
    buf = data if isinstance(data, memoryview) else memoryview(data)
    c = Cert()
    cs, ce = der.whole(buf, der.SEQUENCE)
    t, ts, te = der.tlv(buf, cs, ce)
    if t != der.SEQUENCE:
        raise malformed("TBSCertificate")
    c.tbs = buf[cs:te]
    as_, ae = der.expect(buf, te, ce, der.SEQUENCE)
    outer_alg = buf[te:ae]
    ss, se = der.expect(buf, ae, ce, der.BIT_STRING)
    der.done(se, ce)
    ss, se = der.bit_string(buf, ss, se)
    c.sig = buf[ss:se]
    try:
        c.alg, c.salt = keys.sig_alg(buf, as_, ae)
    except CertificateError as e:
        if e.reason != "unsupported_algorithm":
            raise
        c.alg = c.salt = 0
        c._fail(e.reason, e.detail)
    _parse_tbs(c, buf, ts, te, outer_alg)
    return c


def _parse_tbs(c, buf, pos, end, outer_alg):
    t, s, e = der.tlv(buf, pos, end)
    c.version = 0
    if t == 0xA0:
        vs, ve = der.expect(buf, s, e, der.INTEGER)
        der.done(ve, e)
        c.version = der.small_uint(buf, vs, ve, 2)
        if c.version == 0:
            raise malformed("explicit v1")  # DER omits a DEFAULT value
        t, s, e = der.tlv(buf, e, end)
    if t != der.INTEGER:
        raise malformed("serial number")
    der.integer(buf, s, e)
    p = e
    t, s, e = der.tlv(buf, p, end)
    # RFC 5280 4.1.1.2: the signed algorithm must equal the outer one, byte for byte.
    if t != der.SEQUENCE or buf[p:e] != outer_alg:
        raise malformed("signature algorithm mismatch")
    is_, ie = _name(buf, e, end)
    c.issuer = buf[is_:ie]
    vs, ve = der.expect(buf, ie, end, der.SEQUENCE)
    t, s, e = der.tlv(buf, vs, ve)
    c.not_before = der.time(buf, t, s, e)
    t, s, e = der.tlv(buf, e, ve)
    c.not_after = der.time(buf, t, s, e)
    der.done(e, ve)
    ss, se = _name(buf, ve, end)
    c.subject = buf[ss:se]
    ks, ke = der.expect(buf, se, end, der.SEQUENCE)
    c.spki = buf[se:ke]
    try:
        c.key, c.key_bits = keys.parse_spki(buf, ks, ke)
    except CertificateError as e:
        if e.reason == "malformed":
            raise
        c._fail(e.reason, "key: " + e.detail)
    pos = ke
    last = 0
    while pos < end:
        t, s, e = der.tlv(buf, pos, end)
        # issuerUniqueID [1], subjectUniqueID [2] (v2+), extensions [3] (v3), each optional, in order.
        n = 1 if t == 0x81 else (2 if t == 0x82 else (3 if t == 0xA3 else 0))
        if n <= last or c.version < (2 if n == 3 else 1):
            raise malformed("TBSCertificate field")
        last = n
        if n == 3:
            xs, xe = der.expect(buf, s, e, der.SEQUENCE)
            der.done(xe, e)
            _extensions(c, buf, xs, xe)
        pos = e


def oid_str(oid):
    """Dotted form of OID contents, for error details."""
    parts = []
    v = 0
    for b in oid:
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            if not parts:
                parts.append("%d.%d" % ((v // 40, v % 40) if v < 80 else (2, v - 80)))
            else:
                parts.append(str(v))
            v = 0
    return ".".join(parts)


def _name(buf, pos, end):
    """A Name (SEQUENCE of RDNs); returns the range of its whole TLV."""
    s, e = der.expect(buf, pos, end, der.SEQUENCE)
    p = s
    while p < e:
        rs, re_ = der.expect(buf, p, e, der.SET)
        if rs == re_:
            raise malformed("empty RDN")
        p = re_
    return pos, e


def _extensions(c, buf, pos, end):
    if pos == end:
        raise malformed("empty extensions")
    seen = 0
    while pos < end:
        xs, xe = der.expect(buf, pos, end, der.SEQUENCE)
        os_, oe = der.expect(buf, xs, xe, der.OID)
        critical = False
        t, s, e = der.tlv(buf, oe, xe)
        if t == der.BOOLEAN:
            critical = der.boolean(buf, s, e)
            t, s, e = der.tlv(buf, e, xe)
        if t != der.OCTET_STRING:
            raise malformed("extension value")
        der.done(e, xe)
        pos = xe
        oid = buf[os_:oe]
        if oe - os_ != 3 or oid[0:2] != _EXT:
            if critical:
                c._fail("unsupported_critical_extension", oid_str(oid))
            continue
        kind = oid[2]
        if kind in (_BASIC_CONSTRAINTS, _KEY_USAGE, _EXT_KEY_USAGE, _SAN, _NAME_CONSTRAINTS, _AKI, _SKI):
            bit = 1 << (kind & 31)
            if seen & bit:
                raise malformed("duplicate extension")
            seen |= bit
        if kind == _BASIC_CONSTRAINTS:
            _basic_constraints(c, buf, s, e)
        elif kind == _KEY_USAGE:
            ks, ke = der.expect(buf, s, e, der.BIT_STRING)
            der.done(ke, e)
            c.ku = der.named_bits(buf, ks, ke)
        elif kind == _EXT_KEY_USAGE:
            c.eku = _eku(buf, s, e)
        elif kind == _SAN:
            gs, ge = der.whole(buf[s:e], der.SEQUENCE)
            if gs == ge:
                raise malformed("empty subjectAltName")
            c.san = buf[s + gs:s + ge]
        elif kind == _NAME_CONSTRAINTS:
            ns, ne = der.whole(buf[s:e], der.SEQUENCE)
            c.nc = buf[s + ns:s + ne]
        elif kind == _AKI:
            as_, ae = der.whole(buf[s:e], der.SEQUENCE)
            if ae > as_:
                t, ks, ke = der.tlv(buf, s + as_, s + ae)
                if t == 0x80:
                    c.aki = buf[ks:ke]
        elif kind == _SKI:
            ks, ke = der.whole(buf[s:e], der.OCTET_STRING)
            c.ski = buf[s + ks:s + ke]
        elif critical:
            c._fail("unsupported_critical_extension", "2.5.29.%d" % kind)


def _basic_constraints(c, buf, s, e):
    bs, be = der.whole(buf[s:e], der.SEQUENCE)
    bs += s
    be += s
    if bs < be:
        t, vs, ve = der.tlv(buf, bs, be)
        if t == der.BOOLEAN:
            # DER omits cA FALSE; some issued certificates still spell it out, which is harmless.
            c.ca = der.boolean(buf, vs, ve)
            bs = ve
            if bs < be:
                t, vs, ve = der.tlv(buf, bs, be)
        if bs < be:
            if t != der.INTEGER:
                raise malformed("basicConstraints")
            c.pathlen = der.small_uint(buf, vs, ve, 255)
            der.done(ve, be)


def _eku(buf, s, e):
    ls, le = der.whole(buf[s:e], der.SEQUENCE)
    ls += s
    le += s
    if ls == le:
        raise malformed("empty extendedKeyUsage")
    v = 0
    while ls < le:
        os_, oe = der.expect(buf, ls, le, der.OID)
        o = buf[os_:oe]
        if o == OID_SERVER_AUTH:
            v |= EKU_SERVER_AUTH
        elif o == OID_ANY_EKU:
            v |= EKU_ANY
        ls = oe
    return v

"""Client authentication in the handshake (RFC 8446 4.3.2, 4.4.2, 4.4.3)."""
from tls13 import alerts
from tls13 import hello as H
from tls13.wire import Reader, handshake, vec8, vec16, vec24


class CertificateRequest:
    def __init__(self, context, schemes):
        self.context = context
        self.schemes = schemes


def parse_certificate_request(body):
    r = Reader(body)
    context = bytes(r.vec(1))
    exts = r.sub(2)
    r.expect_end()
    schemes = None
    seen = []
    while not exts.done():
        etype = exts.u16()
        d = exts.sub(2)
        if etype in seen:
            raise alerts.IllegalParameter("duplicate extension %d" % etype)
        seen.append(etype)
        if etype == H.EXT_SIGNATURE_ALGORITHMS:
            lst = d.sub(2, 2)
            schemes = []
            while not lst.done():
                schemes.append(lst.u16())
            d.expect_end()
    if schemes is None:
        raise alerts.MissingExtension("CertificateRequest without signature_algorithms")
    return CertificateRequest(context, schemes)


def send_client_auth(conn, t, req):
    """Queue Certificate (+ CertificateVerify when a key is configured); returns the transcript
    hash the client Finished covers."""
    ident = conn.cfg.client_identity
    if ident is None or ident.scheme not in req.schemes:
        # No usable key: an empty Certificate lets the server decide (certificate_required).
        msg = handshake(H.CERTIFICATE, vec8(req.context) + vec24(b""))
        conn.queue_handshake(msg)
        t.update(msg)
        return t.digest()
    entries = b"".join(vec24(c) + vec16(b"") for c in ident.chain)
    msg = handshake(H.CERTIFICATE, vec8(req.context) + vec24(entries))
    conn.queue_handshake(msg)
    t.update(msg)
    from tls13.handshake import CLIENT_CV_CONTEXT
    sig = ident.sign(CLIENT_CV_CONTEXT + t.digest(), conn.urandom)
    cv = handshake(H.CERTIFICATE_VERIFY, bytes((ident.scheme >> 8, ident.scheme & 0xFF)) + vec16(sig))
    conn.queue_handshake(cv)
    t.update(cv)
    return t.digest()

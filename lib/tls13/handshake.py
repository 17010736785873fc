"""The client handshake as one small state per expected message (RFC 8446 section 4).

Each state's handle(conn, msg_type, body, raw) checks one message and returns the next state, carrying
only what is still needed; secrets die with the state that used them.
"""
from tls13 import alerts
from tls13 import hello as H
from tls13.crypto import hashes
from tls13.crypto.ct import bytes_eq
from tls13.keysched import KeySchedule
from tls13.wire import Reader, handshake

# Transcript points a full handshake with client authentication needs (see the states below):
# after ServerHello, Certificate, CertificateVerify, server Finished, client Certificate, client
# CertificateVerify and client Finished.
TRANSCRIPT_POINTS = 7

SERVER_CV_CONTEXT = b" " * 64 + b"TLS 1.3, server CertificateVerify\x00"
CLIENT_CV_CONTEXT = b" " * 64 + b"TLS 1.3, client CertificateVerify\x00"


def _key_share(conn, group):
    if group == H.GROUP_X25519:
        from tls13.crypto.x25519 import generate_keypair, x25519
        priv, pub = generate_keypair() if conn.cfg.fixed_x25519 is None else conn.cfg.fixed_x25519
        return pub, lambda peer: x25519(priv, peer)
    if group == H.GROUP_SECP256R1:
        from tls13.crypto import ecdh_p256
        priv, pub = ecdh_p256.generate_keypair(conn.urandom)
        return pub, lambda peer: ecdh_p256.shared_secret(priv, peer)
    raise alerts.InternalError("unsupported group %d" % group)


def start_handshake(conn):
    cfg = conn.cfg
    if cfg.fixed_client_hello is not None:
        return _start_fixed(conn)
    conn.client_random = conn.urandom(32)
    conn.session_id = conn.urandom(32) if cfg.compat_mode else b""
    from tls13 import resumption
    offer = resumption.Offer.make(conn) if conn.session is not None else None
    shares = {}
    if not (offer is not None and cfg.allow_psk_ke and 1 not in cfg.psk_modes):
        # psk_ke alone: no key share up front (no X25519 at all when the ticket is accepted; a
        # rejection costs a HelloRetryRequest). Otherwise the usual shares.
        for g in cfg.key_share_groups:
            shares[g] = _key_share(conn, g)
    ch = _send_client_hello(conn, shares, None, offer)
    conn.state = ExpectServerHello(shares, ch, offer, hrr=False)


def _start_fixed(conn):
    # Replays a published ClientHello (RFC 8448 traces) with its key pair; test use only. With a
    # session, the binder is recomputed by our code (so the trace checks it) and early data follows.
    ch = bytes(conn.cfg.fixed_client_hello)
    conn.client_random = ch[6:38]
    conn.session_id = ch[39:39 + ch[38]]
    offer = None
    if conn.session is not None:
        from tls13.resumption import Offer
        offer = Offer(conn, conn.session)
        ch = offer.bind(ch)
    conn.queue_handshake(ch)
    if offer is not None and offer.early_data is not None:
        offer.send_early_data(conn, ch)
    conn.state = ExpectServerHello({H.GROUP_X25519: _key_share(conn, H.GROUP_X25519)}, ch, offer, hrr=False)


def _send_client_hello(conn, shares, cookie, offer):
    share_list = [(g, shares[g][0]) for g in conn.cfg.key_share_groups if g in shares]
    share_list += [(g, s[0]) for g, s in shares.items() if g not in conn.cfg.key_share_groups]
    ch = H.build_client_hello(conn.client_random, conn.session_id, conn.cfg, conn.server_name, share_list,
                              cookie, offer.ext_template() if offer else None,
                              early_data=bool(offer and offer.early_data is not None))
    if offer:
        ch = offer.bind(ch)
    conn.queue_handshake(ch)
    if offer and offer.early_data is not None:
        offer.send_early_data(conn, ch)
    return ch


class ExpectServerHello:
    def __init__(self, shares, ch, offer, hrr, transcript=None):
        self.shares = shares
        self.ch = ch
        self.offer = offer
        self.hrr = hrr
        self.transcript = transcript

    def handle(self, conn, mtype, body, raw):
        if mtype != H.SERVER_HELLO:
            raise alerts.UnexpectedMessage("expected ServerHello, got %d" % mtype)
        sh = H.parse_server_hello(body, conn.session_id, conn.cfg.cipher_suites)
        if sh.is_hrr:
            return self._retry(conn, sh, raw)
        if self.hrr and sh.suite != conn.suite:
            raise alerts.IllegalParameter("ServerHello suite differs from HelloRetryRequest")
        conn.suite = sh.suite
        psk = None
        if sh.psk_identity is not None:
            if self.offer is None or sh.psk_identity != 0:
                raise alerts.IllegalParameter("server selected a PSK that was not offered")
            psk = self.offer.accept(conn, sh)
        elif self.offer is not None:
            self.offer.rejected(conn)
        keys = KeySchedule(sh.suite, psk)
        conn.keys = keys
        t = self.transcript
        if t is None:
            t = hashes.Transcript(keys.hash, TRANSCRIPT_POINTS)
            t.update(self.ch)
        t.update(raw)
        if sh.key_share is None:
            if psk is None or not conn.cfg.allow_psk_ke:
                raise alerts.MissingExtension("ServerHello without key_share")
            shared = None
        else:
            group, peer = sh.key_share
            if group not in self.shares:
                raise alerts.IllegalParameter("key_share for group %d that was not offered" % group)
            try:
                shared = self.shares[group][1](peer)
            except ValueError:  # not a valid point / wrong length for the group
                raise alerts.IllegalParameter("invalid key_share from the server")
            if shared is None or not any(shared):
                raise alerts.IllegalParameter("all-zero shared secret")
            conn.group = group
        self.shares = None
        keys.to_handshake(shared)
        th = t.digest()
        c_hs = keys.derive(b"c hs traffic", th)
        s_hs = keys.derive(b"s hs traffic", th)
        conn.require_record_boundary()
        conn.install_read_keys(s_hs)
        if conn.early_data_writing:
            pass  # 0-RTT keys stay for writing until EndOfEarlyData (resumption.py)
        else:
            conn.pending_write_keys = c_hs
        return ExpectEncryptedExtensions(t, c_hs, s_hs, psk is not None)

    def _retry(self, conn, sh, raw):
        if self.hrr:
            raise alerts.UnexpectedMessage("second HelloRetryRequest")
        from tls13.keysched import SUITES
        conn.suite = sh.suite
        hname = SUITES[sh.suite][0]
        shares = self.shares
        if sh.selected_group is not None:
            g = sh.selected_group
            if g not in conn.cfg.groups or g in shares:
                raise alerts.IllegalParameter("HelloRetryRequest for group %d" % g)
            shares = {g: _key_share(conn, g)}
        t = hashes.Transcript(hname, TRANSCRIPT_POINTS)
        ch1 = hashes.new(hname, self.ch).digest()
        t.update(handshake(H.MESSAGE_HASH, ch1))
        t.update(raw)
        offer = self.offer
        if offer is not None:
            offer = offer.after_retry(conn, hname, handshake(H.MESSAGE_HASH, ch1) + bytes(raw))
        if conn.early_data_writing:
            # 0-RTT was sent but a retry means the server ignores it: back to plaintext records.
            conn.writer.protection = None
            conn.early_data_writing = False
        if conn.cfg.compat_mode and not conn.ccs_sent:
            conn.queue_ccs()
            conn.ccs_sent = True
        ch2 = _send_client_hello(conn, shares, sh.cookie, offer)
        t.update(ch2)
        return ExpectServerHello(shares, None, offer, True, t)


class ExpectEncryptedExtensions:
    def __init__(self, t, c_hs, s_hs, resumed):
        self.t, self.c_hs, self.s_hs, self.resumed = t, c_hs, s_hs, resumed

    def handle(self, conn, mtype, body, raw):
        if mtype != H.ENCRYPTED_EXTENSIONS:
            raise alerts.UnexpectedMessage("expected EncryptedExtensions, got %d" % mtype)
        cfg = conn.cfg
        r = Reader(body)
        exts = r.sub(2)
        r.expect_end()
        seen = []
        while not exts.done():
            etype = exts.u16()
            d = exts.sub(2)
            if etype in seen:
                raise alerts.IllegalParameter("duplicate extension %d" % etype)
            seen.append(etype)
            if etype == H.EXT_SERVER_NAME:
                if not conn.server_name:
                    raise alerts.UnsupportedExtension("server_name not offered")
            elif etype == H.EXT_SUPPORTED_GROUPS:
                d.pos = d.end  # the server's preferences; informational only
            elif etype == H.EXT_ALPN:
                if not cfg.alpn_protocols:
                    raise alerts.UnsupportedExtension("ALPN not offered")
                lst = d.sub(2, 1)
                proto = bytes(lst.vec(1, 1))
                lst.expect_end()
                if proto not in cfg.alpn_protocols:
                    raise alerts.IllegalParameter("server chose an ALPN protocol that was not offered")
                conn.alpn = proto
            elif etype == H.EXT_MAX_FRAGMENT_LENGTH:
                if not cfg.max_fragment_length:
                    raise alerts.UnsupportedExtension("max_fragment_length not offered")
                if d.u8() != H.MFL_CODES[cfg.max_fragment_length]:
                    raise alerts.IllegalParameter("max_fragment_length differs from the offer")
                conn.mfl_agreed = True
                conn.record_limit = cfg.max_fragment_length
            elif etype == H.EXT_RECORD_SIZE_LIMIT:
                if not cfg.record_size_limit:
                    raise alerts.UnsupportedExtension("record_size_limit not offered")
                lim = d.u16()
                if lim < 64:
                    raise alerts.IllegalParameter("record_size_limit below 64")
                conn.writer.set_limit(lim - 1)
                conn.record_limit = cfg.record_size_limit
            elif etype == H.EXT_EARLY_DATA:
                if not conn.early_data_writing:
                    raise alerts.UnsupportedExtension("early_data not offered")
                conn.early_data_accepted = True
            else:
                raise H.unexpected_extension(etype, "EncryptedExtensions")
            d.expect_end()
        if conn.record_limit:
            conn.reader.lock_limit(conn.record_limit)
            conn.writer.set_limit(conn.record_limit)
        self.t.update(raw)
        if conn.early_data_writing and not conn.early_data_accepted:
            conn.early_data_rejected = True  # re-sent as ordinary data after the handshake
        if self.resumed:
            return ExpectFinished(self.t, self.t.digest(), self.c_hs, self.s_hs, None)
        return ExpectCertificate(self.t, self.c_hs, self.s_hs, None)


class ExpectCertificate:
    def __init__(self, t, c_hs, s_hs, cert_request):
        self.t, self.c_hs, self.s_hs, self.cert_request = t, c_hs, s_hs, cert_request

    def handle(self, conn, mtype, body, raw):
        if mtype == H.CERTIFICATE_REQUEST and self.cert_request is None:
            from tls13.clientauth import parse_certificate_request
            self.cert_request = parse_certificate_request(body)
            self.t.update(raw)
            return self
        if mtype != H.CERTIFICATE:
            raise alerts.UnexpectedMessage("expected Certificate, got %d" % mtype)
        r = Reader(body)
        if len(r.vec(1)):
            raise alerts.IllegalParameter("non-empty certificate_request_context")
        lst = r.sub(3)
        r.expect_end()
        certs = []
        while not lst.done():
            certs.append(lst.vec(3, 1))
            lst.vec(2)  # per-certificate extensions (OCSP, SCT): not used
        if not certs:
            raise alerts.DecodeError("server sent an empty Certificate message")
        leaf_key = conn.cfg.verify_server(conn, certs)
        self.t.update(raw)
        return ExpectCertificateVerify(self.t, self.t.digest(), leaf_key, self.c_hs, self.s_hs,
                                       self.cert_request)


class ExpectCertificateVerify:
    def __init__(self, t, th, leaf_key, c_hs, s_hs, cert_request):
        self.t, self.th, self.leaf_key = t, th, leaf_key
        self.c_hs, self.s_hs, self.cert_request = c_hs, s_hs, cert_request

    def handle(self, conn, mtype, body, raw):
        if mtype != H.CERTIFICATE_VERIFY:
            raise alerts.UnexpectedMessage("expected CertificateVerify, got %d" % mtype)
        r = Reader(body)
        scheme = r.u16()
        sig = r.vec(2, 1)
        r.expect_end()
        if scheme not in conn.cfg.signature_algorithms:
            raise alerts.IllegalParameter("signature scheme 0x%04x was not offered" % scheme)
        from tls13.sigverify import verify_scheme
        if not verify_scheme(self.leaf_key, scheme, SERVER_CV_CONTEXT + self.th, bytes(sig)):
            raise alerts.DecryptError("server CertificateVerify signature is invalid")
        self.t.update(raw)
        return ExpectFinished(self.t, self.t.digest(), self.c_hs, self.s_hs, self.cert_request)


class ExpectFinished:
    def __init__(self, t, th, c_hs, s_hs, cert_request):
        self.t, self.th, self.c_hs, self.s_hs, self.cert_request = t, th, c_hs, s_hs, cert_request

    def handle(self, conn, mtype, body, raw):
        if mtype != H.FINISHED:
            raise alerts.UnexpectedMessage("expected Finished, got %d" % mtype)
        keys = conn.keys
        expected = keys.finished_verify_data(self.s_hs, self.th)
        if len(body) != len(expected):
            raise alerts.DecodeError("Finished of wrong length")
        if not bytes_eq(body, expected):
            raise alerts.DecryptError("server Finished does not verify")
        t = self.t
        t.update(raw)
        th = t.digest()
        keys.to_master()
        c_ap = keys.derive(b"c ap traffic", th)
        s_ap = keys.derive(b"s ap traffic", th)
        conn.require_record_boundary()
        conn.install_read_keys(s_ap)
        # Second flight: [CCS] [EndOfEarlyData] [Certificate CertificateVerify] Finished, one write.
        if conn.early_data_writing:
            if conn.early_data_accepted:
                from tls13.resumption import end_early_data
                end_early_data(conn, t)
                th = t.digest()
            conn.early_data_writing = False
        if conn.cfg.compat_mode and not conn.ccs_sent:
            conn.queue_ccs()
            conn.ccs_sent = True
        conn.install_write_keys(self.c_hs)
        if self.cert_request is not None:
            from tls13.clientauth import send_client_auth
            th = send_client_auth(conn, t, self.cert_request)
        fin = handshake(H.FINISHED, keys.finished_verify_data(self.c_hs, th))
        conn.queue_handshake(fin)
        t.update(fin)
        conn.res_master = keys.derive(b"res master", t.digest())
        conn.install_write_keys(c_ap)
        conn.keys.secret = None  # the master secret is not needed past this point
        conn.c_ap, conn.s_ap = c_ap, s_ap
        conn.handshake_complete = True
        conn.event("handshake_complete")
        return Connected()


class Connected:
    def handle(self, conn, mtype, body, raw):
        if mtype == H.NEW_SESSION_TICKET:
            from tls13.resumption import on_new_session_ticket
            on_new_session_ticket(conn, body)
            return self
        if mtype == H.KEY_UPDATE:
            if len(body) != 1:
                raise alerts.DecodeError("KeyUpdate of wrong length")
            if body[0] > 1:
                raise alerts.IllegalParameter("KeyUpdate request_update %d" % body[0])
            conn.require_record_boundary()
            conn.s_ap = conn.keys.next_traffic_secret(conn.s_ap)
            conn.install_read_keys(conn.s_ap)
            conn.event("key_update", body[0])
            if body[0] == 1 and not conn.local_closed:
                send_key_update(conn, False)
            return self
        raise alerts.UnexpectedMessage("unexpected post-handshake message %d" % mtype)


def send_key_update(conn, request_peer):
    conn.queue_handshake(handshake(H.KEY_UPDATE, b"\x01" if request_peer else b"\x00"))
    conn.c_ap = conn.keys.next_traffic_secret(conn.c_ap)
    conn.install_write_keys(conn.c_ap)


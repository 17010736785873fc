"""Session resumption with PSKs from NewSessionTicket, and 0-RTT early data (RFC 8446 2.2-2.3, 4.2.11,
4.6.1).

A Session is what a board keeps across deep sleep: `bytes(session)` / `Session.from_bytes(b)`
(about 40 bytes plus the server's ticket, typically 250-300 bytes in all).
"""
import struct

from tls13 import alerts
from tls13.wire import Reader, handshake, vec8, vec16

EXT_EARLY_DATA = 42
MAX_TICKET_LIFETIME = 604800  # seven days
END_OF_EARLY_DATA = 5
_FORMAT = 1


class Session:
    """A resumable session: the PSK, its ticket and what it is bound to."""

    def __init__(self, suite, psk, ticket, lifetime, age_add, received_at, server_name, max_early_data,
                 alpn=None):
        self.suite = suite
        self.psk = psk
        self.ticket = ticket
        self.lifetime = lifetime
        self.age_add = age_add
        self.received_at = received_at  # Unix seconds
        self.server_name = server_name
        self.max_early_data = max_early_data
        self.alpn = alpn

    def expired(self, now):
        return not 0 <= now - self.received_at < self.lifetime

    def to_bytes(self):
        name = (self.server_name or "").encode()
        return (struct.pack(">BHIIQI", _FORMAT, self.suite, self.lifetime, self.age_add,
                            int(self.received_at), self.max_early_data)
                + vec8(self.psk) + vec8(name) + vec8(self.alpn or b"") + vec16(self.ticket))

    __bytes__ = to_bytes

    @classmethod
    def from_bytes(cls, data):
        r = Reader(data)
        try:
            if r.u8() != _FORMAT:
                raise ValueError("unknown session format")
            suite = r.u16()
            lifetime = r.u32()
            age_add = r.u32()
            received_at = (r.u32() << 32) | r.u32()
            max_early = r.u32()
            psk = bytes(r.vec(1, 32))
            name = bytes(r.vec(1)).decode() or None
            alpn = bytes(r.vec(1)) or None
            ticket = bytes(r.vec(2, 1))
            r.expect_end()
        except alerts.TLSError:
            raise ValueError("truncated or corrupt session data")
        return cls(suite, psk, ticket, lifetime, age_add, received_at, name, max_early, alpn)


def on_new_session_ticket(conn, body):
    r = Reader(body)
    lifetime = r.u32()
    age_add = r.u32()
    nonce = r.vec(1)
    ticket = r.vec(2, 1)
    exts = r.sub(2)
    r.expect_end()
    max_early = 0
    while not exts.done():
        etype = exts.u16()
        d = exts.sub(2)
        if etype == EXT_EARLY_DATA:
            max_early = d.u32()
            d.expect_end()
        # other extensions in NewSessionTicket are ignored (RFC 8446 4.6.1)
    if lifetime > MAX_TICKET_LIFETIME:
        raise alerts.IllegalParameter("ticket lifetime over seven days")
    if lifetime == 0:
        return  # the server says: do not use this ticket
    psk = conn.keys.resumption_psk(conn.res_master, nonce)
    s = Session(conn.suite, psk, bytes(ticket), lifetime, age_add, int(conn.clock()),
                conn.server_name, max_early, conn.alpn)
    conn.tickets.append(s)
    if len(conn.tickets) > conn.cfg.keep_tickets:
        conn.tickets.pop(0)  # each holds ~300 bytes; the newest is the one to resume with
    conn.event("ticket", s)


class Offer:
    """The pre_shared_key offer of one ClientHello (and its retry)."""

    def __init__(self, conn, session):
        from tls13.keysched import SUITES, KeySchedule
        self.session = session
        self.hash = SUITES[session.suite][0]
        self.ks = KeySchedule(session.suite, session.psk)
        self.hlen = self.ks.hlen
        self.prefix = None  # message_hash(CH1) + HelloRetryRequest, after a retry
        now = conn.clock()
        self.age = (int((now - session.received_at) * 1000) + session.age_add) & 0xFFFFFFFF
        data = conn.early_data
        ok = (data is not None and session.max_early_data >= len(data)
              and session.suite in conn.cfg.cipher_suites
              and (session.alpn or None) == (conn.cfg.alpn_protocols[0] if conn.cfg.alpn_protocols else None))
        self.early_data = data if ok else None
        if data is not None and not ok:
            conn.early_data_rejected = True  # sent as ordinary data once the handshake is done

    @classmethod
    def make(cls, conn):
        """An offer for conn.session, or None when it cannot be used (a full handshake follows)."""
        from tls13.keysched import SUITES
        s = conn.session
        now = conn.clock()
        usable = (not s.expired(now) and s.server_name == conn.server_name and s.suite in SUITES
                  and any(SUITES[c][0] == SUITES[s.suite][0] for c in conn.cfg.cipher_suites))
        if not usable:
            if conn.early_data is not None:
                conn.early_data_rejected = True
            return None
        return cls(conn, s)

    def ext_template(self):
        ident = vec16(self.session.ticket) + struct.pack(">I", self.age)
        return vec16(ident) + vec16(vec8(bytes(self.hlen)))

    def bind(self, ch):
        """ch with the zero binder replaced by the real one (RFC 8446 4.2.11.2)."""
        from tls13.crypto import hashes
        blen = 3 + self.hlen
        h = hashes.new(self.hash)
        if self.prefix is not None:
            h.update(self.prefix)
        h.update(memoryview(ch)[:len(ch) - blen])
        binder = self.ks.finished_verify_data(self.ks.binder_key(), h.digest())
        return ch[:len(ch) - self.hlen] + binder

    def send_early_data(self, conn, ch):
        """After the ClientHello: [CCS], then the early data under client_early_traffic_secret."""
        from tls13.crypto import hashes
        from tls13.record import CT_APPLICATION_DATA
        if conn.cfg.compat_mode and not conn.ccs_sent:
            conn.queue_ccs()
            conn.ccs_sent = True
        c_e = self.ks.derive(b"c e traffic", hashes.new(self.hash, ch).digest())
        conn.suite = self.session.suite
        conn.keys = self.ks
        conn.install_write_keys(c_e)
        conn.early_data_writing = True
        mv = memoryview(self.early_data)
        step = conn.writer.max_plain
        for i in range(0, len(mv), step):
            conn.out += conn.writer.seal(CT_APPLICATION_DATA, mv[i:i + step])

    def accept(self, conn, sh):
        from tls13.keysched import SUITES
        if SUITES[sh.suite][0] != self.hash:
            raise alerts.IllegalParameter("PSK selected with a cipher suite of another hash")
        conn.session_reused = True
        return self.session.psk

    def rejected(self, conn):
        conn.session_reused = False
        if self.early_data is not None:
            conn.early_data_rejected = True

    def after_retry(self, conn, hname, prefix):
        """After a HelloRetryRequest: no early data; keep the PSK only if its hash still fits."""
        if self.early_data is not None:
            self.early_data = None
            conn.early_data_rejected = True
        if hname != self.hash:
            return None
        self.prefix = prefix
        from tls13.keysched import KeySchedule
        self.ks = KeySchedule(self.session.suite, self.session.psk)
        return self


def end_early_data(conn, t):
    """After the server Finished, when the server accepted 0-RTT: EndOfEarlyData under the early keys."""
    msg = handshake(END_OF_EARLY_DATA, b"")
    conn.queue_handshake(msg)
    t.update(msg)
    conn.early_data_writing = False

"""NewSessionTicket handling and resumable sessions (RFC 8446 4.6.1, 4.2.11)."""
from tls13 import alerts
from tls13.wire import Reader

EXT_EARLY_DATA = 42
MAX_TICKET_LIFETIME = 604800  # seven days


class Session:
    """What a later connection needs to resume: small enough for RTC memory once serialised."""

    def __init__(self, suite, psk, ticket, lifetime, age_add, received_at, server_name, max_early_data,
                 alpn=None):
        self.suite = suite
        self.psk = psk
        self.ticket = ticket
        self.lifetime = lifetime
        self.age_add = age_add
        self.received_at = received_at
        self.server_name = server_name
        self.max_early_data = max_early_data
        self.alpn = alpn

    def expired(self, now):
        return now - self.received_at >= self.lifetime


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
    if len(conn.tickets) > 4:
        conn.tickets.pop(0)
    conn.events.append(("ticket", s))

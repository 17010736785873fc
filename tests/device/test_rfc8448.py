"""RFC 8448 section 3 (simple 1-RTT handshake) reproduced byte for byte.

The client replays the trace's ClientHello and ephemeral key; every record it then sends (Finished,
application data, close_notify) must equal the trace, and every server record must be accepted. The
trace's server key is RSA-1024 in a certificate that expired in 2026: the test pins that key directly
(the only place a 1024-bit key is accepted) and uses a fixed clock.
"""
import tls13.bufpool
tls13.bufpool.reserve()  # before the rest of the stack loads, as firmware does

from mpcheck import check, eq  # noqa: E402

import rfc8448  # noqa: E402
from wyche import shared_dir  # noqa: E402
from tls13.config import ClientConfig  # noqa: E402
from tls13.connection import ClientConnection  # noqa: E402

STACK = True  # the whole client: ESP32 heap + the stack's resident size (frozen on a board)
TRACE_TIME = 1500000000  # 2017: inside the trace certificate's validity


def _rfc_modulus():
    # Section 2 lists the server's RSA modulus (it has no octet count, so scan the hex lines).
    acc = bytearray()
    on = False
    with open(shared_dir() + "/specs/rfc8448.txt") as f:
        for line in f:
            s = line.strip()
            if s.startswith("modulus (public):"):
                on = True
                s = s[len("modulus (public):"):]
            elif not on:
                continue
            if rfc8448._is_hex_line(s):
                acc.extend(bytes.fromhex(s.replace(" ", "")))
                if len(acc) >= 128:
                    return int.from_bytes(bytes(acc), "big")


def _config():
    cfg = ClientConfig()
    cfg.compat_mode = False
    cfg.record_size_limit = 16384  # the trace's ClientHello offers record_size_limit
    cfg.fixed_client_hello = rfc8448.find(3, "client", "construct a ClientHello", "ClientHello")
    priv = rfc8448.find(3, "client", "create an ephemeral", "private key")
    pub = rfc8448.find(3, "client", "create an ephemeral", "public key")
    cfg.fixed_x25519 = (priv, pub)
    n = _rfc_modulus()
    seen = []

    def verifier(conn, certs):
        seen.append(bytes(certs[0]))
        return ("rsa", n, 65537)
    cfg.verifier = verifier
    return cfg, seen


def test_section3_byte_for_byte():
    cfg, seen = _config()
    client = [d for _, d in rfc8448.records(3, "client")]
    server = [d for _, d in rfc8448.records(3, "server")]
    eq(len(client), 4, "client records in the trace")
    eq(len(server), 5, "server records in the trace")
    conn = ClientConnection(cfg, "server", urandom=lambda n: bytes(n), clock=lambda: TRACE_TIME)
    conn.start()
    eq(bytes(conn.data_to_send()), client[0], "ClientHello record")
    conn.receive(server[0])  # ServerHello
    eq(conn.suite, 0x1301)
    conn.receive(server[1])  # EncryptedExtensions .. Finished in one record
    check(conn.handshake_complete, "handshake complete")
    eq(len(seen), 1, "certificate handed to the verifier")
    eq(bytes(conn.data_to_send()), client[1], "client Finished record")
    conn.receive(server[2])  # NewSessionTicket
    tickets = [e for e in conn.events if e[0] == "ticket"]
    eq(len(tickets), 1, "ticket event")
    s = tickets[0][1]
    eq(s.psk, rfc8448.find(3, "server", "generate resumption secret", "expanded"), "resumption PSK")
    eq(s.max_early_data, 0x400)
    payload = bytes(range(50))
    conn.send(payload)
    eq(bytes(conn.data_to_send()), client[2], "client application data record")
    conn.receive(server[3])
    buf = bytearray(64)
    n = conn.read_into(buf)
    eq(bytes(buf[:n]), payload, "server application data")
    conn.close()
    eq(bytes(conn.data_to_send()), client[3], "client close_notify record")
    conn.receive(server[4])
    check(conn.peer_closed, "server close_notify seen")
    conn.release()


def test_section3_byte_by_byte():
    """The same server records fed one byte at a time reach the same state."""
    cfg, _ = _config()
    server = [d for _, d in rfc8448.records(3, "server")]
    client = [d for _, d in rfc8448.records(3, "client")]
    conn = ClientConnection(cfg, "server", urandom=lambda n: bytes(n), clock=lambda: TRACE_TIME)
    conn.start()
    conn.data_to_send()
    for rec in server[:3]:
        for i in range(len(rec)):
            conn.receive(rec[i:i + 1])
    check(conn.handshake_complete)
    eq(bytes(conn.data_to_send()), client[1], "client Finished record")
    conn.release()


def test_section4_resumed_0rtt_byte_for_byte():
    """Section 4: resumption with the section 3 ticket, a PSK binder computed by our code, 0-RTT
    application data, EndOfEarlyData and the client Finished, all equal to the trace."""
    from tls13.resumption import Session
    cfg = ClientConfig()
    cfg.compat_mode = False
    cfg.record_size_limit = 16384
    # the truncated ClientHello plus an empty binder: our code computes the binder
    cfg.fixed_client_hello = (rfc8448.find(4, "client", "construct a ClientHello", "ClientHello")
                              + b"\x00\x21\x20" + bytes(32))
    cfg.fixed_x25519 = (rfc8448.find(4, "client", "create an ephemeral", "private key"),
                        rfc8448.find(4, "client", "create an ephemeral", "public key"))
    cfg.verifier = lambda conn, certs: None  # a resumed handshake has no Certificate
    psk = rfc8448.find(3, "server", "generate resumption secret", "expanded")
    nst = rfc8448.find(3, "server", "construct a NewSessionTicket", "NewSessionTicket")
    ticket = nst[4 + 4 + 4 + 1 + nst[12] + 2:][:0xb2]
    session = Session(0x1301, psk, ticket, 30, 0, TRACE_TIME, "server", 0x400)
    client = [d for _, d in rfc8448.records(4, "client")]
    server = [d for _, d in rfc8448.records(4, "server")]
    conn = ClientConnection(cfg, "server", urandom=lambda n: bytes(n), clock=lambda: TRACE_TIME,
                            session=session, early_data=bytes.fromhex("414243444546"))
    conn.start()
    eq(bytes(conn.data_to_send()), client[0] + client[1], "ClientHello with our binder, then 0-RTT data")
    conn.receive(server[0])
    check(conn.session_reused, "PSK accepted")
    conn.receive(server[1])
    check(conn.handshake_complete and conn.early_data_accepted, "handshake with early data")
    eq(bytes(conn.data_to_send()), client[2] + client[3], "EndOfEarlyData and Finished records")
    conn.send(bytes(range(50)))
    eq(bytes(conn.data_to_send()), client[4], "application data record")
    conn.receive(server[2])
    buf = bytearray(64)
    eq(bytes(buf[:conn.read_into(buf)]), bytes(range(50)))
    conn.close()
    eq(bytes(conn.data_to_send()), client[5], "close_notify record")
    conn.receive(server[3])
    check(conn.peer_closed)
    conn.release()

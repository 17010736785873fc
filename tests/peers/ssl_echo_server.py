"""CPython `ssl` TLS-1.3-only echo server for interop tests (one thread per connection).

Listens on 127.0.0.1 on a kernel-chosen port (tests/peers.py reads it from /proc); runs until SIGTERM.
OpenSSL underneath answers a KeyUpdate that requests one on its own. --drop-after N closes the TCP
connection without close_notify once N bytes are echoed (a truncation the client must report);
a line "CLOSE" makes the server end the connection properly with close_notify.
"""
import argparse
import signal
import socket
import ssl
import sys
import threading


def serve(conn, ctx, n, drop_after):
    conn.settimeout(30)
    try:
        with ctx.wrap_socket(conn, server_side=True) as s:
            print("conn %d: %s %s alpn=%s" % (n, s.version(), s.cipher()[0], s.selected_alpn_protocol()), flush=True)
            total = 0
            while True:
                data = s.recv(65536)
                if not data:
                    break
                if data.endswith(b"CLOSE\n"):
                    s.sendall(data[:-6])
                    total += len(data) - 6
                    s.unwrap()  # sends close_notify
                    print("conn %d: echoed %d bytes, closed with close_notify" % (n, total), flush=True)
                    return
                s.sendall(data)
                total += len(data)
                if drop_after is not None and total >= drop_after:
                    s.shutdown(socket.SHUT_RDWR)  # drops the TLS state: a bare TCP FIN, no close_notify
                    print("conn %d: dropped after %d bytes" % (n, total), flush=True)
                    return
            print("conn %d: echoed %d bytes, clean close" % (n, total), flush=True)
    except (OSError, ssl.SSLError) as e:
        print("conn %d: %s: %s" % (n, type(e).__name__, e), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--alpn")
    ap.add_argument("--drop-after", type=int)
    a = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(a.cert, a.key)
    if a.alpn:
        ctx.set_alpn_protocols(a.alpn.split(","))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    print("listening on %d (%s)" % (ls.getsockname()[1], ssl.OPENSSL_VERSION), flush=True)
    n = 0
    while True:
        conn, _ = ls.accept()
        n += 1
        threading.Thread(target=serve, args=(conn, ctx, n, a.drop_after), daemon=True).start()


if __name__ == "__main__":
    main()

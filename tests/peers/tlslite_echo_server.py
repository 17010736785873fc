"""tlslite-ng TLS-1.3-only echo server for interop tests (one thread per connection).

Listens on 127.0.0.1 on a kernel-chosen port (tests/peers.py reads it from /proc); runs until SIGTERM.
tlslite-ng answers a KeyUpdate that requests one while reading; --key-update-after N makes the server
send its own KeyUpdate with update_requested once it has echoed N bytes (the client must answer).
"""
import argparse
import signal
import socket
import sys
import threading

from tlslite.api import HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey
from tlslite.constants import KeyUpdateMessageType

CIPHER_NAMES = {"TLS_AES_128_GCM_SHA256": "aes128gcm", "TLS_AES_256_GCM_SHA384": "aes256gcm",
                "TLS_CHACHA20_POLY1305_SHA256": "chacha20-poly1305"}


def serve(sock, chain, key, settings, n, ku_after):
    sock.settimeout(30)
    conn = TLSConnection(sock)
    try:
        conn.handshakeServer(certChain=chain, privateKey=key, settings=settings)
        print("conn %d: version=%s cipher=%s" % (n, conn.version, conn.getCipherName()), flush=True)
        total = 0
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
            total += len(data)
            if ku_after is not None and total >= ku_after:
                for _ in conn.send_keyupdate_request(KeyUpdateMessageType.update_requested):
                    pass
                print("conn %d: sent KeyUpdate(update_requested) after %d bytes" % (n, total), flush=True)
                ku_after = None
        print("conn %d: echoed %d bytes, clean close" % (n, total), flush=True)
    except Exception as e:  # any failure ends this connection only; the log says why
        print("conn %d: %s: %s" % (n, type(e).__name__, e), flush=True)
    finally:
        try:
            conn.close()
        except Exception:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--suite")
    ap.add_argument("--key-update-after", type=int)
    a = ap.parse_args()
    with open(a.cert) as f:
        chain = X509CertChain()
        chain.parsePemList(f.read())
    with open(a.key) as f:
        key = parsePEMKey(f.read(), private=True)
    settings = HandshakeSettings()
    settings.minVersion = (3, 4)
    settings.maxVersion = (3, 4)
    if a.suite:
        settings.cipherNames = [CIPHER_NAMES[a.suite]]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    print("listening on %d" % ls.getsockname()[1], flush=True)
    n = 0
    while True:
        sock, _ = ls.accept()
        n += 1
        threading.Thread(target=serve, args=(sock, chain, key, settings, n, a.key_update_after), daemon=True).start()


if __name__ == "__main__":
    main()

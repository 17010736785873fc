"""What a connection is configured with (SSLContext fills it in; tests build one directly)."""
from tls13 import hello as H
from tls13 import keysched as K
from tls13 import sigverify as S

PSK_KE = 0
PSK_DHE_KE = 1


def default_suites():
    """AES-128-GCM, ChaCha20-Poly1305, and AES-256-GCM-SHA384 only where hashlib has SHA-384: servers
    pick by their own preference (mosquitto/OpenSSL choose the SHA-384 suite when offered), and the
    pure-Python SHA-384 fallback costs tens of KB of heap and seconds of CPU on a board."""
    suites = [K.TLS_AES_128_GCM_SHA256, K.TLS_CHACHA20_POLY1305_SHA256]
    try:
        import hashlib
        if hasattr(hashlib, "sha384"):
            suites.append(K.TLS_AES_256_GCM_SHA384)
    except ImportError:
        pass
    return suites


class ClientConfig:
    def __init__(self):
        self.cipher_suites = default_suites()
        # secp256r1 is supported (offered in supported_groups) but gets no key share up front: a
        # server that insists on it costs one HelloRetryRequest.
        self.groups = [H.GROUP_X25519, H.GROUP_SECP256R1]
        self.key_share_groups = [H.GROUP_X25519]
        self.signature_algorithms = list(S.DEFAULT_SIGNATURE_ALGORITHMS)
        self.signature_algorithms_cert = list(S.DEFAULT_SIGNATURE_ALGORITHMS_CERT)
        self.alpn_protocols = []          # list of bytes
        self.max_fragment_length = None   # 512 | 1024 | 2048 | 4096 (RFC 6066)
        self.record_size_limit = None     # RFC 8449, plaintext bytes we can receive
        self.max_send_record = 2048       # payload of our own records (a smaller send buffer)
        self.record_padding = 0           # pad inner plaintext to a multiple of this
        self.psk_modes = [PSK_DHE_KE]
        self.allow_psk_ke = False
        self.keep_tickets = 1             # NewSessionTickets kept (newest first to go stale last)
        self.compat_mode = True           # legacy_session_id + dummy CCS (middlebox compatibility)
        self.fixed_x25519 = None          # (private, public) for reproducing test traces only
        self.fixed_client_hello = None    # a published ClientHello to replay (test traces only)
        self.client_identity = None       # clientauth identity (certificate chain + key)
        self.verifier = None              # callable(conn, certs) -> leaf key tuple

    def verify_server(self, conn, certs):
        if self.verifier is None:
            from tls13 import alerts
            raise alerts.InternalError("no certificate verifier configured")
        return self.verifier(conn, certs)

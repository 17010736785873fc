"""TLS 1.3 key schedule (RFC 8446 section 7): secrets, traffic keys, Finished, binders, KeyUpdate."""
from tls13.crypto import hkdf, hashes
from tls13.crypto.hmac import hmac

TLS_AES_128_GCM_SHA256 = 0x1301
TLS_AES_256_GCM_SHA384 = 0x1302
TLS_CHACHA20_POLY1305_SHA256 = 0x1303

# suite -> (hash name, key length, cipher name as CPython's ssl reports it, key bits)
SUITES = {
    TLS_AES_128_GCM_SHA256: ("sha256", 16, "TLS_AES_128_GCM_SHA256", 128),
    TLS_AES_256_GCM_SHA384: ("sha384", 32, "TLS_AES_256_GCM_SHA384", 256),
    TLS_CHACHA20_POLY1305_SHA256: ("sha256", 32, "TLS_CHACHA20_POLY1305_SHA256", 256),
}
SUITE_BY_NAME = {v[2]: k for k, v in SUITES.items()}


def new_aead(suite, key):
    if suite == TLS_CHACHA20_POLY1305_SHA256:
        from tls13.crypto.chachapoly import ChaCha20Poly1305
        return ChaCha20Poly1305(key)
    from tls13.crypto.gcm import AESGCM
    return AESGCM(key)


def empty_hash(h):
    return hashes.new(h).digest()


class KeySchedule:
    """Walks early -> handshake -> master secret; holds only the current stage's secret."""

    def __init__(self, suite, psk=None):
        self.suite = suite
        self.hash, self.key_len = SUITES[suite][0], SUITES[suite][1]
        self.hlen = hashes.digest_size(self.hash)
        zeros = bytes(self.hlen)
        self.secret = hkdf.extract(self.hash, zeros, psk if psk is not None else zeros)
        self.stage = "early"

    def derive(self, label, transcript_hash):
        return hkdf.derive_secret(self.hash, self.secret, label, transcript_hash)

    def binder_key(self, external=False):
        return self.derive(b"ext binder" if external else b"res binder", empty_hash(self.hash))

    def _next(self, ikm):
        derived = self.derive(b"derived", empty_hash(self.hash))
        self.secret = hkdf.extract(self.hash, derived, ikm if ikm is not None else bytes(self.hlen))

    def to_handshake(self, shared_secret):
        self._next(shared_secret)
        self.stage = "handshake"

    def to_master(self):
        self._next(None)
        self.stage = "master"

    def traffic_keys(self, secret):
        key = hkdf.expand_label(self.hash, secret, b"key", b"", self.key_len)
        iv = hkdf.expand_label(self.hash, secret, b"iv", b"", 12)
        return key, iv

    def finished_verify_data(self, base_secret, transcript_hash):
        fk = hkdf.expand_label(self.hash, base_secret, b"finished", b"", self.hlen)
        return hmac(self.hash, fk, transcript_hash)

    def next_traffic_secret(self, secret):
        return hkdf.expand_label(self.hash, secret, b"traffic upd", b"", self.hlen)

    def resumption_psk(self, res_master, ticket_nonce):
        return hkdf.expand_label(self.hash, res_master, b"resumption", bytes(ticket_nonce), self.hlen)

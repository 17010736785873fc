"""Certification path validation for a TLS server's certificate list (RFC 5280 section 6, webpki and
BearSSL style): certificates are read one at a time as they arrive, checked, and reduced to a short
record (names, key, signature, constraints) before the next one is read; the path is then built from
the leaf up over those records and the trust anchors.

Path building: the first certificate is the leaf; the others may come in any order, repeated, or
unrelated. For each certificate the anchors whose subject equals its issuer are tried first, then the
sent certificates with that subject (an authorityKeyIdentifier that disagrees with a candidate's
subjectKeyIdentifier skips it), depth first with backtracking, so cross-signed intermediates work and
a path may end at an anchor before the last sent certificate. A leaf whose subject and key equal an
anchor's is trusted directly (a pinned self-signed server certificate). `max_depth` bounds the sent
certificates on a path (leaf included, anchor not); signature checks per chain are capped at
MAX_SIGNATURE_CHECKS so a hostile list cannot make the search expensive.

Clock policy. `now` is Unix seconds (UTC, 1970 epoch). A board that has not set its clock passes
now=None, and validation then refuses with reason "clock_unset", unless the caller gives
`time_floor`: Unix seconds the clock is known to be past (e.g. the firmware build time, the last
time seen over NTP and stored). With a floor and no clock (or a clock reading before the floor, which
means it is wrong), certificates that expired before the floor are rejected and notBefore cannot be
checked; with a sane clock both bounds are checked against `now`.

Pins: `pins` is a collection of SPKI SHA-256 digests (trust.spki_sha256). With a trust store, a path
must also contain a pinned key (leaf, intermediate or anchor): an extra check. With trust_store=None,
pins replace anchors: the path ends at the first certificate from the leaf up whose key is pinned.
"""
try:
    from micropython import const
except ImportError:
    const = lambda x: x

from tls13.x509 import cert as _cert
from tls13.x509 import keys, names
from tls13.x509.errors import CertificateError, malformed
from tls13.x509.trust import FLAG_CA, anchor_key, anchor_pathlen, spki_sha256

MAX_SIGNATURE_CHECKS = 32
MAX_CERT_LEN = 16384

# The record kept per certificate once it has been read: a list, the smallest mutable container.
_SUBJECT = const(0)
_ISSUER = const(1)
_SKI = const(2)
_AKI = const(3)
_KEY = const(4)
_ALG = const(5)
_SALT = const(6)
_SIGNED = const(7)     # the TBSCertificate until hashed, then its digest (Ed25519: always the TBS)
_HASHED = const(8)
_SIG = const(9)
_PATHLEN = const(10)
_SELF = const(11)      # self-issued (subject == issuer)
_NC = const(12)
_SAN = const(13)
_PINNED = const(14)
_ERR = const(15)       # (reason, detail) why it cannot issue, or None
_INDEX = const(16)     # position in the list the server sent
_ON_PATH = const(17)
_FIELDS = const(18)


def _same(v):
    return v


def _copy(v):
    return None if v is None else bytes(v)


class ChainValidator:
    """Feed certificates in the order the server sent them with `add(der)`, or in pieces with
    `start_cert(length)` / `feed(chunk)` / `end_cert()`, then call `finish()` for the leaf key.
    Problems with the leaf raise as soon as it is read; the rest raise from finish()."""

    def __init__(self, trust_store, server_name, now, max_depth=8, pins=None, time_floor=None,
                 min_rsa_bits=2048):
        if now is None and time_floor is None:
            raise CertificateError("clock_unset", "no time given and no time_floor")
        if trust_store is None and not pins:
            raise ValueError("a trust store or pins are needed")
        self._store = trust_store
        self._name = server_name
        self._exact = time_floor is None or (now is not None and now >= time_floor)
        self._now = now if self._exact else time_floor
        self._max_depth = max_depth
        self._max_certs = max(16, 2 * max_depth)
        self._pins = pins
        self._min_rsa = min_rsa_bits
        self._recs = []
        self._count = 0
        self._direct = False
        self._broken = None
        self._buf = None
        self._len = self._fill = 0
        self._checks = 0
        self._best = None
        self._best_depth = -1

    # -- reading -----------------------------------------------------------------------------------

    def start_cert(self, length):
        if not 0 < length <= MAX_CERT_LEN:
            raise malformed("certificate length %d" % length)
        if self._buf is None or len(self._buf) < length:
            self._buf = None
            self._buf = bytearray(length)
        self._len = length
        self._fill = 0

    def feed(self, chunk):
        n = len(chunk)
        if self._fill + n > self._len:
            raise malformed("certificate longer than announced")
        self._buf[self._fill:self._fill + n] = chunk
        self._fill += n

    def end_cert(self):
        if self._fill != self._len:
            raise malformed("certificate shorter than announced")
        self.add(memoryview(self._buf)[:self._len])

    def add(self, data, keep=False):
        """Read one certificate. keep=True promises `data` stays alive and unchanged until finish(), so
        the record can point into it instead of copying."""
        index = self._count
        self._count += 1
        if self._count > self._max_certs:
            raise CertificateError("path_too_long", "more than %d certificates" % self._max_certs)
        leaf = index == 0
        try:
            c = _cert.parse(data)
        except CertificateError as e:
            e.index = index
            if leaf:
                raise
            if self._broken is None:
                self._broken = e
            return
        err = self._policy(c, leaf)
        if leaf:
            if err is not None:
                raise CertificateError(err[0], err[1], 0)
            if self._name is not None and not names.match_server_name(c.san, self._name):
                raise CertificateError("hostname_mismatch", self._name, 0)
            self._direct = self._store is not None and self._store.contains(c.subject, c.spki)
        else:
            for r in self._recs:
                if r[_SIG] == c.sig and r[_SUBJECT] == c.subject:
                    return  # sent twice
        self._recs.append(self._record(c, keep, err, index))

    def _policy(self, c, leaf):
        """First reason `c` cannot be used at its place (leaf, or issuer for the others), or None."""
        if c.err is not None:
            return c.err, c.err_detail
        if c.key[0] == "rsa" and c.key_bits < self._min_rsa:
            return "weak_key", "%d-bit RSA" % c.key_bits
        if c.not_after < self._now:
            return "expired", None
        if self._exact and c.not_before > self._now:
            return "not_yet_valid", None
        # extendedKeyUsage, when present, must allow TLS servers: the leaf must list serverAuth; a CA
        # may instead list anyExtendedKeyUsage (the EKU-chaining rule of browsers and Go).
        if c.eku >= 0 and not c.eku & (_cert.EKU_SERVER_AUTH if leaf else _cert.EKU_SERVER_AUTH | _cert.EKU_ANY):
            return "bad_key_usage", "extendedKeyUsage without serverAuth"
        if leaf:
            if c.ku >= 0 and not c.ku & _cert.KU_DIGITAL_SIGNATURE:
                return "bad_key_usage", "keyUsage without digitalSignature"
            return None
        if c.version < 2 or not c.ca:
            return "not_a_ca", None
        if c.ku >= 0 and not c.ku & _cert.KU_KEY_CERT_SIGN:
            return "bad_key_usage", "keyUsage without keyCertSign"
        return None

    def _record(self, c, keep, err, index):
        cp = _same if keep else _copy
        r = [None] * _FIELDS
        r[_SUBJECT] = cp(c.subject)
        r[_ISSUER] = cp(c.issuer)
        r[_SKI] = cp(c.ski)
        r[_AKI] = cp(c.aki)
        r[_KEY] = c.key if keep or c.key is None else keys.detach(c.key)
        r[_ALG] = c.alg
        r[_SALT] = c.salt
        r[_HASHED] = False
        if keep or c.alg == keys.ALG_ED25519:
            r[_SIGNED] = cp(c.tbs)
        elif c.alg:
            self._digest(r, c.tbs)
        r[_SIG] = cp(c.sig)
        r[_PATHLEN] = c.pathlen
        r[_SELF] = c.subject == c.issuer
        r[_NC] = cp(c.nc)
        r[_SAN] = cp(c.san)
        r[_PINNED] = bool(self._pins) and spki_sha256(c.spki) in self._pins
        r[_ERR] = err
        r[_INDEX] = index
        r[_ON_PATH] = False
        return r

    @staticmethod
    def _digest(r, tbs):
        from tls13.crypto import hashes
        r[_SIGNED] = hashes.new(keys.hash_name(r[_ALG]), tbs).digest()
        r[_HASHED] = True

    # -- path building -----------------------------------------------------------------------------

    def finish(self):
        """Build and check the path; returns the leaf's public key (see keys.py) with bytes fields."""
        self._buf = None
        if not self._recs:
            raise malformed("no certificates")
        leaf = self._recs[0]
        leaf[_ON_PATH] = True
        if self._direct and (not self._pins or leaf[_PINNED]):
            return keys.detach(leaf[_KEY])
        if not self._search(leaf, 1, 0, [leaf]):
            reason, detail, index = self._best
            if reason == "unknown_issuer":
                if self._broken is not None:
                    raise self._broken
                if self._store is None:
                    reason = "pin_mismatch"
            raise CertificateError(reason, detail, index)
        return keys.detach(leaf[_KEY])

    def _note(self, reason, depth, index, detail=None):
        """Keep the failure that got furthest; at equal depth a specific one beats unknown_issuer."""
        if depth > self._best_depth or (depth == self._best_depth and self._best[0] == "unknown_issuer"
                                        and reason != "unknown_issuer"):
            self._best = (reason, detail, index)
            self._best_depth = depth

    def _sig_ok(self, child, key):
        self._checks += 1
        if self._checks > MAX_SIGNATURE_CHECKS:
            raise CertificateError("path_too_long", "too many signature checks")
        if child[_ALG] != keys.ALG_ED25519 and not child[_HASHED]:
            self._digest(child, child[_SIGNED])
        return keys.verify(key, child[_ALG], child[_SALT], child[_SIGNED], child[_SIG])

    def _names_ok(self, nc, path):
        for i in range(len(path)):
            p = path[i]
            # RFC 5280 6.1.3 (b): self-issued intermediates are exempt, the leaf never is.
            if i and p[_SELF]:
                continue
            if not names.check_constraints(nc, p[_SAN], p[_SUBJECT]):
                return False
        return True

    def _search(self, child, depth, below, path):
        """Find an issuer for `child` (path[-1]); `depth` sent certificates are on the path, `below`
        of them are non-self-issued intermediates (what pathLenConstraint counts)."""
        if self._store is None:
            if child[_PINNED]:
                return True
        else:
            if self._try_anchors(child, depth, below, path):
                return True
        issuer = child[_ISSUER]
        aki = child[_AKI]
        found = False
        for cand in self._recs:
            if cand[_ON_PATH] or cand[_SUBJECT] != issuer:
                continue
            if aki is not None and cand[_SKI] is not None and cand[_SKI] != aki:
                continue
            found = True
            idx = cand[_INDEX]
            if depth >= self._max_depth:
                self._note("path_too_long", depth, idx, "max_depth %d" % self._max_depth)
                continue
            if cand[_KEY] is None:
                self._note(cand[_ERR][0], depth, idx, cand[_ERR][1])
                continue
            if not self._sig_ok(child, cand[_KEY]):
                self._note("bad_signature", depth, child[_INDEX])
                continue
            if cand[_ERR] is not None:
                self._note(cand[_ERR][0], depth, idx, cand[_ERR][1])
                continue
            if 0 <= cand[_PATHLEN] < below:
                self._note("path_too_long", depth, idx, "pathLenConstraint")
                continue
            if cand[_NC] is not None and not self._names_ok(cand[_NC], path):
                self._note("name_constraints", depth, idx)
                continue
            cand[_ON_PATH] = True
            path.append(cand)
            if self._search(cand, depth + 1, below + (0 if cand[_SELF] else 1), path):
                return True
            path.pop()
            cand[_ON_PATH] = False
        if not found:
            self._note("unknown_issuer", depth, child[_INDEX],
                       "self-signed" if child[_SELF] and depth == 1 else None)
        return False

    def _try_anchors(self, child, depth, below, path):
        idx = child[_INDEX]
        for a in self._store.find(child[_ISSUER]):
            try:
                key, bits = anchor_key(a)
            except CertificateError as e:
                self._note(e.reason, depth, idx, "trust anchor")
                continue
            if key[0] == "rsa" and bits < self._min_rsa:
                self._note("weak_key", depth, idx, "trust anchor")
            elif not a[2] & FLAG_CA:
                self._note("not_a_ca", depth, idx, "trust anchor")
            elif not self._sig_ok(child, key):
                self._note("bad_signature", depth, idx)
            elif 0 <= anchor_pathlen(a) < below:
                self._note("path_too_long", depth, idx, "anchor pathLenConstraint")
            elif a[3] is not None and not self._names_ok(a[3], path):
                self._note("name_constraints", depth, idx, "trust anchor")
            elif self._pins and not (spki_sha256(a[1]) in self._pins or self._path_pinned(path)):
                self._note("pin_mismatch", depth, idx)
            else:
                return True
        return False

    @staticmethod
    def _path_pinned(path):
        for p in path:
            if p[_PINNED]:
                return True
        return False


def verify_chain(certs_der, trust_store, server_name, now, max_depth=8, pins=None, time_floor=None,
                 min_rsa_bits=2048):
    """Validate the certificates a server sent (leaf first) for `server_name` (DNS name or IP literal;
    None skips the name check) at `now` (Unix seconds; see the clock policy above). Returns the leaf
    public key tuple (keys.py); raises CertificateError."""
    v = ChainValidator(trust_store, server_name, now, max_depth, pins, time_floor, min_rsa_bits)
    for d in certs_der:
        v.add(d, keep=True)
    return v.finish()

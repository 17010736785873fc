"""HKDF (RFC 5869) and the TLS 1.3 key-schedule helpers (RFC 8446 section 7.1)."""
from tls13.crypto import hashes
from tls13.crypto.hmac import HMACKey, hmac

_PREFIX = b"tls13 "


def extract(hash_name, salt, ikm):
    """HKDF-Extract. An empty or None salt means HashLen zero bytes (RFC 5869 section 2.2)."""
    if not salt:
        salt = bytes(hashes.digest_size(hash_name))
    return hmac(hash_name, salt, ikm)


def expand(hash_name, prk, info, length):
    """HKDF-Expand: `length` bytes, at most 255 * HashLen."""
    hl = hashes.digest_size(hash_name)
    if length < 0 or length > 255 * hl:
        raise ValueError("HKDF-Expand length %d outside 0..%d" % (length, 255 * hl))
    out = bytearray(length)
    key = HMACKey(hash_name, prk)
    t = b""
    ctr = bytearray(1)
    pos = 0
    while pos < length:
        ctr[0] += 1
        t = key.mac(t, info, ctr)
        n = min(hl, length - pos)
        out[pos:pos + n] = t if n == hl else t[:n]
        pos += n
    return bytes(out)


def _hkdf_label(label, context, length):
    if isinstance(label, str):
        label = label.encode()
    full = len(_PREFIX) + len(label)
    if full > 255:
        raise ValueError("HkdfLabel label too long")
    if len(context) > 255:
        raise ValueError("HkdfLabel context too long")
    if not 0 <= length <= 0xFFFF:
        raise ValueError("HkdfLabel length out of range")
    buf = bytearray(4 + full + len(context))
    buf[0] = length >> 8
    buf[1] = length & 0xFF
    buf[2] = full
    buf[3:3 + len(_PREFIX)] = _PREFIX
    p = 3 + len(_PREFIX)
    buf[p:p + len(label)] = label
    p += len(label)
    buf[p] = len(context)
    buf[p + 1:] = context
    return buf


def expand_label(hash_name, secret, label, context, length):
    """HKDF-Expand-Label(Secret, Label, Context, Length); `label` without the "tls13 " prefix."""
    return expand(hash_name, secret, _hkdf_label(label, context, length), length)


def derive_secret(hash_name, secret, label, transcript_hash):
    """Derive-Secret with the transcript hash already computed (Transcript.digest() or Hash(""))."""
    return expand_label(hash_name, secret, label, transcript_hash, hashes.digest_size(hash_name))

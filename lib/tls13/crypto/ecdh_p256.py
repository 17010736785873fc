"""ECDHE over P-256 (secp256r1) for TLS key exchange, built on ecdsa.py's point arithmetic.

Only used when a server insists on secp256r1 (HelloRetryRequest); x25519 stays the default.
The peer's point is validated (on the curve, not infinity) before use.
"""
from tls13.crypto import ecdsa as _E


def generate_keypair(urandom):
    c = _E.P256
    while True:
        priv = urandom(32)
        if 0 < int.from_bytes(priv, "big") < c.n:
            return priv, _E.public_key_p256(priv)


def shared_secret(priv, peer_point):
    """x coordinate of priv * peer (32 bytes); ValueError for an invalid peer point."""
    c = _E.P256
    p = c.p
    qx, qy = _E._point(c, peer_point)
    d = _E._scalar(priv, c)
    if not d & 1:
        d = c.n - d  # (n-d)Q = -dQ has the same x coordinate; the recoding needs an odd scalar
    steps = (8 * c.size + _E.REGULAR_WINDOW - 1) // _E.REGULAR_WINDOW
    digits = _E._regular(d, _E.REGULAR_WINDOW, steps)
    count = 1 << (_E.REGULAR_WINDOW - 1)
    tq = _E._pack_affine(_E._odd_multiples(qx, qy, 1, count, p), p, c.size, bytearray(2 * c.size * count))
    P = _E._mul(p, c.size, bytearray(len(digits)), b"", digits, tq)
    if not P[2]:
        raise ValueError("P-256 shared point at infinity")
    x, _ = _E._affine(P, p)
    return x.to_bytes(32, "big")

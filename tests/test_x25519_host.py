"""Differential tests of tls13.crypto.x25519 against `cryptography` (OpenSSL) on random inputs."""
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from hypothesis import given, settings, strategies as st

from tls13.crypto.x25519 import P, X25519_BASEPOINT, generate_keypair, x25519

keys = st.binary(min_size=32, max_size=32)


def _reference(k, u):
    """OpenSSL's X25519, or all zeros where it refuses a low-order result (as RFC 7748 computes)."""
    try:
        return X25519PrivateKey.from_private_bytes(k).exchange(X25519PublicKey.from_public_bytes(u))
    except ValueError:
        return bytes(32)


def _public(k):
    return X25519PrivateKey.from_private_bytes(k).public_key().public_bytes_raw()


@settings(max_examples=200, deadline=None)
@given(keys)
def test_public_key_matches(k):
    assert x25519(k, X25519_BASEPOINT) == _public(k)


@settings(max_examples=200, deadline=None)
@given(keys, keys)
def test_shared_secret_matches(a, b):
    shared = x25519(a, _public(b))
    assert shared == _reference(a, _public(b))
    assert shared == x25519(b, _public(a))


@settings(max_examples=200, deadline=None)
@given(keys, keys)
def test_arbitrary_u_matches(k, u):
    # Random u are mostly twist points and may have the top bit set; both sides must agree anyway.
    assert x25519(k, u) == _reference(k, u)


@settings(max_examples=100, deadline=None)
@given(keys, st.integers(min_value=0, max_value=(1 << 255) - 1 - P))
def test_non_canonical_u_matches_canonical(k, r):
    # u in [p, 2^255) is taken mod p; the large-u path must agree with the small-u one.
    assert x25519(k, (P + r).to_bytes(32, "little")) == x25519(k, r.to_bytes(32, "little"))


def test_generate_keypair_matches_reference():
    priv, pub = generate_keypair()
    assert pub == _public(priv)
    other = X25519PrivateKey.generate()
    other_pub = other.public_key().public_bytes_raw()
    assert x25519(priv, other_pub) == other.exchange(X25519PublicKey.from_public_bytes(pub))

"""Differential tests of the signature verifiers (and P-256 signing) against `cryptography`."""
import hashlib

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes as chashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519 as ced, padding, rsa as crsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from tls13.crypto import ecdsa, ed25519, rsa

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_CURVES = {"P-256": (ec.SECP256R1(), 32), "P-384": (ec.SECP384R1(), 48)}
_CHASH = {"sha256": chashes.SHA256, "sha384": chashes.SHA384, "sha512": chashes.SHA512}


def _point(pub):
    return pub.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _flip(data, pos, bit):
    b = bytearray(data)
    b[pos % len(b)] ^= 1 << bit
    return bytes(b)


@pytest.fixture(scope="module")
def ec_keys():
    return {name: ec.generate_private_key(curve) for name, (curve, _) in _CURVES.items()}


@pytest.fixture(scope="module")
def rsa_keys():
    return [crsa.generate_private_key(65537, bits) for bits in (2048, 3072)]


@SETTINGS
@given(curve=st.sampled_from(sorted(_CURVES)), hash_name=st.sampled_from(["sha256", "sha384", "sha512"]),
       msg=st.binary(max_size=200), pos=st.integers(0, 200), bit=st.integers(0, 7))
def test_ecdsa_cryptography_signatures(ec_keys, curve, hash_name, msg, pos, bit):
    key = ec_keys[curve]
    pub = _point(key.public_key())
    h = _CHASH[hash_name]()
    sig = key.sign(msg, ec.ECDSA(h))
    dg = hashlib.new(hash_name, msg).digest()
    assert ecdsa.verify(curve, pub, dg, sig)
    # Only the leftmost curve-size bytes of a longer digest count (FIPS 186-4 truncation).
    size = _CURVES[curve][1]
    assert not ecdsa.verify(curve, pub, _flip(dg[:size], pos, bit) + dg[size:], sig)
    assert ecdsa.verify(curve, pub, dg[:size] + bytes(len(dg[size:])), sig)
    bad = _flip(sig, pos, bit)
    try:
        key.public_key().verify(bad, msg, ec.ECDSA(h))
        theirs = True
    except (InvalidSignature, ValueError):
        theirs = False
    assert ecdsa.verify(curve, pub, dg, bad) == theirs


@SETTINGS
@given(seed=st.integers(1, 2 ** 255), msg=st.binary(max_size=100),
       hash_name=st.sampled_from(["sha256", "sha512"]), extra=st.one_of(st.none(), st.binary(min_size=1, max_size=48)))
def test_p256_signatures_verify_under_cryptography(seed, msg, hash_name, extra):
    d = seed % (ecdsa.P256.n - 1) + 1
    priv = d.to_bytes(32, "big")
    key = ec.derive_private_key(d, ec.SECP256R1())
    assert ecdsa.public_key_p256(priv) == _point(key.public_key())
    dg = hashlib.new(hash_name, msg).digest()
    sig = ecdsa.sign_p256(priv, dg, extra_entropy=extra)
    key.public_key().verify(sig, dg, ec.ECDSA(Prehashed(_CHASH[hash_name]())))
    assert ecdsa.verify("P-256", ecdsa.public_key_p256(priv), dg, sig)


@SETTINGS
@given(seed=st.integers(1, 2 ** 255), msg=st.binary(max_size=100))
def test_p256_deterministic_matches_cryptography(seed, msg):
    # cryptography implements RFC 6979 too (deterministic_signing): the signatures must be identical.
    d = seed % (ecdsa.P256.n - 1) + 1
    key = ec.derive_private_key(d, ec.SECP256R1())
    try:
        algo = ec.ECDSA(chashes.SHA256(), deterministic_signing=True)
    except TypeError:
        pytest.skip("this cryptography has no deterministic ECDSA")
    theirs = key.sign(msg, algo)
    assert ecdsa.sign_p256(d.to_bytes(32, "big"), hashlib.sha256(msg).digest()) == theirs


@SETTINGS
@given(key_i=st.integers(0, 1), hash_name=st.sampled_from(["sha256", "sha384", "sha512"]),
       msg=st.binary(max_size=200), pos=st.integers(0, 600), bit=st.integers(0, 7))
def test_rsa_pkcs1v15(rsa_keys, key_i, hash_name, msg, pos, bit):
    key = rsa_keys[key_i]
    nums = key.public_key().public_numbers()
    sig = key.sign(msg, padding.PKCS1v15(), _CHASH[hash_name]())
    dg = hashlib.new(hash_name, msg).digest()
    assert rsa.verify_pkcs1v15(nums.n, nums.e, hash_name, dg, sig)
    assert not rsa.verify_pkcs1v15(nums.n, nums.e, hash_name, _flip(dg, pos, bit), sig)
    assert not rsa.verify_pkcs1v15(nums.n, nums.e, hash_name, dg, _flip(sig, pos, bit))
    assert not rsa.verify_pss(nums.n, nums.e, hash_name, dg, sig)


@SETTINGS
@given(key_i=st.integers(0, 1), hash_name=st.sampled_from(["sha256", "sha384", "sha512"]),
       salt=st.one_of(st.none(), st.integers(0, 80)), msg=st.binary(max_size=200),
       pos=st.integers(0, 600), bit=st.integers(0, 7))
def test_rsa_pss(rsa_keys, key_i, hash_name, salt, msg, pos, bit):
    key = rsa_keys[key_i]
    nums = key.public_key().public_numbers()
    h = _CHASH[hash_name]()
    salt_len = h.digest_size if salt is None else salt
    sig = key.sign(msg, padding.PSS(padding.MGF1(_CHASH[hash_name]()), salt_len), h)
    dg = hashlib.new(hash_name, msg).digest()
    assert rsa.verify_pss(nums.n, nums.e, hash_name, dg, sig, salt)
    assert not rsa.verify_pss(nums.n, nums.e, hash_name, _flip(dg, pos, bit), sig, salt)
    assert not rsa.verify_pss(nums.n, nums.e, hash_name, dg, _flip(sig, pos, bit), salt)
    assert not rsa.verify_pss(nums.n, nums.e, hash_name, dg, sig, salt_len + 1)
    assert not rsa.verify_pkcs1v15(nums.n, nums.e, hash_name, dg, sig)


@SETTINGS
@given(seed=st.binary(min_size=32, max_size=32), msg=st.binary(max_size=300), pos=st.integers(0, 63),
       bit=st.integers(0, 7))
def test_ed25519(seed, msg, pos, bit):
    key = ced.Ed25519PrivateKey.from_private_bytes(seed)
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    sig = key.sign(msg)
    assert ed25519.verify(pub, msg, sig)
    assert not ed25519.verify(pub, msg + b"\x00", sig)
    assert not ed25519.verify(pub, msg, _flip(sig, pos, bit))


@pytest.mark.parametrize("d", [1, 2, 3, 0x10, 2 ** 128, 2 ** 255, ecdsa.P256.n - 2, ecdsa.P256.n - 1])
def test_p256_public_key_edges(d):
    key = ec.derive_private_key(d, ec.SECP256R1())
    priv = d.to_bytes(32, "big")
    assert ecdsa.public_key_p256(priv) == _point(key.public_key())
    dg = hashlib.sha256(b"edge").digest()
    key.public_key().verify(ecdsa.sign_p256(priv, dg), dg, ec.ECDSA(Prehashed(chashes.SHA256())))


@SETTINGS
@given(a=st.integers(1, 2 ** 400))
def test_public_inverse(a):
    for m in (ecdsa.P256.p, ecdsa.P256.n, ecdsa.P384.p, ecdsa.P384.n, ed25519._P):
        if a % m:
            assert ecdsa._inv_public(a, m) == pow(a, -1, m)
            assert ed25519._inv_public(a, m) == pow(a, -1, m)


@pytest.mark.parametrize("curve", ["P-256", "P-384"])
def test_precomputed_g_tables_match_the_curve(curve):
    """gtab_p256/gtab_p384 (written by host_tools/gen_ecdsa_tables.py) against the multiples of G that
    ecdsa.py computes itself, and against `cryptography`'s public keys for the scalars 1, 3, .., 63."""
    from host_tools import gen_ecdsa_tables
    from tls13.crypto import gtab_p256, gtab_p384
    table = (gtab_p256 if curve == "P-256" else gtab_p384).GTAB
    assert table == gen_ecdsa_tables.computed(curve)
    with open(gen_ecdsa_tables.path_for(curve)) as f:
        assert f.read() == gen_ecdsa_tables.source(curve, table)
    crv = ec.SECP256R1() if curve == "P-256" else ec.SECP384R1()
    size = 32 if curve == "P-256" else 48
    for i, k in enumerate(range(1, 64, 2)):
        pub = ec.derive_private_key(k, crv).public_key().public_numbers()
        entry = table[2 * size * i:2 * size * (i + 1)]
        assert entry == pub.x.to_bytes(size, "big") + pub.y.to_bytes(size, "big")
    c = ecdsa._CURVES[curve]
    ecdsa.clear_tables()
    assert ecdsa._gtable(c) is table  # the constant itself: nothing built, nothing copied

"""Differential tests of hashes/hmac/hkdf against hashlib, the stdlib hmac and `cryptography` (CPython)."""
import hashlib
import hmac as std_hmac
import struct

import pytest
from cryptography.hazmat.primitives import hashes as chashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
from hypothesis import given, settings
from hypothesis import strategies as st

from tls13.crypto import hashes, hkdf
from tls13.crypto.hmac import HMAC, HMACKey, hmac

NAMES = ["sha256", "sha384", "sha512"]
CHASH = {"sha256": chashes.SHA256, "sha384": chashes.SHA384, "sha512": chashes.SHA512}


@pytest.fixture(params=[None, "python"], ids=["hashlib", "pure"])
def backend(request):
    hashes.use_backend(request.param)
    yield request.param
    hashes.use_backend(None)


def test_pure_backend_is_not_sha3():
    # adafruit_hashlib.sha384 is SHA3-384 on CPython; the pure path must be real SHA-384.
    hashes.use_backend("python")
    try:
        h = hashes.sha384(b"abc")
        assert type(h).__name__ == "_PureSHA512"
        assert h.digest() == hashlib.sha384(b"abc").digest()
        assert h.digest() != hashlib.sha3_384(b"abc").digest()
    finally:
        hashes.use_backend(None)
    assert hashes.backend("sha384") == "hashlib"


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(["sha384", "sha512"]),
       parts=st.lists(st.binary(max_size=300), max_size=6))
def test_pure_sha512_family_matches_hashlib_under_any_split(name, parts):
    hashes.use_backend("python")
    try:
        h = hashes.new(name)
        ref = hashlib.new(name)
        for p in parts:
            h.update(p)
            ref.update(p)
            assert h.digest() == ref.digest()
        c = h.copy()
        c.update(b"tail")
        h.update(b"other")
        assert c.digest() == hashlib.new(name, b"".join(parts) + b"tail").digest()
        assert h.digest() == hashlib.new(name, b"".join(parts) + b"other").digest()
    finally:
        hashes.use_backend(None)


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(NAMES), msgs=st.lists(st.binary(max_size=400), min_size=1, max_size=8),
       data=st.data())
def test_transcript_vs_hashlib(name, msgs, data):
    stops = sorted(data.draw(st.sets(st.integers(1, len(msgs)), min_size=1)))
    for b in (None, "python"):
        hashes.use_backend(b)
        try:
            t = hashes.Transcript(name, len(stops))
            for i, m in enumerate(msgs):
                t.update(m)
                if i + 1 in stops:
                    assert t.digest() == hashlib.new(name, b"".join(msgs[:i + 1])).digest()
            with pytest.raises(hashes.TranscriptExhausted):
                t.digest()
        finally:
            hashes.use_backend(None)


@settings(max_examples=80, deadline=None)
@given(name=st.sampled_from(NAMES), key=st.binary(max_size=300), msg=st.binary(max_size=600))
def test_hmac_vs_stdlib(name, key, msg):
    want = std_hmac.new(key, msg, name).digest()
    assert hmac(name, key, msg) == want
    h = HMAC(name, key)
    h.update(msg[:7])
    h.update(msg[7:])
    assert h.digest() == want


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(["sha384", "sha512"]), key=st.binary(max_size=300),
       msg=st.binary(max_size=300))
def test_hmac_pure_vs_stdlib(name, key, msg):
    hashes.use_backend("python")
    try:
        k = HMACKey(name, key)
        # The prepared key is reused: copies of the pad states must not leak into each other.
        assert k.mac(msg) == std_hmac.new(key, msg, name).digest()
        assert k.mac(msg, b"x") == std_hmac.new(key, msg + b"x", name).digest()
    finally:
        hashes.use_backend(None)


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(NAMES), salt=st.binary(max_size=200), ikm=st.binary(max_size=200),
       info=st.binary(max_size=100), data=st.data())
def test_hkdf_vs_cryptography(name, salt, ikm, info, data):
    hl = hashes.digest_size(name)
    length = data.draw(st.integers(1, 255 * hl))
    want = HKDF(algorithm=CHASH[name](), length=length, salt=salt or None, info=info).derive(ikm)
    assert hkdf.expand(name, hkdf.extract(name, salt, ikm), info, length) == want


def _hkdf_label(label, context, length):
    full = b"tls13 " + label
    return struct.pack(">HB", length, len(full)) + full + bytes([len(context)]) + context


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(["sha256", "sha384"]), secret=st.binary(min_size=32, max_size=48),
       label=st.binary(max_size=40), context=st.binary(max_size=64), length=st.integers(1, 200))
def test_expand_label_vs_cryptography(name, secret, label, context, length):
    want = HKDFExpand(algorithm=CHASH[name](), length=length,
                      info=_hkdf_label(label, context, length)).derive(secret)
    assert hkdf.expand_label(name, secret, label, context, length) == want


def test_derive_secret_is_expand_label_with_hash_length(backend):
    for name in ["sha256", "sha384"]:
        hl = hashes.digest_size(name)
        th = hashes.digest(name, b"transcript")
        secret = bytes(range(hl))
        want = HKDFExpand(algorithm=CHASH[name](), length=hl,
                          info=_hkdf_label(b"c hs traffic", th, hl)).derive(secret)
        assert hkdf.derive_secret(name, secret, b"c hs traffic", th) == want


def test_snapshot_kinds_on_cpython(backend):
    for name in NAMES:
        assert hashes.snapshots(name)

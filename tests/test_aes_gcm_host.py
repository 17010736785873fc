"""AES-GCM against `cryptography` (CPython only), plus the viper kernel run on CPython under simulated
32-bit and 64-bit machine words: the VM only ever exercises the 64-bit case, the boards are 32-bit."""
import os
import sys
import types

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM as RefAESGCM
from hypothesis import HealthCheck, given, settings, strategies as st

from tls13.crypto import aes, gcm
from tls13.crypto.aead import InvalidTag

KEYS = st.sampled_from((16, 32)).flatmap(lambda n: st.binary(min_size=n, max_size=n))
NONCES = st.binary(min_size=12, max_size=12)
AADS = st.binary(max_size=64)


@settings(max_examples=60, deadline=None)
@given(key=KEYS, nonce=NONCES, aad=AADS, data=st.binary(max_size=4096))
def test_matches_cryptography(key, nonce, aad, data):
    ref = RefAESGCM(key).encrypt(nonce, data, aad)
    g = gcm.AESGCM(key)
    assert g.encrypt(nonce, data, aad) == ref
    assert g.decrypt(nonce, ref, aad) == data
    buf = bytearray(len(data) + 16 + 5)
    buf[:len(data)] = data
    g.encrypt_into(nonce, buf, len(data), aad)
    assert bytes(buf[:len(ref)]) == ref
    assert g.decrypt_into(nonce, buf, len(ref), aad) == len(data)
    assert bytes(buf[:len(data)]) == data


@settings(max_examples=60, deadline=None)
@given(key=KEYS, nonce=NONCES, aad=AADS, data=st.binary(max_size=300), where=st.integers(min_value=0),
       bit=st.integers(min_value=0, max_value=7))
def test_tampering_rejected(key, nonce, aad, data, where, bit):
    sealed = bytearray(RefAESGCM(key).encrypt(nonce, data, aad))
    sealed[where % len(sealed)] ^= 1 << bit
    g = gcm.AESGCM(key)
    with pytest.raises(InvalidTag):
        g.decrypt(nonce, bytes(sealed), aad)
    copy = bytearray(sealed)
    with pytest.raises(InvalidTag):
        g.decrypt_into(nonce, copy, len(copy), aad)
    assert copy == sealed


@settings(max_examples=30, deadline=None)
@given(key=st.sampled_from((16, 24, 32)).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
       blocks=st.binary(max_size=160).map(lambda b: b[:len(b) & ~15]))
def test_pure_aes_matches_cryptography(key, blocks):
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    out = bytearray(len(blocks))
    aes.PyECB(key).encrypt(blocks, out)
    assert bytes(out) == enc.update(blocks) + enc.finalize()


# ---- the viper kernel on simulated machine words -------------------------------------------------------

def _word_class(bits):
    mask = (1 << bits) - 1
    sign = 1 << (bits - 1)

    class Word(int):
        """A viper int: wraps at `bits`, `>>` is arithmetic (signed)."""

        def __new__(cls, v):
            v = int(v) & mask
            return int.__new__(cls, v - (1 << bits) if v & sign else v)

    def op(name):
        f = getattr(int, name)
        return lambda a, b: Word(f(int(a), int(b)))

    for name in ("add", "sub", "mul", "and", "or", "xor", "lshift", "rshift"):
        setattr(Word, "__%s__" % name, op("__%s__" % name))
        setattr(Word, "__r%s__" % name, op("__r%s__" % name))
    return Word


def load_viper_sim(bits):
    """gcm_viper.py executed on CPython: ptr8/ptr32 views and int arguments become `bits`-wide words."""
    Word = _word_class(bits)

    class Ptr8:
        def __init__(self, buf):
            self.b = memoryview(buf).cast("B")

        def __getitem__(self, i):
            return Word(self.b[i])

        def __setitem__(self, i, v):
            self.b[i] = int(v) & 0xFF

    class Ptr32(Ptr8):
        def __getitem__(self, i):
            # Loads zero-extend into a 64-bit register and fill a 32-bit one (so they read negative).
            return Word(int.from_bytes(self.b[4 * i:4 * i + 4], "little"))

        def __setitem__(self, i, v):
            self.b[4 * i:4 * i + 4] = (int(v) & 0xFFFFFFFF).to_bytes(4, "little")

    path = os.path.join(os.path.dirname(gcm.__file__), "gcm_viper.py")
    with open(path) as f:
        src = f.read()
    fake = types.ModuleType("micropython")
    fake.viper = lambda fn: fn
    saved = sys.modules.get("micropython")
    sys.modules["micropython"] = fake
    ns = {"ptr8": Ptr8, "ptr32": Ptr32, "__name__": "gcm_viper_sim"}
    try:
        exec(compile(src, path, "exec"), ns)
    finally:
        if saved is None:
            del sys.modules["micropython"]
        else:
            sys.modules["micropython"] = saved

    def wrap(fn):
        conv = [fn.__annotations__[a] for a in fn.__code__.co_varnames[:fn.__code__.co_argcount]]
        conv = [Word if c is int else c for c in conv]
        return lambda *args: fn(*[c(a) for c, a in zip(conv, args)])

    mod = types.SimpleNamespace(STATE_WORDS=ns["STATE_WORDS"])
    for name in ("load_words", "reset", "ghash", "final", "set_nonce", "ctr_fill", "xor_into"):
        setattr(mod, name, wrap(ns[name]))
    return mod


@pytest.fixture(params=[32, 64], ids=["32bit", "64bit"])
def sim_kernel(request, monkeypatch):
    k = gcm.viper_kernel(load_viper_sim(request.param))
    monkeypatch.setitem(gcm._KERNELS, "viper", k)
    gcm.use_kernel("viper")
    yield k
    gcm.use_kernel(None)


def test_sim_word_semantics():
    w32 = _word_class(32)
    assert w32(0xFFFFFFF0) >> 4 == -1  # arithmetic shift, as viper on a board
    assert w32(1) << 31 == -(1 << 31)
    w64 = _word_class(64)
    assert w64(0xFFFFFFF0) >> 4 == 0x0FFFFFFF


def test_sim_selftest(sim_kernel):
    assert gcm._selftest(sim_kernel)


def test_sim_gcm_spec_vectors(sim_kernel):
    import test_aes_gcm as dev
    for case, key, iv, p, a, c, t in dev.GCM_SPEC:
        g = gcm.AESGCM(bytes.fromhex(key))
        dev._check_case(g, bytes.fromhex(iv), bytes.fromhex(p), bytes.fromhex(a), bytes.fromhex(c + t),
                        "case %d" % case)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=KEYS, nonce=NONCES, aad=AADS, data=st.binary(max_size=600), pad=st.integers(0, 7))
def test_sim_matches_cryptography(sim_kernel, key, nonce, aad, data, pad):
    ref = RefAESGCM(key).encrypt(nonce, data, aad)
    g = gcm.AESGCM(key)
    buf = bytearray(pad + len(ref))
    view = memoryview(buf)[pad:]
    view[:len(data)] = data
    g.encrypt_into(nonce, view, len(data), aad)
    assert bytes(view) == ref
    assert g.decrypt_into(nonce, view, len(ref), aad) == len(data)
    assert bytes(view[:len(data)]) == data
    bad = bytearray(ref)
    bad[-1] ^= 1
    with pytest.raises(InvalidTag):
        g.decrypt(nonce, bytes(bad), aad)

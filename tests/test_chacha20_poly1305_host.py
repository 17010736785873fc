"""ChaCha20-Poly1305 on CPython against `cryptography`: hypothesis differential tests of the pure kernels,
and the viper kernels' source run under simulated 32-bit and 64-bit machine words (the boards' and the
VM's), which the VM alone cannot show."""
import ast
import operator
import os
import random
import types
from array import array

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305 as RefAEAD
from cryptography.hazmat.primitives.poly1305 import Poly1305 as RefPoly
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test_chacha20_poly1305 as device
from tls13.crypto import chacha20, chachapoly, poly1305
from tls13.crypto.chacha20 import ChaCha20
from tls13.crypto.chachapoly import ChaCha20Poly1305
from tls13.crypto.errors import InvalidTag
from tls13.crypto.poly1305 import Poly1305

PURE = ("python", "python32")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(params=PURE)
def kernel(request):
    chachapoly.use_kernel(request.param)
    yield request.param
    chachapoly.use_kernel(None)


def _ref_keystream(key, counter, nonce, n):
    enc = Cipher(algorithms.ChaCha20(key, counter.to_bytes(4, "little") + nonce), None).encryptor()
    return enc.update(bytes(n))


aead_cases = st.tuples(st.binary(min_size=32, max_size=32), st.binary(min_size=12, max_size=12),
                       st.binary(max_size=64), st.integers(0, 4096), st.integers(0, 2**32))


@SETTINGS
@given(case=aead_cases)
def test_aead_matches_cryptography(kernel, case):
    key, nonce, aad, n, seed = case
    rnd = random.Random(seed)
    msg = rnd.randbytes(n)
    want = RefAEAD(key).encrypt(nonce, msg, aad)
    a = ChaCha20Poly1305(key)
    assert a.encrypt(nonce, msg, aad) == want
    assert a.decrypt(nonce, want, aad) == msg
    buf = bytearray(n + 16 + 3)
    buf[:n] = msg
    a.encrypt_into(nonce, buf, n, aad)
    assert bytes(buf[:n + 16]) == want
    assert a.decrypt_into(nonce, buf, n + 16, aad) == n and bytes(buf[:n]) == msg
    # One flipped bit anywhere in ciphertext or tag: both implementations refuse it.
    bad = bytearray(want)
    pos = rnd.randrange(len(bad))
    bad[pos] ^= 1 << rnd.randrange(8)
    with pytest.raises(InvalidTag):
        a.decrypt(nonce, bytes(bad), aad)
    with pytest.raises(Exception):
        RefAEAD(key).decrypt(nonce, bytes(bad), aad)


@SETTINGS
@given(key=st.binary(min_size=32, max_size=32), msg=st.binary(max_size=600),
       cuts=st.lists(st.integers(0, 600), max_size=6))
def test_poly1305_matches_cryptography(kernel, key, msg, cuts):
    want = RefPoly.generate_tag(key, msg)
    p = Poly1305(key)
    last = 0
    for c in sorted(c for c in cuts if c <= len(msg)):
        p.update(msg, last, c - last)
        last = c
    p.update(msg[last:])
    assert p.digest() == want


@SETTINGS
@given(key=st.binary(min_size=32, max_size=32), nonce=st.binary(min_size=12, max_size=12),
       counter=st.integers(0, 2**32 - 64), n=st.integers(0, 700))
def test_keystream_matches_cryptography(kernel, key, nonce, counter, n):
    c = ChaCha20(key)
    c.set_nonce(nonce, counter)
    buf = bytearray(n)
    c.xor_into(buf)
    assert bytes(buf) == _ref_keystream(key, counter, nonce, n)
    assert c.counter() == counter + (n + 63) // 64


def test_bulk_reference_digest_is_cryptographys():
    got = device.bulk_outputs(lambda k, n, m, a: RefAEAD(k).encrypt(n, bytes(m), a))
    assert got.hex() == device.BULK_SHA256


# --- the viper kernels under simulated machine words ---------------------------------------------------

def _word_type(bits):
    """Ints that behave like viper's machine words: wrap at `bits`, signed, arithmetic >>."""
    mod = 1 << bits
    half = mod >> 1

    def val(o):
        return o.v if isinstance(o, Word) else o

    class Word:
        __slots__ = ("v",)

        def __init__(self, v):
            v %= mod
            self.v = v - mod if v >= half else v

        def __index__(self):
            return self.v

        __int__ = __index__

        def __bool__(self):
            return self.v != 0

    def binop(fn):
        return (lambda a, b: Word(fn(a.v, val(b)))), (lambda a, b: Word(fn(val(b), a.v)))

    for name, fn in (("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
                     ("and", operator.and_), ("or", operator.or_), ("xor", operator.xor),
                     ("lshift", operator.lshift), ("rshift", operator.rshift)):
        fwd, rev = binop(fn)
        setattr(Word, "__%s__" % name, fwd)
        setattr(Word, "__r%s__" % name, rev)
    for name in ("lt", "le", "gt", "ge", "eq", "ne"):
        setattr(Word, "__%s__" % name, (lambda fn: lambda a, b: fn(a.v, val(b)))(getattr(operator, name)))
    Word.__hash__ = None
    return Word, val


class _Ptr:
    """ptr8/ptr32 over a buffer: bounds-checked, zero-extending loads, truncating stores."""

    def __init__(self, mem, size, word, val):
        self.mem, self.size, self.word, self.val = mem, size, word, val

    def _at(self, i):
        a = operator.index(i) * self.size
        if a < 0 or a + self.size > len(self.mem):
            raise IndexError("viper access outside the buffer: %d" % a)
        return a

    def __getitem__(self, i):
        a = self._at(i)
        return self.word(int.from_bytes(self.mem[a:a + self.size], "little"))

    def __setitem__(self, i, v):
        a = self._at(i)
        self.mem[a:a + self.size] = (int(self.val(v)) % (1 << (8 * self.size))).to_bytes(self.size, "little")


def _simulated_viper_module(bits):
    word, val = _word_type(bits)

    def cast(size):
        def to_ptr(obj):
            mem = obj.mem if isinstance(obj, _Ptr) else memoryview(obj).cast("B")
            return _Ptr(mem, size, word, val)
        return to_ptr

    casts = {"ptr8": cast(1), "ptr16": cast(2), "ptr32": cast(4)}
    path = os.path.join(ROOT, "lib", "tls13", "crypto", "chacha_viper.py")
    with open(path) as f:
        tree = ast.parse(f.read())
    mod = types.SimpleNamespace()
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        kinds = [a.annotation.id for a in node.args.args]
        node.decorator_list = []
        for a in node.args.args:
            a.annotation = None
        node.returns = None
        ns = dict(casts)
        exec(compile(ast.Module(body=[node], type_ignores=[]), path, "exec"), ns)
        fn = ns[node.name]

        def call(*args, _fn=fn, _kinds=kinds):
            conv = [casts[k](a) if k in casts else word(a) for k, a in zip(_kinds, args)]
            return _fn(*conv)
        setattr(mod, node.name, call)
    return mod


@pytest.fixture(params=[32, 64], ids=["32-bit words", "64-bit words"])
def simulated_viper(request):
    fake = _simulated_viper_module(request.param)
    saved = chacha20._vk, poly1305._vk
    chacha20._vk = poly1305._vk = fake
    chachapoly.use_kernel("viper")
    assert chachapoly.kernel() == "viper+viper"
    yield
    chacha20._vk, poly1305._vk = saved
    chachapoly.use_kernel(None)


def test_viper_source_on_machine_words(simulated_viper):
    # The RFC and appendix A.3 vectors (every carry edge case of the limbs), then random messages
    # around the block sizes against cryptography.
    for name in ("test_rfc8439_2_3_2_block", "test_rfc8439_2_4_2_encryption", "test_rfc8439_2_5_2_poly1305",
                 "test_poly1305_edge_cases", "test_rfc8439_2_6_2_poly_key", "test_rfc8439_2_8_2_aead"):
        # The device tests loop over kernels; here only the simulated one is in force.
        saved = chacha20.available_kernels
        chacha20.available_kernels = lambda: ("viper",)
        try:
            getattr(device, name)()
        finally:
            chacha20.available_kernels = saved
        chachapoly.use_kernel("viper")
    rnd = random.Random(1305)
    for n in (0, 1, 15, 16, 17, 63, 64, 65, 129, 200):
        key, nonce, aad = rnd.randbytes(32), rnd.randbytes(12), rnd.randbytes(rnd.randrange(40))
        msg = rnd.randbytes(n)
        want = RefAEAD(key).encrypt(nonce, msg, aad)
        assert ChaCha20Poly1305(key).encrypt(nonce, msg, aad) == want, n
        assert ChaCha20Poly1305(key).decrypt(nonce, want, aad) == msg
    # Largest limbs: all-ones blocks under the largest clamped r, which the bounds in the kernel's
    # comments are about (a row of products must stay below 2**32).
    key = bytes([0xFF] * 32)
    for n in (16, 160, 320):
        assert poly1305.poly1305(key, b"\xff" * n) == RefPoly.generate_tag(key, b"\xff" * n)
    assert isinstance(Poly1305(key)._ctx, array)


def test_viper_poly_rows_at_limb_bounds(simulated_viper):
    # Accumulator limbs at the top of what a block can leave behind (every limb 0x1fff, limb 1 plus a
    # carry), all-ones message blocks and the largest clamped r: the rows of products go past 2**31,
    # so a right shift that is not masked shows up as a wrong sum on 32-bit words.
    P = (1 << 130) - 5
    kern = chacha20._vk
    rnd = random.Random(130)
    for trial in range(40):
        key = bytes([0xFF] * 16) + bytes(16) if trial < 20 else rnd.randbytes(32)
        p = Poly1305(key)
        ctx = p._ctx
        r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
        for j in range(10):
            ctx[j] = 0x1FFF if trial < 30 else rnd.randrange(0x2000)
        ctx[1] += 1024 if trial % 2 else 0
        h = sum(ctx[j] << (13 * j) for j in range(10))
        msg = b"\xff" * 48 if trial < 10 else rnd.randbytes(48)
        ctx[30] = 0x800
        kern.poly1305_blocks(ctx, msg, 0, 48)
        for i in range(0, 48, 16):
            h = (h + int.from_bytes(msg[i:i + 16], "little") + (1 << 128)) * r % P
        assert sum(ctx[j] << (13 * j) for j in range(10)) % P == h, trial
        assert all(ctx[j] < 0x2000 for j in range(10) if j != 1) and ctx[1] < 0x2000 + 0x800


def test_half_word_kernel_stays_within_30_bit_small_ints():
    # The "python" kernel is the fallback for boards whose small ints hold 30 bits (a value of 2**30 or
    # more would be a heap-allocated big int there). Watch every int local of its loop, line by line.
    import sys
    limit = 1 << 30
    worst = [0]

    def local_tracer(frame, event, arg):
        for v in frame.f_locals.values():
            if type(v) is int and abs(v) > worst[0]:
                worst[0] = abs(v)
        return local_tracer

    def tracer(frame, event, arg):
        return local_tracer if frame.f_code is chacha20._xor16.__code__ else None

    chachapoly.use_kernel("python")
    try:
        c = ChaCha20(bytes([0xFF] * 32))
        c.set_nonce(bytes([0xFF] * 12), 0xFFFFFFFF)
        buf = bytearray(100)
        sys.settrace(tracer)
        try:
            c.xor_into(buf, 0, 100)
        finally:
            sys.settrace(None)
    finally:
        chachapoly.use_kernel(None)
    key, nonce = bytes([0xFF] * 32), bytes([0xFF] * 12)
    # The block counter wraps modulo 2**32 (and its carry crosses both halves).
    assert bytes(buf) == _ref_keystream(key, 0xFFFFFFFF, nonce, 64) + _ref_keystream(key, 0, nonce, 36)
    assert c.counter() == 1
    assert 0xFFFF < worst[0] < limit, worst[0]

"""ChaCha20, Poly1305 and ChaCha20-Poly1305 (RFC 8439) on every kernel the runtime has: RFC vectors,
all of Wycheproof, in-place calls, tampering, argument checks. On the VM that is viper, the board-safe
half-word kernel and python32; on CPython the two pure ones."""
import hashlib

from mpcheck import IS_MICROPYTHON, check, eq, raises, unhex
from wyche import cases

from tls13.crypto import chacha20, chachapoly, poly1305
from tls13.crypto.chacha20 import ChaCha20, chacha20_block, chacha20_xor
from tls13.crypto.chachapoly import ChaCha20Poly1305
from tls13.crypto.errors import InvalidTag
from tls13.crypto.poly1305 import Poly1305

SUNSCREEN = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future,"
             b" sunscreen would be it.")
KEY_00_1F = bytes(range(32))
KEY_80_9F = bytes(range(0x80, 0xA0))


def _kernels():
    return chacha20.available_kernels()


def _each_kernel(fn):
    """Run fn(kernel_name) once per kernel, restoring the automatic choice afterwards."""
    try:
        for k in _kernels():
            chachapoly.use_kernel(k)
            fn(k)
    finally:
        chachapoly.use_kernel(None)


def test_kernel_choice():
    if IS_MICROPYTHON:
        # The fast path must be what the VM (and so a board) picks, and what this module tests.
        check("viper" in _kernels(), "viper kernel did not load")
        chachapoly.use_kernel(None)
        eq(chachapoly.kernel(), "viper+viper")
    else:
        chachapoly.use_kernel(None)
        eq(chachapoly.kernel(), "python32+python")
        raises(ValueError, chacha20.use_kernel, "viper")
        raises(ValueError, poly1305.use_kernel, "viper")
    raises(ValueError, chacha20.use_kernel, "nope")
    raises(ValueError, poly1305.use_kernel, "python32")
    chachapoly.use_kernel(None)


def test_rfc8439_2_3_2_block():
    want = unhex("10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
                 "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e")
    _each_kernel(lambda k: eq(chacha20_block(KEY_00_1F, 1, unhex("000000090000004a00000000")), want, k))


def test_rfc8439_2_4_2_encryption():
    nonce = unhex("000000000000004a00000000")
    want = unhex("6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"
                 "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8"
                 "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
                 "5af90bbf74a35be6b40b8eedf2785e42874d")

    def run(k):
        eq(chacha20_xor(KEY_00_1F, 1, nonce, SUNSCREEN), want, k)
        eq(chacha20_xor(KEY_00_1F, 1, nonce, want), SUNSCREEN, k)
        # Split at a block boundary, at an offset inside a larger buffer; the counter moves per block.
        buf = bytearray(3) + bytearray(SUNSCREEN) + bytearray(5)
        c = ChaCha20(KEY_00_1F)
        c.set_nonce(nonce, 1)
        c.xor_into(buf, 3, 64)
        eq(c.counter(), 2, k)
        c.xor_into(buf, 67, len(SUNSCREEN) - 64)
        eq(c.counter(), 3, k)
        eq(bytes(buf[3:3 + len(SUNSCREEN)]), want, k)
        eq(bytes(buf[:3]) + bytes(buf[-5:]), bytes(8), k)
    _each_kernel(run)


def test_counter_carries_across_halves():
    # Block 0xffff -> 0x10000 crosses the half-word boundary of the board-safe kernel.
    nonce = bytes(range(12))

    def run(k):
        c = ChaCha20(KEY_80_9F)
        c.set_nonce(nonce, 0xFFFF)
        two = bytearray(128)
        c.xor_into(two)
        eq(c.counter(), 0x10001, k)
        eq(bytes(two[64:]), chacha20_block(KEY_80_9F, 0x10000, nonce), k)
    _each_kernel(run)


def test_rfc8439_2_5_2_poly1305():
    key = unhex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b")
    msg = b"Cryptographic Forum Research Group"
    want = unhex("a8061dc1305136c6c22b8baf0c0127a9")

    def run(k):
        eq(poly1305.poly1305(key, msg), want, k)
        p = Poly1305(key)
        for i in range(len(msg)):  # byte by byte through the partial-block buffer
            p.update(msg, i, 1)
        eq(p.digest(), want, k)
        p.reset(key)
        p.update(msg[:5])
        p.update(memoryview(msg)[5:])
        out = bytearray(20)
        p.digest_into(out, 3)
        eq(bytes(out[3:19]), want, k)
    _each_kernel(run)


# RFC 8439 appendix A.3 #5-#11: accumulators that land on or just past p, and carries across limbs.
_POLY_EDGE = (
    ("02" + "00" * 31, "ff" * 16, "03" + "00" * 15),
    ("02" + "00" * 15 + "ff" * 16, "02" + "00" * 15, "03" + "00" * 15),
    ("01" + "00" * 31, "ff" * 16 + "f0" + "ff" * 15 + "11" + "00" * 15, "05" + "00" * 15),
    ("01" + "00" * 31, "ff" * 16 + "fb" + "fe" * 15 + "01" * 16, "00" * 16),
    ("02" + "00" * 31, "fd" + "ff" * 15, "fa" + "ff" * 15),
    ("01" + "00" * 7 + "04" + "00" * 23,
     "e33594d7505e43b900000000000000003394d7505e4379cd0100000000000000" + "00" * 16 + "01" + "00" * 15,
     "14000000000000005500000000000000"),
    ("01" + "00" * 7 + "04" + "00" * 23,
     "e33594d7505e43b900000000000000003394d7505e4379cd0100000000000000" + "00" * 16,
     "13" + "00" * 15),
)


def test_poly1305_edge_cases():
    def run(k):
        for i, (key, msg, tag) in enumerate(_POLY_EDGE):
            eq(poly1305.poly1305(unhex(key), unhex(msg)), unhex(tag), "%s A.3 #%d" % (k, i + 5))
    _each_kernel(run)


def test_rfc8439_2_6_2_poly_key():
    want = unhex("8ad5a08b905f81cc815040274ab29471a833b637e3fd0da508dbb8e2fdd1a646")
    _each_kernel(lambda k: eq(chacha20_block(KEY_80_9F, 0, unhex("000000000001020304050607"))[:32], want, k))


RFC_AEAD_NONCE = unhex("070000004041424344454647")
RFC_AEAD_AAD = unhex("50515253c0c1c2c3c4c5c6c7")
RFC_AEAD_CT = unhex(
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b"
    "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
    "3ff4def08e4b7a9de576d26586cec64b6116")
RFC_AEAD_TAG = unhex("1ae10b594f09e26a7e902ecbd0600691")


def test_rfc8439_2_8_2_aead():
    def run(k):
        a = ChaCha20Poly1305(KEY_80_9F)
        eq(a.encrypt(RFC_AEAD_NONCE, SUNSCREEN, RFC_AEAD_AAD), RFC_AEAD_CT + RFC_AEAD_TAG, k)
        eq(a.decrypt(RFC_AEAD_NONCE, RFC_AEAD_CT + RFC_AEAD_TAG, RFC_AEAD_AAD), SUNSCREEN, k)
    _each_kernel(run)


def test_wycheproof():
    kernels = _kernels()
    seen = {"valid": 0, "invalid": 0, "nonce": 0}
    try:
        for g, t in cases("chacha20_poly1305_test"):
            key, iv, aad = unhex(t["key"]), unhex(t["iv"]), unhex(t["aad"])
            msg, ct, tag = unhex(t["msg"]), unhex(t["ct"]), unhex(t["tag"])
            what = "tcId %d" % t["tcId"]
            if g["ivSize"] != 96:
                # Only 96-bit nonces exist in RFC 8439; every other size must be refused.
                eq(t["result"], "invalid", what)
                a = ChaCha20Poly1305(key)
                raises(ValueError, a.encrypt, iv, msg, aad)
                raises(ValueError, a.decrypt, iv, ct + tag, aad)
                raises(ValueError, a.decrypt_into, iv, bytearray(ct + tag), len(ct) + 16, aad)
                seen["nonce"] += 1
                continue
            for k in kernels:
                chachapoly.use_kernel(k)
                a = ChaCha20Poly1305(key)
                if t["result"] == "valid":
                    eq(a.encrypt(iv, msg, aad), ct + tag, what + " " + k)
                    eq(a.decrypt(iv, ct + tag, aad), msg, what + " " + k)
                else:
                    raises(InvalidTag, a.decrypt, iv, ct + tag, aad)
            seen[t["result"]] += 1
    finally:
        chachapoly.use_kernel(None)
    eq(seen, {"valid": 256, "invalid": 60, "nonce": 9})


def _flip(b, i, bit=1):
    b = bytearray(b)
    b[i] ^= bit
    return bytes(b)


def test_tampering_rejected_before_plaintext_is_written():
    def run(k):
        a = ChaCha20Poly1305(KEY_80_9F)
        sealed = RFC_AEAD_CT + RFC_AEAD_TAG
        n = len(sealed)
        for i in range(n):
            for bit in (0x01, 0x80) if i >= n - 16 else (0x04,):
                bad = bytearray(_flip(sealed, i, bit))
                before = bytes(bad)
                raises(InvalidTag, a.decrypt_into, RFC_AEAD_NONCE, bad, n, RFC_AEAD_AAD)
                eq(bytes(bad), before, "%s: buffer written before the tag check (byte %d)" % (k, i))
        for i in range(len(RFC_AEAD_AAD)):
            raises(InvalidTag, a.decrypt, RFC_AEAD_NONCE, sealed, _flip(RFC_AEAD_AAD, i))
        raises(InvalidTag, a.decrypt, RFC_AEAD_NONCE, sealed, RFC_AEAD_AAD + b"\x00")
        raises(InvalidTag, a.decrypt, RFC_AEAD_NONCE, sealed[:-1], RFC_AEAD_AAD)
        raises(InvalidTag, a.decrypt, RFC_AEAD_NONCE, sealed + b"\x00", RFC_AEAD_AAD)
        raises(InvalidTag, a.decrypt, _flip(RFC_AEAD_NONCE, 11), sealed, RFC_AEAD_AAD)
        raises(InvalidTag, ChaCha20Poly1305(KEY_00_1F).decrypt, RFC_AEAD_NONCE, sealed, RFC_AEAD_AAD)
        raises(InvalidTag, a.decrypt, RFC_AEAD_NONCE, RFC_AEAD_TAG[:15], b"")
        # The object stays usable after a forgery.
        eq(a.decrypt(RFC_AEAD_NONCE, sealed, RFC_AEAD_AAD), SUNSCREEN, k)
    _each_kernel(run)


def test_in_place_matches_one_shot():
    def run(k):
        a = ChaCha20Poly1305(KEY_00_1F)
        nonce = bytes(range(12))
        for n in (0, 1, 16, 63, 64, 65, 200):
            msg = bytes((i * 31 + n) & 0xFF for i in range(n))
            aad = bytes(n % 21)
            sealed = a.encrypt(nonce, msg, aad)
            eq(len(sealed), n + 16, k)
            # A record buffer: header in front, slack behind, seen through a memoryview.
            rec = bytearray(5 + n + 16 + 7)
            rec[5:5 + n] = msg
            view = memoryview(rec)[5:]
            a.encrypt_into(nonce, view, n, aad)
            eq(bytes(rec[5:5 + n + 16]), sealed, "%s encrypt_into n=%d" % (k, n))
            eq(bytes(rec[:5]) + bytes(rec[5 + n + 16:]), bytes(12), k)
            eq(a.decrypt_into(nonce, view, n + 16, aad), n, k)
            eq(bytes(rec[5:5 + n]), msg, "%s decrypt_into n=%d" % (k, n))
            eq(a.decrypt(nonce, bytearray(sealed), aad), msg, k)
        eq(a.encrypt(nonce, b"abc", None), a.encrypt(nonce, b"abc", b""), k)
    _each_kernel(run)


def test_bad_arguments():
    a = ChaCha20Poly1305(KEY_00_1F)
    nonce = bytes(12)
    for bad_key in (bytes(31), bytes(33), b""):
        raises(ValueError, ChaCha20Poly1305, bad_key)
        raises(ValueError, ChaCha20, bad_key)
        raises(ValueError, Poly1305, bad_key)
    for bad_nonce in (bytes(8), bytes(11), bytes(13), bytes(16), b""):
        raises(ValueError, a.encrypt, bad_nonce, b"x", b"")
        raises(ValueError, a.decrypt, bad_nonce, bytes(17), b"")
        raises(ValueError, a.encrypt_into, bad_nonce, bytearray(17), 1, b"")
    raises(ValueError, a.encrypt_into, nonce, bytearray(20), 5, b"")  # no room for the tag
    raises(ValueError, a.decrypt_into, nonce, bytearray(20), 21, b"")
    raises(InvalidTag, a.decrypt_into, nonce, bytearray(20), 15, b"")
    c = ChaCha20(KEY_00_1F)
    c.set_nonce(nonce)
    raises(ValueError, c.xor_into, bytearray(10), 4, 7)

    def read_only(k):
        # The viper kernels write through raw pointers, so read-only buffers are refused up front.
        for ro in (bytes(32), memoryview(bytes(32))):
            raises(TypeError, ChaCha20Poly1305(KEY_00_1F).encrypt_into, nonce, ro, 16, b"")
        p = Poly1305(KEY_00_1F)
        raises(TypeError, p.digest_into, bytes(16))
        raises(ValueError, Poly1305(KEY_00_1F).digest_into, bytearray(16), 1)
    _each_kernel(read_only)


def _stream(tag, idx, n):
    out = bytearray(n)
    i = 0
    ctr = 0
    while i < n:
        d = hashlib.sha256(bytes((tag, idx & 0xFF, idx >> 8, ctr & 0xFF, ctr >> 8))).digest()
        m = min(32, n - i)
        out[i:i + m] = d[:m]
        i += m
        ctr += 1
    return out


# Message lengths around every block size that matters (16 for Poly1305, 64 for ChaCha20).
BULK_LENS = (0, 1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 191, 192, 193, 255, 256,
             257, 511, 512, 513, 1000, 1023, 1024, 1025, 2047, 4096)
# SHA-256 over every ct||tag of bulk_outputs(); the host test recomputes it with `cryptography`.
BULK_SHA256 = "15bc4e99a63983ccd13d7c3e135205d18357474616d62fc819017dbc3e59b926"


def bulk_outputs(encrypt):
    """Feed every bulk case through encrypt(key, nonce, msg, aad) and hash the results."""
    h = hashlib.sha256()
    for idx, n in enumerate(BULK_LENS):
        key = _stream(1, idx, 32)
        nonce = _stream(2, idx, 12)
        aad = _stream(3, idx, (idx * 7) % 65)
        h.update(encrypt(bytes(key), bytes(nonce), _stream(4, idx, n), bytes(aad)))
    return h.digest()


def test_bulk_against_reference_digest():
    def run(k):
        def enc(key, nonce, msg, aad):
            a = ChaCha20Poly1305(key)
            out = a.encrypt(nonce, msg, aad)
            eq(a.decrypt(nonce, out, aad), bytes(msg), k)
            return out
        eq(bulk_outputs(enc), unhex(BULK_SHA256), k)
    _each_kernel(run)


def test_no_heap_left_behind():
    if not IS_MICROPYTHON:
        return  # gc.mem_alloc is MicroPython's; the CPython side has no heap budget to keep
    import gc
    chachapoly.use_kernel("viper")
    try:
        a = ChaCha20Poly1305(KEY_00_1F)
        buf = bytearray(1024 + 16)
        nonce = bytes(12)
        a.encrypt_into(nonce, buf, 1024, b"aad")
        a.decrypt_into(nonce, buf, 1040, b"aad")
        gc.collect()
        gc.disable()
        try:
            m0 = gc.mem_alloc()
            a.encrypt_into(nonce, buf, 1024, b"aad")
            a.decrypt_into(nonce, buf, 1040, b"aad")
            grown = gc.mem_alloc() - m0
        finally:
            gc.enable()
        eq(grown, 0, "bytes allocated by a viper encrypt_into + decrypt_into of 1 KB")
        # The board-safe ChaCha20 kernel allocates nothing either (its Poly1305 partner does: big ints).
        chachapoly.use_kernel("python")
        c = ChaCha20(KEY_00_1F)
        c.set_nonce(nonce)
        c.xor_into(buf, 0, 100)
        gc.collect()
        gc.disable()
        try:
            m0 = gc.mem_alloc()
            c.xor_into(buf, 0, 1000)
            grown = gc.mem_alloc() - m0
        finally:
            gc.enable()
        eq(grown, 0, "bytes allocated by the half-word ChaCha20 kernel over 1000 bytes")
    finally:
        chachapoly.use_kernel(None)

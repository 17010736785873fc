"""AES (FIPS-197) and AES-GCM (McGrew-Viega GCM spec, Wycheproof) on every AES backend and GHASH kernel
the runtime has: on the VM cryptolib/python x viper/python, on CPython python/python."""
from mpcheck import check, eq, raises, unhex, IS_MICROPYTHON
from wyche import cases

from tls13.crypto import aes, gcm
from tls13.crypto.aead import InvalidTag


def _combos():
    for b in aes.available():
        for k in gcm.available_kernels():
            yield b, k


def _make(key, backend, kern):
    aes.use_backend(backend)
    gcm.use_kernel(kern)
    try:
        return gcm.AESGCM(key)
    finally:
        aes.use_backend(None)
        gcm.use_kernel(None)


def _pattern(n, seed=1):
    out = bytearray(n)
    x = seed
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x3FFFFFFF
        out[i] = x >> 22
    return out


# ---- AES block cipher --------------------------------------------------------------------------------

FIPS197 = (
    # (key, plaintext, ciphertext): Appendix B, then C.1 / C.2 / C.3
    ("2b7e151628aed2a6abf7158809cf4f3c", "3243f6a8885a308d313198a2e0370734", "3925841d02dc09fbdc118597196a0b32"),
    ("000102030405060708090a0b0c0d0e0f", "00112233445566778899aabbccddeeff", "69c4e0d86a7b0430d8cdb78070b4c55a"),
    ("000102030405060708090a0b0c0d0e0f1011121314151617", "00112233445566778899aabbccddeeff",
     "dda97ca4864cdfe06eaf70a0ec0d7191"),
    ("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "00112233445566778899aabbccddeeff",
     "8ea2b7ca516745bfeafc49904b496089"),
)


def test_aes_fips197_every_backend():
    for b in aes.available():
        aes.use_backend(b)
        try:
            for k, p, c in FIPS197:
                if len(k) == 48 and b == "cryptolib":
                    continue  # AES-192 is pure-Python only (cryptolib ports may lack it; TLS never uses it)
                out = bytearray(16)
                aes.new_ecb(unhex(k)).encrypt(unhex(p), out)
                eq(bytes(out).hex(), c, "%s key %s" % (b, k))
        finally:
            aes.use_backend(None)


def test_aes_multiblock_and_in_place():
    key = unhex(FIPS197[3][0])
    src = _pattern(16 * 5)
    want = b""
    for o in range(0, len(src), 16):
        want += aes.PyECB(key).encrypt(src[o:o + 16])
    for b in aes.available():
        aes.use_backend(b)
        try:
            e = aes.new_ecb(key)
        finally:
            aes.use_backend(None)
        dst = bytearray(len(src))
        e.encrypt(src, dst)
        eq(bytes(dst), want, b)
        buf = bytearray(src)
        e.encrypt(buf, buf)
        eq(bytes(buf), want, b + " in place")
        mv = memoryview(dst)
        e.encrypt(memoryview(src)[16:48], mv[32:64])
        eq(bytes(dst[32:64]), want[16:48], b + " views")


def test_aes_backend_switch():
    check(aes.backend() in aes.available())
    eq(aes.backend(), "cryptolib" if "cryptolib" in aes.available() else "python")
    aes.use_backend("python")
    eq(aes.backend(), "python")
    aes.use_backend(None)
    raises(ValueError, aes.use_backend, "nope")
    if not IS_MICROPYTHON:
        raises(ValueError, aes.use_backend, "cryptolib")
    raises(ValueError, aes.PyECB, bytes(15))
    raises(ValueError, aes.PyECB(bytes(16)).encrypt, bytes(17))


# ---- GCM known answers ---------------------------------------------------------------------------------

_K3 = "feffe9928665731c6d6a8f9467308308"
_P3 = ("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
       "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255")
_A4 = "feedfacedeadbeeffeedfacedeadbeefabaddad2"
_IV3 = "cafebabefacedbaddecaf888"

# McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 1-4 and 13-16:
# (case, key, iv, plaintext, aad, ciphertext, tag)
GCM_SPEC = (
    (1, "00" * 16, "00" * 12, "", "", "", "58e2fccefa7e3061367f1d57a4e7455a"),
    (2, "00" * 16, "00" * 12, "00" * 16, "", "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf"),
    (3, _K3, _IV3, _P3, "",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985", "4d5c2af327cd64a62cf35abd2ba6fab4"),
    (4, _K3, _IV3, _P3[:120], _A4,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091", "5bc94fbc3221a5db94fae95ae7121a47"),
    (13, "00" * 32, "00" * 12, "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"),
    (14, "00" * 32, "00" * 12, "00" * 16, "", "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"),
    (15, _K3 * 2, _IV3, _P3, "",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad", "b094dac5d93471bdec1a502270e3cc6c"),
    (16, _K3 * 2, _IV3, _P3[:120], _A4,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662", "76fc6ece0f4e1768cddf8853bb2d551b"),
)


def _check_case(g, iv, pt, aad, want, label):
    eq(g.encrypt(iv, pt, aad), want, label + " encrypt")
    eq(g.decrypt(iv, want, aad), pt, label + " decrypt")
    buf = bytearray(len(pt) + 16)
    buf[0:len(pt)] = pt
    g.encrypt_into(iv, buf, len(pt), aad)
    eq(bytes(buf), want, label + " encrypt_into")
    eq(g.decrypt_into(iv, buf, len(buf), aad), len(pt), label + " decrypt_into length")
    eq(bytes(buf[0:len(pt)]), pt, label + " decrypt_into")


def test_gcm_spec_vectors_every_combo():
    for b, k in _combos():
        for case, key, iv, p, a, c, t in GCM_SPEC:
            g = _make(unhex(key), b, k)
            _check_case(g, unhex(iv), unhex(p), unhex(a), unhex(c + t), "case %d %s/%s" % (case, b, k))


def test_gcm_wycheproof_every_combo():
    # Groups with a 96-bit IV, 128-bit tag and 128/256-bit key: the TLS 1.3 shape (133 cases).
    # Skipped by design: other IV sizes (AESGCM takes the 12-byte TLS nonce only and raises
    # ValueError otherwise) and 192-bit keys (no TLS suite uses them). Every tag is 128 bits.
    combos = list(_combos())
    ran = 0
    for grp, t in cases("aes_gcm_test"):
        if grp["ivSize"] != 96 or grp["tagSize"] != 128 or grp["keySize"] not in (128, 256):
            continue
        key = unhex(t["key"])
        iv = unhex(t["iv"])
        aad = unhex(t["aad"])
        msg = unhex(t["msg"])
        sealed = unhex(t["ct"] + t["tag"])
        label = "tcId %d" % t["tcId"]
        for b, k in combos:
            g = _make(key, b, k)
            if t["result"] == "valid":
                _check_case(g, iv, msg, aad, sealed, label + " " + b + "/" + k)
            else:
                eq(t["result"], "invalid", label)
                raises(InvalidTag, g.decrypt, iv, sealed, aad)
                buf = bytearray(sealed)
                raises(InvalidTag, g.decrypt_into, iv, buf, len(buf), aad)
                eq(bytes(buf), sealed, label + " buffer untouched")
        ran += 1
    eq(ran, 133, "TLS-shaped Wycheproof cases")


# ---- behaviour -------------------------------------------------------------------------------------

def test_tampering_rejected_and_buffer_untouched():
    key = unhex(_K3)
    iv = unhex(_IV3)
    aad = unhex(_A4)
    pt = _pattern(100)
    for b, k in _combos():
        g = _make(key, b, k)
        sealed = g.encrypt(iv, pt, aad)
        for i in (0, 50, 99, 100, 107, 115):
            for bit in (0x01, 0x80):
                bad = bytearray(sealed)
                bad[i] ^= bit
                raises(InvalidTag, g.decrypt, iv, bad, aad)
                copy = bytearray(bad)
                raises(InvalidTag, g.decrypt_into, iv, copy, len(copy), aad)
                eq(copy, bad, "decrypt_into wrote before the tag check")
        bad_aad = bytearray(aad)
        bad_aad[3] ^= 4
        raises(InvalidTag, g.decrypt, iv, sealed, bad_aad)
        raises(InvalidTag, g.decrypt, iv, sealed, aad + b"\x00")
        raises(InvalidTag, g.decrypt, iv, sealed, b"")
        bad_iv = bytearray(iv)
        bad_iv[11] ^= 1
        raises(InvalidTag, g.decrypt, bad_iv, sealed, aad)
        raises(InvalidTag, g.decrypt, iv, sealed[:-1], aad)
        raises(InvalidTag, g.decrypt, iv, sealed[1:], aad)
        raises(InvalidTag, g.decrypt, iv, sealed[:15], aad)
        raises(InvalidTag, g.decrypt_into, iv, bytearray(15), 15, aad)
        eq(g.decrypt(iv, sealed, aad), pt, "still works after failures")


def test_in_place_views_offsets_and_batch_edges():
    key = bytes(range(32))
    iv = bytes(range(100, 112))
    aad = _pattern(13, 7)
    lens = (0, 1, 15, 16, 17, 511, 512, 513, 1040)
    combos = list(_combos())
    for n in lens:
        pt = _pattern(n, n + 3)
        ref = None
        for b, k in combos:
            g = _make(key, b, k)
            sealed = g.encrypt(iv, pt, aad)
            if ref is None:
                ref = sealed
            eq(sealed, ref, "len %d %s/%s agrees with %s/%s" % ((n, b, k) + combos[0]))
            # An odd offset into a larger buffer: data is not word-aligned for the viper kernel.
            big = bytearray(n + 16 + 9)
            view = memoryview(big)[3:]
            view[0:n] = pt
            g.encrypt_into(iv, view, n, aad)
            eq(bytes(big[3:3 + n + 16]), sealed, "encrypt_into view len %d" % n)
            eq(bytes(big[0:3]) + bytes(big[3 + n + 16:]), bytes(9), "wrote outside [0, n+16)")
            eq(g.decrypt_into(iv, view, n + 16, aad), n, "decrypt_into length")
            eq(bytes(big[3:3 + n]), pt, "decrypt_into view len %d" % n)
            eq(g.decrypt(iv, memoryview(sealed), memoryview(aad)), pt)


def test_argument_errors():
    raises(ValueError, gcm.AESGCM, bytes(24))
    raises(ValueError, gcm.AESGCM, bytes(15))
    g = gcm.AESGCM(bytes(16))
    raises(ValueError, g.encrypt, bytes(8), b"x", b"")
    raises(ValueError, g.encrypt, bytes(16), b"x", b"")
    raises(ValueError, g.encrypt_into, bytes(12), bytearray(20), 5, b"")
    eq(len(g.encrypt(bytes(12), b"", b"")), 16)
    raises(ValueError, gcm.use_kernel, "nope")
    check(gcm.kernel() in gcm.available_kernels())
    if IS_MICROPYTHON:
        eq(gcm.kernel(), "viper")
    else:
        eq(gcm.available_kernels(), ("python",))


def test_allocation_does_not_grow_with_length():
    """MicroPython only (gc.mem_alloc): the heap cost of encrypt_into/decrypt_into is per message."""
    if not IS_MICROPYTHON:
        return
    import gc
    buf = bytearray(16384 + 16)
    aad = bytes(13)
    nonce = bytes(12)
    for b, k in _combos():
        g = _make(bytes(16), b, k)
        used = []
        for n in (1024, 16384):
            g.encrypt_into(nonce, buf, n, aad)
            gc.collect()
            before = gc.mem_alloc()
            g.encrypt_into(nonce, buf, n, aad)
            g.decrypt_into(nonce, buf, n + 16, aad)
            used.append(gc.mem_alloc() - before)
        check(used[1] <= used[0] and used[0] <= 512, "%s/%s heap per message %r" % (b, k, used))

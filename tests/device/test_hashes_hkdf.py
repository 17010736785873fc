from mpcheck import check, eq, raises, unhex, IS_MICROPYTHON
from wyche import cases, shared_dir

from tls13.crypto import hashes, hkdf
from tls13.crypto.hmac import HMAC, HMACKey, hmac

# Vector volume: the largest Wycheproof HKDF cases (8-12 KB outputs) arrive as 16-24 KB JSON lines, which
# need 200-256 KB; everything else passes at 160 KB (at 110 KB this module's own bytecode, compiled from
# source on the VM, plus the 13 KB pure SHA-512 leave too little).
HEAP_KB = 256

NAMES = ("sha256", "sha384", "sha512")
M448 = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
M896 = (b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
        b"ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")

# FIPS 180-4 examples (and the empty message): name -> {message: digest hex}
FIPS = {
    "sha256": [
        (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (M448, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        (M896, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ],
    "sha384": [
        (b"abc", "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163"
                 "1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"),
        (b"", "38b060a751ac96384cd9327eb1b1e36a21fdb71114be0743"
              "4c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"),
        (M448, "3391fdddfc8dc7393707a65b1b4709397cf8b1d162af05ab"
               "fe8f450de5f36bc6b0455a8520bc4e6f5fe95b1fe3c8452b"),
        (M896, "09330c33f71147e83d192fc782cd1b4753111b173b3b05d2"
               "2fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039"),
    ],
    "sha512": [
        (b"abc", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                 "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
        (b"", "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
              "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"),
        (M448, "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"
               "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445"),
        (M896, "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
               "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"),
    ],
}

MILLION_A = {
    "sha256": "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
    "sha384": "9d0e1809716474cb086e834e310a4a1ced149e9c00f24852"
              "7972cec5704c2a5b07b8b3dc38ecc4ebae97ddd87f3d8985",
    "sha512": "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
              "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b",
}


def _backends():
    # The pure SHA-384/512 is what boards run; on CPython it is forced so both paths are checked there.
    return (None,) if IS_MICROPYTHON else (None, "python")


def _each_backend(fn):
    for b in _backends():
        hashes.use_backend(b)
        try:
            fn(b)
        finally:
            hashes.use_backend(None)


def test_sizes_and_names():
    for name, ds, bs in (("sha256", 32, 64), ("sha384", 48, 128), ("sha512", 64, 128)):
        eq(hashes.digest_size(name), ds, name)
        eq(hashes.block_size(name), bs, name)
        eq(len(hashes.digest(name)), ds, name)
    raises(ValueError, hashes.new, "md5")
    raises(ValueError, hashes.digest_size, "sha3_384")
    raises(ValueError, hashes.use_backend, "mbedtls")
    eq(hashes.backend("sha256"), "hashlib")
    if IS_MICROPYTHON:
        # No sha384 in MicroPython's hashlib: the pure fallback must be the one in use.
        eq(hashes.backend("sha384"), "python")
        raises(ValueError, hashes.use_backend, "hashlib")
        # Native hashes finalise on digest(): Transcript must take its parallel-objects path here.
        check(not hashes.snapshots("sha256"))
        check(hashes.snapshots("sha384"))


def test_fips_vectors():
    def run(b):
        for name in NAMES:
            for msg, want in FIPS[name]:
                eq(hashes.new(name, msg).digest(), unhex(want), "%s %r %s" % (name, msg[:8], b))
                h = hashes.new(name)
                for i in range(len(msg)):
                    h.update(msg[i:i + 1])
                eq(h.digest(), unhex(want), "%s bytewise %s" % (name, b))
            eq(getattr(hashes, name)(b"abc").digest(), unhex(FIPS[name][0][1]), name)
    _each_backend(run)


def test_million_a():
    chunk = b"a" * 1000
    for name in NAMES:
        # The pure SHA-512 takes ~14 s for 7813 blocks on the VM: the hashlib path only.
        if hashes.backend(name) != "hashlib":
            continue
        h = hashes.new(name)
        for _ in range(1000):
            h.update(chunk)
        eq(h.digest(), unhex(MILLION_A[name]), name)


def test_block_boundaries_and_splits():
    # Lengths around the padding boundaries of both block sizes, hashed whole and in two or three parts.
    lengths = (55, 56, 57, 63, 64, 65, 111, 112, 113, 127, 128, 129, 191, 192, 255, 256, 257)
    data = bytes((i * 7 + 3) & 0xFF for i in range(257))

    def run(b):
        for name in NAMES:
            for n in lengths:
                msg = data[:n]
                want = hashes.new(name, msg).digest()
                for cut in (1, n // 3, n // 2, n - 1):
                    h = hashes.new(name, msg[:cut])
                    h.update(memoryview(msg)[cut:n - 1])
                    h.update(bytearray(msg[n - 1:]))
                    eq(h.digest(), want, "%s len %d cut %d %s" % (name, n, cut, b))
    _each_backend(run)


def test_pure_digest_is_a_snapshot_and_copies_are_independent():
    def run(b):
        for name in ("sha384", "sha512"):
            if hashes.backend(name) != "python":
                continue
            check(hashes.snapshots(name))
            h = hashes.new(name, b"x" * 70)
            eq(h.digest(), hashes.digest(name, b"x" * 70), name)
            h.update(b"y" * 5)
            c = h.copy()
            # Alternate small updates: a shallow copy of adafruit's state shares the block buffer.
            h.update(b"1" * 10)
            c.update(b"2" * 10)
            h.update(b"3" * 100)
            c.update(b"4" * 100)
            eq(h.digest(), hashes.digest(name, b"x" * 70 + b"y" * 5 + b"1" * 10 + b"3" * 100), name)
            eq(c.digest(), hashes.digest(name, b"x" * 70 + b"y" * 5 + b"2" * 10 + b"4" * 100), name)
    _each_backend(run)


def test_transcript_matches_one_shot_at_each_point():
    msgs = (b"\x01" * 3, b"\x02" * 100, b"", b"\x03" * 129, bytes(range(256)) * 4, b"\x04" * 7)
    stops = (1, 2, 4, 6)  # digest after this many messages

    def run(b):
        for name in NAMES:
            t = hashes.Transcript(name, len(stops))
            seen = bytearray()
            for i, m in enumerate(msgs):
                t.update(m)
                seen.extend(m)
                if i + 1 in stops:
                    eq(t.digest(), hashes.digest(name, bytes(seen)), "%s after %d %s" % (name, i + 1, b))
            eq(t.points_left, 0)
            raises(hashes.TranscriptExhausted, t.digest)
            # Two digests with nothing between them are the same value.
            t = hashes.Transcript(name, 2)
            t.update(b"hello")
            eq(t.digest(), t.digest())
    _each_backend(run)
    raises(ValueError, hashes.Transcript, "sha256", 0)
    raises(ValueError, hashes.Transcript, "sha1", 2)


def _rfc8448_messages(names):
    """First occurrence of each `<name> (<n> octets):` block in RFC 8448, as bytes (page breaks skipped)."""
    out = {}
    cur = None
    need = 0
    buf = None
    with open(shared_dir() + "/specs/rfc8448.txt") as f:
        for line in f:
            if cur is None:
                s = line.strip()
                p = s.find(" (")
                if p > 0 and s[:p] in names and s[:p] not in out and " octets):" in s:
                    cur = s[:p]
                    need = int(s[p + 2:s.index(" octets")])
                    buf = bytearray()
                    line = s[s.index("):") + 2:]
                else:
                    continue
            toks = line.split()
            if toks and all(len(x) == 2 and x.lower() == x for x in toks):
                try:
                    buf.extend(bytes.fromhex("".join(toks)))
                except ValueError:
                    pass
            if len(buf) >= need:
                out[cur] = bytes(buf)
                cur = None
                if len(out) == len(names):
                    break
    return out


def test_transcript_rfc8448_simple_handshake():
    names = ("ClientHello", "ServerHello", "EncryptedExtensions", "Certificate", "CertificateVerify",
             "Finished")
    m = _rfc8448_messages(names)
    eq(len(m["ClientHello"]), 196)
    eq(len(m["Certificate"]), 445)
    eq(len(m["Finished"]), 36)
    t = hashes.Transcript("sha256", 3)
    t.update(m["ClientHello"])
    t.update(memoryview(m["ServerHello"]))
    eq(t.digest(), unhex("860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8"))
    for k in ("EncryptedExtensions", "Certificate", "CertificateVerify"):
        t.update(m[k])
    s_hs = unhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
    fk = hkdf.expand_label("sha256", s_hs, b"finished", b"", 32)
    eq(fk, unhex("008d3b66f816ea559f96b537e885c31fc068bf492c652f01f288a1d8cdc19fc8"))
    eq(hmac("sha256", fk, t.digest()), m["Finished"][4:])
    t.update(m["Finished"])
    eq(t.digest(), unhex("9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13"))


def test_rfc8448_key_schedule():
    H = "sha256"
    zeros = bytes(32)
    empty = hashes.digest(H)
    early = hkdf.extract(H, b"", zeros)
    eq(early, unhex("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"), "early")
    derived = hkdf.derive_secret(H, early, b"derived", empty)
    eq(derived, unhex("6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba"), "derived")
    ecdhe = unhex("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d")
    hs = hkdf.extract(H, derived, ecdhe)
    eq(hs, unhex("1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac"), "handshake")
    th = unhex("860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8")
    c_hs = hkdf.derive_secret(H, hs, b"c hs traffic", th)
    eq(c_hs, unhex("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21"), "c hs")
    s_hs = hkdf.derive_secret(H, hs, "s hs traffic", th)  # str labels are accepted too
    eq(s_hs, unhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38"), "s hs")
    eq(hkdf.expand_label(H, s_hs, b"key", b"", 16), unhex("3fce516009c21727d0f2e4e86ee403bc"))
    eq(hkdf.expand_label(H, s_hs, b"iv", b"", 12), unhex("5d313eb2671276ee13000b30"))
    eq(hkdf.expand_label(H, c_hs, b"key", b"", 16), unhex("dbfaa693d1762c5b666af5d950258d01"))
    eq(hkdf.expand_label(H, c_hs, b"iv", b"", 12), unhex("5bd3c71b836e0b76bb73265f"))
    d2 = hkdf.derive_secret(H, hs, b"derived", empty)
    eq(d2, unhex("43de77e0c77713859a944db9db2590b53190a65b3ee2e4f12dd7a0bb7ce254b4"), "derived 2")
    master = hkdf.extract(H, d2, zeros)
    eq(master, unhex("18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919"), "master")
    th2 = unhex("9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13")
    eq(hkdf.derive_secret(H, master, b"c ap traffic", th2),
       unhex("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5"), "c ap")
    s_ap = hkdf.derive_secret(H, master, b"s ap traffic", th2)
    eq(s_ap, unhex("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643"), "s ap")
    eq(hkdf.derive_secret(H, master, b"exp master", th2),
       unhex("fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50"), "exp")
    eq(hkdf.expand_label(H, s_ap, b"key", b"", 16), unhex("9f02283b6c9c07efc26bb9f2ac92e356"))
    eq(hkdf.expand_label(H, s_ap, b"iv", b"", 12), unhex("cf782b88dd83549aadf1e984"))


def test_expand_label_limits():
    raises(ValueError, hkdf.expand_label, "sha256", bytes(32), b"x" * 250, b"", 32)
    raises(ValueError, hkdf.expand_label, "sha256", bytes(32), b"key", bytes(256), 32)
    eq(len(hkdf.expand_label("sha256", bytes(32), b"x" * 249, bytes(255), 32)), 32)


RFC4231 = (
    (b"\x0b" * 20, b"Hi There", (
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
        "faea9ea9076ede7f4af152e8b2fa9cb6",
        "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
        "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854")),
    (b"Jefe", b"what do ya want for nothing?", (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
        "8e2240ca5e69e2c78b3239ecfab21649",
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
        "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737")),
    (b"\xaa" * 20, b"\xdd" * 50, (
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b"
        "2a5ab39dc13814b94e3ab6e101a34f27",
        "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
        "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb")),
    (bytes(range(1, 26)), b"\xcd" * 50, (
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e"
        "6801dd23c4a7d679ccf8a386c674cffb",
        "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
        "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd")),
    # Test case 5: the RFC lists the first 128 bits only.
    (b"\x0c" * 20, b"Test With Truncation", (
        "a3b6167473100ee06e0c796c2955552b",
        "3abf34c3503b2a23a46efc619baef897",
        "415fad6271580a531d4179bc891d87a6")),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First", (
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
        "0c2ef6ab4030fe8296248df163f44952",
        "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
        "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598")),
    (b"\xaa" * 131, b"This is a test using a larger than block-size key and a larger than block-size data."
                    b" The key needs to be hashed before being used by the HMAC algorithm.", (
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5"
        "a678cc31e799176d3860e6110c46523e",
        "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944"
        "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58")),
)


def test_hmac_rfc4231():
    def run(b):
        for n, (key, msg, tags) in enumerate(RFC4231):
            for name, want in zip(NAMES, tags):
                want = unhex(want)
                eq(hmac(name, key, msg)[:len(want)], want, "case %d %s %s" % (n + 1, name, b))
                # Incremental, fed in uneven pieces, and a prepared key reused.
                h = HMAC(name, key)
                for i in range(0, len(msg), 7):
                    h.update(msg[i:i + 7])
                eq(h.digest()[:len(want)], want, "case %d %s incremental" % (n + 1, name))
                k = HMACKey(name, key)
                eq(k.mac(msg[:5], msg[5:])[:len(want)], want)
                eq(k.new(msg).digest()[:len(want)], want)
    _each_backend(run)


def test_hmac_object_is_single_use():
    h = HMAC("sha256", b"k", b"m")
    h.digest()
    raises(ValueError, h.digest)
    raises(ValueError, h.update, b"x")
    raises(TypeError, HMAC, "sha256")


RFC5869 = (
    ("0b" * 22, "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9", 42,
     "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
     "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),
    ("".join("%02x" % i for i in range(0x00, 0x50)),
     "".join("%02x" % i for i in range(0x60, 0xB0)),
     "".join("%02x" % i for i in range(0xB0, 0x100)), 82,
     "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
     "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09"
     "da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"),
    ("0b" * 22, "", "", 42,
     "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
     "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"),
)


def test_hkdf_rfc5869():
    for n, (ikm, salt, info, L, prk, okm) in enumerate(RFC5869):
        got = hkdf.extract("sha256", unhex(salt), unhex(ikm))
        eq(got, unhex(prk), "A.%d PRK" % (n + 1))
        eq(hkdf.expand("sha256", got, unhex(info), L), unhex(okm), "A.%d OKM" % (n + 1))
    eq(hkdf.extract("sha256", None, unhex("0b" * 22)), unhex(RFC5869[2][4]), "None salt")


def test_hkdf_expand_limits():
    def run(b):
        for name in NAMES:
            hl = hashes.digest_size(name)
            prk = bytes(range(hl))
            eq(hkdf.expand(name, prk, b"", 0), b"")
            raises(ValueError, hkdf.expand, name, prk, b"", 255 * hl + 1)
            raises(ValueError, hkdf.expand, name, prk, b"", -1)
            full = hkdf.expand(name, prk, b"ctx", 255 * hl) if name == "sha256" else None
            if full is not None:
                eq(len(full), 255 * hl)
                eq(full[:100], hkdf.expand(name, prk, b"ctx", 100), "prefix property")
            # Every output length is a prefix of the longer one.
            longer = hkdf.expand(name, prk, b"i", 3 * hl + 5)
            for n in (1, hl - 1, hl, hl + 1, 2 * hl, 3 * hl + 5):
                eq(hkdf.expand(name, prk, b"i", n), longer[:n], "%s %d" % (name, n))
    _each_backend(run)


def _wyche_hmac(name):
    count = 0
    for g, t in cases(name):
        want = unhex(t["tag"])
        tag = hmac("sha256" if "sha256" in name else "sha384", unhex(t["key"]), unhex(t["msg"]))
        tag = tag[:g["tagSize"] // 8]
        if t["result"] == "valid":
            eq(tag, want, "%s tcId %d" % (name, t["tcId"]))
        else:
            check(tag != want, "%s tcId %d accepted a bad tag" % (name, t["tcId"]))
        count += 1
    return count


def _wyche_hkdf(name):
    hname = "sha256" if "sha256" in name else "sha384"
    count = 0
    for g, t in cases(name):
        ikm, salt, info = unhex(t["ikm"]), unhex(t["salt"]), unhex(t["info"])
        if t["result"] == "valid":
            okm = hkdf.expand(hname, hkdf.extract(hname, salt, ikm), info, t["size"])
            want = t["okm"]
            eq(len(okm) * 2, len(want), "%s tcId %d length" % (name, t["tcId"]))
            # Compared in slices: the largest outputs are 12 KB, and the VM heap is small.
            for i in range(0, len(okm), 512):
                eq(okm[i:i + 512], unhex(want[2 * i:2 * i + 1024]), "%s tcId %d at %d" % (name, t["tcId"], i))
        else:
            raises(ValueError, hkdf.expand, hname, hkdf.extract(hname, salt, ikm), info, t["size"])
        count += 1
    return count


def test_wycheproof_hmac_sha256():
    eq(_wyche_hmac("hmac_sha256_test"), 174)


def test_wycheproof_hmac_sha384():
    eq(_wyche_hmac("hmac_sha384_test"), 174)


def test_wycheproof_hkdf_sha256():
    eq(_wyche_hkdf("hkdf_sha256_test"), 86)


def test_wycheproof_hkdf_sha384():
    # On the VM this runs through the pure SHA-512 (about 3400 compressions, ~6 s here).
    eq(_wyche_hkdf("hkdf_sha384_test"), 83)

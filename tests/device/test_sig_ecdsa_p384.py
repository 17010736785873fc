"""ECDSA P-384 verification against Wycheproof (ecdsa_secp384r1_sha384, ecdsa_secp384r1_sha256).

Every test runs on CPython. On the VM each file runs the first 4 tests of every group plus every 3rd
test (valid and invalid cases of every kind, a bit over a third of each file), which keeps the module
near 20 s.
"""
from mpcheck import check, eq, unhex, IS_MICROPYTHON
from wyche import cases

from tls13.crypto import ecdsa

# Pico W budget: P-384 vector lines reach 9.6 KB, and reading and parsing one next to the 14 KB pure
# SHA-384 module (the VM's hashlib has no SHA-384) needs more contiguous heap than 110 KB leaves.
HEAP_KB = 160

_HASH = {"SHA-256": "sha256", "SHA-384": "sha384"}


def _digest(name, msg):
    if IS_MICROPYTHON:
        from tls13.crypto import hashes
        return hashes.new(name, msg).digest()
    import hashlib
    return hashlib.new(name, msg).digest()


def _run(name, first, stride):
    nv = ni = 0
    key = None
    idx = seen = 0
    gc = None
    if IS_MICROPYTHON:
        import gc
    for g, t in cases(name):
        pk = g["publicKey"]
        k = pk["uncompressed"] + g["sha"]
        if k != key:
            key = k
            idx = 0
        idx += 1
        seen += 1
        if IS_MICROPYTHON and idx > first and seen % stride:
            continue
        if gc:
            gc.collect()
        pub = b"\x04" + int(pk["wx"], 16).to_bytes(48, "big") + int(pk["wy"], 16).to_bytes(48, "big")
        got = ecdsa.verify("P-384", pub, _digest(_HASH[g["sha"]], unhex(t["msg"])), unhex(t["sig"]))
        want = t["result"] == "valid"
        eq(got, want, "%s tcId %d (%s)" % (name, t["tcId"], t["comment"]))
        if want:
            nv += 1
        else:
            ni += 1
    return nv, ni


def test_wycheproof_p384_sha384():
    nv, ni = _run("ecdsa_secp384r1_sha384_test", 4, 3)
    check(nv > 60 and ni > 100, "coverage %d/%d" % (nv, ni))


def test_wycheproof_p384_sha256():
    nv, ni = _run("ecdsa_secp384r1_sha256_test", 4, 3)
    check(nv > 60 and ni > 100, "coverage %d/%d" % (nv, ni))

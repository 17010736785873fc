"""P-256 ECDHE (the HelloRetryRequest group): RFC 5903 section 8.1 and invalid peer points."""
from mpcheck import eq, raises, unhex

from tls13.crypto import ecdh_p256, ecdsa

I = unhex("C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433")
GI = unhex("04" "DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180"
           "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3")
R = unhex("C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53")
GR = unhex("04" "D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63"
           "56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB")
GIR = unhex("D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE")


def test_rfc5903_vector():
    eq(ecdsa.public_key_p256(I), GI, "g^i")
    eq(ecdsa.public_key_p256(R), GR, "g^r")
    eq(ecdh_p256.shared_secret(I, GR), GIR, "initiator")
    eq(ecdh_p256.shared_secret(R, GI), GIR, "responder")


def test_generated_pairs_agree():
    import os
    a, pa = ecdh_p256.generate_keypair(os.urandom)
    b, pb = ecdh_p256.generate_keypair(os.urandom)
    eq(ecdh_p256.shared_secret(a, pb), ecdh_p256.shared_secret(b, pa))


def test_invalid_points_rejected():
    bad = bytearray(GR)
    bad[-1] ^= 1  # off the curve
    raises(ValueError, ecdh_p256.shared_secret, I, bytes(bad))
    raises(ValueError, ecdh_p256.shared_secret, I, GR[1:])          # not uncompressed
    raises(ValueError, ecdh_p256.shared_secret, I, b"\x04" + bytes(64))  # (0, 0) is not on the curve

"""RSA signature verification (RFC 8017): RSASSA-PKCS1-v1_5 and RSASSA-PSS with MGF1.

PKCS#1 v1.5 is checked by building the one encoding a correct signer produces and comparing whole
blocks, so variants a lenient parser might take (DigestInfo without the NULL parameters, garbage in
the padding, trailing bytes) all fail. The public operation is MicroPython's native `pow`, about
1 ms for RSA-2048 with e = 65537 on the host VM.
"""
from tls13.crypto import hashes

# DER of DigestInfo up to the digest (AlgorithmIdentifier with NULL parameters, OCTET STRING header).
_DIGEST_INFO = {
    "sha256": b"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20",
    "sha384": b"\x30\x41\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x02\x05\x00\x04\x30",
    "sha512": b"\x30\x51\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x03\x05\x00\x04\x40",
}

_MIN_BITS = 512   # below this no supported hash fits an encoding; policy (>= 2048) belongs to X.509


def _bitlen(n):
    # MicroPython ints have no bit_length(), and "%x" of a 2048-bit int takes 250 us there.
    size = 64
    while n >> (8 * size):
        size <<= 1
    b = n.to_bytes(size, "big")
    i = 0
    while i < size and not b[i]:
        i += 1
    if i == size:
        return 0
    top = b[i]
    bits = 8 * (size - i - 1)
    while top:
        bits += 1
        top >>= 1
    return bits


def _check_key(n, e):
    """Modulus bit length of a usable public key (n, e); ValueError otherwise."""
    if n <= 0 or not n & 1:
        raise ValueError("RSA modulus must be odd and positive")
    bits = _bitlen(n)
    if bits < _MIN_BITS:
        raise ValueError("RSA modulus too short")
    if e < 3 or not e & 1 or e >= n:
        raise ValueError("bad RSA public exponent")
    return bits


def _check_digest(hash_name, digest):
    if hash_name not in _DIGEST_INFO:
        raise ValueError("unsupported hash for RSA: %r" % (hash_name,))
    h_len = hashes.digest_size(hash_name)
    if len(digest) != h_len:
        raise ValueError("digest length does not match %s" % hash_name)
    return h_len


def _public_op(n, e, sig, k):
    """sig^e mod n as an int, or None when sig is not a k-byte representative below n."""
    if len(sig) != k:
        return None
    s = int.from_bytes(bytes(sig), "big")
    if s >= n:
        return None
    return pow(s, e, n)


def verify_pkcs1v15(n, e, hash_name, digest, sig):
    """RSASSA-PKCS1-v1_5 verification of sig over an already-hashed message."""
    bits = _check_key(n, e)
    h_len = _check_digest(hash_name, digest)
    k = (bits + 7) >> 3
    prefix = _DIGEST_INFO[hash_name]
    t_len = len(prefix) + h_len
    if k < t_len + 11:
        raise ValueError("RSA modulus too short for %s" % hash_name)
    m = _public_op(n, e, sig, k)
    if m is None:
        return False
    want = bytearray(k)
    ps_end = k - t_len - 1
    want[1] = 0x01
    want[2:ps_end] = b"\xff" * (ps_end - 2)
    want[ps_end + 1:k - h_len] = prefix
    want[k - h_len:] = digest
    return m.to_bytes(k, "big") == want


def _mgf1_xor(hash_name, seed, buf, n):
    """buf[0:n] ^= MGF1(seed, n)."""
    h_len = hashes.digest_size(hash_name)
    ctr = bytearray(4)
    pos = 0
    c = 0
    while pos < n:
        ctr[0] = c >> 24
        ctr[1] = (c >> 16) & 0xFF
        ctr[2] = (c >> 8) & 0xFF
        ctr[3] = c & 0xFF
        h = hashes.new(hash_name, seed)
        h.update(ctr)
        block = h.digest()
        take = n - pos if n - pos < h_len else h_len
        for i in range(take):
            buf[pos + i] ^= block[i]
        pos += take
        c += 1


def verify_pss(n, e, hash_name, digest, sig, salt_len=None):
    """RSASSA-PSS verification (EMSA-PSS-VERIFY, MGF1 with the same hash); salt_len defaults to the
    hash length, as TLS 1.3's rsa_pss_rsae_* schemes require."""
    bits = _check_key(n, e)
    h_len = _check_digest(hash_name, digest)
    if salt_len is None:
        salt_len = h_len
    elif salt_len < 0:
        raise ValueError("negative PSS salt length")
    k = (bits + 7) >> 3
    m = _public_op(n, e, sig, k)
    if m is None:
        return False
    em_bits = bits - 1
    em_len = (em_bits + 7) >> 3
    if m >> em_bits:
        return False       # the bits above emBits must be zero
    if em_len < h_len + salt_len + 2:
        return False
    em = m.to_bytes(em_len, "big")
    if em[em_len - 1] != 0xBC:
        return False
    db_len = em_len - h_len - 1
    db = bytearray(em[:db_len])
    H = em[db_len:em_len - 1]
    _mgf1_xor(hash_name, H, db, db_len)
    db[0] &= 0xFF >> (8 * em_len - em_bits)
    ps_len = db_len - salt_len - 1
    for i in range(ps_len):
        if db[i]:
            return False
    if db[ps_len] != 0x01:
        return False
    h = hashes.new(hash_name, bytes(8))
    h.update(digest)
    if salt_len:
        h.update(db[db_len - salt_len:])
    return h.digest() == H

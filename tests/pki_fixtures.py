"""Test PKI for the X.509 device tests, made on the host with `cryptography`.

`generate()` writes one DER file per certificate into build/x509-fixtures/ (names below are what the
device tests open) plus roots.pem. The device-side modules cannot import `cryptography` on the VM, so
they only read these files. Validity dates are fixed, so tests use a fixed clock (NOW); keys are fresh
on each generation, which happens only when this file or host_tools/roots.py changes (a stamp holds
their hash) and under a file lock, so parallel pytest workers and the VM runner share one set.
"""
import datetime
import hashlib
import ipaddress
import os
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "build", "x509-fixtures")

NOW = 1748736000                      # 2025-06-01T00:00:00Z, the clock the tests use
T_START = datetime.datetime(2024, 1, 1)
T_END = datetime.datetime(2030, 1, 1)
LEAF_SAN = ("example.com", "www.example.com", "*.api.example.com", "192.0.2.1", "2001:db8::1")


def _stamp():
    h = hashlib.sha256()
    # roots.py renders fixture_anchors.py, so its changes count too.
    for path in (os.path.abspath(__file__), os.path.join(ROOT, "host_tools", "roots.py")):
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def generate(out=OUT):
    """Make the fixtures unless the current ones were made by this version of the file."""
    import fcntl
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp_path = os.path.join(out, "STAMP")
        want = _stamp()
        if os.path.exists(stamp_path):
            with open(stamp_path) as f:
                if f.read() == want:
                    return out
        tmp = out + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        _Builder(tmp).build_all()
        with open(os.path.join(tmp, "STAMP"), "w") as f:
            f.write(want)
        shutil.rmtree(out, ignore_errors=True)
        os.rename(tmp, out)
    return out


class _Builder:
    def __init__(self, out):
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
        self.out = out
        self.keys = {}
        self.certs = {}
        self._ec, self._ed, self._rsa = ec, ed25519, rsa

    # -- keys and names ----------------------------------------------------------------------------

    def key(self, name, kind):
        if name not in self.keys:
            if kind == "p256":
                k = self._ec.generate_private_key(self._ec.SECP256R1())
            elif kind == "p384":
                k = self._ec.generate_private_key(self._ec.SECP384R1())
            elif kind == "p521":
                k = self._ec.generate_private_key(self._ec.SECP521R1())
            elif kind == "ed25519":
                k = self._ed.Ed25519PrivateKey.generate()
            else:
                k = self._rsa.generate_private_key(65537, int(kind[3:]))
            self.keys[name] = k
        return self.keys[name]

    @staticmethod
    def name(cn, org="mptls test"):
        from cryptography import x509
        from cryptography.x509.oid import NameOID
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    # -- certificates ------------------------------------------------------------------------------

    def cert(self, fname, subject, key, issuer=None, ca=False, pathlen=None, san=None, ku="auto",
             eku=("server",), start=T_START, end=T_END, hash_alg="sha256", pss=False, extra=(),
             nc=None, bc=True, ski=True, aki=True):
        """Issue a certificate and write <fname>.der. `issuer` is (subject Name, private key) or None
        for self-signed; `key` is the subject's private key."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        from cryptography.x509.oid import ExtendedKeyUsageOID
        iname, ikey = issuer if issuer else (subject, key)
        pub = key.public_key()
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(iname).public_key(pub)
             .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end))
        if bc:
            b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=pathlen), critical=True)
        if ku == "auto":
            ku = ("cert_sign", "crl_sign") if ca else ("digital_signature",)
        if ku:
            flags = dict(digital_signature=False, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                         crl_sign=False, encipher_only=False, decipher_only=False)
            for u in ku:
                flags["key_" + u if u == "cert_sign" else u] = True
            b = b.add_extension(x509.KeyUsage(**flags), critical=True)
        if eku and not ca or (ca and eku != ("server",)):
            oids = {"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH,
                    "any": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}
            if eku:
                b = b.add_extension(x509.ExtendedKeyUsage([oids[e] for e in eku]), critical=False)
        if san:
            gns = []
            for s in san:
                if s.startswith("email:"):
                    gns.append(x509.RFC822Name(s[6:]))
                    continue
                try:
                    gns.append(x509.IPAddress(ipaddress.ip_address(s)))
                except ValueError:
                    gns.append(x509.DNSName(s))
            b = b.add_extension(x509.SubjectAlternativeName(gns), critical=False)
        if nc is not None:
            b = b.add_extension(x509.NameConstraints(permitted_subtrees=nc[0] or None,
                                                     excluded_subtrees=nc[1] or None), critical=True)
        if ski:
            b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        if aki:
            b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ikey.public_key()),
                                critical=False)
        for ext, crit in extra:
            b = b.add_extension(ext, critical=crit)
        h = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512(), None: None}
        kw = {}
        if pss:
            kw["rsa_padding"] = padding.PSS(mgf=padding.MGF1(h[hash_alg]),
                                            salt_length=padding.PSS.DIGEST_LENGTH)
        if isinstance(ikey, self._ed.Ed25519PrivateKey):
            hash_alg = None
        c = b.sign(ikey, h[hash_alg], **kw)
        self.write(fname, c.public_bytes(_der()))
        self.certs[fname] = c
        return (subject, key)

    def write(self, fname, data):
        with open(os.path.join(self.out, fname + ".der"), "wb") as f:
            f.write(data)

    def build_all(self):
        from cryptography import x509
        from cryptography.x509.oid import NameOID, ObjectIdentifier
        k, n, c = self.key, self.name, self.cert
        # A: RSA root -> ECDSA P-256 intermediate -> ECDSA P-256 leaf (the common real-world shape).
        a_root = c("a_root", n("A Root RSA"), k("a_root", "rsa2048"), ca=True)
        a_int = c("a_int", n("A Int EC"), k("a_int", "p256"), a_root, ca=True, pathlen=0)
        c("a_leaf", n("example.com", "A leaf"), k("a_leaf", "p256"), a_int, san=LEAF_SAN)
        leaf_key = k("a_leaf", "p256")

        def leaf(fname, issuer=a_int, key=leaf_key, **kw):
            kw.setdefault("san", LEAF_SAN)
            return c(fname, n(fname), key, issuer, **kw)

        leaf("a_leaf_expired", start=datetime.datetime(2020, 1, 1), end=datetime.datetime(2021, 1, 1))
        leaf("a_leaf_future", start=datetime.datetime(2026, 1, 1), end=datetime.datetime(2027, 1, 1))
        leaf("a_leaf_ku_bad", ku=("key_encipherment",))
        leaf("a_leaf_ku_none", ku=())
        leaf("a_leaf_eku_client", eku=("client",))
        leaf("a_leaf_eku_any", eku=("any",))
        leaf("a_leaf_eku_none", eku=())
        leaf("a_leaf_nosan", san=())
        leaf("a_leaf_ca", ca=True, ku=("digital_signature", "cert_sign"))
        leaf("a_leaf_crit", extra=[(x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.55555.1"),
                                                               b"\x05\x00"), True)])
        leaf("a_leaf_noncrit", extra=[(x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.55555.1"),
                                                                  b"\x05\x00"), False)])
        leaf("a_leaf_policy_crit", extra=[(x509.CertificatePolicies([x509.PolicyInformation(
            ObjectIdentifier("2.23.140.1.2.1"), None)]), True)])
        leaf("a_leaf_weak", key=k("weak1024", "rsa1024"))
        leaf("a_leaf_p521", key=k("p521", "p521"))
        leaf("a_leaf_rsa_by_root", issuer=a_root, key=k("leaf_rsa", "rsa2048"))
        leaf("a_leaf_noaki", aki=False, ski=False)
        # Same subject and key as a_int, but expired / a second, renewed copy.
        c("a_int_expired", n("A Int EC"), k("a_int", "p256"), a_root, ca=True, pathlen=0,
          start=datetime.datetime(2019, 1, 1), end=datetime.datetime(2020, 1, 1))
        # Issuers that must not issue.
        for fname, kw in (("notca", dict(ca=False, ku=("cert_sign",))), ("nobc", dict(bc=False)),
                          ("ku", dict(ca=True, ku=("digital_signature",))),
                          ("eku", dict(ca=True, eku=("client",))),
                          ("ekuany", dict(ca=True, eku=("any",))),
                          ("ekusrv", dict(ca=True, eku=("server", "client")))):
            iss = c("b_int_" + fname, n("B Int " + fname), k("b_int", "p256"), a_root, **kw)
            leaf("b_leaf_" + fname, issuer=iss)
        # pathLenConstraint: a_int has 0, so a CA below it is too deep; c_int1 has 1.
        sub = c("a_sub", n("A Sub"), k("a_sub", "p256"), a_int, ca=True)
        leaf("a_sub_leaf", issuer=sub)
        c_int1 = c("c_int1", n("C Int pl1"), k("c_int", "p256"), a_root, ca=True, pathlen=1)
        c_sub = c("c_sub", n("C Sub"), k("c_sub", "p256"), c_int1, ca=True)
        leaf("c_sub_leaf", issuer=c_sub)
        c_sub2 = c("c_sub2", n("C Sub2"), k("c_sub2", "p256"), c_sub, ca=True)
        leaf("c_sub2_leaf", issuer=c_sub2)
        # A self-issued intermediate (same subject as its issuer, new key) does not count for pathLen.
        c_self = c("c_selfissued", n("C Sub"), k("c_sub_new", "p256"), c_sub, ca=True)
        leaf("c_self_leaf", issuer=c_self)
        # Root with pathLen 0 (as an anchor's flags).
        r0 = c("r0_root", n("R0 Root"), k("r0_root", "p256"), ca=True, pathlen=0)
        r0_int = c("r0_int", n("R0 Int"), k("r0_int", "p256"), r0, ca=True)
        leaf("r0_leaf_direct", issuer=r0)
        leaf("r0_leaf", issuer=r0_int)
        # P: RSA-PSS and PKCS#1 v1.5 with SHA-384/512.
        p_int = c("p_int", n("P Int RSA"), k("p_int", "rsa2048"), a_root, ca=True, pss=True)
        rk = k("leaf_rsa", "rsa2048")
        leaf("p_leaf_sha384", issuer=p_int, key=rk, hash_alg="sha384")
        leaf("p_leaf_sha512", issuer=p_int, key=rk, hash_alg="sha512")
        leaf("p_leaf_pss384", issuer=p_int, key=rk, hash_alg="sha384", pss=True)
        leaf("p_leaf_pss512", issuer=p_int, key=rk, hash_alg="sha512", pss=True)
        # E: P-384 root; leaves signed with SHA-384 and SHA-256 (P-384 with SHA-256).
        e_root = c("e_root", n("E Root P384"), k("e_root", "p384"), ca=True, hash_alg="sha384")
        leaf("e_leaf384", issuer=e_root, key=k("e_leaf", "p384"), hash_alg="sha384")
        leaf("e_leaf256", issuer=e_root, key=k("e_leaf", "p384"), hash_alg="sha256")
        # D: Ed25519.
        d_root = c("d_root", n("D Root Ed25519"), k("d_root", "ed25519"), ca=True)
        leaf("d_leaf", issuer=d_root, key=k("d_leaf", "ed25519"))
        # X: cross-signing. X New (P-256) is a root and also cross-signed by X Old (RSA).
        x_old = c("x_old_root", n("X Root Old"), k("x_old", "rsa2048"), ca=True)
        x_new = c("x_new_root", n("X Root New"), k("x_new", "p256"), ca=True)
        c("x_cross", n("X Root New"), k("x_new", "p256"), x_old, ca=True)
        c("x_cross_expired", n("X Root New"), k("x_new", "p256"), x_old, ca=True,
          start=datetime.datetime(2018, 1, 1), end=datetime.datetime(2019, 1, 1))
        x_int = c("x_int", n("X Int"), k("x_int", "p256"), x_new, ca=True)
        leaf("x_leaf", issuer=x_int)
        # L: a long chain, root -> 9 intermediates -> leaf (one RSA key for all, for speed).
        lk = k("l_key", "rsa2048")
        iss = c("l_root", n("L Root"), lk, ca=True)
        for i in range(1, 10):
            iss = c("l_int%d" % i, n("L Int %d" % i), lk, iss, ca=True)
        leaf("l_leaf", issuer=iss)
        # W: a 1024-bit RSA root.
        w = c("w_root", n("W Root weak"), k("weak1024", "rsa1024"), ca=True)
        leaf("w_leaf", issuer=w)
        # S: a self-signed server certificate (trusted directly when it is the anchor).
        c("s_self", n("example.com", "S"), leaf_key, san=LEAF_SAN)
        # N: name constraints on an intermediate.
        dns, ip, dirn = x509.DNSName, x509.IPAddress, x509.DirectoryName
        net = ipaddress.ip_network
        n_int = c("n_int", n("N Int permitted"), k("n_int", "p256"), a_root, ca=True,
                  nc=([dns("example.com"), ip(net("192.0.2.0/24")), ip(net("2001:db8::/32"))], None))
        leaf("n_leaf_ok", issuer=n_int, san=("www.example.com", "192.0.2.9", "2001:db8::5"))
        leaf("n_leaf_dns_bad", issuer=n_int, san=("www.example.com", "www.example.org"))
        leaf("n_leaf_ip_bad", issuer=n_int, san=("www.example.com", "198.51.100.1"))
        leaf("n_leaf_ip6_bad", issuer=n_int, san=("www.example.com", "2001:db9::1"))
        leaf("n_leaf_suffix", issuer=n_int, san=("badexample.com",))
        nx = c("nx_int", n("N Int excluded"), k("nx_int", "p256"), a_root, ca=True,
               nc=(None, [dns("bad.example.com"), ip(net("192.0.2.128/25"))]))
        leaf("nx_leaf_ok", issuer=nx, san=("good.example.com", "192.0.2.1"))
        leaf("nx_leaf_dns_bad", issuer=nx, san=("a.bad.example.com",))
        leaf("nx_leaf_wild", issuer=nx, san=("*.example.com",))
        leaf("nx_leaf_ip_bad", issuer=nx, san=("good.example.com", "192.0.2.200"))
        nd = c("nd_int", n("N Int dirname"), k("nd_int", "p256"), a_root, ca=True,
               nc=([dirn(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Allowed")]))], None))
        c("nd_leaf_ok", n("example.com", "Allowed"), leaf_key, nd, san=LEAF_SAN)
        c("nd_leaf_bad", n("example.com", "Other"), leaf_key, nd, san=LEAF_SAN)
        ne = c("ne_int", n("N Int email"), k("ne_int", "p256"), a_root, ca=True,
               nc=([x509.RFC822Name("example.com")], None))
        leaf("ne_leaf", issuer=ne)
        leaf("ne_leaf_email", issuer=ne, san=LEAF_SAN + ("email:admin@example.org",))
        # Constraints on a root: enforced from the anchor.
        nr = c("nr_root", n("NR Root"), k("nr_root", "p256"), ca=True, nc=([dns("example.net")], None))
        leaf("nr_leaf_bad", issuer=nr)
        leaf("nr_leaf_ok", issuer=nr, san=("example.net", "www.example.net"))
        self._sha1_leaf(a_root)
        with open(os.path.join(self.out, "roots.pem"), "wb") as f:
            for name in ("a_root", "e_root", "d_root", "x_old_root"):
                f.write(self.certs[name].public_bytes(_pem()))
        # The same roots as a generated trust-anchor module (host_tools/roots.py), for the device tests.
        import sys
        sys.path[:0] = [ROOT, os.path.join(ROOT, "lib")]
        from host_tools import roots
        anchors = roots.anchors_for([self.certs[n] for n in ("a_root", "e_root", "d_root", "x_old_root")])
        with open(os.path.join(self.out, "fixture_anchors.py"), "w") as f:
            f.write(roots.render(anchors, "roots.pem", "test fixtures"))

    def _sha1_leaf(self, a_root):
        """A leaf really signed with sha1WithRSAEncryption (cryptography no longer issues SHA-1
        certificates, so swap the algorithm in a SHA-256 one and re-sign its TBS)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        self.cert("tmp_sha256", self.name("sha1 leaf"), self.key("leaf_rsa", "rsa2048"), a_root,
                  san=LEAF_SAN)
        os.remove(os.path.join(self.out, "tmp_sha256.der"))
        tbs = self.certs.pop("tmp_sha256").tbs_certificate_bytes
        sha256_rsa = bytes.fromhex("06092a864886f70d01010b0500")
        sha1_rsa = bytes.fromhex("06092a864886f70d0101050500")
        tbs = tbs.replace(sha256_rsa, sha1_rsa, 1)
        sig = self.key("a_root", "rsa2048").sign(tbs, padding.PKCS1v15(), hashes.SHA1())
        alg = b"\x30" + bytes([len(sha1_rsa)]) + sha1_rsa
        self.write("a_leaf_sha1", _seq(tbs + alg + _tlv(0x03, b"\x00" + sig)))


def _tlv(tag, body):
    n = len(body)
    if n < 0x80:
        hdr = bytes([tag, n])
    elif n < 0x100:
        hdr = bytes([tag, 0x81, n])
    else:
        hdr = bytes([tag, 0x82, n >> 8, n & 0xFF])
    return hdr + body


def _seq(body):
    return _tlv(0x30, body)


def _der():
    from cryptography.hazmat.primitives.serialization import Encoding
    return Encoding.DER


def _pem():
    from cryptography.hazmat.primitives.serialization import Encoding
    return Encoding.PEM


if __name__ == "__main__":
    print(generate())

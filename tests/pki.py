"""Test PKI for TLS and MQTT tests, made with `cryptography` once per run into build/test-pki/.

    paths = pki.ensure()   # dict of file paths (PEM), e.g. paths["ca"], paths["server-ec.crt"]

Contents: a root CA "Test Root CA" (ECDSA P-256); server certificates for localhost/127.0.0.1
(ECDSA P-256, ECDSA P-384, RSA-2048, Ed25519) issued by it; a client CA and two device
certificates (ECDSA P-256) with CN device-001/device-002; a second, unrelated CA with its own device
certificate (for wrong-CA tests). Keys are PKCS#8 PEM (and SEC1 for one device key), 0644 so that
mosquitto, which drops privileges, can read them.
"""
import datetime
import ipaddress
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKI_DIR = os.path.join(ROOT, "build", "test-pki")
_VERSION = "3"  # bump to regenerate when the contents change


def _write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _make():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    nb = now - datetime.timedelta(days=1)
    na = now + datetime.timedelta(days=365)

    def name(cn, org="micro-tls13 tests"):
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def pem_cert(c):
        return c.public_bytes(serialization.Encoding.PEM)

    def pem_key(k, fmt=serialization.PrivateFormat.PKCS8):
        return k.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())

    def ca(cn, key):
        return (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(nb).not_valid_after(na)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                               critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))

    def leaf(cn, key, issuer, issuer_key, server=True):
        b = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(issuer.subject)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(nb).not_valid_after(na)
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(True, False, not server or isinstance(key, rsa.RSAPrivateKey),
                                          False, False, False, False, False, False), critical=True)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                   else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
        if server:
            b = b.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    out = {}
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = ca("Test Root CA", root_key)
    out["ca.crt"] = pem_cert(root)
    out["ca.key"] = pem_key(root_key)
    servers = {
        "server-ec": ec.generate_private_key(ec.SECP256R1()),
        "server-p384": ec.generate_private_key(ec.SECP384R1()),
        "server-rsa": rsa.generate_private_key(65537, 2048),
        "server-ed25519": ed25519.Ed25519PrivateKey.generate(),
    }
    for stem, key in servers.items():
        out[stem + ".crt"] = pem_cert(leaf("localhost", key, root, root_key))
        out[stem + ".key"] = pem_key(key)
    client_ca_key = ec.generate_private_key(ec.SECP256R1())
    client_ca = ca("Test Device CA", client_ca_key)
    out["client-ca.crt"] = pem_cert(client_ca)
    for i, cn in enumerate(("device-001", "device-002")):
        k = ec.generate_private_key(ec.SECP256R1())
        out[cn + ".crt"] = pem_cert(leaf(cn, k, client_ca, client_ca_key, server=False))
        out[cn + ".key"] = pem_key(k, serialization.PrivateFormat.TraditionalOpenSSL if i else
                                   serialization.PrivateFormat.PKCS8)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = ca("Unrelated CA", other_key)
    out["other-ca.crt"] = pem_cert(other)
    k = ec.generate_private_key(ec.SECP256R1())
    out["rogue-device.crt"] = pem_cert(leaf("rogue-device", k, other, other_key, server=False))
    out["rogue-device.key"] = pem_key(k)
    return out


def ensure():
    """Create the PKI if missing (safe with parallel pytest workers); returns name -> path."""
    os.makedirs(PKI_DIR, exist_ok=True)
    stamp = os.path.join(PKI_DIR, "VERSION")
    lock = os.path.join(PKI_DIR, ".lock")
    import fcntl
    with open(lock, "w") as lf:
        fcntl.flock(lf, fcntl.LOCK_EX)
        if not (os.path.exists(stamp) and open(stamp).read() == _VERSION):
            for fname, data in _make().items():
                _write(os.path.join(PKI_DIR, fname), data)
            _write(stamp, _VERSION.encode())
    paths = {}
    for fname in os.listdir(PKI_DIR):
        if fname.endswith((".crt", ".key")):
            paths[fname] = os.path.join(PKI_DIR, fname)
    paths["ca"] = paths["ca.crt"]
    return paths

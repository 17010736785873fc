"""Make a development PKI for mutual TLS between boards and a broker (the `mptls pki` command).

    mptls pki --out build/pki
    mptls pki --out build/pki --devices device-001,device-002 --server-name broker.local --server-ip 127.0.0.1

What it writes into --out (PEM, ECDSA P-256 throughout, keys as unencrypted PKCS#8):
    ca.crt / ca.key                the development root CA: boards trust ca.crt to check the broker
    broker.crt / broker.key        the broker's certificate (serverAuth; the names and addresses given
                                   become subjectAltNames; the first name is also the CN)
    device-ca.crt / device-ca.key  a separate CA for client certificates: the broker trusts only this
                                   one for clients (mosquitto `cafile` on the mTLS listener), so a
                                   server certificate can never log in as a device
    <device>.crt / <device>.key    one per device: clientAuth, CN = the device id (mosquitto's
                                   `use_identity_as_username` turns it into the MQTT user name)
    monitor.crt / monitor.key      a client certificate for `mptls monitor` (CN "monitor")

It is idempotent: an existing CA is kept (and what it issued stays valid) unless --force is given; a
leaf is re-issued only when it is missing, expires within 30 days, was issued by another CA, or (the
broker) lacks a requested name. Adding a device later only creates that device's files.

Permissions: broker.key and the client keys are 0644 because mosquitto started as root drops to
the `mosquitto` user BEFORE it reads its key files, and then could not read a 0600 root-owned key. The
two CA keys are 0600: nothing but this command needs them. This is a development PKI: keep real
device keys off shared machines.
"""
import argparse
import datetime
import ipaddress
import os
import re

HELP = "development CA, broker certificate and device certificates/keys for mTLS"

CA_DAYS = 3650
LEAF_DAYS = 825
RENEW_DAYS = 30
DEFAULT_DEVICES = ("device-001", "device-002")
DEFAULT_NAMES = ("broker.local", "localhost", "127.0.0.1", "::1")
MONITOR = "monitor"
_RESERVED = ("ca", "broker", "device-ca")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ORG = "micro-tls13 development"


def _write(path, data, mode):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _name(cn):
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _new_key():
    from cryptography.hazmat.primitives.asymmetric import ec
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key):
    from cryptography.hazmat.primitives import serialization
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert):
    from cryptography.hazmat.primitives import serialization
    return cert.public_bytes(serialization.Encoding.PEM)


def _load(crt_path, key_path):
    """(cert, key) from existing files, or None when either is missing or unreadable."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    try:
        with open(crt_path, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        with open(key_path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
    except (OSError, ValueError):
        return None
    if cert.public_key().public_numbers() != key.public_key().public_numbers():
        return None
    return cert, key


def _fresh(cert):
    return cert.not_valid_after_utc - _now() > datetime.timedelta(days=RENEW_DAYS)


def _make_ca(cn):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    key = _new_key()
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def _make_leaf(cn, ca_cert, ca_key, server_names=None):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID
    key = _new_key()
    now = _now()
    eku = ExtendedKeyUsageOID.SERVER_AUTH if server_names is not None else ExtendedKeyUsageOID.CLIENT_AUTH
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_cert.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(hours=1))
         .not_valid_after(min(now + datetime.timedelta(days=LEAF_DAYS), ca_cert.not_valid_after_utc))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                        critical=True)
         .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),
                        critical=False))
    if server_names is not None:
        b = b.add_extension(x509.SubjectAlternativeName(_general_names(server_names)), critical=False)
    return b.sign(ca_key, hashes.SHA256()), key


def _general_names(names):
    from cryptography import x509
    out = []
    for n in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            out.append(x509.DNSName(n))
    return out


def _issued_by(cert, ca_cert):
    try:
        cert.verify_directly_issued_by(ca_cert)
        return True
    except Exception:
        return False


def _has_names(cert, names):
    from cryptography import x509
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have = set(str(v) for v in san.get_values_for_type(x509.DNSName))
    have |= set(str(v) for v in san.get_values_for_type(x509.IPAddress))
    return all(str(ipaddress.ip_address(n)) in have if _is_ip(n) else n in have for n in names)


def _is_ip(n):
    try:
        ipaddress.ip_address(n)
        return True
    except ValueError:
        return False


def check_id(name):
    """Device ids become file names and certificate CNs: keep them to a safe alphabet."""
    if not _ID_RE.match(name) or name in _RESERVED:
        raise ValueError("bad device id %r (letters, digits, '.', '_', '-'; not %s)"
                         % (name, ", ".join(_RESERVED)))
    return name


def make_pki(out_dir, devices=DEFAULT_DEVICES, server_names=DEFAULT_NAMES, force=False, clients=(MONITOR,),
             log=None):
    """Create or update the PKI in out_dir; returns {file name: path} for every file, plus "ca"
    (= ca.crt) and "device-ca" (= device-ca.crt). `log(status, file)` hears "created"/"kept" per
    certificate. server_names: DNS names and IP literals for the broker (the first is its CN)."""
    devices = [check_id(d) for d in devices]
    clients = [check_id(c) for c in clients]
    server_names = list(server_names)
    if not server_names:
        raise ValueError("the broker needs at least one name or address")
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    say = log or (lambda status, name: None)

    def pair(stem):
        crt, key = os.path.join(out_dir, stem + ".crt"), os.path.join(out_dir, stem + ".key")
        paths[stem + ".crt"], paths[stem + ".key"] = crt, key
        return crt, key

    def ensure_ca(stem, cn):
        crt, key = pair(stem)
        have = None if force else _load(crt, key)
        if have is not None:
            say("kept", stem + ".crt")
            return have
        cert, k = _make_ca(cn)
        _write(key, _key_pem(k), 0o600)
        _write(crt, _cert_pem(cert), 0o644)
        say("created", stem + ".crt")
        return cert, k

    def ensure_leaf(stem, cn, ca, names=None):
        crt, key = pair(stem)
        have = None if force else _load(crt, key)
        if (have is not None and _fresh(have[0]) and _issued_by(have[0], ca[0])
                and (names is None or _has_names(have[0], names))):
            say("kept", stem + ".crt")
            return
        cert, k = _make_leaf(cn, ca[0], ca[1], names)
        _write(key, _key_pem(k), 0o644)
        _write(crt, _cert_pem(cert), 0o644)
        say("created", stem + ".crt")

    root = ensure_ca("ca", "mptls Development Root CA")
    dev_ca = ensure_ca("device-ca", "mptls Development Device CA")
    ensure_leaf("broker", server_names[0], root, server_names)
    for d in devices + [c for c in clients if c not in devices]:
        ensure_leaf(d, d, dev_ca)
    paths["ca"] = paths["ca.crt"]
    paths["device-ca"] = paths["device-ca.crt"]
    return paths


def describe(path):
    """One line about a certificate file: subject CN, key, expiry."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    with open(path, "rb") as f:
        c = x509.load_pem_x509_certificate(f.read())
    cn = c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    extra = ""
    try:
        san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        extra = "  SAN " + ",".join(str(v.value) for v in san)
    except x509.ExtensionNotFound:
        pass
    return "CN=%s, expires %s%s" % (cn[0].value if cn else "?", c.not_valid_after_utc.strftime("%Y-%m-%d"),
                                    extra)


def configure(p):
    p.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the examples as laid out
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the PEM files")
    p.add_argument("--devices", default=",".join(DEFAULT_DEVICES),
                   help="comma-separated device ids (the certificate CN and MQTT user name; default %(default)s)")
    p.add_argument("--server-name", action="append", default=[], metavar="DNS",
                   help="broker DNS name for its certificate (repeatable; default broker.local and localhost)")
    p.add_argument("--server-ip", action="append", default=[], metavar="IP",
                   help="broker IP address for its certificate (repeatable; default 127.0.0.1 and ::1)")
    p.add_argument("--force", action="store_true",
                   help="make new CAs and re-issue everything (boards must get the new ca.crt)")
    p.epilog = ("Key files: broker.key and the client keys are mode 0644, because mosquitto drops root\n"
                "privileges before it reads them; the CA keys are 0600.")


def run(args):
    names = list(args.server_name) or [n for n in DEFAULT_NAMES if not _is_ip(n)]
    for ip in args.server_ip or [n for n in DEFAULT_NAMES if _is_ip(n)]:
        names.append(str(ipaddress.ip_address(ip)))
    devices = [d.strip() for d in args.devices.split(",") if d.strip()]
    status = {}
    try:
        paths = make_pki(args.out, devices, names, args.force, log=lambda s, n: status.__setitem__(n, s))
    except ValueError as e:
        print("mptls pki: %s" % e)
        return 2
    print("PKI in %s" % os.path.abspath(args.out))
    for stem in ["ca", "device-ca", "broker"] + devices + [MONITOR]:
        fname = stem + ".crt"
        if fname in status:
            print("  %-8s %-18s %s" % (status[fname], fname, describe(paths[fname])))
    print("broker (mosquitto): cafile %s  certfile %s  keyfile %s"
          % (paths["device-ca"], paths["broker.crt"], paths["broker.key"]))
    print("boards: trust %s; device files <id>.crt / <id>.key" % paths["ca"])
    return 0

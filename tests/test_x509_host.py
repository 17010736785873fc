"""CPython-only X.509 checks: agreement with `cryptography`'s verifier on the fixture chains, key and
pin values against `cryptography`, mutation fuzzing of the parser (hypothesis), and the root-store
builder (host_tools/roots.py), including the generated module imported as .mpy on the VM."""
import base64
import datetime
import hashlib
import importlib.util
import ipaddress
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.verification import PolicyBuilder, Store
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import x509fx as fx
from host_tools import roots
from tls13.x509 import CertificateError, TrustStore, cert, leaf_public_key, leaf_spki, spki_sha256, verify_chain

R = ("a_root", "e_root", "d_root", "x_old_root")
H = "example.com"

# (chain, roots, host name) on which both verifiers must agree (accept, or reject).
AGREE = [
    (["a_leaf", "a_int"], R, H), (["a_leaf", "a_root", "a_int"], R, "www.example.com"),
    (["a_leaf", "a_int"], R, "x.api.example.com"), (["a_leaf", "a_int"], R, "api.example.com"),
    (["a_leaf", "a_int"], R, "192.0.2.1"), (["a_leaf", "a_int"], R, "2001:db8::1"), (["a_leaf"], R, H),
    (["a_leaf_expired", "a_int"], R, H), (["a_leaf_future", "a_int"], R, H), (["a_leaf", "a_int_expired"], R, H),
    (["a_leaf", "a_int_expired", "a_int"], R, H), (["a_leaf_ku_none", "a_int"], R, H),
    (["a_leaf_eku_client", "a_int"], R, H), (["a_leaf_eku_any", "a_int"], R, H),
    (["a_leaf_eku_none", "a_int"], R, H), (["a_leaf_nosan", "a_int"], R, H), (["a_leaf_crit", "a_int"], R, H),
    (["a_leaf_noncrit", "a_int"], R, H), (["a_leaf_policy_crit", "a_int"], R, H), (["a_leaf_rsa_by_root"], R, H),
    (["a_leaf_sha1"], R, H), (["b_leaf_notca", "b_int_notca"], R, H), (["b_leaf_nobc", "b_int_nobc"], R, H),
    (["b_leaf_ku", "b_int_ku"], R, H), (["b_leaf_eku", "b_int_eku"], R, H),
    (["b_leaf_ekuany", "b_int_ekuany"], R, H), (["b_leaf_ekusrv", "b_int_ekusrv"], R, H),
    (["a_sub_leaf", "a_sub", "a_int"], R, H), (["c_sub_leaf", "c_sub", "c_int1"], R, H),
    (["c_sub2_leaf", "c_sub2", "c_sub", "c_int1"], R, H), (["r0_leaf_direct"], ("r0_root",), H),
    (["r0_leaf", "r0_int"], ("r0_root",), H), (["p_leaf_sha384", "p_int"], R, H),
    (["p_leaf_pss512", "p_int"], R, H), (["e_leaf384"], R, H), (["e_leaf256"], R, H),
    (["x_leaf", "x_int", "x_cross"], R, H), (["x_leaf", "x_int", "x_cross"], ("x_new_root",), H),
    (["x_leaf", "x_int"], R, H), (["x_leaf", "x_int", "x_cross_expired"], R, H),
    (["x_leaf", "x_int", "x_cross_expired", "x_cross"], R, H),
    (["l_leaf"] + ["l_int%d" % i for i in range(9, 0, -1)], ("l_root",), H),
    (["w_leaf"], ("w_root",), H), (["s_self"], ("s_self",), H), (["s_self"], R, H),
    (["n_leaf_ok", "n_int"], R, "www.example.com"), (["n_leaf_dns_bad", "n_int"], R, "www.example.com"),
    (["n_leaf_ip_bad", "n_int"], R, "www.example.com"), (["n_leaf_ip6_bad", "n_int"], R, "www.example.com"),
    (["n_leaf_suffix", "n_int"], R, "badexample.com"), (["nx_leaf_ok", "nx_int"], R, "good.example.com"),
    (["nx_leaf_dns_bad", "nx_int"], R, "a.bad.example.com"), (["nx_leaf_wild", "nx_int"], R, "www.example.com"),
    (["nx_leaf_ip_bad", "nx_int"], R, "good.example.com"), (["ne_leaf", "ne_int"], R, H),
    (["ne_leaf_email", "ne_int"], R, H),   # refused by both: not evaluated here, outside the subtree there
    (["nr_leaf_ok"], ("nr_root",), "www.example.net"), (["nr_leaf_bad"], ("nr_root",), H),
]

# Where the policies differ on purpose: (chain, roots, host, our result, cryptography accepts?).
DIFFER = [
    # RFC 5280 rules we apply that the CA/Browser Forum profile of `cryptography` does not ...
    (["a_leaf_ku_bad", "a_int"], R, H, "bad_key_usage", True),        # TLS 1.3 needs digitalSignature
    (["a_leaf_weak", "a_int"], R, H, "weak_key", True),                # 1024-bit leaf
    (["a_leaf_p521", "a_int"], R, H, "unsupported_algorithm", True),   # no P-521 on the device
    # ... and the profile's rules we do not apply.
    (["a_leaf_ca", "a_int"], R, H, "ok", False),                       # CA-flagged self-made leaves
    (["a_leaf_noaki", "a_int"], R, H, "ok", False),                    # AKI not required
    (["d_leaf"], R, H, "ok", False),                                   # Ed25519 allowed
    (["nd_leaf_ok", "nd_int"], R, H, "ok", False),                     # directoryName constraints
    (["c_self_leaf", "c_selfissued", "c_sub", "c_int1"], R, H, "ok", False),  # self-issued not counted
]


def ours(names, root_names, host):
    try:
        verify_chain(fx.chain(*names), fx.store(*root_names), host, fx.NOW)
        return "ok"
    except CertificateError as e:
        return e.reason


def theirs(names, root_names, host):
    certs = [x509.load_der_x509_certificate(d) for d in fx.chain(*names)]
    store = Store([x509.load_der_x509_certificate(fx.load(r)) for r in root_names])
    try:
        subject = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        subject = x509.DNSName(host)
    when = datetime.datetime.fromtimestamp(fx.NOW, datetime.timezone.utc)
    verifier = PolicyBuilder().store(store).time(when).build_server_verifier(subject)
    try:
        verifier.verify(certs[0], certs[1:])
        return True
    except Exception:
        return False


@pytest.mark.parametrize("names,root_names,host", AGREE, ids=lambda v: v if isinstance(v, str) else None)
def test_agrees_with_cryptography(names, root_names, host):
    assert (ours(names, root_names, host) == "ok") == theirs(names, root_names, host)


@pytest.mark.parametrize("names,root_names,host,want,they_accept", DIFFER)
def test_documented_differences(names, root_names, host, want, they_accept):
    assert ours(names, root_names, host) == want
    assert theirs(names, root_names, host) == they_accept


@pytest.mark.parametrize("name", ["a_leaf", "a_root", "e_root", "d_leaf", "p_int", "w_root"])
def test_keys_and_pins_match_cryptography(name):
    d = fx.load(name)
    c = x509.load_der_x509_certificate(d)
    pub = c.public_key()
    key = leaf_public_key(d)
    if isinstance(pub, ec.EllipticCurvePublicKey):
        assert key == ("ec", {"secp256r1": "P-256", "secp384r1": "P-384"}[pub.curve.name],
                       pub.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
    elif isinstance(pub, rsa.RSAPublicKey):
        assert key == ("rsa", pub.public_numbers().n, pub.public_numbers().e)
    else:
        assert isinstance(pub, ed25519.Ed25519PublicKey)
        assert key == ("ed25519", pub.public_bytes(Encoding.Raw, PublicFormat.Raw))
    spki = pub.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert leaf_spki(d) == spki
    assert spki_sha256(spki) == hashlib.sha256(spki).digest()
    assert base64.b64encode(spki_sha256(spki)).decode() == roots.spki_pin(c)
    parsed = cert.parse(d)
    assert (parsed.not_before, parsed.not_after) == (int(c.not_valid_before_utc.timestamp()),
                                                     int(c.not_valid_after_utc.timestamp()))
    assert bytes(parsed.subject) == c.subject.public_bytes()
    assert bytes(parsed.issuer) == c.issuer.public_bytes()


FUZZ_CERTS = ["a_leaf", "a_int", "p_int", "d_leaf", "n_int", "e_root"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FUZZ_CERTS), st.lists(st.tuples(st.integers(0, 4000), st.integers(1, 255)), max_size=4),
       st.integers(0, 4000))
def test_mutated_certificates_only_raise_certificate_error(name, flips, cut):
    d = bytearray(fx.load(name))
    for pos, x in flips:
        d[pos % len(d)] ^= x
    d = bytes(d[:max(1, cut)] if cut < len(d) else d)
    try:
        cert.parse(d)
    except CertificateError:
        pass
    try:
        verify_chain([d, fx.load("a_int"), fx.load("n_int")], fx.store(*R), H, fx.NOW)
    except CertificateError:
        pass


# ---- root-store builder ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def system_roots():
    if not os.path.exists(roots.SYSTEM_BUNDLE):
        pytest.skip("no system CA bundle")
    return roots.load_pem_certs(roots.default_bundle())


@pytest.mark.parametrize("preset,expect", [
    ("letsencrypt", {"ISRG Root X1", "ISRG Root X2"}),
    ("amazon-iot", {"Amazon Root CA 1", "Amazon Root CA 3", "Starfield Services Root Certificate Authority - G2"}),
    ("digicert", {"DigiCert Global Root G2", "DigiCert Global Root CA"}),
    ("globalsign", {"GlobalSign Root CA"}),
    ("google-trust", {"GTS Root R1", "GTS Root R4"}),
])
def test_presets(system_roots, preset, expect):
    picked = roots.select(system_roots, presets=[preset])
    cns = {a.value for c in picked for a in c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)}
    assert expect <= cns, cns
    assert len(picked) < 15
    if preset == "letsencrypt":
        assert cns == {"ISRG Root X1", "ISRG Root X2"}


def test_subject_and_chain_selection(tmp_path):
    bundle = roots.load_pem_certs(os.path.join(fx.DIR, "roots.pem"))
    assert [c.subject.rfc4514_string() for c in roots.select(bundle, subjects=["root p384"])] == [
        "CN=E Root P384,O=mptls test"]
    chain = tmp_path / "chain.pem"
    chain.write_bytes(b"".join(x509.load_der_x509_certificate(fx.load(n)).public_bytes(Encoding.PEM)
                               for n in ("x_leaf", "x_int", "x_cross")))
    picked = roots.select(bundle, chains=[str(chain)])
    assert [c.subject.rfc4514_string() for c in picked] == ["CN=X Root Old,O=mptls test"]
    with pytest.raises(ValueError):
        roots.select(bundle, presets=["nope"])


def test_generated_module_imports_and_verifies(tmp_path, capsys):
    out = tmp_path / "my_anchors.py"
    rc = roots.main(["--bundle", os.path.join(fx.DIR, "roots.pem"), "--subject", "A Root", "--subject", "E Root",
                     "-o", str(out), "--report"])
    assert rc == 0
    report = capsys.readouterr().out
    assert "bytes .mpy" in report and "bytes of heap for 2 anchors" in report
    spec = importlib.util.spec_from_file_location("my_anchors", out)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    store = TrustStore.from_module(mod)
    assert len(store) == 2
    verify_chain(fx.chain("a_leaf", "a_int"), store, H, fx.NOW)
    verify_chain(fx.chain("e_leaf384"), store, H, fx.NOW)
    with pytest.raises(CertificateError):
        verify_chain(fx.chain("d_leaf"), store, H, fx.NOW)


def test_system_bundle_builds_and_loads_on_the_vm(system_roots, tmp_path):
    anchors = roots.anchors_for(roots.select(system_roots, presets=["letsencrypt", "amazon-iot"]))
    path = tmp_path / "iot_anchors.py"
    path.write_text(roots.render(anchors, "system", "test"))
    m = roots.measure(str(path))
    assert m.get("anchors") == len(anchors), m
    assert 0 < m["vm_heap_bytes"] < 8192


def test_pins_command(capsys):
    pem = os.path.join(fx.DIR, "roots.pem")
    assert roots.main(["--pins", pem]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[0].endswith("CN=A Root RSA,O=mptls test")
    pin = base64.b64decode(lines[0].split()[0])
    assert pin == spki_sha256(leaf_spki(fx.load("a_root")))


def test_device_parser_reads_every_system_root(system_roots):
    """Real-world DER: the strict device parser accepts every root of the bundle as an anchor."""
    store = TrustStore.from_der([c.public_bytes(Encoding.DER) for c in system_roots])
    assert store.skipped == 0 and len(store) == len(system_roots)

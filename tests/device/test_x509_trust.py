"""Trust anchors (tls13.x509.trust): PEM/DER loading, flags, the generated module form, pins.

Needs the fixtures from tests/pki_fixtures.py (pytest and tests/test_on_vm.py generate them)."""
import sys

from mpcheck import check, eq, raises

import x509fx as fx
from tls13.x509 import (CertificateError, TrustStore, cert, leaf_spki, pin_from_base64, spki_sha256,
                        verify_chain)
from tls13.x509.trust import FLAG_CA, anchor_pathlen

# Stands for an ESP32 running the frozen stack: the board's heap plus the stack's resident size on the
# VM (its bytecode is in flash on a board; see tests/vmbench.py STACK_MODULES).
STACK = True


def test_from_pem():
    pem = fx.read_text("roots.pem")
    st = TrustStore.from_pem(pem)
    eq(len(st), 4)
    eq(st.skipped, 0)
    for a, name in zip(st.anchors, ("a_root", "e_root", "d_root", "x_old_root")):
        c = cert.parse(fx.load(name))
        eq(a[0], bytes(c.subject), name)
        eq(a[1], bytes(c.spki), name)
        eq(a[2], FLAG_CA, name)
        eq(a[3], None, name)
    # Text around and between the blocks is ignored; str works too.
    st = TrustStore.from_pem(b"# bundle\n" + pem.replace(b"-----\n-----", b"-----\nnoise\n-----"))
    eq(len(st), 4)
    eq(len(TrustStore.from_pem(pem.decode())), 4)
    verify_chain(fx.chain("a_leaf", "a_int"), st, "example.com", fx.NOW)


def test_bad_pem():
    pem = fx.read_text("roots.pem")
    cut = pem.find(b"-----END")
    e = raises(CertificateError, TrustStore.from_pem, pem[:cut])
    eq(e.reason, "malformed")
    e = raises(CertificateError, TrustStore.from_pem, pem[:40] + b"!!!!" + pem[44:cut + 200])
    eq(e.reason, "malformed")
    eq(len(TrustStore.from_pem(b"no certificates here")), 0)


def test_flags_and_constraints():
    st = fx.store("a_root", "r0_root", "s_self", "nr_root", "b_int_notca")
    a_root, r0, s_self, nr, notca = st.anchors
    eq(a_root[2], FLAG_CA)
    eq(anchor_pathlen(a_root), -1)
    eq(anchor_pathlen(r0), 0)
    eq(s_self[2] & FLAG_CA, 0)                     # a server certificate: trusted only as itself
    check(nr[3] is not None and len(nr[3]) > 0)
    eq(notca[2] & FLAG_CA, 0)
    e = raises(CertificateError, verify_chain, fx.chain("b_leaf_notca"), st, "example.com", fx.NOW)
    eq(e.reason, "not_a_ca")


def test_unusable_anchors_are_skipped():
    st = TrustStore.from_der(fx.chain("a_leaf_p521", "a_root"))
    eq((len(st), st.skipped), (1, 1))
    e = raises(CertificateError, TrustStore.from_der, [fx.load("a_root")[:-1]])
    eq(e.reason, "malformed")


def test_anchors_with_the_same_subject():
    # c_sub and c_selfissued share a subject; the key decides.
    st = fx.store("c_sub", "c_selfissued")
    verify_chain(fx.chain("c_self_leaf"), st, "example.com", fx.NOW)
    verify_chain(fx.chain("c_sub_leaf"), st, "example.com", fx.NOW)


def test_generated_module():
    sys.path.insert(0, fx.DIR.rstrip("/\\"))
    try:
        import fixture_anchors
    finally:
        sys.path.pop(0)
    st = TrustStore.from_module(fixture_anchors)
    check(st.anchors is fixture_anchors.ANCHORS)   # used in place: frozen constants stay in flash
    eq(st.anchors, tuple(TrustStore.from_pem(fx.read_text("roots.pem")).anchors))
    verify_chain(fx.chain("a_leaf", "a_int"), st, "example.com", fx.NOW)
    verify_chain(fx.chain("e_leaf256"), st, "example.com", fx.NOW)
    # Adding to a module-backed store copies the tuple into a list first.
    st.add_der(fx.load("r0_root"))
    eq(len(st), 5)
    check(fixture_anchors.ANCHORS is not st.anchors and len(fixture_anchors.ANCHORS) == 4)


def test_extend():
    st = fx.store("a_root")
    st.extend(fx.store("e_root", "a_leaf_p521"))
    eq((len(st), st.skipped), (2, 1))
    verify_chain(fx.chain("e_leaf384"), st, "example.com", fx.NOW)


def test_pins():
    pin = spki_sha256(leaf_spki(fx.load("a_int")))
    eq(len(pin), 32)
    import binascii
    b64 = binascii.b2a_base64(pin).strip()
    eq(pin_from_base64(b64), pin)
    eq(pin_from_base64(b64.decode()), pin)
    raises(ValueError, pin_from_base64, "AAAA")

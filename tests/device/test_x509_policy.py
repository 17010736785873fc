"""Path validation checks one by one (tls13.x509.verify_chain), each positive and negative: validity and
the clock policy, host names, CA and key usage rules, path length and depth, critical extensions, name
constraints, key strength and algorithms.

Needs the fixtures from tests/pki_fixtures.py (pytest and tests/test_on_vm.py generate them)."""
from mpcheck import eq, raises

import x509fx as fx
from tls13.x509 import ChainValidator, CertificateError, verify_chain

NOW = fx.NOW
ROOTS = ("a_root", "e_root", "d_root", "x_old_root")
# Stands for an ESP32 running the frozen stack: the board's heap plus the stack's resident size on the
# VM (its bytecode is in flash on a board; see tests/vmbench.py STACK_MODULES).
STACK = True


def ok(names, host="example.com", roots=ROOTS, **kw):
    return verify_chain(fx.chain(*names), fx.store(*roots) if roots else None, host, kw.pop("now", NOW), **kw)


def fails(reason, names, host="example.com", roots=ROOTS, index=-1, **kw):
    e = raises(CertificateError, ok, names, host, roots, **kw)
    eq(e.reason, reason, "%s: %s" % (names, e))
    if index != -1:
        eq(e.index, index, "index of the certificate at fault")
    return e


def test_validity():
    e = fails("expired", ["a_leaf_expired", "a_int"], index=0)
    eq(e.alert, "certificate_expired")
    e = fails("not_yet_valid", ["a_leaf_future", "a_int"], index=0)
    eq(e.alert, "certificate_expired")
    fails("expired", ["a_leaf", "a_int_expired"], index=1)
    ok(["a_leaf", "a_int_expired", "a_int"])                # a renewed copy is found by backtracking
    not_before, not_after = 1704067200, 1893456000
    ok(["a_leaf", "a_int"], now=not_after)
    ok(["a_leaf", "a_int"], now=not_before)
    fails("expired", ["a_leaf", "a_int"], now=not_after + 1)
    fails("not_yet_valid", ["a_leaf", "a_int"], now=not_before - 1)


def test_clock_policy():
    e = fails("clock_unset", ["a_leaf", "a_int"], now=None)
    eq(e.alert, "certificate_unknown")
    ok(["a_leaf", "a_int"], now=None, time_floor=NOW)
    fails("expired", ["a_leaf_expired", "a_int"], now=None, time_floor=NOW)
    # notBefore cannot be checked without a clock: the floor only says "at least this late".
    ok(["a_leaf_future", "a_int"], now=None, time_floor=NOW)
    # A clock reading before the floor is wrong (an RTC reset to 2000): the floor is used instead.
    ok(["a_leaf", "a_int"], now=946684800, time_floor=NOW)
    # A sane clock is used as it is.
    fails("not_yet_valid", ["a_leaf_future", "a_int"], now=NOW + fx.DAY, time_floor=NOW)


def test_host_names():
    for host in ("example.com", "WWW.EXAMPLE.COM", "x.api.example.com", "192.0.2.1", "2001:db8::1",
                 "[2001:db8::1]", None):
        ok(["a_leaf", "a_int"], host)
    for host in ("api.example.com", "a.b.api.example.com", "other.example", "192.0.2.2", "example.co"):
        e = fails("hostname_mismatch", ["a_leaf", "a_int"], host, index=0)
        eq(e.alert, "bad_certificate")
    # No subjectAltName: the common name (example.com) is not consulted.
    fails("hostname_mismatch", ["a_leaf_nosan", "a_int"])
    ok(["a_leaf_nosan", "a_int"], None)


def test_issuer_must_be_a_ca():
    fails("not_a_ca", ["b_leaf_notca", "b_int_notca"], index=1)
    fails("not_a_ca", ["b_leaf_nobc", "b_int_nobc"], index=1)


def test_key_usage():
    fails("bad_key_usage", ["b_leaf_ku", "b_int_ku"], index=1)       # no keyCertSign
    fails("bad_key_usage", ["b_leaf_eku", "b_int_eku"], index=1)     # intermediate EKU without serverAuth
    ok(["b_leaf_ekuany", "b_int_ekuany"])
    ok(["b_leaf_ekusrv", "b_int_ekusrv"])
    e = fails("bad_key_usage", ["a_leaf_ku_bad", "a_int"], index=0)  # no digitalSignature
    eq(e.alert, "unsupported_certificate")
    fails("bad_key_usage", ["a_leaf_eku_client", "a_int"], index=0)
    fails("bad_key_usage", ["a_leaf_eku_any", "a_int"], index=0)    # a leaf must name serverAuth
    # A CA-flagged leaf is accepted: `openssl req -x509` makes self-signed server certificates so.
    for leaf in ("a_leaf_ku_none", "a_leaf_eku_none", "a_leaf_ca"):
        ok([leaf, "a_int"])


def test_path_length_constraints():
    fails("path_too_long", ["a_sub_leaf", "a_sub", "a_int"], index=2)   # a_int: pathLen 0
    ok(["c_sub_leaf", "c_sub", "c_int1"])                               # c_int1: pathLen 1
    fails("path_too_long", ["c_sub2_leaf", "c_sub2", "c_sub", "c_int1"])
    ok(["c_self_leaf", "c_selfissued", "c_sub", "c_int1"])               # self-issued: not counted
    ok(["r0_leaf_direct"], roots=("r0_root",))                          # anchor pathLen 0
    fails("path_too_long", ["r0_leaf", "r0_int"], roots=("r0_root",))


LONG = ["l_leaf"] + ["l_int%d" % i for i in range(9, 0, -1)]


def test_max_depth():
    fails("path_too_long", LONG, roots=("l_root",))             # 10 sent certificates > 8
    ok(LONG, roots=("l_root",), max_depth=10)
    fails("path_too_long", LONG, roots=("l_root",), max_depth=9)
    ok(LONG[:4], roots=("l_int6",), max_depth=4)                 # an intermediate as the anchor
    # More certificates than any path could use are refused as they arrive.
    v = ChainValidator(fx.store("a_root"), "example.com", NOW, max_depth=2)
    v.add(fx.load("a_leaf"))
    for i in range(15):
        v.add(fx.load("a_int"))
    e = raises(CertificateError, v.add, fx.load("a_int"))
    eq(e.reason, "path_too_long")


def test_critical_extensions():
    e = fails("unsupported_critical_extension", ["a_leaf_crit", "a_int"], index=0)
    eq(e.alert, "unsupported_certificate")
    fails("unsupported_critical_extension", ["a_leaf_policy_crit", "a_int"])
    ok(["a_leaf_noncrit", "a_int"])


def test_name_constraints():
    ok(["n_leaf_ok", "n_int"], "www.example.com")
    ok(["n_leaf_ok", "n_int"], "192.0.2.9")
    for leaf, host in (("n_leaf_dns_bad", "www.example.com"), ("n_leaf_ip_bad", "www.example.com"),
                       ("n_leaf_ip6_bad", "www.example.com"), ("n_leaf_suffix", "badexample.com")):
        e = fails("name_constraints", [leaf, "n_int"], host, index=1)
        eq(e.alert, "bad_certificate")
    ok(["nx_leaf_ok", "nx_int"], "good.example.com")
    for leaf, host in (("nx_leaf_dns_bad", "a.bad.example.com"), ("nx_leaf_wild", "www.example.com"),
                       ("nx_leaf_ip_bad", "good.example.com")):
        fails("name_constraints", [leaf, "nx_int"], host)
    ok(["nd_leaf_ok", "nd_int"])                                 # directoryName
    fails("name_constraints", ["nd_leaf_bad", "nd_int"])
    ok(["ne_leaf", "ne_int"])                                    # rfc822Name subtrees, no e-mail names
    fails("name_constraints", ["ne_leaf_email", "ne_int"])       # an e-mail name: cannot evaluate, refused
    ok(["nr_leaf_ok"], "www.example.net", roots=("nr_root",))    # constraints on the anchor itself
    fails("name_constraints", ["nr_leaf_bad"], roots=("nr_root",))


def test_weak_keys():
    e = fails("weak_key", ["a_leaf_weak", "a_int"], index=0)
    eq(e.alert, "unsupported_certificate")
    fails("weak_key", ["w_leaf"], roots=("w_root",))             # a 1024-bit anchor
    ok(["w_leaf"], roots=("w_root",), min_rsa_bits=1024)
    ok(["a_leaf_weak", "a_int"], min_rsa_bits=1024)


def test_unsupported_algorithms():
    e = fails("unsupported_algorithm", ["a_leaf_sha1"], index=0)  # SHA-1 signature
    eq(e.alert, "unsupported_certificate")
    fails("unsupported_algorithm", ["a_leaf_p521", "a_int"])      # P-521 key

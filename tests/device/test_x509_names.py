"""Host names (RFC 6125) and name constraints (RFC 5280 4.2.1.10) on hand-built GeneralNames."""
from mpcheck import check, eq, raises, unhex

from tls13.x509 import CertificateError, names


def _tlv(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    return bytes([tag, 0x81, n]) + body


def _gn(item):
    if isinstance(item, tuple):          # (tag, raw bytes)
        return _tlv(item[0], item[1])
    ip = names.parse_ip(item)
    if ip is not None and not item.endswith("."):
        return _tlv(0x87, ip)
    return _tlv(0x82, item.encode())


def san(*items):
    """subjectAltName contents (GeneralNames without its SEQUENCE header) as the parser yields it."""
    return memoryview(b"".join(_gn(i) for i in items))


def dns_san(*items):
    return memoryview(b"".join(_tlv(0x82, i.encode()) for i in items))


MATRIX = (
    # reference name, presented dNSNames, expected
    ("example.com", ("example.com",), True),
    ("EXAMPLE.com", ("example.COM",), True),
    ("example.com.", ("example.com",), True),
    ("example.com", ("example.com.",), True),
    ("example.com", ("example.org", "www.example.com"), False),
    ("www.example.com", ("*.example.com",), True),
    ("WWW.Example.Com", ("*.EXAMPLE.com",), True),
    ("www.example.com.", ("*.example.com",), True),
    ("example.com", ("*.example.com",), False),          # wildcard needs one label
    ("a.b.example.com", ("*.example.com",), False),      # and only one
    ("foo.com", ("*.com",), False),                      # no wildcard over two-label names
    ("com", ("*.com",), False),
    ("foo.example.com", ("f*.example.com",), False),     # partial-label wildcards are not accepted
    ("foo.example.com", ("*oo.example.com",), False),
    ("foo.example.com", ("f*o.example.com",), False),
    ("a.b.example.com", ("*.*.example.com",), False),
    ("www.a.example.com", ("www.*.example.com",), False),
    ("www.example.com", ("*..example.com",), False),
    ("www.example.com", ("*",), False),
    ("xn--bcher-kva.example", ("xn--bcher-kva.example",), True),
    ("xn--bcher-kva.example", ("XN--BCHER-KVA.example",), True),
    ("xn--bcher-kva.example.com", ("*.example.com",), True),
    ("b\u00fccher.example", ("xn--bcher-kva.example",), False),   # U-labels must be given as A-labels
    ("b\u00fccher.example", ("b\u00fccher.example",), False),
    ("", ("",), False),
    ("*.example.com", ("*.example.com",), False),        # a wildcard is never a reference name
    ("a..example.com", ("a..example.com",), False),
    ("x" * 64 + ".com", ("x" * 64 + ".com",), False),     # label too long
    ("_mqtt.example.com", ("_mqtt.example.com",), True),
    ("exam ple.com", ("exam ple.com",), False),
    ("192.0.2.1", ("192.0.2.1",), False),                 # IP literals only match iPAddress
    ("www.example.com", ("www.example.com\x00.evil.com",), False),
)


def test_dns_matrix():
    for ref, presented, want in MATRIX:
        eq(names.match_server_name(dns_san(*presented), ref), want, "%r vs %r" % (ref, presented))


def test_ip_addresses():
    s = san("www.example.com", "192.0.2.1", "2001:db8::1")
    for ref, want in (("192.0.2.1", True), ("192.0.2.2", False), ("2001:db8::1", True),
                      ("[2001:db8::1]", True), ("2001:0db8:0:0:0:0:0:1", True), ("2001:db8::2", False),
                      ("::ffff:192.0.2.1", False), ("192.000.2.1", False), ("192.0.2.1%eth0", False),
                      ("fe80::1%eth0", False), ("www.example.com", True)):
        eq(names.match_server_name(s, ref), want, ref)


def test_no_san_no_match():
    eq(names.match_server_name(None, "example.com"), False)
    # Names of other types (rfc822Name [1], URI [6]) are ignored.
    s = san((0x81, b"admin@example.com"), (0x86, b"https://example.com/"))
    eq(names.match_server_name(s, "example.com"), False)


def test_parse_ip():
    eq(names.parse_ip("10.0.0.1"), unhex("0a000001"))
    eq(names.parse_ip("::"), bytes(16))
    eq(names.parse_ip("::1.2.3.4"), bytes(12) + unhex("01020304"))
    eq(names.parse_ip("1:2:3:4:5:6:7:8"), unhex("00010002000300040005000600070008"))
    for bad in ("1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1::2::3", "1:2:3:4:5:6:7:8:9",
                "12345::", "g::", ":::", "1.2.3.4:", "example.com", "", "1:2:3:4:5:6:7:1.2.3.4"):
        eq(names.parse_ip(bad), None, bad)


def _subtree(item):
    return _tlv(0x30, item)


def nc(permitted=(), excluded=()):
    """NameConstraints contents from GeneralName TLVs."""
    out = b""
    if permitted:
        out += _tlv(0xA0, b"".join(_subtree(p) for p in permitted))
    if excluded:
        out += _tlv(0xA1, b"".join(_subtree(p) for p in excluded))
    return memoryview(out)


def dns(s):
    return _tlv(0x82, s.encode())


def ipnet(addr, mask):
    return _tlv(0x87, names.parse_ip(addr) + names.parse_ip(mask))


def _name(*rdns):
    # (OID bytes, value) pairs, one per RDN, UTF8String values.
    body = b"".join(_tlv(0x31, _tlv(0x30, _tlv(0x06, o) + _tlv(0x0C, v.encode()))) for o, v in rdns)
    return _tlv(0x30, body)


O = unhex("55040a")
CN = unhex("550403")
EMPTY_NAME = memoryview(unhex("3000"))


def _ok(cons, names_, subject=EMPTY_NAME):
    return names.check_constraints(cons, san(*names_) if names_ else None, subject)


def test_permitted_dns():
    c = nc(permitted=[dns("Example.COM")])
    for n, want in (("example.com", True), ("www.example.com", True), ("a.b.example.com", True),
                    ("*.example.com", True), ("badexample.com", False), ("example.org", False),
                    ("com", False), ("*.com", False)):
        eq(_ok(c, [n]), want, n)
    check(_ok(c, ["www.example.com", "example.com"]))
    check(not _ok(c, ["www.example.com", "www.example.net"]))
    check(_ok(c, []))                                   # no DNS names: nothing to constrain
    check(_ok(c, ["192.0.2.1"]))                        # other types are unconstrained by DNS subtrees


def test_permitted_dns_leading_dot():
    c = nc(permitted=[dns(".example.com")])
    check(not _ok(c, ["example.com"]))
    check(_ok(c, ["www.example.com"]))


def test_excluded_dns_and_wildcards():
    c = nc(excluded=[dns("bad.example.com")])
    for n, want in (("good.example.com", True), ("bad.example.com", False), ("x.bad.example.com", False),
                    ("*.bad.example.com", False), ("*.example.com", False), ("notbad.example.com", True),
                    ("*.good.example.com", True)):
        eq(_ok(c, [n]), want, n)


def test_ip_constraints():
    c = nc(permitted=[ipnet("192.0.2.0", "255.255.255.0"), ipnet("2001:db8::", "ffff:ffff::")])
    for n, want in (("192.0.2.77", True), ("192.0.3.1", False), ("2001:db8:1::5", True),
                    ("2001:db9::1", False), ("example.com", True)):
        eq(_ok(c, [n]), want, n)
    c = nc(permitted=[ipnet("10.0.0.0", "255.0.0.0")])
    check(not _ok(c, ["2001:db8::1"]))                  # an IPv6 name is outside IPv4-only subtrees
    c = nc(excluded=[ipnet("10.0.0.0", "255.0.0.0")])
    check(not _ok(c, ["10.9.9.9"]))
    check(_ok(c, ["11.0.0.1"]))


def test_directory_name_constraints():
    c = nc(permitted=[_tlv(0xA4, _name((O, "Allowed")))])
    eq(_ok(c, [], memoryview(_name((O, "Allowed"), (CN, "host")))), True)
    eq(_ok(c, [], memoryview(_name((O, "Other"), (CN, "host")))), False)
    eq(_ok(c, [], memoryview(_name((CN, "host"), (O, "Allowed")))), False)   # prefix, in order
    eq(_ok(c, [], EMPTY_NAME), True)                    # an empty subject is not constrained
    c = nc(excluded=[_tlv(0xA4, _name((O, "Bad")))])
    eq(_ok(c, [], memoryview(_name((O, "Bad"), (CN, "x")))), False)
    eq(_ok(c, [], memoryview(_name((O, "Good"), (CN, "x")))), True)


def test_unsupported_forms_fail_closed():
    email = (0x81, b"admin@example.com")
    uri = (0x86, b"https://example.com/")
    for form, name in ((_tlv(0x81, b"example.com"), email), (_tlv(0x86, b"example.com"), uri),
                       (_tlv(0xA0, _tlv(0x06, unhex("2b0601")) + _tlv(0xA0, _tlv(0x0C, b"x"))),
                        (0xA0, _tlv(0x06, unhex("2b0601")) + _tlv(0xA0, _tlv(0x0C, b"y"))))):
        for cons in (nc(permitted=[form]), nc(excluded=[form])):
            # Only names of the same form are constrained: without one, nothing to evaluate.
            eq(_ok(cons, ["www.example.com"]), True)
            # With one, the constraint cannot be evaluated, so the certificate is refused.
            eq(_ok(cons, ["www.example.com", name]), False)
    # An emailAddress attribute in the subject is an rfc822Name too.
    email_attr = unhex("2a864886f70d010901")
    attr = _tlv(0x30, _tlv(0x06, email_attr) + _tlv(0x16, b"a@example.com"))
    subject = memoryview(_tlv(0x30, _tlv(0x31, attr)))
    eq(_ok(nc(permitted=[_tlv(0x81, b"example.com")]), ["www.example.com"], subject), False)


def test_malformed_constraints():
    # GeneralSubtree with minimum/maximum, and an unknown top-level field.
    bad = memoryview(_tlv(0xA0, _tlv(0x30, dns("example.com") + _tlv(0x80, b"\x01"))))
    e = raises(CertificateError, names.check_constraints, bad, san("www.example.com"), EMPTY_NAME)
    eq(e.reason, "malformed")
    e = raises(CertificateError, names.check_constraints, memoryview(_tlv(0xA2, dns("x"))), None,
               EMPTY_NAME)
    eq(e.reason, "malformed")

"""Server identity (RFC 6125 / RFC 9525) and name constraints (RFC 5280 4.2.1.10).

Host names: only subjectAltName is consulted (no common-name fallback). A dNSName matches the reference
name case-insensitively after dropping one trailing dot on either side. A wildcard is accepted only as
the whole left-most label ("*.example.com"), matches exactly one non-empty label, and needs at least two
labels after it, so "*.com" matches nothing; there is no public-suffix list, so "*.co.uk" is accepted
(as in most TLS clients without one). Reference names are compared as ASCII: pass internationalised
names as A-labels ("xn--..."); a non-ASCII reference name matches nothing. An IP literal (dotted IPv4,
or IPv6 with optional brackets, no zone id) is matched only against iPAddress entries, byte for byte.

Name constraints: dNSName (RFC 5280 suffix rule; a leading "." means strictly below), iPAddress
(address/mask) and directoryName (RDN prefix, byte for byte) subtrees are evaluated. A wildcard name
is refused by an excluded subtree any name it could stand for falls in. Other forms fail closed when the
certificate carries a name of that form (see check_constraints).
"""
from tls13.x509 import der
from tls13.x509.errors import malformed

GN_DNS = 0x82       # [2] IA5String
GN_DIRNAME = 0xA4   # [4] Name
GN_IP = 0x87        # [7] OCTET STRING


def _ipv4(s):
    parts = s.split(".")
    if len(parts) != 4:
        return None
    out = bytearray(4)
    for i in range(4):
        p = parts[i]
        if not 1 <= len(p) <= 3 or not p.isdigit() or (len(p) > 1 and p[0] == "0"):
            return None
        v = int(p)
        if v > 255:
            return None
        out[i] = v
    return bytes(out)


def _hex_group(g):
    if not 1 <= len(g) <= 4:
        return None
    v = 0
    for ch in g.lower():
        d = "0123456789abcdef".find(ch)
        if d < 0:
            return None
        v = v * 16 + d
    return v


def _ipv6(s):
    if s.startswith("[") and s.endswith("]"):
        s = s[1:-1]
    if ":" not in s:
        return None
    if "." in s:
        # A trailing dotted IPv4 part ("::ffff:192.0.2.1") stands for the last two groups.
        cut = s.rfind(":")
        v4 = _ipv4(s[cut + 1:])
        if v4 is None:
            return None
        s = s[:cut + 1] + "%x:%x" % ((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3])
    halves = s.split("::")
    if len(halves) > 2:
        return None
    parts = []
    for h in halves:
        gs = []
        if h:
            for g in h.split(":"):
                v = _hex_group(g)
                if v is None:
                    return None
                gs.append(v)
        parts.append(gs)
    if len(parts) == 1:
        words = parts[0]
        if len(words) != 8:
            return None
    else:
        n = len(parts[0]) + len(parts[1])
        if n > 7:
            return None
        words = parts[0] + [0] * (8 - n) + parts[1]
    out = bytearray(16)
    for i in range(8):
        out[2 * i] = words[i] >> 8
        out[2 * i + 1] = words[i] & 0xFF
    return bytes(out)


def parse_ip(s):
    """4 or 16 address bytes if `s` is an IP literal, else None."""
    return _ipv4(s) or _ipv6(s)


def _dns_ref(name):
    """Normalised reference DNS name as lower-case ASCII bytes, or None if it is not a usable name."""
    if name.endswith("."):
        name = name[:-1]
    try:
        b = name.encode()
    except UnicodeError:
        return None
    if not 0 < len(b) <= 253 or len(b) != len(name):
        return None
    for label in b.split(b"."):
        if not 0 < len(label) <= 63:
            return None
        for c in label:
            # Letters, digits, '-', and '_' (seen in real service names); no wildcards here.
            if not (48 <= c <= 57 or 97 <= c <= 122 or 65 <= c <= 90 or c == 45 or c == 95):
                return None
    return b.lower()


def _pattern(v):
    """A presented dNSName as lower-case bytes without a trailing dot."""
    p = bytes(v).lower()
    if p.endswith(b"."):
        p = p[:-1]
    return p


def dns_match(pattern, host):
    """Does the presented name `pattern` (bytes, lower case) match the reference `host`?"""
    if b"*" not in pattern:
        return pattern == host
    if not pattern.startswith(b"*.") or b"*" in pattern[2:] or pattern.count(b".") < 2:
        return False
    dot = host.find(b".")
    return dot > 0 and host[dot + 1:] == pattern[2:] and b"" not in pattern[2:].split(b".")


def general_names(buf, s, e):
    """Iterate (tag, value_start, value_end) over GeneralNames contents."""
    while s < e:
        t, vs, ve = der.tlv(buf, s, e)
        yield t, vs, ve
        s = ve


def match_server_name(san, server_name):
    """True if the subjectAltName contents `san` (memoryview or None) name `server_name`."""
    if san is None:
        return False
    ip = parse_ip(server_name)
    host = None if ip else _dns_ref(server_name)
    if ip is None and host is None:
        return False
    for t, s, e in general_names(san, 0, len(san)):
        if ip is not None:
            if t == GN_IP and san[s:e] == ip:
                return True
        elif t == GN_DNS and dns_match(_pattern(san[s:e]), host):
            return True
    return False


def _dns_within(name, base):
    """RFC 5280: a DNS constraint matches the name itself and anything made by adding labels on the
    left; a leading '.' (a common extension) matches only the names below it."""
    if not base:
        return True
    if base.startswith(b"."):
        return name.endswith(base)
    return name == base or name.endswith(b"." + base)


def _dns_may_hit(pattern, base):
    """Could any name matched by `pattern` (possibly a wildcard) fall under `base`?"""
    if _dns_within(pattern, base):
        return True
    if pattern.startswith(b"*."):
        rest = pattern[2:]
        b = base[1:] if base.startswith(b".") else base
        dot = b.find(b".")
        return dot > 0 and b[dot + 1:] == rest
    return False


def _ip_within(ip, cons):
    n = len(ip)
    if len(cons) != 2 * n:
        return False
    for i in range(n):
        if (ip[i] ^ cons[i]) & cons[n + i]:
            return False
    return True


def _rdns(buf, s, e):
    """The RDN TLVs of a Name's contents, as a list of slices."""
    out = []
    while s < e:
        t, vs, ve = der.tlv(buf, s, e)
        out.append(buf[s:ve])
        s = ve
    return out


def _dir_within(subject, base):
    """directoryName constraint: the subject's RDN sequence starts with the base's (binary compare)."""
    ss, se = der.whole(subject, der.SEQUENCE)
    bs, be = der.whole(base, der.SEQUENCE)
    sub = _rdns(subject, ss, se)
    pre = _rdns(base, bs, be)
    if len(pre) > len(sub):
        return False
    for i in range(len(pre)):
        if sub[i] != pre[i]:
            return False
    return True


def _subtrees(nc, which):
    """Contents range of permittedSubtrees ([0]) or excludedSubtrees ([1]), or None."""
    pos = 0
    while pos < len(nc):
        t, s, e = der.tlv(nc, pos, len(nc))
        if t == which:
            return s, e
        pos = e
    return None


def _bases(nc, rng):
    """Iterate (tag, base value slice) over GeneralSubtrees; minimum/maximum are not supported."""
    s, e = rng
    while s < e:
        ts, te = der.expect(nc, s, e, der.SEQUENCE)
        t, vs, ve = der.tlv(nc, ts, te)
        if ve != te:
            raise malformed("GeneralSubtree minimum/maximum")
        yield t, nc[vs:ve]
        s = te


_EMAIL_ATTR = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x09\x01"   # emailAddress in a Name


def _kind_bit(t):
    return 1 << (t & 0x1F)


def check_constraints(nc, san, subject):
    """False if the names of one certificate (its subjectAltName contents and subject Name TLV) break
    the NameConstraints contents `nc`. dNSName, iPAddress and directoryName subtrees are evaluated.
    Subtrees of other forms (rfc822Name, URI, otherName, ...) fail closed when the certificate has a
    name of that form (an rfc822Name subtree also when the subject holds an emailAddress), and do not
    matter otherwise, as RFC 5280 applies a form's subtrees only to names of that form."""
    pos = 0
    while pos < len(nc):
        t, s, e = der.tlv(nc, pos, len(nc))
        if t not in (0xA0, 0xA1) or s == e:
            raise malformed("NameConstraints")
        pos = e
    present = 0
    names = []
    if san is not None:
        for t, s, e in general_names(san, 0, len(san)):
            present |= _kind_bit(t)
            if t == GN_DNS or t == GN_IP:
                names.append((t, _pattern(san[s:e]) if t == GN_DNS else san[s:e]))
    if len(subject) > 2:
        names.append((GN_DIRNAME, subject))
        if _EMAIL_ATTR in bytes(subject):
            present |= _kind_bit(0x81)
    for which in (0xA0, 0xA1):
        rng = _subtrees(nc, which)
        if rng is None:
            continue
        kinds = 0
        for t, base in _bases(nc, rng):
            if t not in (GN_DNS, GN_IP, GN_DIRNAME) and present & _kind_bit(t):
                return False
            kinds |= _kind_bit(t)
        for t, name in names:
            if not kinds & _kind_bit(t):
                continue
            hit = False
            for bt, base in _bases(nc, rng):
                if bt != t:
                    continue
                if t == GN_DNS:
                    b = _pattern(base)
                    hit = _dns_may_hit(name, b) if which == 0xA1 else _dns_within(name, b)
                elif t == GN_IP:
                    hit = _ip_within(name, base)
                else:
                    hit = _dir_within(name, base)
                if hit:
                    break
            if hit == (which == 0xA1):
                return False
    return True

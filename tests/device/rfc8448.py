"""Read the labelled hex values of an RFC 8448 trace section, streaming (works on the VM).

items(3) yields (who, what, field, bytes): e.g. ("client", "send handshake record",
"complete record", b"\\x16\\x03..."). Hex blocks may be split by page breaks; the "(N octets)"
count says where each ends.
"""
from wyche import shared_dir

_HEX = "0123456789abcdef"


def _is_hex_line(s):
    parts = s.split()
    if not parts:
        return False
    for p in parts:
        if len(p) != 2 or p[0] not in _HEX or p[1] not in _HEX:
            return False
    return True


def items(section):
    path = shared_dir() + "/specs/rfc8448.txt"
    start = "%d.  " % section
    stop = "%d.  " % (section + 1)
    inside = False
    who = what = field = None
    need = 0
    acc = None
    with open(path) as f:
        for line in f:
            if line.startswith(start):
                inside = True
                continue
            if not inside:
                continue
            if line.startswith(stop):
                return
            s = line.strip()
            if acc is not None:
                if _is_hex_line(s):
                    acc.extend(bytes.fromhex(s.replace(" ", "")))
                    if len(acc) >= need:
                        yield who, what, field, bytes(acc)
                        acc = None
                continue
            if s.startswith("{client}") or s.startswith("{server}"):
                who = s[1:7]
                what = s[8:].strip().rstrip(":")
                continue
            i = s.find(" octets):")
            if i > 0:
                j = s.rfind("(", 0, i)
                field = s[:j].strip()
                need = int(s[j + 1:i])
                rest = s[i + 9:].strip()
                acc = bytearray(bytes.fromhex(rest.replace(" ", "")) if _is_hex_line(rest) else b"")
                if len(acc) >= need:
                    yield who, what, field, bytes(acc)
                    acc = None


def find(section, who, what_prefix, field):
    for w, what, fld, data in items(section):
        if w == who and what.startswith(what_prefix) and fld == field:
            return data
    raise KeyError((section, who, what_prefix, field))


def records(section, who, what_prefix="send"):
    """Every complete record `who` sends in this section, in order: (what, bytes)."""
    out = []
    for w, what, fld, data in items(section):
        if w == who and what.startswith(what_prefix) and fld == "complete record":
            out.append((what, data))
    return out

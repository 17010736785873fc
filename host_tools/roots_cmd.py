"""Trim a root store to the anchors a board needs and write it as a Python module (`mptls roots`).

    mptls roots --preset letsencrypt                          # list what the selection picks
    mptls roots --preset amazon-iot -o lib/trust_anchors.py --report
    mptls roots --bundle build/pki/ca.crt -o build/anchors.py  # the development CA only
    mptls roots --chain server-chain.pem --report             # anchors for one broker, measured
    mptls roots --pins server-chain.pem                       # SPKI SHA-256 pins of each certificate

Selection (OR-ed; none = every root of the bundle): --preset, --subject (case-insensitive substring of
the RFC 4514 subject), --chain (roots that issued, or appear in, a sample chain). The output module
holds `ANCHORS`, bytes constants made with the device's own parser; load it on the board with
`ctx.load_trust_module(module)`, or freeze it into the firmware so the anchors stay in flash.

--report prints the module's size as .py and as .mpy (mpy-cross) and the heap it takes once imported
from .mpy on the MicroPython VM (64-bit: an upper bound for a 32-bit board, where it is frozen and
costs almost nothing). Without -o it measures a temporary module.
"""
import argparse
import os
import tempfile
import warnings

from host_tools import roots

HELP = "trim a CA bundle to a trust-anchor module for boards (presets, --subject, --chain, --pins)"


def configure(p):
    p.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the examples as laid out
    p.add_argument("--bundle", action="append", default=[], metavar="PEM",
                   help="PEM bundle of roots (repeatable; default: certifi if installed, else %s)"
                   % roots.SYSTEM_BUNDLE)
    p.add_argument("--preset", action="append", default=[], choices=sorted(roots.PRESETS),
                   help="a named selection (repeatable)")
    p.add_argument("--subject", action="append", default=[], metavar="TEXT",
                   help="subject substring, case-insensitive (repeatable)")
    p.add_argument("--chain", action="append", default=[], metavar="PEM",
                   help="sample server chain: keep the roots that issued it (repeatable)")
    p.add_argument("--min-rsa-bits", type=int, default=2048, help="drop weaker RSA roots (default 2048)")
    p.add_argument("-o", "--output", metavar="MODULE.py", help="module to write (default: list only)")
    p.add_argument("--report", action="store_true",
                   help="print the module's .py/.mpy size and its heap imported as .mpy on the VM")
    p.add_argument("--pins", metavar="PEM", help="print the SPKI SHA-256 pin of each certificate and exit")


def to_argv(args, output=None):
    """The argv of host_tools.roots.main for parsed arguments."""
    argv = []
    for flag, values in (("--bundle", args.bundle), ("--preset", args.preset), ("--subject", args.subject),
                         ("--chain", args.chain)):
        for v in values:
            argv += [flag, v]
    argv += ["--min-rsa-bits", str(args.min_rsa_bits)]
    out = output or args.output
    if out:
        argv += ["-o", out]
    if args.report and out:
        argv.append("--report")
    if args.pins:
        argv += ["--pins", args.pins]
    return argv


def run(args):
    with warnings.catch_warnings():
        # Bundles carry a few old roots with a non-positive serial number; cryptography warns on
        # each one, which says nothing about the selection.
        warnings.filterwarnings("ignore", message=".*serial number.*")
        return _run(args)


def _run(args):
    if args.report and not args.output and not args.pins:
        with tempfile.TemporaryDirectory() as tmp:
            return roots.main(to_argv(args, os.path.join(tmp, "trust_anchors.py")))
    return roots.main(to_argv(args))

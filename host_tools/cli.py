"""`mptls` command line: host tools for the TLS 1.3 / MQTT stack (subcommands grow here)."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="mptls", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench-crypto", help="crypto primitive benchmark (CPython and the VM)")
    b.set_defaults(func=lambda a: __import__("host_tools.bench_crypto").bench_crypto.main([]))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

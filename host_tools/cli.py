"""`mptls`: host tools for the TLS 1.3 / MQTT telemetry stack.

Each subcommand lives in its own module under host_tools/ exposing
    HELP = "one line"
    def configure(parser): ...   # add arguments to the subcommand's argparse parser
    def run(args): ...           # do it; return an exit code
and is listed in COMMANDS below, so `mptls <cmd> --help` works for every one of them.
"""
import argparse
import importlib
import sys

COMMANDS = (
    ("pki", "host_tools.pki_cmd"),
    ("roots", "host_tools.roots_cmd"),
    ("build", "host_tools.build"),
    ("deploy", "host_tools.deploy"),
    ("board", "host_tools.board"),
    ("monitor", "host_tools.monitor"),
    ("probe", "host_tools.probe"),
    ("demo", "host_tools.demo"),
    ("bench", "host_tools.bench"),
    ("check", "host_tools.check"),
)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="mptls", description="Host tools for the TLS 1.3 + MQTT stack "
                                     "on MicroPython boards")
    sub = parser.add_subparsers(dest="cmd", metavar="COMMAND")
    loaded = {}
    for name, modname in COMMANDS:
        try:
            mod = importlib.import_module(modname)
        except ImportError as e:
            if e.name != modname:
                raise
            continue  # not built yet
        p = sub.add_parser(name, help=mod.HELP, description=mod.__doc__)
        mod.configure(p)
        loaded[name] = mod
    args = parser.parse_args(argv)
    if not args.cmd:
        parser.print_help()
        return 2
    return loaded[args.cmd].run(args) or 0


if __name__ == "__main__":
    sys.exit(main())

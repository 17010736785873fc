"""Compile the library and the firmware for one board (the `mptls build` command).

    mptls build --board esp32                 # -> build/esp32/
    mptls build --board esp32 --march host    # for the emulated board on this machine -> build/esp32-x64/

What goes into build/<board>/ (the layout of the board's flash):
    lib/tls13/**.mpy, lib/mqtt/*.mpy, lib/telemetry/*.mpy   mpy-cross -march=<profile march>, so the
                                                            viper kernels are native code for the chip
    lib/_sha512.mpy                                         pure SHA-384/512 (adafruit_hashlib), flat
    boot.py, main.py                                        firmware/ (a board runs only .py at boot)
    board.json                                              the profile plus built_at, a floor for the
                                                            board's clock (tls13/x509/chain.py policy)
    MANIFEST.json                                           every file's size and SHA-256 (deploy checks)

Compilation is incremental (by modification time). `built_at` is the newest input's mtime, so an
unchanged tree builds to identical files.
"""
import hashlib
import json
import os
import shutil

from host_tools import vm

HELP = "compile lib/ to .mpy for a board (mpy-cross -march from its profile) plus the firmware files"

LIB = os.path.join(vm.ROOT, "lib")
FIRMWARE = os.path.join(vm.ROOT, "firmware")
PACKAGES = ("tls13", "mqtt", "telemetry")
FIRMWARE_FILES = ("boot.py", "main.py")


def out_dir_for(board, march=None, base=None):
    base = base or os.path.join(vm.ROOT, "build")
    prof = vm.load_board(board)
    default = vm.board_march(prof)
    m = vm.board_march({"march": march}) if march else default
    return os.path.join(base, board if m == default else "%s-%s" % (board, m)), m


def _inputs():
    for pkg in PACKAGES:
        for dirpath, dirs, files in os.walk(os.path.join(LIB, pkg)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for f in files:
                if f.endswith(".py"):
                    yield os.path.join(dirpath, f)
    for f in FIRMWARE_FILES:
        yield os.path.join(FIRMWARE, f)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(65536), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_if_changed(path, data):
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return
    except OSError:
        pass
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def build(board, march=None, out=None, clean=False):
    """Build for a board; returns (out_dir, {relative path: sha256})."""
    prof = vm.load_board(board)
    out_default, m = out_dir_for(board, march)
    out = out or out_default
    if clean and os.path.isdir(out):
        shutil.rmtree(out)
    lib_out = os.path.join(out, "lib")
    vm.build_mpy(LIB, lib_out, march=m, with_sha512=False)
    tool = vm.mpy_cross_bin()
    ada = vm.adafruit_hashlib_dir()
    if ada:
        src, dst = os.path.join(ada, "_sha512.py"), os.path.join(lib_out, "_sha512.mpy")
        if not os.path.exists(dst) or os.path.getmtime(dst) < os.path.getmtime(src):
            vm._compile(tool, src, dst, "_sha512.py", None, None)
    for f in FIRMWARE_FILES:
        with open(os.path.join(FIRMWARE, f), "rb") as fh:
            _write_if_changed(os.path.join(out, f), fh.read())
    built_at = int(max(os.path.getmtime(p) for p in _inputs()))
    info = dict(prof, board=board, built_at=built_at, march=m)
    _write_if_changed(os.path.join(out, "board.json"), (json.dumps(info, indent=1, sort_keys=True) + "\n").encode())
    files = {}
    for dirpath, dirs, names in os.walk(out):
        dirs.sort()
        for n in sorted(names):
            if n.endswith(".tmp") or n == "MANIFEST.json":
                continue
            p = os.path.join(dirpath, n)
            files[os.path.relpath(p, out).replace(os.sep, "/")] = sha256_file(p)
    manifest = {"board": board, "march": m, "built_at": built_at,
                "files": {k: {"sha256": v, "size": os.path.getsize(os.path.join(out, k))} for k, v in files.items()}}
    _write_if_changed(os.path.join(out, "MANIFEST.json"), (json.dumps(manifest, indent=1) + "\n").encode())
    return out, files


def configure(p):
    p.add_argument("--board", required=True, choices=vm.board_names(), help="board profile (boards/*.json)")
    p.add_argument("--march", help="override the profile's mpy-cross -march (\"host\": this machine's VM)")
    p.add_argument("--out", metavar="DIR", help="output directory (default build/<board>[-<march>])")
    p.add_argument("--clean", action="store_true", help="remove the output directory first")


def run(args):
    try:
        out, files = build(args.board, args.march, args.out, args.clean)
    except (ValueError, RuntimeError) as e:
        print("mptls build: %s" % e)
        return 2
    size = sum(os.path.getsize(os.path.join(out, f)) for f in files)
    with open(os.path.join(out, "board.json")) as f:
        march = json.load(f)["march"]
    print("built %s for %s (-march=%s): %d files, %.1f KB" % (os.path.relpath(out), args.board, march,
                                                              len(files), size / 1024))
    return 0

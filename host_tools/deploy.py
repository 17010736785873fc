"""Put the firmware, its configuration and the device credentials on a board (`mptls deploy`).

    mptls deploy --board esp32 --port /dev/ttyUSB0 --config config.json --pki build/pki --device device-001
    mptls deploy --board esp32 --port build/board.pty ...        # the emulated board (mptls board)
    mptls deploy ... --dry-run                                    # show what would be copied, touch nothing

What lands on the board (paths on its flash):
    /lib/**.mpy, /boot.py, /main.py, /board.json   from `mptls build` (built here if needed)
    /config.json, /secrets.json                    --config, --secrets (secrets.json is optional)
    /certs/ca.crt                                  the CA that issued the broker's certificate
    /certs/device.crt, /certs/device.key           this device's certificate and P-256 key (mTLS)

It drives the real `mpremote`, always as `connect PORT resume` (no soft reset: a running node is
only interrupted): one exec of hashlib lists the SHA-256 of every file already on the board, `fs cp`
sends the files that differ (all of them with --force), and the same exec afterwards verifies every
file against the local SHA-256: any difference fails the deploy. --reset ends with machine.reset()
so the new firmware starts.

The .mpy files must match the board's architecture: before copying, deploy asks the board for
sys.implementation._mpy. A real board must report the profile's -march (else --board is wrong); the
emulated board (sys.platform "linux") gets a build for this machine's VM.
"""
import json
import os
import shutil
import subprocess
import sys

from host_tools import build as B
from host_tools import vm

HELP = "copy the build, config and device credentials to a board with mpremote, verify by SHA-256"

EXAMPLE_CONFIG = os.path.join(vm.ROOT, "firmware", "config.example.json")


def mpremote_cmd():
    return [sys.executable, "-m", "mpremote"]


def credentials(pki=None, device=None, ca=None, cert=None, key=None):
    """{remote path: local file} for the CA, device certificate and key."""
    if pki:
        ca = ca or os.path.join(pki, "ca.crt")
        if device:
            cert = cert or os.path.join(pki, device + ".crt")
            key = key or os.path.join(pki, device + ".key")
    out = {}
    for remote, local in (("certs/ca.crt", ca), ("certs/device.crt", cert), ("certs/device.key", key)):
        if local:
            if not os.path.exists(local):
                raise ValueError("%s does not exist" % local)
            out[remote] = local
    return out


def plan(build_dir, config=None, secrets=None, creds=None, with_lib=True):
    """[(local path, remote path)] in copy order: libraries first, main.py last (a reset mid-deploy
    then finds either the old main.py or a complete new firmware)."""
    files = []
    for dirpath, dirs, names in os.walk(build_dir):
        dirs.sort()
        for n in sorted(names):
            local = os.path.join(dirpath, n)
            rel = os.path.relpath(local, build_dir).replace(os.sep, "/")
            if rel == "MANIFEST.json" or n.endswith(".tmp"):
                continue
            if rel.startswith("lib/") and not with_lib:
                continue
            files.append((local, rel))
    for local, remote in ((config, "config.json"), (secrets, "secrets.json")):
        if local:
            files.append((local, remote))
    for remote, local in sorted((creds or {}).items()):
        files.append((local, remote))
    files.sort(key=lambda lr: (lr[1] == "main.py", lr[1] == "boot.py", not lr[1].startswith("lib/")))
    return files


def directories(files):
    dirs = set()
    for _, remote in files:
        parts = remote.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    dirs.add("state")
    return sorted(dirs, key=lambda d: (d.count("/"), d))


def provision_dir(fs_dir, files):
    """Write the plan straight into an emulated board's flash directory (what deploy does over
    mpremote, without a serial port: the demo and tests use it)."""
    for d in directories(files):
        os.makedirs(os.path.join(fs_dir, d), exist_ok=True)
    for local, remote in files:
        shutil.copyfile(local, os.path.join(fs_dir, remote))


_MKDIRS = "import os\nfor d in %r:\n try:\n  os.mkdir(d)\n except OSError:\n  pass\n"
_HASH = """import hashlib, binascii
b = bytearray(512)
m = memoryview(b)
for p in %r:
    try:
        h = hashlib.sha256()
        with open(p, 'rb') as f:
            while True:
                n = f.readinto(b)
                if not n:
                    break
                h.update(m[:n])
        print('MPTLS-HASH', p, binascii.hexlify(h.digest()).decode())
    except OSError:
        print('MPTLS-HASH', p, 'missing')
"""
_PLATFORM = "import sys\nprint('MPTLS-PLATFORM', sys.platform, getattr(sys.implementation, '_mpy', 0))"


def run_mpremote(port, args, timeout=300):
    cmd = mpremote_cmd() + ["connect", port, "resume"] + args
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0:
        raise RuntimeError("mpremote failed (%d):\n%s" % (p.returncode, out))
    return out


def target_arch(port):
    """(sys.platform, mpy arch name, .mpy version) the board reports."""
    out = run_mpremote(port, ["exec", _PLATFORM], timeout=30)
    for line in out.splitlines():
        if line.startswith("MPTLS-PLATFORM "):
            _, plat, mpy = line.split()
            return plat, vm.arch_of_mpy_version(mpy), int(mpy) & 0xFF
    raise RuntimeError("the board did not answer:\n" + out)


def remote_hashes(port, remotes):
    out = run_mpremote(port, ["exec", _HASH % (["/" + r for r in remotes],)])
    got = {}
    for line in out.splitlines():
        if line.startswith("MPTLS-HASH "):
            _, path, digest = line.split()
            got[path.lstrip("/")] = digest
    return got


def deploy(port, files, force=False, reset=False, log=print):
    """Copy what differs, then verify every file's SHA-256 on the board; returns the mismatches.

    One exec hashes every file already on the board, so only changed files cross the serial link (a
    board at 115200 baud moves ~10 KB/s); the same exec after copying is the verification."""
    want = dict((remote, B.sha256_file(local)) for local, remote in files)
    have = {} if force else remote_hashes(port, [r for _, r in files])
    todo = [(local, remote) for local, remote in files if have.get(remote) != want[remote]]
    if todo:
        args = ["exec", _MKDIRS % (["/" + d for d in directories(todo)],)]
        for local, remote in todo:
            args += ["+", "fs", "cp", "-f", local, ":/" + remote]
        run_mpremote(port, args, timeout=900)
    log("copied %d files (%d already up to date)" % (len(todo), len(files) - len(todo)))
    got = remote_hashes(port, [r for _, r in files])
    bad = [(remote, got.get(remote)) for _, remote in files if got.get(remote) != want[remote]]
    if not bad:
        log("verified %d files by SHA-256 on the board" % len(files))
    if reset and not bad:
        run_mpremote(port, ["exec", "--no-follow", "import machine; machine.reset()"], timeout=30)
        log("reset: the new firmware is starting")
    return bad


def configure(p):
    p.add_argument("--board", required=True, choices=vm.board_names(), help="board profile (boards/*.json)")
    p.add_argument("--port", help="serial port of the board (or the emulated board's pty link)")
    p.add_argument("--config", help="config.json for the node (see firmware/config.example.json)")
    p.add_argument("--secrets", help="secrets.json (Wi-Fi password, MQTT password); optional")
    p.add_argument("--pki", metavar="DIR", help="take ca.crt and <device>.crt/.key from DIR (mptls pki)")
    p.add_argument("--device", help="device id: its certificate files in --pki")
    p.add_argument("--ca", help="CA certificate that issued the broker's certificate")
    p.add_argument("--cert", help="device certificate (PEM)")
    p.add_argument("--key", help="device private key (PEM, P-256)")
    p.add_argument("--no-lib", action="store_true", help="skip lib/ (firmware with the library frozen in)")
    p.add_argument("--force", action="store_true", help="copy every file even when the board has it already")
    p.add_argument("--reset", action="store_true", help="machine.reset() afterwards, starting the new firmware")
    p.add_argument("--dry-run", action="store_true", help="print what would be copied; no board needed")


def _check_config(path, board, creds):
    with open(path) as f:
        cfg = json.load(f)
    if cfg.get("board") not in (None, board):
        print("warning: config.json says board %r, deploying for %r" % (cfg.get("board"), board))
    tls = cfg.get("tls") or {}
    for key, remote in (("ca", "certs/ca.crt"), ("cert", "certs/device.crt"), ("key", "certs/device.key")):
        if remote in creds and tls.get(key, remote) != remote:
            print("warning: config.json tls.%s is %r but the file goes to %r" % (key, tls.get(key), remote))


def run(args):
    try:
        creds = credentials(args.pki, args.device, args.ca, args.cert, args.key)
        if not args.config:
            raise ValueError("--config is required (start from %s)" % os.path.relpath(EXAMPLE_CONFIG))
        _check_config(args.config, args.board, creds)
        if not args.dry_run and not args.port:
            raise ValueError("--port is required (or --dry-run)")
        march = None
        if not args.dry_run:
            plat, arch, version = target_arch(args.port)
            prof = vm.load_board(args.board)
            print("board reports %s, .mpy v%d, arch %s" % (plat, version, arch or "none"))
            if version != 6:
                raise ValueError("the board's MicroPython loads .mpy v%d; this build makes v6 (MicroPython 1.22+)"
                                 % version)
            if plat == "linux":
                march = arch or "host"  # the emulated board: code for this machine's VM
            elif prof.get("library") == "frozen" and not args.no_lib:
                print("warning: a %s cannot hold the library loaded from .mpy files next to its data; flash "
                      "firmware with it frozen in (firmware/manifest.py) and deploy with --no-lib" % args.board)
            elif arch and arch != vm.board_march(prof):
                raise ValueError("the board runs %s code but the %s profile builds for %s: wrong --board?"
                                 % (arch, args.board, vm.board_march(prof)))
        out, _ = B.build(args.board, march)
        files = plan(out, args.config, args.secrets, creds, with_lib=not args.no_lib)
    except (ValueError, RuntimeError, OSError) as e:
        print("mptls deploy: %s" % e)
        return 2
    total = sum(os.path.getsize(local) for local, _ in files)
    print("%s %d files (%.1f KB) from %s" % ("would copy" if args.dry_run else "copying", len(files),
                                            total / 1024, os.path.relpath(out)))
    if args.dry_run:
        for local, remote in files:
            print("  %-34s %7d  %s  <- %s" % ("/" + remote, os.path.getsize(local), B.sha256_file(local)[:16],
                                              os.path.relpath(local)))
        print("mpremote connect %s resume exec <mkdir %s> + fs cp <file> :/<path> ... + exec <sha256 check>"
              % (args.port or "PORT", " ".join(directories(files))))
        return 0
    try:
        bad = deploy(args.port, files, args.force, args.reset)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print("mptls deploy: %s" % e)
        return 1
    for remote, got in bad:
        print("MISMATCH /%s: board has %s" % (remote, got))
    return 1 if bad else 0

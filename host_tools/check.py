"""Static checks run by `make test` (`mptls check`): ruff, and lib/ + firmware/ checked against what
each board's MicroPython really has.

    mptls check                       # ruff + imports + types, for every board
    mptls check --board pico_w        # one board
    mptls check --board pico_w app.py # other files instead of lib/ and firmware/

1. ruff over lib/ tests/ host_tools/ firmware/ (settings in pyproject.toml).
2. Imports, per board: every module lib/ and firmware/ import must exist on the board: a module of
   its MicroPython stubs (the port's own modules and the few standard ones MicroPython has), or one of
   the project's own. `import typing` (or abc, enum, dataclasses, logging...) anywhere, module level
   or in a function, fails. An import is exempt when it is guarded: inside `try:` with an
   `except ImportError` (or broader) handler, under an `if` on sys.implementation / sys.platform, or
   in an ImportError handler whose `try:` imports only what the board has (a CPython fallback that
   never runs on the board).
   Also: arithmetic on ticks (`ticks_ms() + timeout`) fails: on a 32-bit board ticks wrap at 2**30,
   the sum can leave the small-int range, and ticks_diff() then reads a big int's pointer as a number
   (it assumes small ints); time.ticks_add() is the way.
3. Types, per board: mypy against the board's stub package, installed alone into build/stubs/<board>
   (the esp32 and rp2 stub packages ship conflicting copies of the same modules) and used as the
   whole standard library (custom typeshed), with sys.platform set to the port's ("esp32", "rp2"), so
   code under `if sys.platform == "esp32":` is checked for the ESP32 only. Bodies of unannotated
   functions are checked, but only these error codes count: a missing module or attribute
   (machine.TouchPad on rp2, esp32.raw_temperature off the ESP32), an undefined name, a wrong
   argument count. Type inference noise of ordinary dynamic Python (Optional narrowing, attributes
   added after __init__, ints vs ticks) is off. Known false positives are waived in ALLOW below, each
   matched by file, code and message, with its reason.
"""
import argparse
import ast
import fcntl
import os
import re
import shutil
import subprocess
import sys

HELP = "ruff, and lib/ + firmware/ checked against the esp32 and rp2 MicroPython stubs (imports, APIs)"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUBS_DIR = os.path.join(ROOT, "build", "stubs")
RUFF_DIRS = ("lib", "tests", "host_tools", "firmware")
TYPED_DIRS = ("lib", "firmware")
# Files that are not device code: firmware/manifest.py is read by MicroPython's freezing tool.
NOT_DEVICE_CODE = ("firmware/manifest.py",)

# board -> (stub package pinned in requirements-dev.txt, sys.platform on that port)
BOARDS = {
    "esp32": ("micropython-esp32-stubs", "esp32"),
    "pico_w": ("micropython-rp2-rpi-pico-w-stubs", "rp2"),
}
STDLIB_STUBS = "micropython-stdlib-stubs"

# Standard modules the stubs' typeshed (stdlib/) has that MicroPython also has; the rest of it
# (typing, abc, enum, types, _typeshed...) exists for the type checker only.
MICROPYTHON_STDLIB = ("array", "asyncio", "builtins", "collections", "io", "json", "os", "re", "ssl",
                      "struct", "sys")
_STUB_INTERNALS = ("stdlib", "_mpy_shed", "stubs", "__builtins__")
# Modules that go onto a board beside lib/ without being in it: the pure SHA-384/512 of
# adafruit_hashlib, shipped flat as _sha512.mpy (see tests/vmbench.build_mpy).
SHIPPED = ("_sha512",)

KEEP_CODES = ("attr-defined", "name-defined", "import", "import-not-found", "import-untyped", "call-arg",
              "syntax")

# (file relative to the repo, error code, message regex, why it is not a bug on a board); the codes
# "board-import" and "ticks-arith" stand for the source checks of step 2.
ALLOW = (
    ("lib/tls13/x509/cert.py", "attr-defined", r'"Cert" has no attribute',
     "parse() sets tbs/sig/alg/salt on the record as it reads the DER; __init__ only presets the "
     "optional fields"),
    # Sensor drivers are picked by name from the board profile (boards/*.json "sensors") and each
    # call is wrapped in try/except by telemetry.sensors.Sensors, so a driver for another chip is
    # never called on this one.
    ("lib/telemetry/sensors.py", "board-import", r"'esp32'",
     "ESP32 drivers; only ESP32 profiles name them"),
    ("lib/telemetry/sensors.py", "attr-defined", r'Module has no attribute "mcu_temperature"',
     "ESP32-S2/S3/C3 API, absent from the classic ESP32 stubs; only the esp32s3 profile names it"),
)


# Real problems that are reported and not fixed yet: printed by every run, not failing it. Remove an
# entry once its fix lands. (file, code, message regex, what is wrong)
KNOWN_BUGS = ()  # (file, code, message pattern, what): reported problems still in the tree


def _rel(path):
    rel = os.path.relpath(os.path.abspath(path), ROOT)
    return os.path.abspath(path) if rel.startswith("..") else rel


# ---- stubs ---------------------------------------------------------------------------------------------

def pinned(package):
    """The version requirements-dev.txt pins for package."""
    with open(os.path.join(ROOT, "requirements-dev.txt")) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if line.lower().startswith(package.lower() + "=="):
                return line.split("==", 1)[1]
    raise RuntimeError("%s is not pinned in requirements-dev.txt" % package)


def ensure_stubs(board):
    """build/stubs/<board> with the board's stub package (and its stdlib stubs), installed once."""
    package, _ = BOARDS[board]
    specs = ["%s==%s" % (p, pinned(p)) for p in (package, STDLIB_STUBS)]
    spec = " ".join(specs)
    target = os.path.join(STUBS_DIR, board)
    stamp = os.path.join(target, ".installed")
    os.makedirs(STUBS_DIR, exist_ok=True)
    with open(os.path.join(STUBS_DIR, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers may get here together
        if os.path.exists(stamp):
            with open(stamp) as f:
                if f.read() == spec:
                    return target
        if os.path.exists(target):
            shutil.rmtree(target)
        r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                            "--no-warn-conflicts", "--target", target] + specs,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise RuntimeError("installing %s failed:\n%s" % (spec, r.stdout[-3000:]))
        with open(stamp, "w") as f:
            f.write(spec)
    return target


def board_modules(stub_dir):
    """Top-level module names a board has, according to its stub package."""
    names = set(MICROPYTHON_STDLIB)
    for entry in os.listdir(stub_dir):
        if entry.startswith(".") or entry.endswith(".dist-info") or entry in _STUB_INTERNALS:
            continue
        if entry.endswith(".pyi"):
            names.add(entry[:-4])
        elif os.path.isdir(os.path.join(stub_dir, entry)):
            names.add(entry)
    names.discard("__builtins__")
    return names


# ---- files ---------------------------------------------------------------------------------------------

def device_files():
    """Every .py file of lib/ and firmware/ that goes onto a board."""
    out = []
    for top in TYPED_DIRS:
        for dirpath, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.endswith(".egg-info"))
            for name in sorted(files):
                path = os.path.join(dirpath, name)
                if name.endswith(".py") and _rel(path) not in NOT_DEVICE_CODE:
                    out.append(path)
    return out


def project_modules(files=()):
    """Top-level names the project provides on a board: lib/ packages and modules, firmware/
    modules, and the files being checked."""
    names = set()
    for top in TYPED_DIRS:
        d = os.path.join(ROOT, top)
        if not os.path.isdir(d):
            continue
        for entry in os.listdir(d):
            if entry.endswith(".py"):
                names.add(entry[:-3])
            elif os.path.exists(os.path.join(d, entry, "__init__.py")):
                names.add(entry)
    for f in files:
        names.add(os.path.basename(f)[:-3])
    return names


# ---- imports -------------------------------------------------------------------------------------------

def _imported(node):
    if isinstance(node, ast.Import):
        return [a.name.split(".")[0] for a in node.names]
    if node.level:  # relative: the project's own
        return []
    return [node.module.split(".")[0]] if node.module else []


def _handler_names(handler):
    t = handler.type
    if t is None:
        return {"BaseException"}
    return set(n.id for n in (t.elts if isinstance(t, ast.Tuple) else [t]) if isinstance(n, ast.Name))


def _catches_import_error(handler):
    return bool(_handler_names(handler) & {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


def _runtime_test(test):
    src = ast.dump(test)
    return "implementation" in src or "platform" in src


def _ticks_call(node):
    if isinstance(node, ast.Call):
        f = node.func
        name = f.id if isinstance(f, ast.Name) else (f.attr if isinstance(f, ast.Attribute) else None)
        if name in ("ticks_ms", "ticks_us", "ticks_cpu"):
            return name
    return None


def source_findings(path, available):
    """[(line, message, code)] for imports the board lacks and for ticks arithmetic (see the module
    docstring)."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    out = []

    def walk(node, guarded):
        if isinstance(node, ast.Try):
            catches = any(_catches_import_error(h) for h in node.handlers)
            body_ok = all(m in available for stmt in node.body for n in ast.walk(stmt)
                          if isinstance(n, (ast.Import, ast.ImportFrom)) for m in _imported(n))
            for stmt in node.body:
                walk(stmt, guarded or catches)
            for h in node.handlers:
                fallback = _catches_import_error(h) and body_ok
                for stmt in h.body:
                    walk(stmt, guarded or fallback)
            for stmt in node.orelse + node.finalbody:
                walk(stmt, guarded)
            return
        if isinstance(node, ast.If) and _runtime_test(node.test):
            for stmt in node.body + node.orelse:
                walk(stmt, True)
            return
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            for side in (node.left, node.right):
                t = _ticks_call(side)
                if t:
                    out.append((node.lineno, "ticks arithmetic on %s(): use time.ticks_add / time.ticks_diff "
                                             "(ticks wrap at 2**30 on 32-bit boards)" % t, "ticks-arith"))
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not guarded:
            for m in _imported(node):
                if m not in available:
                    out.append((node.lineno, "import of %r, which MicroPython on this board does not have "
                                             "(guard it with try/except ImportError if it is optional)" % m,
                                "board-import"))
        for child in ast.iter_child_nodes(node):
            walk(child, guarded)

    walk(tree, False)
    return out


def unresolvable(files, resolvable):
    """Imported modules that neither the stubs nor the project provide: mypy skips them (a missing
    one that is not guarded is reported by the import check already)."""
    names = set()
    for path in files:
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        for n in ast.walk(tree):
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                names.update(m for m in _imported(n) if m not in resolvable)
    return sorted(names)


# ---- types ---------------------------------------------------------------------------------------------

def _mypy_config(board, stub_dir, skip, cache_dir, extra_path=()):
    from mypy import errorcodes
    off = sorted(c for c in errorcodes.error_codes if c not in KEEP_CODES)
    path = [stub_dir, os.path.join(ROOT, "lib"), os.path.join(ROOT, "firmware")] + list(extra_path)
    lines = [
        "[mypy]",
        "custom_typeshed_dir = %s" % stub_dir,
        "mypy_path = %s" % ":".join(path),
        "no_site_packages = True",
        "platform = %s" % BOARDS[board][1],
        "check_untyped_defs = True",
        "cache_dir = %s" % cache_dir,
        "disable_error_code = %s" % ", ".join(off),
        "show_error_codes = True",
        "explicit_package_bases = True",
    ]
    if skip:
        lines += ["[mypy-%s]" % ",".join(m + "," + m + ".*" for m in skip), "ignore_missing_imports = True",
                  "follow_imports = skip"]
    cfg = os.path.join(STUBS_DIR, "mypy-%s-%d.ini" % (board, os.getpid()))
    with open(cfg, "w") as f:
        f.write("\n".join(lines) + "\n")
    return cfg


_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: (?P<msg>.*?)\s+\[(?P<code>[a-z-]+)\]$")


def type_findings(board, files=None, cache_dir=None):
    """[(file, line, code, message)] from mypy for the board; files=None checks lib/ and firmware/."""
    stub_dir = ensure_stubs(board)
    targets = device_files() if files is None else [os.path.abspath(f) for f in files]
    skip = unresolvable(targets, board_modules(stub_dir) | project_modules(files or ()))
    extra = sorted(set(os.path.dirname(f) for f in targets)) if files is not None else ()
    cache_dir = cache_dir or os.path.join(STUBS_DIR, ".mypy_cache-" + board)
    cfg = _mypy_config(board, stub_dir, skip, cache_dir, extra)
    # Files, not -p packages: explicit_package_bases and mypy_path (lib/) name them tls13.x, mqtt.y...
    args = targets
    try:
        r = subprocess.run([sys.executable, "-m", "mypy", "--config-file", cfg, "--no-error-summary"] + args,
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    finally:
        os.remove(cfg)
    if r.returncode not in (0, 1):
        raise RuntimeError("mypy failed to run:\n" + r.stdout[-3000:])
    found = []
    for line in r.stdout.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        f = _rel(m.group("file"))
        if f.startswith(os.path.join("build", "stubs")) or _allowed(f, m.group("code"), m.group("msg")):
            continue
        found.append((f, int(m.group("line")), m.group("code"), m.group("msg")))
    out = []
    for f in sorted(set(x[0] for x in found)):
        mine = [x for x in found if x[0] == f]
        waived = _fallback_waivers(os.path.join(ROOT, f), [x[1] for x in mine])
        out += [x for x in mine if x[1] not in waived]
    return out


def _fallback_waivers(path, lines):
    """Lines among `lines` (findings in one file) that only run where the board lacks something:
    the body of an `except ImportError/AttributeError` (or broader) handler whose `try:` has no
    finding is a fallback for CPython that never runs on the board; the body of a `try:` that names
    ImportError or AttributeError in a handler probes for an optional API on purpose."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    waived = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try) or not node.body:
            continue
        lo, hi = node.body[0].lineno, node.body[-1].end_lineno
        caught = set()
        for h in node.handlers:
            caught |= _handler_names(h)
        probing = bool(caught & {"ImportError", "ModuleNotFoundError", "AttributeError"})
        body_hits = [x for x in lines if lo <= x <= hi]
        if probing:
            waived.update(body_hits)
        if body_hits:
            continue  # the try may fail on this board, so its handlers must hold here too
        for h in node.handlers:
            if _catches_missing(h):
                waived.update(x for x in lines if h.body[0].lineno <= x <= h.end_lineno)
    return waived


def _catches_missing(handler):
    return bool(_handler_names(handler) & {"ImportError", "ModuleNotFoundError", "AttributeError", "Exception",
                                           "BaseException"})


def _allowed(f, code, msg):
    return any(f == af and code == ac and re.search(am, msg) for af, ac, am, _ in ALLOW + KNOWN_BUGS)


def known_bugs_present():
    """KNOWN_BUGS entries whose problem is still in the tree (as printable lines)."""
    out = []
    for f, code, pattern, what in KNOWN_BUGS:
        path = os.path.join(ROOT, f)
        if os.path.exists(path) and any(c == code and re.search(pattern, m)
                                        for _, m, c in source_findings(path, set())):
            out.append("%s: %s" % (f, what))
    return out


# ---- ruff and the command ------------------------------------------------------------------------------

def ruff(paths=None):
    """(exit status, output) of ruff over the given paths (default: lib tests host_tools firmware)."""
    paths = [p for p in (paths or [os.path.join(ROOT, d) for d in RUFF_DIRS]) if os.path.exists(p)]
    exe = os.path.join(os.path.dirname(sys.executable), "ruff")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "ruff"]
    r = subprocess.run(cmd + ["check", "--no-cache", "--quiet"] + paths, cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return r.returncode, r.stdout.strip()


def check_board(board, files=None, cache_dir=None):
    """All findings for one board as printable lines (empty: clean)."""
    stub_dir = ensure_stubs(board)
    available = board_modules(stub_dir) | project_modules(files or ()) | set(SHIPPED)
    lines = []
    for path in (device_files() if files is None else files):
        for line, msg, code in source_findings(path, available):
            if _allowed(_rel(path), code, msg):
                continue
            lines.append("%s:%d: [%s] %s  [%s]" % (_rel(path), line, board, msg, code))
    for f, line, code, msg in type_findings(board, files, cache_dir):
        lines.append("%s:%d: [%s] %s  [%s]" % (f, line, board, msg, code))
    return lines


def configure(p):
    p.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the examples as laid out
    p.add_argument("--board", action="append", choices=sorted(BOARDS),
                   help="check against this board's stubs only (repeatable; default: all)")
    p.add_argument("--no-ruff", action="store_true", help="skip ruff")
    p.add_argument("files", nargs="*", help="device files to check instead of lib/ and firmware/")


def run(args):
    failed = False
    if not args.no_ruff:
        rc, text = ruff(args.files or None)
        print("ruff: %s" % ("ok" if rc == 0 else "FAILED"))
        if text:
            print(text)
        failed |= rc != 0
    for board in args.board or sorted(BOARDS):
        try:
            lines = check_board(board, args.files or None)
        except (RuntimeError, ImportError) as e:
            print("%s: could not check: %s" % (board, e))
            failed = True
            continue
        what = "%d files" % len(args.files) if args.files else "lib/ and firmware/"
        print("%s (%s stubs, sys.platform %r): %s" % (board, BOARDS[board][0], BOARDS[board][1],
                                                      "ok, " + what if not lines else "%d problems" % len(lines)))
        for line in lines:
            print("  " + line)
        failed |= bool(lines)
    if not args.files:
        for line in known_bugs_present():
            print("known problem (reported, not failing the check): " + line)
    return 1 if failed else 0

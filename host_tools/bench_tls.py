"""TLS handshake benchmark: our TLS 1.3 client on the MicroPython VM (full, resumed psk_dhe_ke,
resumed psk_ke) beside MicroPython's built-in ssl (Mbed TLS, TLS 1.2) against the same
`openssl s_server` (ECDSA P-256 certificate, chain and host name checked by both), plus the heap a
connection holds and one ECDSA P-256 signature. Not a test: numbers only.

    .venv/bin/python host_tools/bench_tls.py [-n 15] [--heap-kb 320] [--json out.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import peers  # noqa: E402
import pki  # noqa: E402
import vmbench  # noqa: E402


def server_argv(paths):
    """openssl s_server with the ECDSA P-256 certificate, TLS 1.2 and 1.3, echoing lines reversed."""
    return ["openssl", "s_server", "-accept", "127.0.0.1:0", "-rev", "-allow_no_dhe_kex",
            "-cert", paths["server-ec.crt"], "-key", paths["server-ec.key"]]


def run_device(port, cafile, n, heap_kb, runtime="vm"):
    """bench_tls_device.py against a running server; returns {figure: {"samples_ms": [...]} or {"bytes": n}}."""
    if runtime == "vm":
        vmbench.build_mpy()
        cmd = [vmbench.micropython_bin(), "-X", "heapsize=%dk" % heap_kb,
               os.path.join(ROOT, "host_tools", "bench_tls_device.py"), str(port), cafile, str(n)]
        env = vmbench.vm_env()
    else:
        cmd = [sys.executable, os.path.join(ROOT, "host_tools", "bench_tls_device.py"), str(port), cafile, str(n)]
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "lib"))
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    res = {}
    for line in proc.stdout.decode().splitlines():
        if line.startswith("{"):
            d = json.loads(line)
            res[d.pop("figure")] = d
    if proc.returncode:
        raise RuntimeError(proc.stdout.decode())
    return res


def run(n, heap_kb, runtime="vm"):
    paths = pki.ensure()
    with peers.Peer("bench-openssl", server_argv(paths)) as srv:
        return run_device(srv.port, paths["ca"], n, heap_kb, runtime)


def summary(xs):
    xs = sorted(xs)
    return {"median": round(statistics.median(xs), 2), "min": round(xs[0], 2), "max": round(xs[-1], 2), "n": len(xs)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=15)
    ap.add_argument("--heap-kb", type=int, default=320)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    table = {}
    for runtime in ("vm", "cpython"):
        for k, v in run(a.n, a.heap_kb, runtime).items():
            table["%s.%s" % (runtime, k)] = summary(v["samples_ms"]) if "samples_ms" in v else v
    print("| figure | median | min | max | n |")
    print("|---|---|---|---|---|")
    for k, v in table.items():
        if "median" in v:
            print("| %s | %.1f ms | %.1f | %.1f | %d |" % (k, v["median"], v["min"], v["max"], v["n"]))
        else:
            print("| %s | %d bytes | | | |" % (k, v["bytes"]))
    b = table.get("vm.builtin_ssl_tls12_full_ms")
    if b:
        for k in ("full_handshake_ms", "resumed_psk_dhe_ke_ms", "resumed_psk_ke_ms"):
            v = table["vm." + k]
            print("ratio vm.%s / built-in TLS 1.2: %.2f" % (k, v["median"] / b["median"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(table, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

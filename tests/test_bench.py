"""The benchmark tool itself (host_tools/bench.py): its statistics, and a short real run of two sections
so the device-side scripts and the report cannot rot unnoticed. The figures are not judged here."""
import json
import os
import subprocess
import sys

from host_tools import bench

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_summary_median_spread_and_ratio():
    r = bench.Results()
    r.add("a", [10.0, 30.0, 20.0], "ms", "ours", "vm", anchor="b")
    r.add("a", [40.0], "ms", "ours", "vm")  # a second round appends
    r.add("b", [50.0, 50.0, 50.0, 50.0, 50.0], "ms", "anchor", "vm")
    r.summarize()
    a = r.get("a")
    assert (a["median"], a["min"], a["max"], a["n"]) == (25.0, 10.0, 40.0, 4)
    assert a["q1"] == 17.5 and a["q3"] == 32.5
    assert a["spread_pct"] == 120.0
    assert a["ratio_to_anchor"] == 0.5
    assert "ratio_to_anchor" not in r.get("b")


def test_markdown_puts_each_figure_beside_its_anchor():
    r = bench.Results()
    r.add("tls.vm.anchor", [80.0], "ms", "built-in", "vm")
    r.add("tls.vm.ours", [40.0], "ms", "ours", "vm", anchor="tls.vm.anchor")
    r.summarize()
    md = bench.markdown(r, {"machine": "m", "vm_version": "v", "cpython": "3", "rounds": 1, "date": "d"})
    rows = [line for line in md.splitlines() if line.startswith("| ours")]
    assert rows == ["| ours | vm | 40.0 ms | built-in | 80.0 ms | 0.50 |"]


def test_short_run_writes_json_and_markdown(tmp_path):
    """footprint (VM + board builds) and phases (VM handshakes against openssl s_server), one round."""
    out = tmp_path / "bench"
    p = subprocess.run([sys.executable, os.path.join(ROOT, "host_tools", "bench.py"), "--only", "footprint,phases",
                        "--rounds", "1", "--quick", "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=600)
    log = p.stdout.decode()
    assert p.returncode == 0, log
    doc = json.loads((out / "results.json").read_text())
    figs = doc["figures"]
    for pkg in bench.PACKAGES:
        assert figs["footprint.vm.%s.import_heap_bytes" % pkg]["median"] > 0
        assert figs["footprint.esp32.%s.flash_bytes" % pkg]["median"] > 0
    # the viper kernels make the crypto package's .mpy differ per architecture; pure Python does not
    assert figs["footprint.esp32.tls13.x509.flash_bytes"]["median"] == figs["footprint.pico_w.tls13.x509.flash_bytes"]["median"]
    phases = [name for name, _ in doc["meta"]["phases"]]
    assert phases == ["16k", "mfl2048"]
    names = doc["meta"]["phases"][0][1]
    assert names[0] == "context, CA loaded" and any(n.startswith("CertificateVerify") for n in names)
    i = names.index("client Finished sent, first application data")
    big = figs["phases.vm.16k.%02d.live_bytes" % i]["median"]
    small = figs["phases.vm.mfl2048.%02d.live_bytes" % i]["median"]
    assert big - small > 12 * 1024  # the 16 KB receive buffer against the 2 KB one
    md = (out / "results.md").read_text()
    assert "| tls13.crypto |" in md and "| ClientHello: X25519 key pair |" in md

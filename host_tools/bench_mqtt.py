"""MQTT benchmark (not a test): QoS 1 publishes per second over one connection on the MicroPython VM,
100-byte payloads, against a local mosquitto 2.0:

  - this project's client over tls13 (TLS 1.3): waiting for every PUBACK, and with a window of 16
    unacknowledged messages, from RAM and from the durable outbox;
  - unmodified umqtt.simple 1.3.4 over tls13, and over the VM's built-in ssl (Mbed TLS, TLS 1.2,
    no certificate check: the port's default), to a TLS 1.2 listener on the same broker; as it
    comes (Nagle on: each publish is several small writes, and waits for delayed ACKs) and with the
    sockets it creates given TCP_NODELAY;
  - the heap the client, the outbox and a connected session hold.

    .venv/bin/python host_tools/bench_mqtt.py [--count 500] [--cpython] [--json out.json]
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(ROOT, "tests"), os.path.join(ROOT, "tests", "device"), os.path.join(ROOT, "lib")]

import mqtt_harness as H  # noqa: E402
import pki as pki_mod  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--cpython", action="store_true", help="also run this project's client on CPython")
    ap.add_argument("--json", help="write the rows here too")
    args = ap.parse_args()
    pki = pki_mod.ensure()
    umqtt = H.fetch_umqtt()
    rows = []
    ob_path = os.path.join(H.WORK, "bench.outbox")
    os.makedirs(H.WORK, exist_ok=True)
    with H.Mosquitto(pki, tls12=True) as br:
        runs = [
            ("ours sync, TLS 1.3 AES-128-GCM", "bench_publish", dict(mode="sync", suites="TLS_AES_128_GCM_SHA256")),
            ("ours sync, TLS 1.3 ChaCha20-Poly1305", "bench_publish",
             dict(mode="sync", suites="TLS_CHACHA20_POLY1305_SHA256")),
            ("ours window 16, RAM outbox, AES-128-GCM", "bench_publish",
             dict(mode="window", suites="TLS_AES_128_GCM_SHA256")),
            ("ours window 16, durable outbox, AES-128-GCM", "bench_publish",
             dict(mode="window", suites="TLS_AES_128_GCM_SHA256", outbox_path=ob_path)),
            ("ours sync, plain TCP", "bench_publish", dict(mode="sync", tls=False)),
            ("umqtt.simple 1.3.4 over tls13 (TLS 1.3)", "umqtt_simple", dict(umqtt_dir=umqtt)),
            ("umqtt.simple 1.3.4 over built-in ssl (TLS 1.2)", "umqtt_simple",
             dict(umqtt_dir=umqtt, builtin_ssl=True)),
            ("umqtt.simple 1.3.4 over built-in ssl (TLS 1.2), TCP_NODELAY", "umqtt_simple",
             dict(umqtt_dir=umqtt, builtin_ssl=True, nodelay=True)),
            ("umqtt.simple 1.3.4 over tls13 (TLS 1.3), TCP_NODELAY", "umqtt_simple",
             dict(umqtt_dir=umqtt, nodelay=True)),
        ]
        runtimes = ["vm"] + (["cpython"] if args.cpython else [])
        for runtime in runtimes:
            for label, fn, kw in runs:
                if runtime == "cpython" and fn == "umqtt_simple" and kw.get("builtin_ssl"):
                    continue
                kw = dict(kw, count=args.count, cafile=pki["ca"])
                if kw.get("builtin_ssl"):
                    kw["port"] = br.tls12_port
                elif kw.get("tls", True):
                    kw["port"] = br.tls_port
                else:
                    kw["port"] = br.port
                if fn == "umqtt_simple":
                    kw["topic"] = "test/bench"
                r = H.call(runtime, "mqtt_scenarios", fn, timeout=300, **kw)
                r["label"] = label
                rows.append(r)
                print("%-8s %-48s %8.0f msg/s  (connect %d ms)" % (runtime, label, r["per_s"], r["connect_ms"]),
                      flush=True)
    print()
    print("| runtime | client | QoS 1 publishes/s | connect ms |")
    print("|---|---|---:|---:|")
    for r in rows:
        print("| %s | %s | %.0f | %d |" % (r["runtime"], r["label"], r["per_s"], r["connect_ms"]))
    heap = [r for r in rows if r["runtime"] == "micropython" and "heap_client" in r]
    print()
    print("Connected TLS session = the session's state beyond the record buffers, which come from "
          "tls13.bufpool (reserved at boot).")
    if heap:
        print()
        print("Heap on the VM (64-bit objects; bytes):")
        print("| run | outbox object | client + session | connected TLS session | after the run | bufpool reserved |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in heap:
            print("| %s | %d | %d | %d | %d | %d |" % (r["label"], r["heap_outbox"], r["heap_client"],
                                                      r["heap_connected_session"], r["heap_after_run"],
                                                      r["bufpool_reserved"]))
    parts = H.call("vm", "mqtt_scenarios", "heap_parts", outbox_path=os.path.join(H.WORK, "heap.outbox"))
    print()
    print("Heap parts on the VM: durable outbox empty %d B, with %d records pending %d B; MQTTClient + "
          "Session (max_packet %d) %d B" % (parts["outbox_empty"], parts["pending"], parts["outbox_with_pending"],
                                            parts["max_packet"], parts["client_and_session"]))
    rows.append(dict(parts, label="heap parts", runtime="micropython"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()

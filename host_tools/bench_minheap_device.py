"""Device side of the smallest-heap figure: everything a telemetry node needs for one reading, from a
cold start, under `micropython -X heapsize=<n>` (the host bisects n):

    import (.mpy) -> TLS handshake with the server's chain and host name checked -> MQTT CONNECT ->
    one QoS 1 PUBLISH of 100 bytes, PUBACK received -> DISCONNECT

    micropython bench_minheap_device.py <client> <port> <cafile> [<certfile> <keyfile>]

client: "ours" (tls13 + mqtt.client, 16 KB records, buffers reserved first as firmware/boot.py does),
"ours-mfl2048" (the same offering max_fragment_length 2048), "ours-mtls" (16 KB records plus a P-256
client certificate), or "umqtt-builtin" (unmodified umqtt.simple 1.3.4 over the port's built-in ssl,
TLS 1.2, CERT_REQUIRED with the same CA; umqtt/ must be on MICROPYPATH).
Prints "MINHEAP-OK <heap in use after the publish>" and exits 0 when it all worked, then
"MODULES <names>" (what was imported, for the frozen-firmware estimate) and, when the VM runs with
host_tools/malloc_meter.c preloaded, "C-HEAP <peak> <held while connected>": the bytes the process
took from the C heap (Mbed TLS on the unix port) during the connection, outside -X heapsize.
"""
import os
import sys

_meter = {}


def c_heap(mark):
    """Bytes of C heap in use (malloc_meter preloaded), relative to the "start" mark."""
    v = os.getenv("MALLOC_METER_RESET" if mark == "start" else "MALLOC_METER")
    if v is None:
        return
    nums = [int(x) for x in v.split()]
    if mark == "start":
        _meter["base"] = nums[0]
    else:
        _meter[mark] = nums[0] - _meter["base"]
        _meter["peak"] = nums[1] - _meter["base"]

PAYLOAD = b"%0100d" % 0


def ours(port, cafile, mfl=None, cert=None, key=None):
    import tls13.bufpool
    if mfl:
        tls13.bufpool.reserve(rx=5 + mfl + 256, tx=5 + mfl + 1 + 16)
    else:
        tls13.bufpool.reserve()
    import tls13
    from mqtt.client import MQTTClient
    ctx = tls13.SSLContext(tls13.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=cafile)
    if mfl:
        ctx.max_fragment_length = mfl
    if cert:
        ctx.load_cert_chain(cert, key)
    c = MQTTClient(b"minheap", "127.0.0.1", port, ssl=ctx, server_hostname="localhost", timeout=10)
    c_heap("start")
    c.connect()
    c_heap("connected")
    # the mTLS listener's ACL lets a device write under its own name only
    c.publish(b"devices/device-001/minheap" if cert else b"test/minheap", PAYLOAD, qos=1)
    c.disconnect()
    c_heap("end")


def umqtt_builtin(port, cafile):
    import binascii
    import ssl
    sys.modules["ussl"] = ssl
    from umqtt.simple import MQTTClient
    with open(cafile) as f:
        pem = f.read()
    der = binascii.a2b_base64("".join(x for x in pem.splitlines() if not x.startswith("-----")))
    pem = None
    c = MQTTClient(b"minheap-umqtt", "127.0.0.1", port, ssl=True,
                   ssl_params={"server_hostname": "localhost", "cert_reqs": ssl.CERT_REQUIRED, "cadata": der})
    c_heap("start")
    c.connect()
    c_heap("connected")
    c.publish(b"test/minheap", PAYLOAD, qos=1)
    c.disconnect()
    c_heap("end")


def main(argv):
    client, port, cafile = argv[0], int(argv[1]), argv[2]
    if client == "ours":
        ours(port, cafile)
    elif client == "ours-mfl2048":
        ours(port, cafile, mfl=2048)
    elif client == "ours-mtls":
        ours(port, cafile, cert=argv[3], key=argv[4])
    elif client == "umqtt-builtin":
        umqtt_builtin(port, cafile)
    else:
        raise ValueError("unknown client %r" % client)
    import gc
    gc.collect()
    print("MINHEAP-OK %d" % gc.mem_alloc())
    print("MODULES " + " ".join(sorted(k for k in sys.modules if k not in ("__main__", "bench_minheap_device", "ussl"))))
    if "peak" in _meter:
        print("C-HEAP %d %d" % (_meter["peak"], _meter["connected"]))


if __name__ == "__main__":
    main(sys.argv[1:])

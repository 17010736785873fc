"""Device side of the record-throughput figure: the TLS 1.3 record layer itself (RecordWriter.seal ->
RecordReader.commit/open, in memory, one direction's keys on each side), per cipher suite and crypto
backend. Runs unchanged on the MicroPython VM and CPython.

    micropython bench_records_device.py <seconds per cell> [record size ...]

One JSON line per cell: {"figure": "records", "suite": ..., "backend": ..., "size": n,
"samples_mbps": [...]} where each sample is MB/s of application data sealed *and* opened (so a
connection that only sends or only receives runs about twice as fast), and {"skip": reason} where the
backend does not exist on this runtime.
"""
import gc
import json
import sys

from benchclock import now as _now, since as _since

AES128, AES256, CHACHA = 0x1301, 0x1302, 0x1303
NAMES = {AES128: "TLS_AES_128_GCM_SHA256", AES256: "TLS_AES_256_GCM_SHA384",
         CHACHA: "TLS_CHACHA20_POLY1305_SHA256"}


def _backends(suite):
    """(label, setup) pairs for this runtime; setup() forces the kernels, returns a restore callable."""
    out = []
    if suite == CHACHA:
        from tls13.crypto import chacha20, chachapoly
        for k in ("viper", "python"):
            if k in chacha20.available_kernels():
                out.append(("chacha20+poly1305 " + k, _chacha_setter(chachapoly, k)))
        return out
    from tls13.crypto import aes, gcm
    for be in ("cryptolib", "python"):
        if be not in aes.available():
            continue
        for kern in sorted(gcm.available_kernels(), key=lambda k: k != "viper"):
            out.append(("aes %s, ghash %s" % (be, kern), _gcm_setter(aes, gcm, be, kern)))
    return out


def _chacha_setter(chachapoly, k):
    def setup():
        chachapoly.use_kernel(k)
        return lambda: chachapoly.use_kernel(None)
    return setup


def _gcm_setter(aes, gcm, be, kern):
    def setup():
        aes.use_backend(be)
        gcm.use_kernel(kern)

        def restore():
            aes.use_backend(None)
            gcm.use_kernel(None)
        return restore
    return setup


def _pair(suite, size):
    from tls13.keysched import new_aead
    from tls13.record import CT_APPLICATION_DATA, Protection, RecordReader, RecordWriter
    klen = 16 if suite == AES128 else 32
    key = bytes(range(klen))
    iv = bytes(range(100, 112))
    w = RecordWriter(size)
    w.protection = Protection(new_aead(suite, key), iv)
    r = RecordReader(size + 256)
    r.lock_limit(size)
    r.protection = Protection(new_aead(suite, key), iv)
    data = bytearray(size)
    for i in range(size):
        data[i] = i & 0xFF

    def once():
        rec = w.seal(CT_APPLICATION_DATA, data)
        pos = 0
        end = len(rec)
        got = None
        while got is None:
            dst = r.view()
            n = min(len(dst), end - pos)
            dst[:n] = rec[pos:pos + n]
            pos += n
            got = r.commit(n)
        if got[0] != CT_APPLICATION_DATA or len(got[1]) != size:
            raise RuntimeError("record did not round-trip")
    return once


def cell(suite, size, seconds, samples=3):
    once = _pair(suite, size)
    once()
    t0 = _now()
    once()
    first = max(_since(t0), 1e-6)
    k = max(1, int(seconds / samples / first))
    out = []
    for _ in range(samples):
        t0 = _now()
        for _ in range(k):
            once()
        out.append(round(size * k / _since(t0) / 1e6, 3))
    return out


def main(argv):
    seconds = float(argv[0]) if argv else 0.6
    sizes = [int(x) for x in argv[1:]] or [2048, 16384]
    for suite in (AES128, AES256, CHACHA):
        for label, setup in _backends(suite):
            for size in sizes:
                restore = setup()
                try:
                    samples = cell(suite, size, seconds)
                    print(json.dumps({"figure": "records", "suite": NAMES[suite], "backend": label,
                                      "size": size, "samples_mbps": samples}))
                finally:
                    restore()
                    gc.collect()


if __name__ == "__main__":
    main(sys.argv[1:])

# Crypto benchmark that runs unchanged on MicroPython and CPython and prints one table.
#
#   micropython host_tools/bench_crypto_device.py [quick]     (MICROPYPATH=.frozen:lib:<adafruit_hashlib dir>)
#   python host_tools/bench_crypto_device.py [quick]          (lib/ on sys.path; bench_crypto.py does both)
#
# Each cell is the median over several samples of the per-operation time. On MicroPython the last
# column is the heap one operation allocates (gc.mem_alloc() around it after gc.collect(), with the GC
# paused), measured after a warm-up call so lazily built tables are not counted. The VM is 64-bit
# (62-bit small ints), so big-int-heavy code (X25519, pure SHA-512) allocates less there than on a
# 30-bit board. A module that is not there yet prints "missing" instead of a number.
import gc
import sys

from benchclock import now as _now, since as _since

MP = sys.implementation.name == "micropython"
SIZES = (64, 1024, 16384)


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def per_op(fn, target):
    """Median seconds per call of fn(), spending about `target` seconds (at least 3 samples)."""
    t0 = _now()
    fn()
    first = _since(t0)
    nsamples = 5 if first * 5 <= target else 3
    k = max(1, int(target / nsamples / max(first, 1e-7)))
    times = []
    for _ in range(nsamples):
        t0 = _now()
        for _ in range(k):
            fn()
        times.append(_since(t0) / k)
    return median(times)


def heap_per_op(fn):
    """Bytes of heap one call of fn() allocates (MicroPython only); None elsewhere."""
    if not MP:
        return None
    fn()
    gc.collect()
    gc.disable()
    free = gc.mem_free()
    try:
        a = gc.mem_alloc()
        fn()
        return gc.mem_alloc() - a
    except MemoryError:
        return -free  # more than the whole free heap: GC had to run inside one operation
    finally:
        gc.enable()


def fmt_heap(h):
    if h is None:
        return "-"
    return ">%d" % -h if h < 0 else str(h)


ROWS = []


def row(label, cells, heap="-"):
    ROWS.append((label, cells, heap))


def kernels_of(mod):
    if hasattr(mod, "available_kernels") and hasattr(mod, "use_kernel"):
        return list(mod.available_kernels())
    return [None]


def _err(e):
    return "error: %s %s" % (type(e).__name__, e)


def bench_x25519(target):
    try:
        from tls13.crypto import x25519 as xm
    except ImportError:
        row("X25519 ms/op", ["missing"])
        return
    k = bytes(range(1, 33))
    u = xm.x25519(bytes(range(2, 34)), xm.X25519_BASEPOINT)
    for kern in kernels_of(xm):
        label = "X25519 ms/op" + (" [%s]" % kern if kern else "")
        try:
            if kern:
                xm.use_kernel(kern)
            fn = lambda: xm.x25519(k, u)
            t = per_op(fn, target)
            row(label, ["%.2f" % (t * 1e3)], fmt_heap(heap_per_op(fn)))
        except Exception as e:
            row(label, [_err(e)])
        finally:
            if kern:
                xm.use_kernel(None)


def _aead_cells(make, target):
    cells = []
    heaps = []
    nonce = bytes(12)
    aad = b"\x17\x03\x03\x00\x00"  # the shape of a TLS 1.3 record header
    for n in SIZES:
        aead = make()
        buf = bytearray(n + 16)
        if hasattr(aead, "encrypt_into"):
            fn = lambda: aead.encrypt_into(nonce, buf, n, aad)
        else:
            data = bytes(n)
            fn = lambda: aead.encrypt(nonce, data, aad)
        t = per_op(fn, target)
        cells.append("%.3f" % (n / t / 1e6))
        heaps.append(fmt_heap(heap_per_op(fn)))
        aead = buf = fn = None
        gc.collect()
    return cells, "/".join(heaps) if MP else "-"


def bench_gcm(target):
    try:
        from tls13.crypto import aes, gcm
    except ImportError:
        row("AES-128-GCM MB/s", ["missing"])
        return
    key = bytes(range(16))
    for be in ("python", "cryptolib"):
        if hasattr(aes, "available") and be not in aes.available():
            row("AES-128-GCM MB/s [aes=%s]" % be, ["unavailable"])
            continue
        for kern in kernels_of(gcm):
            label = "AES-128-GCM MB/s [aes=%s%s]" % (be, ", gcm=" + kern if kern else "")
            try:
                aes.use_backend(be)
                if kern:
                    gcm.use_kernel(kern)
                cells, heap = _aead_cells(lambda: gcm.AESGCM(key), target)
                row(label, cells, heap)
            except Exception as e:
                row(label, [_err(e)])
            finally:
                aes.use_backend(None)
                if kern:
                    gcm.use_kernel(None)


def bench_chachapoly(target):
    try:
        from tls13.crypto import chacha20, chachapoly
    except ImportError:
        row("ChaCha20-Poly1305 MB/s", ["missing"])
        return
    key = bytes(range(32))
    setter = chachapoly if hasattr(chachapoly, "use_kernel") else chacha20
    for kern in kernels_of(chacha20):
        try:
            if kern:
                setter.use_kernel(kern)
            name = chachapoly.kernel() if hasattr(chachapoly, "kernel") else kern
            label = "ChaCha20-Poly1305 MB/s" + (" [%s]" % name if name else "")
            cells, heap = _aead_cells(lambda: chachapoly.ChaCha20Poly1305(key), target)
            row(label, cells, heap)
        except Exception as e:
            row("ChaCha20-Poly1305 MB/s [%s]" % kern, [_err(e)])
        finally:
            if kern:
                setter.use_kernel(None)


def bench_hashes(target):
    try:
        from tls13.crypto import hashes, hkdf
    except ImportError:
        row("HKDF derive_secret ms", ["missing"])
        return
    for name in ("sha256", "sha384"):
        try:
            hl = hashes.digest_size(name)
            secret = bytes(range(hl))
            th = hashes.digest(name, b"transcript")
            fn = lambda: hkdf.derive_secret(name, secret, b"c hs traffic", th)
            t = per_op(fn, target)
            row("HKDF derive_secret ms [%s, %s]" % (name, hashes.backend(name)), ["%.3f" % (t * 1e3)],
                fmt_heap(heap_per_op(fn)))
            data = bytes(1024)
            fn = lambda: hashes.new(name, data).digest()
            t = per_op(fn, target)
            row("%s MB/s [%s]" % (name, hashes.backend(name)), ["", "%.3f" % (1024 / t / 1e6)],
                fmt_heap(heap_per_op(fn)))
        except Exception as e:
            row("HKDF/hash [%s]" % name, [_err(e)])


def print_table(title):
    head = ("operation", "64 B", "1 KB", "16 KB", "heap B/op")
    lines = []
    for label, cells, heap in ROWS:
        c = list(cells) + [""] * (3 - len(cells))
        lines.append((label, c[0], c[1], c[2], heap))
    w = [len(h) for h in head]
    for ln in lines:
        for i, v in enumerate(ln):
            if not (i == 1 and len(ln[1]) > 20):  # long error/missing texts do not widen the column
                w[i] = max(w[i], len(v))
    print(title)
    fmt = "  ".join("%%-%ds" % x if i == 0 else "%%%ds" % x for i, x in enumerate(w))
    print(fmt % head)
    for ln in lines:
        if len(ln[1]) > 20:
            print(("%%-%ds  %%s" % w[0]) % (ln[0], ln[1]))
        else:
            print(fmt % ln)


def main(argv):
    quick = "quick" in argv
    target = 0.1 if quick else 0.4
    impl = sys.implementation
    title = "%s %s (%s)" % (impl.name, ".".join(str(x) for x in impl.version[:3]), sys.platform)
    if MP:
        gc.collect()
        title += ", heap free %d B" % gc.mem_free()
    for bench in (bench_x25519, bench_gcm, bench_chachapoly, bench_hashes):
        before = set(sys.modules)
        try:
            bench(target)
        except MemoryError:
            # On the VM the modules are compiled from source, which peaks far above their resident size.
            row(bench.__name__[6:], ["out of heap while importing (try a larger --heap-kb)"])
        # A board loads one cipher suite's modules, not all of them: drop what this section imported.
        for name in set(sys.modules) - before:
            del sys.modules[name]
        gc.collect()
    print_table(title)


if __name__ == "__main__":
    main(sys.argv[1:])

# Certificate-validation benchmark that runs unchanged on MicroPython and CPython (bench_x509.py runs
# both and reads the output). Reads the test PKI from build/x509-fixtures (tests/pki_fixtures.py).
#
#   <python> host_tools/bench_x509_device.py <fixture dir> times
#       median milliseconds per validation of each chain (after one warm-up call, so the signature
#       code's lazily built tables are not counted), and on MicroPython the heap code and tables keep.
#   <python> host_tools/bench_x509_device.py <fixture dir> held
#       the most heap held at once during a validation (see held()). Live objects are what a board
#       must fit; the garbage in between is reclaimed by the GC when an allocation would fail. (A
#       bisection of -X heapsize over fresh processes was tried and dropped: importing the code from
#       .mpy peaks ~24 KB above what stays resident, which swamps the validation itself.)
import gc
import sys

from benchclock import now as _now, since as _since

MP = sys.implementation.name == "micropython"
NOW = 1748736000
CASES = (
    ("rsa-ec-ec", "RSA root > P-256 int > P-256 leaf (3 certs sent)", ("a_leaf", "a_int", "a_root")),
    ("pss", "RSA root > RSA-PSS int > RSA-2048 leaf", ("p_leaf_pss384", "p_int")),
    ("p384", "P-384 root > P-384 leaf (ecdsa-with-SHA384)", ("e_leaf384",)),
    ("ed25519", "Ed25519 root > Ed25519 leaf", ("d_leaf",)),
    ("cross", "cross-signed, expired cross first (backtracks)", ("x_leaf", "x_int", "x_cross_expired", "x_cross")),
)


def load(d, name):
    with open(d + name + ".der", "rb") as f:
        return f.read()


def roots(d):
    from tls13.x509 import TrustStore
    return TrustStore.from_der([load(d, n) for n in ("a_root", "e_root", "d_root", "x_old_root")])


def streamed(store, certs):
    from tls13.x509 import ChainValidator
    v = ChainValidator(store, "example.com", NOW)
    for c in certs:
        v.start_cert(len(c))
        for i in range(0, len(c), 256):
            v.feed(memoryview(c)[i:i + 256])
        v.end_cert()
    return v.finish()


def median_ms(fn, n):
    fn()
    ts = []
    for _ in range(n):
        t0 = _now()
        fn()
        ts.append(_since(t0))
    ts.sort()
    return ts[len(ts) // 2] * 1000


def times(d):
    import tls13  # noqa: F401  (the package's own imports are not x509's)
    if MP:
        gc.collect()
        a = gc.mem_alloc()
    from tls13.x509 import chain, trust, verify_chain  # noqa: F401
    if MP:
        gc.collect()
        b = gc.mem_alloc()
        from tls13.crypto import ecdsa, rsa, ed25519, hashes  # noqa: F401
        gc.collect()
        print("CODE x509 %d crypto %d" % (b - a, gc.mem_alloc() - b))
    store = roots(d)
    for key, label, names in CASES:
        certs = [load(d, n) for n in names]
        print("TIME %s %.2f" % (key, median_ms(lambda: verify_chain(certs, store, "example.com", NOW),
                                                 5 if MP else 20)))
    certs = [load(d, n) for n in CASES[0][2]]
    print("TIME stream %.2f" % median_ms(lambda: streamed(store, certs), 5 if MP else 20))
    print("SIZES " + " ".join(str(len(c)) for c in certs))
    if MP:
        import micropython
        gc.collect()
        t0 = micropython.mem_total()
        verify_chain(certs, store, "example.com", NOW)
        print("ALLOCATED %d" % (micropython.mem_total() - t0))
        gc.collect()
        a = gc.mem_alloc()
        from tls13.crypto import ecdsa
        ecdsa.clear_tables()
        gc.collect()
        print("TABLES %d" % (a - gc.mem_alloc()))


def _instrument(sample):
    """Wrap every function of the validator and the signature/hash code in `sample` at entry and exit,
    so the live heap is seen at each call boundary, deep inside the primitives too. Returns undo()."""
    import tls13.x509.cert
    import tls13.x509.chain
    import tls13.x509.keys
    import tls13.x509.names
    import tls13.x509.trust
    from tls13.crypto import ecdsa, ed25519, hashes, rsa
    saved = []

    def wrap(fn):
        def w(*a, **k):
            sample()
            r = fn(*a, **k)
            sample()
            return r
        return w

    fn_type = type(load)
    mods = [tls13.x509.cert, tls13.x509.chain, tls13.x509.keys, tls13.x509.names, tls13.x509.trust,
            ecdsa, ed25519, hashes, rsa]
    for holder in mods + [tls13.x509.chain.ChainValidator]:
        for name in list(holder.__dict__):
            f = holder.__dict__[name]
            # Plain functions only: a staticmethod put back as a function would become a method.
            if type(f) is fn_type and not name.startswith("__"):
                saved.append((holder, name, f))
                setattr(holder, name, wrap(f))

    def undo():
        for holder, name, f in saved:
            setattr(holder, name, f)
    return undo


def held(d):
    """The most heap held at once during a validation (live objects only: sampled after gc.collect()
    at every function entry and exit of the validator and the signature code), over the baseline of
    the setup (certificates in memory, trust store). "warm": the signature code's tables exist already
    and are in the baseline; "cold": they are dropped first, so building them counts."""
    from tls13.x509 import verify_chain
    from tls13.crypto import ecdsa, ed25519, hashes
    hashes.new("sha384")
    store = roots(d)
    peak = [0]

    def sample():
        gc.collect()
        a = gc.mem_alloc()
        if a > peak[0]:
            peak[0] = a

    for key, label, names in CASES:
        certs = [load(d, n) for n in names]
        for mode in ("list", "stream"):
            run = (lambda: streamed(store, certs)) if mode == "stream" else (
                lambda: verify_chain(certs, store, "example.com", NOW))
            for temp in ("warm", "cold"):
                run()
                if temp == "cold":
                    ecdsa.clear_tables()
                    ed25519.clear_tables()
                undo = _instrument(sample)
                gc.collect()
                base = gc.mem_alloc()
                peak[0] = base
                run()
                undo()
                print("HELD %s-%s-%s %d" % (key, mode, temp, peak[0] - base))
            # The validator's own share: the same with every signature check answered True.
            from tls13.x509 import keys
            real = keys.verify
            keys.verify = lambda *a: True
            undo = _instrument(sample)
            gc.collect()
            base = gc.mem_alloc()
            peak[0] = base
            run()
            undo()
            keys.verify = real
            print("HELD %s-%s-own %d" % (key, mode, peak[0] - base))


def main():
    d = sys.argv[1].rstrip("/") + "/"
    if sys.argv[2] == "times":
        times(d)
    elif sys.argv[2] == "held":
        held(d)


main()

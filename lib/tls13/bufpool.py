"""Record buffers reserved early, before imports and objects fragment the heap.

A MicroPython heap never moves objects: after the TLS code and its first objects are loaded, 16 KB in
one piece may no longer exist even though the total free heap is ample. A board (or a test) calls
`reserve()` first thing, before importing the rest of the stack; connections then take their record
buffers from here and give them back when closed.

    import tls13.bufpool
    tls13.bufpool.reserve()            # one 16 KB receive buffer + one send buffer
"""
RX_FULL = 5 + 16384 + 256       # header + largest TLS 1.3 ciphertext
TX_DEFAULT = 5 + 2048 + 1 + 16  # header + default send record + content type + tag

_free = []


def reserve(rx=RX_FULL, tx=TX_DEFAULT):
    for n in (rx, tx):
        if n:
            _free.append(bytearray(n))


def take(size):
    """The smallest reserved buffer of at least size bytes, else a new one."""
    best = None
    for b in _free:
        if len(b) >= size and (best is None or len(b) < len(best)):
            best = b
    if best is None:
        return bytearray(size)
    _free.remove(best)
    return best


def give(buf):
    """Return a buffer taken with take() (only reserved-size buffers are worth keeping)."""
    if buf is not None and len(buf) >= 1024:
        for b in _free:
            if b is buf:
                return
        _free.append(buf)


def reserved():
    return [len(b) for b in _free]

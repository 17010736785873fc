"""A blocking socket wrapper with the `ssl` module's client surface, over ClientConnection."""
import sys

from tls13 import alerts

try:
    import io
    _Base = io.IOBase if sys.implementation.name == "micropython" else object
except (ImportError, AttributeError):
    _Base = object

# MicroPython streams in blocking mode read until the count is met or EOF (umqtt.simple relies on it:
# `sock.read(n)` returns n bytes); CPython's SSLSocket.read returns what one record gives.
_FILL_READS = sys.implementation.name == "micropython"

_IPPROTO_TCP = 6
_TCP_NODELAY = 1


def set_nodelay(sock):
    """Small flights otherwise wait for the peer's delayed ACK (Nagle): ~40 ms per round trip."""
    import socket as _s
    try:
        sock.setsockopt(getattr(_s, "IPPROTO_TCP", _IPPROTO_TCP), getattr(_s, "TCP_NODELAY", _TCP_NODELAY), 1)
    except (OSError, AttributeError, TypeError):
        pass  # not a TCP socket, or the port has no setsockopt for it


class SSLSocket(_Base):
    def __init__(self, sock, conn, context=None, do_handshake_on_connect=True):
        self._sock = sock
        self._conn = conn
        self.context = context
        self._blocking = True
        self._timeout = None  # seconds, when set through settimeout() (see _fill)
        self._closed = False
        self._poller = None
        self._rpoller = None
        set_nodelay(sock)
        if do_handshake_on_connect:
            self.do_handshake()

    # ---- transport -----------------------------------------------------------------------
    def _raw_write(self, data):
        mv = memoryview(data)
        sock = self._sock
        w = getattr(sock, "write", None) or sock.send
        while len(mv):
            n = w(mv)
            if n is None:  # non-blocking socket not ready: MicroPython returns None
                n = 0
            mv = mv[n:]

    def _flush(self):
        conn = self._conn
        if conn.pending_output():
            self._raw_write(conn.data_to_send())

    def _fill(self):
        """Read once from the socket into the connection; False when nothing could be read
        (non-blocking socket with no data). EOF turns into close or TruncationError."""
        conn = self._conn
        dst = conn.recv_buffer()
        sock = self._sock
        try:
            if _FILL_READS and self._timeout:
                n = self._read_within_timeout(sock, dst)
            elif hasattr(sock, "readinto"):
                n = sock.readinto(dst)
            else:
                n = sock.recv_into(dst)
        except OSError as e:
            if _would_block(e):
                return False
            raise
        if n is None:
            return False
        if n == 0:
            conn.eof()
            return True
        try:
            conn.received(n)
        finally:
            self._flush()  # an alert, KeyUpdate answer or handshake flight
        return True

    def _read_within_timeout(self, sock, dst):
        """MicroPython with a socket timeout: a blocking readinto keeps reading until dst is full, and
        when the timeout strikes after part of a record it raises and the count of bytes it already
        stored is lost (the record stream is then corrupt). So wait for readability with poll and
        read without blocking: whatever arrived is accounted for, and a timeout consumes nothing."""
        if self._rpoller is None:
            import select
            self._rpoller = select.poll()
            self._rpoller.register(sock, select.POLLIN)
        if not self._rpoller.poll(int(self._timeout * 1000)):
            raise OSError(_ETIMEDOUT, "ETIMEDOUT")
        sock.setblocking(False)
        try:
            n = sock.readinto(dst)
        finally:
            sock.settimeout(self._timeout)
        if n is None:  # readable, yet nothing to read: count it as the timeout (nothing was consumed)
            raise OSError(_ETIMEDOUT, "ETIMEDOUT")
        return n

    def _fail_close(self):
        try:
            self._flush()
        except OSError:
            pass
        self._close_transport()

    def do_handshake(self):
        conn = self._conn
        try:
            if conn.state is None:
                conn.start()
                self._flush()
            while not conn.handshake_complete:
                if conn.error is not None:
                    raise conn.error
                if not self._fill() and not self._blocking:
                    raise OSError(11, "EAGAIN")
        except OSError as e:
            # TLS alerts, timeouts and transport errors all end the connection; only a
            # non-blocking "not ready yet" does not.
            if self._blocking or not _would_block(e):
                self._fail_close()
            raise
        except BaseException:  # MemoryError, KeyboardInterrupt: never leave the socket open
            self._fail_close()
            raise
        # The second flight (client Finished) stays queued: it leaves with the first write, or
        # before the first read, as a single packet.
        if conn.early_data_rejected and conn.early_data:
            self.write(conn.early_data)  # the server did not take it as 0-RTT: send it now

    # ---- reading ---------------------------------------------------------------------------
    def readinto(self, buf, nbytes=None):
        want = len(buf) if nbytes is None else min(nbytes, len(buf))
        if not (_FILL_READS and self._blocking) or want <= 1:
            return self._readinto_some(buf, want)
        mv = memoryview(buf)
        got = 0
        while got < want:
            try:
                k = self._readinto_some(mv[got:want], want - got)
            except OSError as e:
                if got and _is_timeout(e):
                    break  # a short read rather than losing what is already in buf
                raise
            if not k:
                break
            got += k
        return got

    def _readinto_some(self, buf, nbytes=None):
        conn = self._conn
        self._flush()
        while True:
            if conn.app_pending():
                return conn.read_into(buf, nbytes)
            if conn.peer_closed:
                return 0
            try:
                if not self._fill():
                    return None  # non-blocking and no data (MicroPython stream semantics)
            except alerts.TLSError:
                self._fail_close()
                raise

    def read(self, n=-1):
        if n is None or n < 0:
            chunks = []
            buf = bytearray(4096)
            while True:
                k = self.readinto(buf)
                if not k:
                    break
                chunks.append(bytes(buf[:k]))
            return b"".join(chunks)
        buf = bytearray(n)
        k = self.readinto(buf)
        if k is None:
            return None
        return bytes(buf[:k]) if k < n else bytes(buf)

    def recv(self, n):
        buf = bytearray(n)
        k = self._readinto_some(buf, n)  # socket semantics: whatever is there, at most n
        if k is None:
            raise OSError(11, "EAGAIN")
        return bytes(buf[:k])

    def recv_into(self, buf, nbytes=0):
        k = self._readinto_some(buf, nbytes or None)
        if k is None:
            raise OSError(11, "EAGAIN")
        return k

    def pending(self):
        return self._conn.app_pending()

    # ---- writing ---------------------------------------------------------------------------
    def write(self, data, n=None):
        """Send all of data (or its first n bytes: MicroPython's two-argument form)."""
        conn = self._conn
        mv = memoryview(data)
        if n is not None:
            mv = mv[:n]
        step = conn.max_record_payload()
        try:
            for i in range(0, len(mv), step):
                rec = conn.seal_record(mv[i:i + step])
                if conn.pending_output():
                    # Merge with what is queued (the handshake's last flight): one packet.
                    conn.out += rec
                    self._flush()
                else:
                    self._raw_write(rec)
        except alerts.TLSError:
            self._fail_close()
            raise
        return len(mv)

    send = write

    def sendall(self, data):
        self.write(data)

    # ---- control ---------------------------------------------------------------------------
    def key_update(self, request_peer=True):
        self._conn.key_update(request_peer)
        self._flush()

    def unwrap(self):
        self._conn.close()
        self._flush()
        return self._sock

    def close(self):
        if self._closed:
            return
        try:
            if self._conn.error is None and self._conn.handshake_complete:
                self._conn.close()
                self._flush()
        except OSError:
            pass
        self._close_transport()

    def _close_transport(self):
        self._closed = True
        self._conn.release()
        try:
            self._sock.close()
        except OSError:
            pass

    def setblocking(self, flag):
        self._blocking = bool(flag)
        self._timeout = None
        self._sock.setblocking(flag)

    def settimeout(self, t):
        """Set it here rather than on the socket before wrapping: on MicroPython reads then wait for
        data with poll, so a timeout in the middle of a record loses nothing (see _fill)."""
        self._blocking = t is None or t > 0
        self._timeout = t if t else None
        self._sock.settimeout(t)

    def fileno(self):
        return self._sock.fileno()

    def ioctl(self, req, arg):
        # MicroPython stream protocol, used by select.poll and asyncio: POLLIN while decrypted data
        # is buffered, else whatever the socket underneath reports (readable there may still be
        # only part of a record: non-blocking reads then return None, as on a plain socket).
        if req == 3:  # MP_STREAM_POLL
            ready = 0
            if arg & 0x0001 and (self._conn.app_pending() or self._conn.peer_closed):
                ready |= 0x0001
            sub = getattr(self._sock, "ioctl", None)
            if sub is not None:
                return ready | sub(req, arg)
            if self._poller is None:
                import select
                self._poller = select.poll()
                self._poller.register(self._sock, select.POLLIN | select.POLLOUT)
            for ev in self._poller.poll(0):
                ready |= ev[1] & arg
            return ready
        if req == 4:  # MP_STREAM_CLOSE
            self.close()
            return 0
        return -1

    # ---- introspection (CPython ssl names) --------------------------------------------------
    def version(self):
        return "TLSv1.3" if self._conn.handshake_complete else None

    def cipher(self):
        from tls13.keysched import SUITES
        s = self._conn.suite
        if s is None or not self._conn.handshake_complete:
            return None
        return (SUITES[s][2], "TLSv1.3", SUITES[s][3])

    def selected_alpn_protocol(self):
        p = self._conn.alpn
        return p.decode() if p is not None else None

    @property
    def session(self):
        t = self._conn.tickets
        return t[-1] if t else None

    @property
    def session_reused(self):
        return self._conn.session_reused

    @property
    def early_data_accepted(self):
        """True when the early_data given to wrap_socket went out as 0-RTT and the server took it."""
        return self._conn.early_data_accepted

    @property
    def connection(self):
        """The sans-I/O ClientConnection (negotiated parameters, events)."""
        return self._conn

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_ETIMEDOUT = 110


def _is_timeout(e):
    code = e.args[0] if e.args else None
    return code in (_ETIMEDOUT, 60, 10060) or type(e).__name__ in ("TimeoutError", "timeout")


def _would_block(e):
    code = e.args[0] if e.args else None
    return code in (11, 35, 115, 10035) or type(e).__name__ in ("BlockingIOError",)

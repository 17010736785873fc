"""Sans-I/O TLS 1.3 client connection: bytes in, bytes and events out.

No sockets, clocks or randomness inside: the adapters pass them in. The handshake is a chain of small
state objects (handshake.py), one per expected message; this file owns records, handshake message
reassembly, alerts, application data and the "dead after any error" rule.

Typical driving loop (what sslsocket.py does):
    conn.start();  write(conn.data_to_send())
    while not conn.handshake_complete:
        n = sock.readinto(conn.recv_buffer());  conn.received(n)   # n == 0 -> conn.eof()
        write(conn.data_to_send())
"""
from tls13 import alerts
from tls13.record import (CT_ALERT, CT_APPLICATION_DATA, CT_HANDSHAKE,
                          MAX_PLAINTEXT, Protection, RecordReader, RecordWriter)
from tls13.keysched import new_aead

MAX_HANDSHAKE_MESSAGE = 65536


class ClientConnection:
    def __init__(self, config, server_name=None, urandom=None, clock=None, session=None,
                 early_data=None):
        import os
        import time
        self.cfg = config
        self.server_name = server_name
        self.urandom = urandom or os.urandom
        self.clock = clock or time.time
        self.session = session          # a resumable Session to offer (resumption.py)
        self.early_data = early_data    # bytes to send as 0-RTT with that session
        limit = config.max_fragment_length or config.record_size_limit or MAX_PLAINTEXT
        # Until the server agrees to a limit, records of up to 16 KB are accepted (the buffer
        # grows on demand); a board that offers 2048 starts with a 2 KB buffer.
        self.reader = RecordReader(limit + 256)
        self.writer = RecordWriter(min(limit, config.max_send_record), config.record_padding)
        self.out = bytearray()
        self.hs_buf = bytearray()
        self.state = None
        self.error = None
        self.handshake_complete = False
        self.peer_closed = False
        self.local_closed = False
        self.ccs_seen = False
        self.ccs_sent = False
        self.early_data_writing = False
        self.res_master = None
        self.app = None
        self.events = []
        # Filled in by the handshake:
        self.suite = None
        self.group = None
        self.alpn = None
        self.mfl_agreed = False
        self.record_limit = None
        self.session_reused = False
        self.early_data_accepted = False
        self.early_data_rejected = False  # early_data must be sent again after the handshake
        self.peer_verified = None  # what was checked about the server: "chain", "pin", or "none"
        self.keys = None
        self.tickets = []
        self.pending_write_keys = None

    # ---- driving -------------------------------------------------------------------------
    def start(self):
        from tls13.handshake import start_handshake
        self._guard(start_handshake, self)

    def recv_buffer(self):
        """Memoryview to read the next incoming bytes into (never past the current record).

        Empty while decrypted application data is waiting to be read: read it first."""
        if self.app is not None:
            return memoryview(b"")
        return self.reader.view()

    def received(self, n):
        """n bytes were written into recv_buffer(); processes a record if one is complete."""
        if self.error is not None:
            raise self.error
        if n:
            self._guard(self._on_bytes, n)

    def receive(self, data):
        """Feed bytes that arrived (copying convenience for tests and non-readinto transports).
        Returns the number consumed: it stops early when application data must be read first."""
        mv = memoryview(data)
        pos = 0
        while pos < len(mv) and self.error is None:
            dst = self.recv_buffer()
            if not len(dst):
                break
            n = min(len(dst), len(mv) - pos)
            dst[:n] = mv[pos:pos + n]
            pos += n
            self.received(n)
        return pos

    def eof(self):
        """The transport reached end of file."""
        if self.peer_closed or self.error is not None:
            return
        err = alerts.TruncationError("connection ended without close_notify")
        self.error = err
        raise err

    def data_to_send(self):
        out = self.out
        if not out:
            return b""
        self.out = bytearray()
        return out

    def pending_output(self):
        return len(self.out)

    # ---- application data ------------------------------------------------------------------
    def read_into(self, buf, n=None):
        """Copy decrypted application data into buf; returns the count (0: none buffered)."""
        app = self.app
        if app is None:
            if self.error is not None:
                raise self.error
            return 0
        n = len(buf) if n is None else min(n, len(buf))
        if n > len(app):
            n = len(app)
        buf[:n] = app[:n]
        self.app = app[n:] if n < len(app) else None
        return n

    def app_pending(self):
        return 0 if self.app is None else len(self.app)

    def send(self, data):
        """Queue application data as records in data_to_send()."""
        self._check_writable()
        mv = memoryview(data)
        step = self.writer.max_plain
        for i in range(0, len(mv), step):
            self.out += self.writer.seal(CT_APPLICATION_DATA, mv[i:i + step])

    def seal_record(self, data):
        """One application-data record for data (<= max_record_payload()), as a view into the
        preallocated send buffer, valid until the next call: the zero-copy path for big writes."""
        self._check_writable()
        return self.writer.seal(CT_APPLICATION_DATA, data)

    def max_record_payload(self):
        return self.writer.max_plain

    def _check_writable(self):
        if self.error is not None:
            raise self.error
        if not self.handshake_complete:
            raise alerts.InternalError("handshake not complete")
        if self.local_closed:
            raise alerts.ConnectionClosed("connection closed locally")

    def close(self):
        """Queue close_notify (idempotent)."""
        if self.local_closed or self.error is not None:
            return
        self.local_closed = True
        self._queue_alert(alerts.CLOSE_NOTIFY, level=1)

    def release(self):
        """Hand the record buffers back to tls13.bufpool (the connection is unusable afterwards)."""
        from tls13 import bufpool
        if self.error is None:
            self.error = alerts.ConnectionClosed("connection released")
        bufpool.give(self.reader.buf)
        bufpool.give(self.writer.buf)
        self.reader.buf = bytearray(0)
        self.writer.buf = bytearray(0)
        self.app = None

    def event(self, *ev):
        """Record something the application may want to see; only the last few are kept, so a
        long-lived connection does not grow."""
        evs = self.events
        evs.append(ev)
        if len(evs) > 8:
            evs.pop(0)

    def key_update(self, request_peer=True):
        self._check_writable()
        from tls13.handshake import send_key_update
        send_key_update(self, request_peer)

    # ---- internals -----------------------------------------------------------------------
    def _guard(self, fn, arg):
        try:
            fn(arg)
        except alerts.TLSError as e:
            self._fail(e)
            raise
        except MemoryError:
            raise
        except Exception as e:  # a bug or an unexpected type: still send an alert, stay dead
            err = alerts.InternalError("%s: %s" % (type(e).__name__, e))
            self._fail(err)
            raise err

    def _fail(self, err):
        if self.error is not None:
            return
        self.error = err
        if not err.remote and err.alert != alerts.CLOSE_NOTIFY:
            if self.writer.protection is None and self.pending_write_keys is not None:
                self.install_write_keys(self.pending_write_keys)
            try:
                self._queue_alert(err.alert)
            except Exception:
                pass

    def _queue_alert(self, code, level=2):
        self.out += self.writer.seal(CT_ALERT, bytes((level, code)))

    def queue_handshake(self, msg):
        """Queue a handshake message, split into records of at most max_plain bytes."""
        mv = memoryview(msg)
        step = self.writer.max_plain
        for i in range(0, len(mv), step):
            self.out += self.writer.seal(CT_HANDSHAKE, mv[i:i + step])

    def queue_ccs(self):
        self.out += b"\x14\x03\x03\x00\x01\x01"

    def install_read_keys(self, secret):
        key, iv = self.keys.traffic_keys(secret)
        self.reader.protection = Protection(new_aead(self.suite, key), iv)

    def install_write_keys(self, secret):
        key, iv = self.keys.traffic_keys(secret)
        self.writer.protection = Protection(new_aead(self.suite, key), iv)
        self.pending_write_keys = None

    def _on_bytes(self, n):
        rec = self.reader.commit(n)
        if rec is None:
            return
        ctype, body = rec
        if ctype == CT_HANDSHAKE:
            self._on_handshake_record(body)
        elif ctype == CT_APPLICATION_DATA:
            if not self.handshake_complete:
                raise alerts.UnexpectedMessage("application data before the handshake completed")
            if self.peer_closed:
                return  # RFC 8446 6.1: data after a closure alert is ignored
            if len(body):
                self.app = body
        elif ctype == CT_ALERT:
            self._on_alert(body)
        else:
            # change_cipher_spec: one dummy record is tolerated during the handshake (middlebox
            # compatibility mode); anything else is a protocol violation.
            if self.handshake_complete or self.ccs_seen or len(body) != 1 or body[0] != 1:
                raise alerts.UnexpectedMessage("unexpected change_cipher_spec")
            self.ccs_seen = True

    def _on_alert(self, body):
        if len(body) != 2:
            raise alerts.DecodeError("malformed alert")
        code = body[1]
        if code == alerts.CLOSE_NOTIFY:
            self.peer_closed = True
            if not self.handshake_complete:
                raise alerts.HandshakeFailure("peer closed during the handshake", remote=True)
            return
        if code == alerts.USER_CANCELED:
            return  # a warning; close_notify follows
        err = alerts.from_code(code, "", remote=True)
        raise err

    def _on_handshake_record(self, body):
        if self.peer_closed:
            raise alerts.UnexpectedMessage("handshake after close_notify")
        buf = self.hs_buf
        if buf:
            buf += body
            data = memoryview(buf)
        else:
            data = body
        pos = 0
        end = len(data)
        while end - pos >= 4:
            mlen = (data[pos + 1] << 16) | (data[pos + 2] << 8) | data[pos + 3]
            if mlen > MAX_HANDSHAKE_MESSAGE:
                raise alerts.DecodeError("handshake message of %d bytes" % mlen)
            if end - pos < 4 + mlen:
                break
            raw = data[pos:pos + 4 + mlen]
            pos += 4 + mlen
            self._boundary = pos == end
            self.state = self.state.handle(self, raw[0], raw[4:], raw)
        rest = end - pos
        if buf:
            if rest:
                self.hs_buf = bytearray(data[pos:])
            else:
                self.hs_buf = bytearray()
        elif rest:
            self.hs_buf = bytearray(data[pos:])

    def require_record_boundary(self):
        """Keys change after this message: nothing of the same record may follow it."""
        if not self._boundary:
            raise alerts.UnexpectedMessage("handshake data across a key change")

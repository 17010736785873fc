"""asyncio streams over TLS 1.3, for MicroPython's asyncio (and CPython's).

    reader_writer = await tls13.aio.open_connection(host, port, ctx, server_hostname=host)
    s.write(b"..."); await s.drain(); line = await s.readline(); s.close(); await s.wait_closed()

One TLSStream object plays both StreamReader and StreamWriter (MicroPython's own Stream does the
same); open_connection returns it twice so code written for the (reader, writer) pair works.
"""
try:
    import asyncio
except ImportError:  # very old MicroPython
    import uasyncio as asyncio

from tls13 import alerts


class TLSStream:
    def __init__(self, reader, writer, conn):
        self._r = reader
        self._w = writer
        self._conn = conn
        self._rinto = getattr(reader, "readinto", None)  # MicroPython: no allocation per read

    async def _flush(self):
        conn = self._conn
        if conn.pending_output():
            self._w.write(conn.data_to_send())
            await self._w.drain()

    async def _fill(self):
        conn = self._conn
        dst = conn.recv_buffer()
        if self._rinto is not None:
            n = await self._rinto(dst)
        else:
            data = await self._r.read(len(dst))
            n = len(data)
            dst[:n] = data
        try:
            if not n:
                conn.eof()
            else:
                conn.received(n)
        finally:
            await self._flush()

    async def handshake(self):
        conn = self._conn
        try:
            conn.start()
            await self._flush()
            while not conn.handshake_complete:
                await self._fill()
        except alerts.TLSError:
            await self._abort()
            raise
        if conn.early_data_rejected and conn.early_data:
            self.write(conn.early_data)
            await self.drain()

    async def _abort(self):
        try:
            await self._flush()
        except OSError:
            pass
        self._w.close()
        self._conn.release()

    async def _ensure_data(self):
        """True when decrypted data is buffered; False at a clean close_notify."""
        conn = self._conn
        try:
            await self._flush()
            while not conn.app_pending():
                if conn.peer_closed:
                    return False
                await self._fill()
        except alerts.TLSError:
            await self._abort()
            raise
        return True

    async def readinto(self, buf):
        if not await self._ensure_data():
            return 0
        return self._conn.read_into(buf)

    async def read(self, n=-1):
        if n is None or n < 0:
            out = []
            while await self._ensure_data():
                b = bytearray(self._conn.app_pending())
                self._conn.read_into(b)
                out.append(bytes(b))
            return b"".join(out)
        if not await self._ensure_data():
            return b""
        b = bytearray(min(n, self._conn.app_pending()))
        self._conn.read_into(b)
        return bytes(b)

    async def readexactly(self, n):
        buf = bytearray(n)
        mv = memoryview(buf)
        got = 0
        while got < n:
            if not await self._ensure_data():
                raise EOFError("stream ended after %d of %d bytes" % (got, n))
            got += self._conn.read_into(mv[got:])
        return bytes(buf)

    async def readline(self):
        line = bytearray()
        one = bytearray(1)
        while True:
            if not await self._ensure_data():
                return bytes(line)
            self._conn.read_into(one)
            line += one
            if one[0] == 10:
                return bytes(line)

    def write(self, data):
        # Each record is sealed in the connection's send buffer and handed straight to the stream
        # (which writes it to the socket or copies what does not fit): no per-write flight buffer.
        conn = self._conn
        w = self._w
        pending = conn.data_to_send()  # anything queued first (a KeyUpdate answer, an alert)
        if pending:
            w.write(pending)
        mv = memoryview(data)
        step = conn.max_record_payload()
        try:
            for i in range(0, len(mv), step):
                w.write(conn.seal_record(mv[i:i + step]))
        except alerts.TLSError:
            w.write(conn.data_to_send())
            raise

    async def drain(self):
        await self._w.drain()

    def close(self):
        conn = self._conn
        if conn.error is None and conn.handshake_complete and not conn.local_closed:
            conn.close()
            self._w.write(conn.data_to_send())  # the stream copies it
        self._w.close()
        # The record buffers go back to tls13.bufpool for the next connection: a board that
        # reconnects cannot count on finding 16 KB in one piece again.
        conn.release()

    async def wait_closed(self):
        try:
            await self._w.drain()
        except OSError:
            pass
        await self._w.wait_closed()

    def get_extra_info(self, name, default=None):
        if name == "tls":
            return self._conn
        return self._w.get_extra_info(name) if hasattr(self._w, "get_extra_info") else default

    @property
    def connection(self):
        return self._conn


async def open_connection(host, port, ssl, server_hostname=None, session=None, early_data=None):
    """TCP connect then TLS 1.3 handshake; returns (stream, stream)."""
    reader, writer = await asyncio.open_connection(host, port)
    conn = ssl.new_connection(server_hostname if server_hostname is not None else host, session, early_data)
    try:
        from tls13.sslsocket import set_nodelay
        sock = writer.get_extra_info("socket") if hasattr(writer, "get_extra_info") else getattr(writer, "s", None)
        if sock is not None:
            set_nodelay(sock)
    except Exception:
        pass
    s = TLSStream(reader, writer, conn)
    try:
        await s.handshake()
    except BaseException:
        # A reset, a timeout or a cancellation (asyncio.wait_for around the call) must not leave
        # the socket open or the record buffers outside tls13.bufpool.
        try:
            writer.close()
        except OSError:
            pass
        conn.release()
        raise
    return s, s

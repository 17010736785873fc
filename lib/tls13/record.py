"""TLS 1.3 record layer: framing, protection with per-direction AEAD state, padding, size limits.

Incoming records are read one at a time into a single preallocated buffer: first the 5-byte header,
then exactly the body it announces, so a socket never reads past the current record and nothing is
copied twice. Decryption happens in place; the plaintext stays in the buffer until consumed.
"""
from tls13 import alerts, bufpool
from tls13.crypto.errors import InvalidTag

CT_CHANGE_CIPHER_SPEC = 20
CT_ALERT = 21
CT_HANDSHAKE = 22
CT_APPLICATION_DATA = 23

MAX_PLAINTEXT = 16384
MAX_CIPHERTEXT = MAX_PLAINTEXT + 256
TAG_LEN = 16


class Protection:
    """One direction's AEAD, static IV and sequence number."""

    def __init__(self, aead, iv):
        self.aead = aead
        self.iv = bytes(iv)
        self.nonce = bytearray(12)
        self.seq = 0

    def next_nonce(self):
        n = self.nonce
        iv = self.iv
        s = self.seq
        for i in range(11, -1, -1):
            n[i] = iv[i] ^ (s & 0xFF)
            s >>= 8
        self.seq += 1
        return n


class RecordReader:
    """Reassembles one record at a time into `buf` and opens it."""

    def __init__(self, size):
        # size: the largest record body accepted before a limit is agreed; grows to the protocol
        # maximum on demand until `lock_limit` says the peer promised smaller records.
        self.buf = bufpool.take(5 + size)
        self.have = 0
        self.want = 5
        self.protection = None
        self.locked_limit = None  # max plaintext the peer agreed to send, once known

    def view(self):
        """Where the next incoming bytes go; at most the rest of the current record."""
        return memoryview(self.buf)[self.have:self.want]

    def lock_limit(self, max_plain):
        self.locked_limit = max_plain

    def commit(self, n):
        """Account for n bytes written into view(); returns (type, body view) once a record is whole."""
        self.have += n
        if self.have < self.want:
            return None
        b = self.buf
        if self.want == 5:
            ctype = b[0]
            if ctype < 20 or ctype > 23:
                raise alerts.UnexpectedMessage("unknown record type %d" % ctype)
            if b[1] != 3:
                raise alerts.DecodeError("bad record version")
            length = (b[3] << 8) | b[4]
            enc = self.protection is not None and ctype == CT_APPLICATION_DATA
            limit = self.locked_limit if self.locked_limit is not None else MAX_PLAINTEXT
            if length > (limit + 256 if enc else limit) or length > MAX_CIPHERTEXT:
                raise alerts.RecordOverflow("record of %d bytes" % length)
            if length == 0 and ctype != CT_APPLICATION_DATA:
                raise alerts.DecodeError("empty record")
            if 5 + length > len(b):
                self.buf = b2 = bufpool.take(5 + MAX_CIPHERTEXT)
                b2[0:5] = b[0:5]
                bufpool.give(b)
            self.want = 5 + length
            if length:
                return None
        return self._open()

    def _open(self):
        b = self.buf
        ctype = b[0]
        n = self.want - 5
        self.have = 0
        self.want = 5
        mv = memoryview(b)
        if self.protection is None or ctype == CT_CHANGE_CIPHER_SPEC:
            return ctype, mv[5:5 + n]
        if ctype != CT_APPLICATION_DATA:
            raise alerts.UnexpectedMessage("unprotected record after keys changed")
        if n < TAG_LEN + 1:
            raise alerts.BadRecordMac("record too short")
        p = self.protection
        try:
            n = p.aead.decrypt_into(p.next_nonce(), mv[5:5 + n], n, bytes(b[0:5]))
        except InvalidTag:
            raise alerts.BadRecordMac("record failed authentication")
        # Strip zero padding; the last non-zero byte is the real content type.
        while n > 0 and b[4 + n] == 0:
            n -= 1
        if n == 0:
            raise alerts.UnexpectedMessage("record with no content type")
        ctype = b[4 + n]
        n -= 1
        limit = self.locked_limit if self.locked_limit is not None else MAX_PLAINTEXT
        if n > limit:
            raise alerts.RecordOverflow("plaintext of %d bytes" % n)
        if n == 0 and ctype != CT_APPLICATION_DATA:
            raise alerts.UnexpectedMessage("empty record of type %d" % ctype)
        return ctype, mv[5:5 + n]


class RecordWriter:
    """Seals outgoing records into a preallocated buffer (one record at a time) or a flight buffer."""

    def __init__(self, max_plain, pad_to=0):
        self.max_plain = max_plain
        self.pad_to = pad_to  # pad inner plaintext to a multiple of this (0: no padding)
        self.buf = bufpool.take(5 + max_plain + 1 + (pad_to or 0) + TAG_LEN)
        self.protection = None

    def set_limit(self, max_plain):
        if max_plain < self.max_plain:
            self.max_plain = max_plain

    def seal(self, ctype, data):
        """One record holding data (len <= max_plain); returns a view valid until the next seal()."""
        n = len(data)
        b = self.buf
        p = self.protection
        if p is None:
            b[0] = ctype
            b[1] = 3
            b[2] = 1 if ctype == CT_HANDSHAKE else 3  # legacy 0x0301 for ClientHello compatibility
            b[3] = n >> 8
            b[4] = n & 0xFF
            b[5:5 + n] = data
            return memoryview(b)[:5 + n]
        inner = n + 1
        if self.pad_to:
            inner = (inner + self.pad_to - 1) // self.pad_to * self.pad_to
            if inner > self.max_plain + 1:
                inner = self.max_plain + 1
        total = inner + TAG_LEN
        if 5 + total > len(b):
            bufpool.give(b)
            self.buf = b = bufpool.take(5 + total)
        b[0] = CT_APPLICATION_DATA
        b[1] = 3
        b[2] = 3
        b[3] = total >> 8
        b[4] = total & 0xFF
        b[5:5 + n] = data
        b[5 + n] = ctype
        for i in range(6 + n, 5 + inner):
            b[i] = 0
        mv = memoryview(b)
        p.aead.encrypt_into(p.next_nonce(), mv[5:5 + total], inner, bytes(b[0:5]))
        return mv[:5 + total]

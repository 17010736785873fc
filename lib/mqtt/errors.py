"""MQTT errors: one class per failure a caller may want to tell apart.

Network-level failures (timeouts, a lost connection) subclass OSError, because code written for
umqtt and sockets already catches OSError around I/O (tls13's TLSError is an OSError too). Protocol
and refusal errors subclass MQTTError.
"""


class MQTTError(Exception):
    pass


# umqtt.simple's name for the same thing
MQTTException = MQTTError


class MQTTProtocolError(MQTTError):
    """The peer sent something MQTT 3.1.1 does not allow; the connection must be closed."""


class MalformedPacket(MQTTProtocolError):
    """Wrong length, flags or field contents."""


class MalformedRemainingLength(MalformedPacket):
    """The variable-length remaining-length field is longer than 4 bytes or not minimal."""


class PacketTooLarge(MQTTProtocolError):
    """The announced packet is larger than this client accepts (max_packet)."""

    def __init__(self, size, limit):
        super().__init__("packet of %d bytes exceeds the limit of %d" % (size, limit))
        self.size = size
        self.limit = limit


class InvalidTopic(MalformedPacket):
    """A topic name with wildcards, NUL, or invalid UTF-8."""


class UnexpectedPacket(MQTTProtocolError):
    """A well-formed packet that is not allowed in this direction or state."""


class ConnectionRefused(MQTTError):
    """CONNACK with a non-zero return code; `code` holds it."""
    code = None

    def __init__(self, msg=""):
        super().__init__("connection refused (%s): %s" % (self.code, msg or self.__class__.__name__))


class UnacceptableProtocolVersion(ConnectionRefused):
    code = 1


class IdentifierRejected(ConnectionRefused):
    code = 2


class ServerUnavailable(ConnectionRefused):
    code = 3


class BadUsernameOrPassword(ConnectionRefused):
    code = 4


class NotAuthorized(ConnectionRefused):
    code = 5


REFUSALS = (None, UnacceptableProtocolVersion, IdentifierRejected, ServerUnavailable,
            BadUsernameOrPassword, NotAuthorized)


class SubscribeRefused(MQTTError):
    """SUBACK returned 0x80 for a topic filter."""


class MQTTTimeout(OSError):
    """No answer within the timeout (errno ETIMEDOUT)."""

    def __init__(self, what="timed out"):
        super().__init__(110, what)


class ConnectionLost(OSError):
    """The broker closed the connection, or keepalive found it dead."""

    def __init__(self, what="connection lost"):
        super().__init__(104, what)

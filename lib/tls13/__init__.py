"""TLS 1.3 client for MicroPython and CPython, shaped like the `ssl` module (client side).

    import tls13 as ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile="ca.pem")
    s = ctx.wrap_socket(sock, server_hostname="broker.example")
"""
from tls13.alerts import TLSError, TLSError as SSLError, TruncationError, ConnectionClosed  # noqa: F401
from tls13.context import (SSLContext, wrap_socket, PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER,  # noqa: F401
                           CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED)

HAS_TLSv1_3 = True
OPENSSL_VERSION = "tls13 (pure Python TLS 1.3)"

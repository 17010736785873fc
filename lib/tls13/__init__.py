"""TLS 1.3 client for MicroPython and CPython, shaped like the `ssl` module (client side).

    import tls13 as ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile="ca.pem")
    s = ctx.wrap_socket(sock, server_hostname="broker.example")

Importing the package costs almost nothing: the client is loaded on first use of SSLContext or
wrap_socket, so `import tls13.crypto.x25519` alone does not pull in the whole stack.
"""
PROTOCOL_TLS_CLIENT = 16
PROTOCOL_TLS_SERVER = 17
CERT_NONE = 0
CERT_OPTIONAL = 1
CERT_REQUIRED = 2
HAS_TLSv1_3 = True
OPENSSL_VERSION = "tls13 (pure Python TLS 1.3)"


def __getattr__(name):
    if name in ("SSLContext", "wrap_socket"):
        # (`from tls13 import context` would recurse into this __getattr__ on MicroPython)
        import tls13.context
        return getattr(tls13.context, name)
    if name in ("SSLError", "TLSError"):
        from tls13.alerts import TLSError
        return TLSError
    if name in ("TruncationError", "ConnectionClosed"):
        import tls13.alerts
        return getattr(tls13.alerts, name)
    # `from tls13 import alerts` asks here before importing the submodule on MicroPython.
    __import__("tls13." + name)
    return globals()[name]

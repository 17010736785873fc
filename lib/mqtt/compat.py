"""Run unmodified umqtt.simple over a tls13 SSLContext.

umqtt.simple writes with the MicroPython stream signature `write(buf, length)`, which tls13's
SSLSocket does not take; `Stream` adds it (and nothing else). Two ways in, by umqtt version:

    # umqtt.simple >= 1.4: ssl=<context with wrap_socket(sock, server_hostname=...)>
    MQTTClient("dev", "broker", ssl=compat.Context(ctx))

    # umqtt.simple 1.3.x imports `ussl` and calls ussl.wrap_socket(sock, **ssl_params)
    compat.install_ussl()
    MQTTClient("dev", "broker", ssl=True, ssl_params={"context": ctx, "server_hostname": "broker"})
"""
import sys


class Stream:
    def __init__(self, s):
        self._s = s

    def write(self, buf, length=None):
        if length is not None:
            buf = memoryview(buf)[:length]
        return self._s.write(buf)

    def read(self, n=-1):
        return self._s.read(n)

    def readinto(self, buf, n=None):
        return self._s.readinto(buf, n)

    def setblocking(self, flag):
        self._s.setblocking(flag)

    def settimeout(self, t):
        self._s.settimeout(t)

    def close(self):
        self._s.close()

    def __getattr__(self, name):
        return getattr(self._s, name)


class Context:
    def __init__(self, ctx):
        self.ctx = ctx

    def wrap_socket(self, sock, server_hostname=None, **kw):
        return Stream(self.ctx.wrap_socket(sock, server_hostname=server_hostname, **kw))


def wrap_socket(sock, context=None, server_hostname=None, **kw):
    """`ussl.wrap_socket` for umqtt 1.3.x: uses `context` (a tls13.SSLContext) when given, else
    tls13's own module-level wrap_socket with the remaining ssl_params."""
    if context is None:
        import tls13
        return Stream(tls13.wrap_socket(sock, server_hostname=server_hostname, **kw))
    return Stream(context.wrap_socket(sock, server_hostname=server_hostname, **kw))


def install_ussl():
    """Make `import ussl` resolve to this module (umqtt.simple 1.3.x imports it in connect())."""
    sys.modules["ussl"] = sys.modules[__name__]

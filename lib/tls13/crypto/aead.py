"""AEADs used by TLS 1.3 record protection.

`AESGCM` lives in gcm.py and `ChaCha20Poly1305` in chachapoly.py; they are imported on first use so a
board that negotiates one suite never loads the other's code.
"""
from tls13.crypto.errors import InvalidTag  # noqa: F401  (re-exported)


def __getattr__(name):
    if name == "AESGCM":
        from tls13.crypto.gcm import AESGCM
        return AESGCM
    if name == "ChaCha20Poly1305":
        from tls13.crypto.chachapoly import ChaCha20Poly1305
        return ChaCha20Poly1305
    raise AttributeError(name)

"""Exceptions shared by the crypto primitives."""


class InvalidTag(Exception):
    """An AEAD tag did not verify: the record was forged or corrupted."""


class InvalidSignature(Exception):
    """A signature did not verify."""

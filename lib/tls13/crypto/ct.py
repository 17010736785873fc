"""Constant-time comparison for MACs, tags and Finished values."""


def bytes_eq(a, b):
    """True when a == b, in time that depends only on the lengths (which are public)."""
    if len(a) != len(b):
        return False
    acc = 0
    for i in range(len(a)):
        acc |= a[i] ^ b[i]
    return acc == 0

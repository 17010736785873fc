"""Tiny assertion helpers that work the same on MicroPython and CPython.

Device-side tests use these instead of pytest features: the same module is collected by pytest on
CPython and executed by tests/device/vmrun.py on the MicroPython VM.
"""
import sys

IS_MICROPYTHON = sys.implementation.name == "micropython"


class CheckFailed(AssertionError):
    pass


def check(cond, msg="check failed"):
    if not cond:
        raise CheckFailed(msg)


def eq(got, want, msg=""):
    if got != want:
        raise CheckFailed("%s: got %r, want %r" % (msg or "not equal", got, want))


def raises(exc, fn, *args, **kw):
    """Call fn and require it to raise exc; returns the exception for further checks."""
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise CheckFailed("%s did not raise %s" % (getattr(fn, "__name__", fn), exc.__name__))


def unhex(s):
    return bytes.fromhex(s)


# Names of tests that only run on CPython (MicroPython functions take no attributes, hence a set).
VM_SKIP = set()


def skip_on_vm(fn):
    """Mark a test as CPython-only (e.g. it needs `cryptography`); say why in its docstring."""
    VM_SKIP.add(fn.__name__)
    return fn

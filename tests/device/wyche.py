"""Wycheproof vectors for device-side tests, streamed one test at a time.

On CPython the JSON files are read from shared/ directly; on the VM (where a 100 KB JSON document does
not fit the heap) from the one-test-per-line copies that tests/vmbench.py prepares.
"""
import json
import os
import sys

_MP = sys.implementation.name == "micropython"


def _env(name, default):
    v = os.getenv(name) if hasattr(os, "getenv") else None
    return v if v else default


def _root():
    here = __file__.rsplit("/", 3)[0] if "/" in __file__ else "."
    return _env("TLS13_ROOT", here)


def shared_dir():
    return _env("TLS13_SHARED", _root() + "/../shared")


def cases(name):
    """Yield (group_params, test) for every test of `name` (file name without .json)."""
    if _MP:
        path = _env("TLS13_VECTORS", _root() + "/build/vectors") + "/" + name + ".jsonl"
        with open(path) as f:
            for line in f:
                d = json.loads(line)
                yield d["g"], d["t"]
    else:
        with open(shared_dir() + "/vectors/wycheproof/" + name + ".json") as f:
            data = json.load(f)
        for g in data["testGroups"]:
            for t in g["tests"]:
                yield g, t

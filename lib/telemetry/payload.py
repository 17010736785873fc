"""The telemetry message: one JSON object, keys in a fixed order, floats with two decimals.

    {"device":"device-001","seq":41,"ts":1767225600,"board":"esp32","chip_temp_c":41.25,"heap_free":61440}

`seq` is the outbox record id: it grows by one per reading and survives reboots and deep sleep, so a
subscriber can tell a lost reading from a late one. `ts` is Unix seconds, or null while the clock is
not known to be right. Readings share the top level with these keys and must not reuse them.
"""
import json

RESERVED = ("device", "seq", "ts", "board")


def _value(v):
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return "null"
        return "%.2f" % v
    if isinstance(v, int):
        return "%d" % v
    return json.dumps(str(v))


def encode(device, seq, ts, readings, board=None):
    """bytes of the JSON object; readings is a list of (name, value) pairs."""
    parts = ['{"device":', json.dumps(device), ',"seq":%d' % seq, ',"ts":', "null" if ts is None else "%d" % ts]
    if board:
        parts.append(',"board":')
        parts.append(json.dumps(board))
    return _close(parts, readings, RESERVED)


def status(device, board, online, fields):
    """The retained status message: {"device":..,"board":..,"online":true, fields...}."""
    parts = ['{"device":', json.dumps(device), ',"board":', json.dumps(board), ',"online":',
             "true" if online else "false"]
    return _close(parts, fields, ())


def _close(parts, pairs, reserved):
    """parts (the fixed keys) + ',"name":value' per pair + '}', as bytes; names in reserved refused."""
    for name, v in pairs:
        if name in reserved:
            raise ValueError("reading name %r is reserved" % name)
        parts.append(",")
        parts.append(json.dumps(name))
        parts.append(":")
        parts.append(_value(v))
    parts.append("}")
    return "".join(parts).encode()


def decode(data):
    """The dict of a payload; ValueError when it is not one of ours."""
    d = json.loads(bytes(data).decode())
    if not isinstance(d, dict) or not isinstance(d.get("device"), str) or not isinstance(d.get("seq"), int):
        raise ValueError("not a telemetry payload")
    return d

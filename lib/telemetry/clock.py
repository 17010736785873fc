"""Unix time, NTP, and the time floor of the certificate clock policy (tls13/x509/chain.py).

Certificates cannot be checked without the time. The node sets the clock by NTP before it connects;
in case that fails (or the port has no RTC battery and NTP is down) it also hands the TLS context a
`time_floor`: the latest of the firmware build time and the last time NTP succeeded (kept in a small
file). With a floor, a clock that reads earlier than it is known to be wrong: certificates that expired
before the floor are still refused, and notBefore cannot be checked until the clock is right.
"""
import time

EPOCH_2000 = 946684800  # some ports count from 2000-01-01


def _epoch_offset():
    try:
        return EPOCH_2000 if time.gmtime(0)[0] == 2000 else 0
    except (AttributeError, OverflowError):
        return 0


_OFFSET = _epoch_offset()


def unix_time():
    return int(time.time()) + _OFFSET


def load_floor(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def save_floor(path, t):
    from telemetry.store import makedirs
    makedirs(path)
    with open(path, "w") as f:
        f.write("%d\n" % t)


def time_floor(built_at, path):
    return max(int(built_at or 0), load_floor(path))


def clock_ok(floor):
    return unix_time() >= floor


def ntp_sync(host=None, tries=3, timeout_s=2, log=None):
    """Set the RTC from NTP. True on success, False when every try failed, None when the port has no
    ntptime module (the unix VM and CPython: the host keeps the clock)."""
    try:
        import ntptime
    except ImportError:
        return None
    if host:
        ntptime.host = host
    if hasattr(ntptime, "timeout"):
        ntptime.timeout = timeout_s
    for i in range(tries):
        try:
            ntptime.settime()
            return True
        except (OSError, OverflowError, IndexError) as e:
            if log:
                log("NTP try %d/%d failed: %r" % (i + 1, tries, e))
            time.sleep(1)
    return False

"""The steps of firmware/main.py, importable (and frozen with the rest of lib/)."""
import json

from telemetry import clock


def load_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        if default is None:
            raise OSError("%s is missing: copy it from firmware/*.example.json (mptls deploy does)" % path)
        return default


def sync_clock(cfg, board, state_dir="state", log=print):
    """NTP before any certificate is checked; returns the time floor for the TLS context.

    A deep-sleep wake with a sane clock skips NTP (the RTC kept running). The last good NTP time is
    stored as the floor when it moved on by more than a day (flash wear)."""
    path = state_dir + "/clock.txt"
    floor = clock.time_floor(board.get("built_at", 0), path)
    if board.reset_cause() == "deepsleep" and clock.clock_ok(floor):
        return floor
    nc = cfg.get("ntp") or {}
    ok = clock.ntp_sync(nc.get("host"), nc.get("tries", 3), nc.get("timeout_s", 2), log)
    now = clock.unix_time()
    if ok is None:
        log("CLOCK no NTP on this port; clock %s" % ("ok" if now >= floor else "BEFORE the floor"))
    elif ok:
        if now - clock.load_floor(path) > 86400:
            clock.save_floor(path, now)
        log("CLOCK set by NTP: %d" % now)
    else:
        log("CLOCK NTP failed; certificates are checked against the floor %d" % floor)
    return max(floor, clock.load_floor(path))


def make_context(cfg, board, time_floor):
    """The TLS 1.3 context: the broker's CA (or a frozen roots module), the board's cipher order, the
    device certificate for mTLS, ALPN and max_fragment_length when configured, the clock policy."""
    import tls13
    tc = cfg.get("tls") or {}
    bc = cfg.get("broker") or {}
    ctx = tls13.SSLContext(tls13.PROTOCOL_TLS_CLIENT)
    if tc.get("roots_module"):
        ctx.load_trust_module(__import__(tc["roots_module"]))
    else:
        ctx.load_verify_locations(cafile=tc.get("ca", "certs/ca.crt"))
    ctx.set_ciphers(tc.get("ciphers") or board.cipher_string())
    if tc.get("cert"):
        ctx.load_cert_chain(tc["cert"], tc.get("key"))
    if bc.get("alpn"):
        ctx.set_alpn_protocols(bc["alpn"])
    if bc.get("max_fragment_length"):
        ctx.max_fragment_length = bc["max_fragment_length"]
    ctx.time_floor = time_floor
    return ctx

"""The client against a misbehaving TLS 1.3 server (tests/evilserver.py), on CPython and on the VM.

Every case asserts the exception class the client raised, its alert code and remote flag, the exact
alerts the server received from the client, that the client closed its socket (the server saw EOF,
and the client's socket object is closed), and, for the positive controls, the echoed data.
Each CPython case runs in-process against its own server. On the VM the cases run in a few VM
starts (one per section of CASES) against a second set of servers; that batch runs once per test run
and reaches the pytest-xdist workers through a file.
"""
import fcntl
import json
import os
import subprocess
import time

import pytest

import evilserver
import tls_negative
import vmbench

CACHE_DIR = os.path.join(vmbench.ROOT, "build", "tls-negative")
POSITIVE = [[1, 0]]  # close_notify from the client's close()
RFC = "RFC 8446 "


class Case:
    def __init__(self, cid, exc, alert=None, remote=False, mode=None, client=None, server=None,
                 server_alerts=None, check=None, xfail=None, xfail_vm=None, alone=False, heap_kb=None):
        self.id = cid
        self.alone = alone  # its own VM start: it loads crypto code no other case needs
        self.heap_kb = heap_kb  # None: tls_negative.HEAP_KB
        self.group = None
        self.mode = mode or cid
        self.exc, self.alert, self.remote = exc, alert, remote
        self.client = client or {}
        self.server = server or {}
        if server_alerts is None:
            server_alerts = POSITIVE if exc is None else [] if remote or alert == 0 else [[2, alert]]
        self.server_alerts = server_alerts
        self.check = check
        self.xfail = xfail          # a known client defect on both runtimes (strict: flips when fixed)
        self.xfail_vm = xfail_vm


def _echoed(obs, rec):
    want = []
    for m in obs.get("_messages", ["ping"]):
        want.append(m if isinstance(m, str) else "%d bytes" % (len(m[0]) * m[1]))
    return [] if obs["echo"] == want else ["echo %r, want %r" % (obs["echo"], want)]


def _positive(extra=None):
    def check(obs, rec):
        problems = _echoed(obs, rec)
        if not rec["handshake_done"]:
            problems.append("server: handshake not done")
        if extra:
            problems += extra(obs, rec)
        return problems
    return check


def _want(label, got, want):
    return [] if got == want else ["%s: %r, want %r" % (label, got, want)]


TWO = {"messages": ["ping", "pong"]}
BIG_HEAP = 320
# Strings start a section; each section (and each case marked alone) is one VM start, which keeps
# the VM heap from fragmenting over ~50 connections.
CASES = [
    "positive controls",
    Case("normal", None, check=_positive(lambda o, r: _want("cipher", o["cipher"], "TLS_AES_128_GCM_SHA256")
                                         + _want("tickets", o["tickets"], 0))),
    Case("normal_chacha", None, mode="normal", alone=True,
         client={"ciphers": "TLS_CHACHA20_POLY1305_SHA256"},
         check=_positive(lambda o, r: _want("cipher", o["cipher"], "TLS_CHACHA20_POLY1305_SHA256"))),
    # These three load a second hash or verifier next to the P-256 one and need ~250 KB on the 64-bit
    # VM (at 256 KB the ed25519 one failed 3 runs in 8 with MemoryError): 320 keeps them about the
    # protocol until the connection's memory comes down.
    Case("normal_aes256", None, mode="normal", alone=True, heap_kb=BIG_HEAP,
         client={"ciphers": "TLS_AES_256_GCM_SHA384"},
         check=_positive(lambda o, r: _want("cipher", o["cipher"], "TLS_AES_256_GCM_SHA384"))),
    Case("normal_p384", None, mode="normal", alone=True, heap_kb=BIG_HEAP, server={"cert": "server-p384"},
         check=_positive()),
    Case("normal_ed25519", None, mode="normal", alone=True, heap_kb=BIG_HEAP,
         server={"cert": "server-ed25519"}, check=_positive()),
    Case("normal_rsa", None, mode="normal", alone=True, server={"cert": "server-rsa"}, check=_positive()),
    Case("compat_ccs", None, check=_positive()),
    Case("padding", None, client=TWO, check=_positive()),
    Case("tickets", None, check=_positive(lambda o, r: _want("tickets", o["tickets"], 2))),
    Case("key_update", None, client=TWO,
         check=_positive(lambda o, r: _want("client answered KeyUpdate", r["client_key_update"], True))),
    Case("hrr_cookie", None, check=_positive(lambda o, r: _want("cookie echoed", r["cookie_echoed"], True)
                                             + _want("group", o["group"], 0x1D))),
    Case("hrr_p256", None, alone=True, check=_positive(lambda o, r: _want("group", o["group"], 0x17))),
    Case("mfl", None, alone=True, client={"mfl": 2048, "messages": [["x", 3000]]},
         check=_positive(lambda o, r: _want("mfl_agreed", o["mfl_agreed"], True)
                         + _want("client records <= 2048", r["max_client_record"] <= 2048, True))),
    Case("coalesce", None, check=_positive()),
    Case("fragment", None, check=_positive()),
    Case("alpn", None, mode="normal", client={"alpn": ["mqtt", "x-other"]},
         check=_positive(lambda o, r: _want("alpn", o["alpn"], "mqtt"))),
    # The record after close_notify stays unread, so the client's close() is an RST, which may
    # overtake its own close_notify: the server sees close_notify or nothing.
    Case("close_then_data", None, client={"read_to_end": True}, server_alerts=(POSITIVE, []),
         check=_positive(lambda o, r: _want("reads after close_notify", o["eof"], ["", ""]))),
    "ServerHello and HelloRetryRequest",
    Case("tls12_server_hello", "ProtocolVersion", 70),
    Case("tls12_downgrade_sentinel", "IllegalParameter", 47),
    Case("downgrade_sentinel", "IllegalParameter", 47),
    Case("unoffered_suite", "IllegalParameter", 47, client={"ciphers": "TLS_AES_128_GCM_SHA256"},
         server={"suite": 0x1303}),
    Case("unoffered_group", "IllegalParameter", 47),
    Case("unshared_group", "IllegalParameter", 47),
    Case("zero_x25519", "IllegalParameter", 47),
    Case("sid_not_echoed", "IllegalParameter", 47),
    Case("sh_forbidden_ext", "IllegalParameter", 47),
    Case("two_hrr", "UnexpectedMessage", 10),
    Case("hrr_bad_group", "IllegalParameter", 47),
    Case("hrr_same_group", "IllegalParameter", 47),
    Case("hrr_then_other_group", "IllegalParameter", 47),
    Case("hrr_then_other_suite", "IllegalParameter", 47),
    Case("sh_spans_key_change", "UnexpectedMessage", 10),
    "the encrypted server flight",
    Case("tamper_ee", "BadRecordMac", 20),
    Case("bad_finished", "DecryptError", 51),
    Case("bad_cv_sig", "DecryptError", 51),
    Case("cv_unoffered_scheme", "IllegalParameter", 47),
    Case("finished_before_cert", "UnexpectedMessage", 10),
    Case("ee_unoffered_ext", "UnsupportedExtension", 110),
    Case("ee_forbidden_ext", "IllegalParameter", 47),
    Case("empty_certificate", "DecodeError", 50),
    Case("mfl_mismatch", "IllegalParameter", 47, client={"mfl": 2048}),
    Case("alpn_unoffered_proto", "IllegalParameter", 47, client={"alpn": ["mqtt"]}),
    Case("finished_bad_length", "DecodeError", 50),
    Case("appdata_in_handshake", "UnexpectedMessage", 10),
    Case("nst_in_handshake", "UnexpectedMessage", 10),
    Case("unknown_record_type", "UnexpectedMessage", 10),
    Case("double_ccs", "UnexpectedMessage", 10),
    Case("bad_ccs_byte", "UnexpectedMessage", 10),
    # RFC 8446 names no alert for an empty plaintext handshake record (5.1 only forbids sending it);
    # decode_error is what the client sends. An empty *protected* one is unexpected_message (5.4).
    Case("zero_len_hs_plain", "DecodeError", 50),
    Case("zero_len_hs_enc", "UnexpectedMessage", 10),
    Case("all_padding", "UnexpectedMessage", 10),
    Case("oversize_plain_record", "RecordOverflow", 22),
    Case("fin_spans_key_change", "UnexpectedMessage", 10),
    Case("server_alert", "HandshakeFailure", 40, remote=True),
    Case("truncate_handshake", "TruncationError", 0),
    Case("silent", "timeout", None, remote=None, client={"timeout": 2}, server_alerts=[]),
    "after the handshake",
    Case("tamper_appdata", "BadRecordMac", 20),
    Case("oversize_plaintext", "RecordOverflow", 22),
    Case("oversize_ciphertext", "RecordOverflow", 22),
    Case("mfl_overflow", "RecordOverflow", 22, client={"mfl": 2048}),
    Case("keyupdate_bad", "IllegalParameter", 47),
    Case("ku_spans_key_change", "UnexpectedMessage", 10),
    Case("ccs_after_handshake", "UnexpectedMessage", 10),
    Case("alert_after_handshake", "InternalError", 80, remote=True),
    Case("truncate_after", "TruncationError", 0, client={"read_to_end": True},
         check=lambda o, r: _want("data before the truncation", o["echo"], ["ping"])),
]


def _sections(items):
    out, group = [], None
    for it in items:
        if isinstance(it, str):
            group = it
            continue
        it.group = it.id if it.alone else group
        out.append(it)
    return out


CASES = _sections(CASES)
BY_ID = {c.id: c for c in CASES}
assert len(BY_ID) == len(CASES)


def problems_of(case, obs, rec):
    """Everything about one run that differs from the case's expectation (empty: pass)."""
    p = []
    p += _want("exception", obs["exc"], case.exc)
    if case.exc not in (None, "timeout"):
        p += _want("alert code", obs["alert"], case.alert)
        p += _want("remote", obs["remote"], case.remote)
    p += _want("client socket closed", obs["closed"], True)
    if isinstance(case.server_alerts, tuple):
        if rec["alerts"] not in case.server_alerts:
            p.append("alerts received by the server: %r, want one of %r"
                     % (rec["alerts"], case.server_alerts))
    else:
        p += _want("alerts received by the server", rec["alerts"], case.server_alerts)
    p += _want("server saw the client close", rec["client_eof"], True)
    p += _want("records the server could not decrypt", rec["undecryptable"], 0)
    p += _want("server-side error", rec["server_error"], None)
    if case.check:
        obs = dict(obs, _messages=case.client.get("messages", ["ping"]))
        p += case.check(obs, rec)
    return p


def _server_for(case):
    return evilserver.EvilServer(case.mode, **case.server).start()


def _jsonable(rec):
    return dict(rec, app_in=len(rec["app_in"]))


def _params(vm):
    out = []
    for c in CASES:
        reason = c.xfail or (c.xfail_vm if vm else None)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(c.id, marks=marks, id=c.id))
    return out


@pytest.mark.parametrize("cid", _params(False))
def test_cpython(cid):
    case = BY_ID[cid]
    srv = _server_for(case)
    try:
        obs = tls_negative.run_case(srv.port, srv.cafile, **case.client)
        rec = _jsonable(srv.wait_session(0))
    finally:
        srv.stop()
    problems = problems_of(case, obs, rec)
    assert not problems, "%s\nclient: %r\nserver: %r" % ("\n".join(problems), obs, rec)


def _run_vm_group(cases, servers, heap_kb=None):
    path = os.path.join(CACHE_DIR, "cases-%d.json" % os.getpid())
    with open(path, "w") as f:
        json.dump([dict(c.client, id=c.id, port=servers[c.id].port, cafile=servers[c.id].cafile)
                   for c in cases], f)
    obs_path = os.path.join(CACHE_DIR, "obs-%d.jsonl" % os.getpid())
    try:
        try:
            vmbench.call_on_vm("tls_negative", "run_cases", heap_kb=heap_kb, timeout=120, path=path,
                               out=obs_path)
            error = None
        except (vmbench.VMCallError, subprocess.SubprocessError, OSError) as e:  # costs one section only
            error = str(e)[-3000:]
        got = {}
        if os.path.exists(obs_path):
            with open(obs_path) as f:
                got = {d["id"]: d["obs"] for d in map(json.loads, f)}
        for c in cases:
            if c.id not in got:
                got[c.id] = {"vm_error": error or "no observation"}
        return got
    finally:
        for p in (path, obs_path):
            if os.path.exists(p):
                os.remove(p)


def _run_vm_batch():
    servers = {c.id: _server_for(c) for c in CASES}
    try:
        os.makedirs(CACHE_DIR, exist_ok=True)
        t0 = time.monotonic()
        obs = {}
        groups = []
        for c in CASES:
            if c.group not in groups:
                groups.append(c.group)
        for g in groups:
            cases = [c for c in CASES if c.group == g]
            heap = max(c.heap_kb or 0 for c in cases) or None
            obs.update(_run_vm_group(cases, servers, heap))
        out = {"_elapsed": time.monotonic() - t0}
        for cid, srv in servers.items():
            try:
                rec = _jsonable(srv.wait_session(0, timeout=10))
            except TimeoutError as e:
                rec = {"alerts": None, "client_eof": False, "undecryptable": 0, "server_error": str(e),
                       "handshake_done": False, "client_key_update": None, "cookie_echoed": None,
                       "max_client_record": None}
            out[cid] = {"obs": obs.get(cid), "rec": rec}
        return out
    finally:
        for srv in servers.values():
            srv.stop()


@pytest.fixture(scope="session")
def vm_results():
    """The VM batch, run once per test run even when pytest-xdist spreads the cases over workers."""
    uid = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if uid is None:
        return _run_vm_batch()
    os.makedirs(CACHE_DIR, exist_ok=True)
    path = os.path.join(CACHE_DIR, "vm-%s.json" % uid)
    with open(path + ".lock", "w") as lf:
        fcntl.flock(lf, fcntl.LOCK_EX)
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)
        for name in os.listdir(CACHE_DIR):  # earlier runs' results
            old = os.path.join(CACHE_DIR, name)
            if name.startswith("vm-") and time.time() - os.path.getmtime(old) > 3600:
                os.remove(old)
        res = _run_vm_batch()
        with open(path + ".tmp", "w") as f:
            json.dump(res, f)
        os.replace(path + ".tmp", path)
        return res


@pytest.mark.parametrize("cid", _params(True))
def test_vm(cid, vm_results):
    case = BY_ID[cid]
    got = vm_results[cid]
    obs, rec = got["obs"], got["rec"]
    assert "vm_error" not in obs, obs["vm_error"]
    problems = problems_of(case, obs, rec)
    assert not problems, "%s\nclient: %r\nserver: %r" % ("\n".join(problems), obs, rec)

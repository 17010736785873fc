"""Real TLS servers on loopback for interop tests, and a recording proxy to watch the records.

    with peers.openssl(pki, cert="ec", suite="TLS_AES_128_GCM_SHA256") as srv:
        srv.port, srv.log()          # the listening port; what the server printed so far

Every server runs as a child process with its own session, output captured in build/interop-logs/,
bound to 127.0.0.1 on a port the kernel picks (read back from /proc, so there is no window where
another process can take a port we chose). Readiness is the listening socket appearing in /proc;
stopping is SIGTERM, a short wait, then SIGKILL, always, whatever the test did.

RecordingProxy sits between client and server and parses the TLS record framing in both directions:
ClientHellos and HelloRetryRequests (with their extension types, e.g. a cookie), CCS records, and the
size of every record (max_fragment_length, record_size_limit, padding checks).
"""
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOG_DIR = os.path.join(ROOT, "build", "interop-logs")
SCRIPTS = os.path.join(ROOT, "tests", "peers")
START_TIMEOUT = 15.0
STOP_GRACE = 3.0

SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_256_GCM_SHA384")
GNUTLS_CIPHER = {"TLS_AES_128_GCM_SHA256": "AES-128-GCM", "TLS_CHACHA20_POLY1305_SHA256": "CHACHA20-POLY1305",
                 "TLS_AES_256_GCM_SHA384": "AES-256-GCM"}
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


def _prune_logs(max_age=3600):
    try:
        names = os.listdir(LOG_DIR)
    except OSError:
        return
    now = time.time()
    for name in names:
        path = os.path.join(LOG_DIR, name)
        try:
            if now - os.path.getmtime(path) > max_age:
                os.remove(path)
        except OSError:
            pass


_prune_logs()


def have(tool):
    return shutil.which(tool) is not None


def _socket_inodes(pid):
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return inodes
    for name in names:
        try:
            target = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def listening_ports(pid):
    """IPv4 TCP ports the process listens on (state 0A in /proc/net/tcp)."""
    inodes = _socket_inodes(pid)
    ports = []
    if not inodes:
        return ports
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:
                ports.append(int(cols[1].split(":")[1], 16))
    return sorted(ports)


class PeerError(RuntimeError):
    pass


class Peer:
    """A server child process; use as a context manager (stops on exit, even after errors)."""

    _seq = 0

    def __init__(self, name, argv, env=None, start_timeout=START_TIMEOUT, drop_stdout=False, keep_stdin=False):
        os.makedirs(LOG_DIR, exist_ok=True)
        Peer._seq += 1
        self.name = name
        self.argv = argv
        self.log_path = os.path.join(LOG_DIR, "%s-%d-%d.log" % (name, os.getpid(), Peer._seq))
        self._log = open(self.log_path, "wb")
        self._log.write(("$ " + " ".join(argv) + "\n").encode())
        self._log.flush()
        # keep_stdin: an open pipe for servers that quit at end of input (`s_server` without -rev)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE if keep_stdin else subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL if drop_stdout else self._log,
                                     stderr=self._log if drop_stdout else subprocess.STDOUT,
                                     env=env, cwd=ROOT, start_new_session=True)
        self.port = None
        try:
            self.port = self._wait_listening(start_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_listening(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PeerError("%s exited with %s before listening:\n%s" % (self.name, self.proc.returncode,
                                                                             self.log()))
            ports = listening_ports(self.proc.pid)
            if ports:
                return ports[0]
            time.sleep(0.02)
        raise PeerError("%s did not listen within %.0f s:\n%s" % (self.name, timeout, self.log()))

    def log(self, tail=6000):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - tail))
                data = f.read()
        except OSError:
            return ""
        return data.decode("utf-8", "replace")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        p = self.proc
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(STOP_GRACE)
            except ProcessLookupError:
                pass
        if p.stdin is not None:
            try:
                p.stdin.close()
            except OSError:
                pass
        if not self._log.closed:
            self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ---- the servers -------------------------------------------------------------------------------

def _cert(pki, cert):
    return pki["server-%s.crt" % cert], pki["server-%s.key" % cert]


def openssl(pki, cert="ec", suite=None, groups=None, alpn=None, version="-tls1_3", extra=()):
    """`openssl s_server -tls1_3 -rev`: reverses every line it reads (the line feed stays last)."""
    crt, key = _cert(pki, cert)
    argv = ["openssl", "s_server", "-accept", "127.0.0.1:0", version, "-cert", crt, "-key", key, "-rev"]
    if suite:
        argv += ["-ciphersuites", suite]
    if groups:
        argv += ["-groups", groups]
    if alpn:
        argv += ["-alpn", alpn]
    return Peer("openssl-" + cert, argv + list(extra))


def gnutls(pki, cert="ec", suite=None, alpn=None, group=None):
    """`gnutls-serv --echo`, TLS 1.3 only; suite / group narrow the priority string to one of each.
    Its stdout repeats every byte echoed, so only stderr (where it reports errors) is kept. It has no
    bind-address option: it listens on all interfaces (IPv4 and IPv6); the tests use the IPv4 one."""
    crt, key = _cert(pki, cert)
    prio = "NORMAL:-VERS-ALL:+VERS-TLS1.3"
    if suite:
        prio += ":-CIPHER-ALL:+" + GNUTLS_CIPHER[suite]
    if group:
        prio += ":-GROUP-ALL:+GROUP-" + group  # e.g. SECP256R1, X25519
    argv = ["gnutls-serv", "--echo", "-p", "0", "-a", "-q", "--x509certfile", crt, "--x509keyfile", key,
            "--priority", prio]
    if alpn:
        argv += ["--alpn", alpn]
    return Peer("gnutls-" + cert, argv, drop_stdout=True)


def tlslite(pki, cert="ec", suite=None, key_update_after=None):
    crt, key = _cert(pki, cert)
    argv = [sys.executable, os.path.join(SCRIPTS, "tlslite_echo_server.py"), "--cert", crt, "--key", key]
    if suite:
        argv += ["--suite", suite]
    if key_update_after is not None:
        argv += ["--key-update-after", str(key_update_after)]
    return Peer("tlslite-" + cert, argv)


def pyssl(pki, cert="ec", alpn=None, drop_after=None):
    crt, key = _cert(pki, cert)
    argv = [sys.executable, os.path.join(SCRIPTS, "ssl_echo_server.py"), "--cert", crt, "--key", key]
    if alpn:
        argv += ["--alpn", alpn]
    if drop_after is not None:
        argv += ["--drop-after", str(drop_after)]
    return Peer("pyssl-" + cert, argv)


# ---- the recording proxy -----------------------------------------------------------------------

class _Direction:
    """Record framing of one direction of one TCP connection."""

    def __init__(self):
        self.buf = bytearray()
        self.records = 0
        self.max_len = 0
        self.max_encrypted_len = 0
        self.client_hellos = 0
        self.hrr = 0
        self.server_hellos = 0
        self.ccs = 0
        self.encrypted_lengths = []
        self.hello_extensions = []  # extension types of each ClientHello / ServerHello / HRR seen

    def feed(self, data):
        self.buf += data
        b = self.buf
        while len(b) >= 5:
            n = (b[3] << 8) | b[4]
            if len(b) < 5 + n:
                break
            self._record(b[0], bytes(b[5:5 + n]))
            del b[:5 + n]

    def _record(self, ctype, body):
        self.records += 1
        self.max_len = max(self.max_len, len(body))
        if ctype == 23:
            self.max_encrypted_len = max(self.max_encrypted_len, len(body))
            self.encrypted_lengths.append(len(body))
        elif ctype == 20:
            self.ccs += 1
        elif ctype == 22 and body:
            if body[0] == 1:
                self.client_hellos += 1
            elif body[0] == 2:
                if body[6:38] == HRR_RANDOM:
                    self.hrr += 1
                else:
                    self.server_hellos += 1
            if body[0] in (1, 2):
                self.hello_extensions.append(_extension_types(body))


def _extension_types(msg):
    """Extension types of a ClientHello (1) or ServerHello (2) that fits in one record."""
    try:
        pos = 4 + 2 + 32
        pos += 1 + msg[pos]                                         # legacy_session_id
        if msg[0] == 1:
            pos += 2 + int.from_bytes(msg[pos:pos + 2], "big")      # cipher_suites
            pos += 1 + msg[pos]                                     # compression methods
        else:
            pos += 3                                                # cipher_suite, compression
        end = pos + 2 + int.from_bytes(msg[pos:pos + 2], "big")
        pos += 2
        types = []
        while pos + 4 <= end:
            types.append(int.from_bytes(msg[pos:pos + 2], "big"))
            pos += 4 + int.from_bytes(msg[pos + 2:pos + 4], "big")
        return types
    except IndexError:
        return None


class RecordingProxy:
    """TCP proxy on 127.0.0.1 that forwards to target_port and tallies the records it forwards."""

    def __init__(self, target_port, timeout=30.0):
        self.target_port = target_port
        self.timeout = timeout
        self.conns = []  # (client->server, server->client) per accepted connection
        self._lsock = socket.socket()
        self._lsock.bind(("127.0.0.1", 0))
        self._lsock.listen(8)
        self._lsock.settimeout(0.2)
        self.port = self._lsock.getsockname()[1]
        self._stop = threading.Event()
        self._socks = []
        self._threads = []
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                c, _ = self._lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                s = socket.create_connection(("127.0.0.1", self.target_port), timeout=self.timeout)
            except OSError:
                c.close()
                continue
            c.settimeout(self.timeout)
            s.settimeout(self.timeout)
            self._socks += [c, s]
            up, down = _Direction(), _Direction()
            self.conns.append((up, down))
            for src, dst, d in ((c, s, up), (s, c, down)):
                t = threading.Thread(target=self._pump, args=(src, dst, d), daemon=True)
                t.start()
                self._threads.append(t)

    def _pump(self, src, dst, d):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                d.feed(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def totals(self):
        """Merged counts over all connections so far."""
        out = {"connections": len(self.conns), "client_hellos": 0, "hrr": 0, "server_hellos": 0,
               "max_client_record": 0, "max_server_record": 0, "server_records": 0, "client_records": 0,
               "client_ccs": 0, "client_encrypted_lengths": [], "client_hello_extensions": [],
               "server_hello_extensions": []}
        for up, down in self.conns:
            out["client_hellos"] += up.client_hellos
            out["hrr"] += down.hrr
            out["server_hellos"] += down.server_hellos
            out["max_client_record"] = max(out["max_client_record"], up.max_len)
            out["max_server_record"] = max(out["max_server_record"], down.max_len)
            out["server_records"] += down.records
            out["client_records"] += up.records
            out["client_ccs"] += up.ccs
            out["client_encrypted_lengths"] += up.encrypted_lengths
            out["client_hello_extensions"] += up.hello_extensions
            out["server_hello_extensions"] += down.hello_extensions
        return out

    def close(self):
        self._stop.set()
        for s in [self._lsock] + self._socks:
            try:
                s.close()
            except OSError:
                pass
        for t in self._threads:
            t.join(2.0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@contextlib.contextmanager
def deadline(seconds):
    """Interrupts an in-process client that stops making progress (SIGALRM, main thread)."""
    def expired(*_):
        raise TimeoutError("client scenario exceeded %d s" % seconds)
    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)

"""A mosquitto for the demo: loopback only, one TLS-1.3-only mutual-TLS listener.

    with Broker(pki, workdir) as br:       # pki: host_tools.pki_cmd.make_pki() paths
        br.port                            # 127.0.0.1:<port>, TLS 1.3 only, client certificate required

Clients log in with their certificate: `use_identity_as_username` makes the certificate's CN the MQTT
user name, and the ACL lets a device write only below devices/<its CN>/ and the `monitor` identity
read devices/#. mosquitto 2.0 facts this relies on (docs/DESIGN.md): as root it drops to the
`mosquitto` user before it reads keys unless told `user root`; `tls_version tlsv1.3` is a minimum;
`set_tcp_nodelay true` avoids a 40 ms stall; stop with SIGTERM, then SIGKILL.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

ACL = """# mTLS clients: the certificate's CN is the user name
pattern readwrite devices/%u/#
user monitor
topic read devices/#
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def mosquitto_bin():
    for cand in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if cand and os.path.exists(cand):
            return cand
    raise RuntimeError("mosquitto is missing: run `make setup` (it installs the Debian package)")


def listening(port):
    """True once something listens on 127.0.0.1:port. Read from /proc where it exists: a probe
    connection would make mosquitto log a failed TLS handshake."""
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            want = "0100007F:%04X" % port
            return any(line.split()[1] == want and line.split()[3] == "0A" for line in f)
    except OSError:
        pass
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
        return True
    except OSError:
        return False


class MosquittoProcess:
    """A mosquitto child process logging to self.log_path: start() until ready(), stop(), log().
    Subclasses write self.conf_path and say when the broker is ready."""
    proc = None
    _log = None
    error = RuntimeError  # what start() raises

    def ready(self):
        raise NotImplementedError

    def start(self, timeout=10.0):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([mosquitto_bin(), "-c", self.conf_path], stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log.close()
                raise self.error("mosquitto exited with %s:\n%s" % (self.proc.returncode, self.log()))
            if self.ready():
                return self
            time.sleep(0.01)
        self.stop()
        raise self.error("mosquitto not ready within %.0f s:\n%s" % (timeout, self.log()))

    def stop(self, sig=signal.SIGTERM):
        p = self.proc
        if p is not None and p.poll() is None:
            # a SIGTERM right after start can be lost: wait, then insist
            try:
                p.send_signal(sig)
                p.wait(3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(3)
            except ProcessLookupError:
                pass
        if self._log is not None and not self._log.closed:
            self._log.close()

    def log(self, tail=8000):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - tail))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Broker(MosquittoProcess):
    def __init__(self, pki, workdir, port=None):
        self.pki = pki
        self.dir = os.path.abspath(workdir)
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or free_port()
        self.conf_path = os.path.join(self.dir, "mosquitto.conf")
        self.log_path = os.path.join(self.dir, "mosquitto.log")
        self._write_conf()

    def _write_conf(self):
        acl = os.path.join(self.dir, "acl")
        with open(acl, "w") as f:
            f.write(ACL)
        p = self.pki
        conf = [
            "user root" if os.geteuid() == 0 else "",
            "persistence false",
            "allow_anonymous false",
            "set_tcp_nodelay true",
            "acl_file %s" % acl,
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "listener %d 127.0.0.1" % self.port,
            "tls_version tlsv1.3",
            "cafile %s" % p["device-ca.crt"],
            "certfile %s" % p["broker.crt"],
            "keyfile %s" % p["broker.key"],
            "require_certificate true",
            "use_identity_as_username true",
        ]
        with open(self.conf_path, "w") as f:
            f.write("\n".join(conf) + "\n")

    def ready(self):
        return listening(self.port)

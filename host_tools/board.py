"""Run the firmware on the MicroPython VM as an emulated board (the `mptls board` command).

    mptls board --board esp32                              # console on this terminal, Ctrl-C stops
    mptls board --board esp32 --pty-link build/board.pty   # and a serial port for mpremote:
    mpremote connect build/board.pty resume exec "import os; print(os.listdir())"
    mptls deploy --board esp32 --port build/board.pty      # flash it like a real board

The board's flash is a host directory (default build/board-<name>/fs) mounted at / inside the VM; after
"power-on" boot.py and main.py run from it as on a board (host_tools/vmshim/boardboot.py). The heap
cap is the board's budget (boards/<name>.json heap_kb) plus the resident size of the modules a board
keeps frozen in flash, measured on the VM, so what is left for data is the board's budget.

The console: with --pty-link the VM runs behind a pseudo-terminal with its REPL (`micropython -i`),
bridged to a second pty whose slave is the board's "serial port" (symlinked at --pty-link); Ctrl-C
from mpremote interrupts main.py and the unix port's raw REPL takes over, so `mpremote ... resume
exec/fs cp/fs sha256sum` work. Without a pty the console is a pipe (tests, demo).

What a board does that the unix port cannot is done here, on the host: machine.reset() and
machine.deepsleep(ms) (provided by host_tools/vmshim/machine.py) end the VM and this supervisor starts
a new one (after ms, with machine.reset_cause() == DEEPSLEEP_RESET); RTC memory is carried over;
leaving the REPL with Ctrl-D (a soft reset) restarts the VM as well.
"""
import fcntl
import hashlib
import os
import re
import select
import signal
import subprocess
import sys
import termios
import threading
import time
import tty

from host_tools import vm

HELP = "run the firmware on the MicroPython VM as an emulated board (pty for mpremote, board heap cap)"

SHIM_DIR = os.path.join(vm.ROOT, "host_tools", "vmshim")
_CONTROL = re.compile(rb"\x1b\]mptls;(\w+);(\d+);([0-9a-f]*)\x07")
_RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
RESET_POWER_ON, RESET_HARD, RESET_DEEPSLEEP, RESET_SOFT = 1, 2, 4, 5


def default_fs(board):
    return os.path.join(vm.ROOT, "build", "board-%s" % board, "fs")


class EmulatedBoard:
    """One board. start() powers it on (a supervisor thread runs the VM and restarts it on reset or
    deep sleep); stop() powers it off. Console lines are kept in .lines and appended to log_path;
    on_line(line) hears each one."""

    def __init__(self, board, fs_dir=None, heap_kb=None, pty_link=None, log_path=None, on_line=None,
                 unique_id=None, extra_env=None):
        self.profile = vm.load_board(board)
        self.board = board
        self.fs_dir = os.path.abspath(fs_dir or default_fs(board))
        os.makedirs(self.fs_dir, exist_ok=True)
        self.heap_kb = heap_kb or vm.firmware_heap_kb(self.profile["heap_kb"])
        self.pty_link = pty_link
        self.log_path = log_path
        self.on_line = on_line
        self.unique_id = unique_id or hashlib.sha256(self.fs_dir.encode()).hexdigest()[:12]
        self.extra_env = extra_env or {}
        self.lines = []
        self.boots = 0
        self.exit_codes = []
        self.halted = False
        self.proc = None
        self._vm_fd = None
        self._host_fd = None
        self._rtc = ""
        self._cause = RESET_POWER_ON
        self._skip_main = False
        self._restart_at = None
        self._spawned_at = 0.0
        self._vm_spoke = False
        self._enter_raw = False
        self._raw = False
        self._partial = b""
        self._line = b""
        self._to_host = bytearray()
        self._to_vm = bytearray()
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._thread = None
        self._log = None

    # ---- life cycle ---------------------------------------------------------------------------------
    def start(self):
        if self.log_path:
            os.makedirs(os.path.dirname(os.path.abspath(self.log_path)), exist_ok=True)
            self._log = open(self.log_path, "ab")
        if self.pty_link:
            self._open_host_pty()
        self._restart_at = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="board-" + self.board, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self._kill()
        if self._host_fd is not None:
            os.close(self._host_fd)
            self._host_fd = None
        if self.pty_link:
            try:
                os.remove(self.pty_link)
            except OSError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def wait_line(self, pattern, timeout, start=0):
        """The first console line (from index start) matching the regex, or None after timeout."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[start:]:
                    if rx.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.halted and not self._thread.is_alive()):
                    return None
                self._cond.wait(min(left, 0.2))

    def wait_halt(self, timeout):
        deadline = time.monotonic() + timeout
        while not self.halted and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.halted

    def output(self):
        with self._cond:
            return "\n".join(self.lines)

    # ---- the VM ---------------------------------------------------------------------------------------
    def _open_host_pty(self):
        master, slave = os.openpty()
        tty.setraw(slave)
        name = os.ttyname(slave)
        os.close(slave)  # a client (mpremote) opens it by name; POLLHUP on the master until then
        os.set_blocking(master, False)
        self._host_fd = master
        os.makedirs(os.path.dirname(os.path.abspath(self.pty_link)), exist_ok=True)
        tmp = self.pty_link + ".tmp"
        if os.path.lexists(tmp):
            os.remove(tmp)
        os.symlink(name, tmp)
        os.replace(tmp, self.pty_link)

    def _spawn(self):
        env = dict(os.environ)
        env.update(self.extra_env)
        env["MICROPYPATH"] = SHIM_DIR + ":.frozen"
        env["MPTLS_RTC_MEMORY"] = self._rtc
        env["MPTLS_RESET_CAUSE"] = str(self._cause)
        env["MPTLS_UNIQUE_ID"] = self.unique_id
        env.pop("MPTLS_SKIP_MAIN", None)
        if self._skip_main:
            env["MPTLS_SKIP_MAIN"] = "1"
        cmd = [vm.micropython_bin(), "-X", "heapsize=%dk" % self.heap_kb]
        if self.pty_link:
            cmd.append("-i")
        cmd += [os.path.join(SHIM_DIR, "boardboot.py"), self.fs_dir]
        if self.pty_link:
            master, slave = os.openpty()
            at = termios.tcgetattr(slave)
            at[1] &= ~termios.OPOST                       # bytes as the VM writes them (no \n -> \r\n)
            at[3] &= ~(termios.ECHO | termios.ECHOCTL)    # a board's UART does not echo
            termios.tcsetattr(slave, termios.TCSANOW, at)

            def ctty():
                fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # Ctrl-C from the console becomes SIGINT

            self.proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=self.fs_dir,
                                         start_new_session=True, preexec_fn=ctty)
            os.close(slave)
            self._vm_fd = master
        else:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, env=env, cwd=self.fs_dir,
                                         start_new_session=True)
            self._vm_fd = self.proc.stdout.fileno()
        self.boots += 1
        self._spawned_at = time.monotonic()
        self._vm_spoke = False
        self._raw = False
        self._skip_main = False
        self._restart_at = None

    def _kill(self):
        p = self.proc
        if p is None:
            return
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(2)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(2)
            except ProcessLookupError:
                pass
        self.exit_codes.append(p.returncode)
        if self.pty_link and self._vm_fd is not None:
            os.close(self._vm_fd)
        elif p.stdout is not None:
            p.stdout.close()
        self._vm_fd = None
        self.proc = None

    # ---- the supervisor loop ------------------------------------------------------------------------------
    def _loop(self):
        try:
            while not self._stop.is_set():
                if self.proc is None:
                    if self._restart_at is None:
                        self.halted = True
                        with self._cond:
                            self._cond.notify_all()
                        self._stop.wait(0.2)
                        self._pump_host(0)
                        continue
                    if time.monotonic() < self._restart_at:
                        self._pump_host(min(0.1, self._restart_at - time.monotonic()))
                        continue
                    self._spawn()
                self._pump(0.1)
        finally:
            self._kill()

    def _pump_host(self, timeout):
        """Between VMs: input from the host is kept for the next one (a board's UART buffers too)."""
        if self._host_fd is None:
            time.sleep(timeout)
            return
        r, _, _ = select.select([self._host_fd], [], [], timeout)
        if r:
            self._read_host()

    def _read_host(self):
        try:
            data = os.read(self._host_fd, 4096)
        except (BlockingIOError, OSError):
            return
        self._to_vm += data

    def _pump(self, timeout):
        rd = [self._vm_fd] if len(self._to_host) < 65536 else []
        wr = []
        if self._host_fd is not None:
            rd.append(self._host_fd)
            if self._to_host:
                wr.append(self._host_fd)
        # Input that waited for this VM (sent while the board slept or rebooted) is held until the VM
        # is up: a Ctrl-C before its SIGINT handler exists would kill it instead of interrupting.
        if self._to_vm and self.pty_link and (self._vm_spoke or time.monotonic() - self._spawned_at > 0.5):
            wr.append(self._vm_fd)
        try:
            r, w, _ = select.select(rd, wr, [], timeout)
        except (OSError, ValueError):
            r, w = [], []
        if self._host_fd is not None and self._host_fd in r:
            self._read_host()
        if self._vm_fd in w and self._to_vm:
            try:
                n = os.write(self._vm_fd, bytes(self._to_vm[:1024]))
                del self._to_vm[:n]
            except OSError:
                pass
        if self._host_fd is not None and self._host_fd in w:
            self._write_host()
        if self._vm_fd in r:
            try:
                data = os.read(self._vm_fd, 4096)
            except OSError:
                data = b""  # EIO: the VM's side of the pty closed
            if data:
                self._output(data)
            else:
                self._exited()
        elif self.proc is not None and self.proc.poll() is not None and not r:
            self._exited()

    def _write_host(self):
        # POLLHUP: nobody has the serial port open, and a board's UART output is then simply lost.
        p = select.poll()
        p.register(self._host_fd, select.POLLOUT)
        ev = p.poll(0)
        if ev and ev[0][1] & select.POLLHUP:
            self._to_host.clear()
            return
        try:
            n = os.write(self._host_fd, bytes(self._to_host[:4096]))
            del self._to_host[:n]
        except (BlockingIOError, OSError):
            pass

    def _output(self, data):
        self._vm_spoke = True
        data = self._partial + data
        self._partial = b""
        m = _CONTROL.search(data)
        if m:
            self._console(data[:m.start()])
            self._control(m.group(1).decode(), int(m.group(2)), m.group(3).decode())
            return
        cut = data.rfind(b"\x1b")
        if cut >= 0 and len(data) - cut < 5000 and b"\x07" not in data[cut:]:
            self._partial = data[cut:]  # maybe the start of a control sequence: wait for the rest
            data = data[:cut]
        self._console(data)

    def _console(self, data):
        if not data:
            return
        if self._log is not None:
            self._log.write(data)
            self._log.flush()
        if self._host_fd is not None:
            self._to_host += data
            self._write_host()
        if _RAW_BANNER in data:
            self._raw = True
        elif b">>> " in data:
            self._raw = False
            if self._enter_raw:
                self._enter_raw = False
                self._to_vm += b"\r\x01"
        buf = self._line + data.replace(b"\r", b"")
        parts = buf.split(b"\n")
        self._line = parts.pop()
        if parts:
            with self._cond:
                for p in parts:
                    line = p.decode("utf-8", "replace")
                    self.lines.append(line)
                    if self.on_line is not None:
                        self.on_line(line)
                self._cond.notify_all()

    def _control(self, kind, arg, rtc):
        self._rtc = rtc
        self._kill()
        if kind == "deepsleep":
            self._cause = RESET_DEEPSLEEP
            self._restart_at = time.monotonic() + arg / 1000.0
        else:
            self._cause = RESET_HARD
            self._restart_at = time.monotonic()
        self._note("%s%s" % (kind, " %d ms" % arg if kind == "deepsleep" else ""))

    def _exited(self):
        was_raw = self._raw
        self._kill()
        if self.pty_link and not self._stop.is_set():
            # Ctrl-D at the REPL: a soft reset. From the raw REPL, a board stays in it without
            # running main.py (mpremote's soft reset at connect relies on that).
            self._cause = RESET_SOFT
            self._skip_main = was_raw
            self._restart_at = time.monotonic()
            self._console(b"MPY: soft reboot\r\n")
            self._enter_raw = was_raw  # sent once the new REPL shows its prompt
            return
        self._note("halted, exit code %s" % self.exit_codes[-1])

    def _note(self, what):
        line = "[board %s: %s]" % (self.board, what)
        with self._cond:
            self.lines.append(line)
            if self.on_line is not None:
                self.on_line(line)
            self._cond.notify_all()
        if self._log is not None:
            self._log.write((line + "\n").encode())
            self._log.flush()


def configure(p):
    p.add_argument("--board", required=True, choices=vm.board_names(), help="board profile (boards/*.json)")
    p.add_argument("--pty-link", metavar="PATH", help="symlink to the board's serial port, for mpremote")
    p.add_argument("--fs", metavar="DIR", help="the board's flash (default build/board-<board>/fs)")
    p.add_argument("--heap-kb", type=int, help="VM heap (default: the board's budget + frozen modules)")
    p.add_argument("--seconds", type=float, help="power off after this long (default: until Ctrl-C)")
    p.add_argument("--quiet", action="store_true", help="do not copy the console to stdout")


def run(args):
    fs = args.fs or default_fs(args.board)
    echo = None if args.quiet else (lambda line: (sys.stdout.write(line + "\n"), sys.stdout.flush()))
    b = EmulatedBoard(args.board, fs, args.heap_kb, args.pty_link or None, on_line=echo)
    print("# emulated %s: flash %s, heap %d KB%s" % (b.profile.get("name", args.board), b.fs_dir, b.heap_kb,
                                                     ", serial port %s" % args.pty_link if args.pty_link else ""))
    if not os.path.exists(os.path.join(b.fs_dir, "main.py")):
        print("# no main.py on its flash yet: `mptls deploy --board %s --port %s` puts the firmware there"
              % (args.board, args.pty_link or "<pty>"))
    sys.stdout.flush()
    b.start()
    try:
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
            if b.halted and not args.pty_link:
                break
    except KeyboardInterrupt:
        pass
    finally:
        b.stop()
    return 0

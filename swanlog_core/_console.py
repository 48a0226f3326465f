"""console.log: stdout and stderr as the terminal showed them, copied by a small tee process.

At ``init()`` file descriptors 1 and 2 are replaced (dup2) by the write end of a pipe, or
of a pseudo-terminal when the original is a terminal (so ``isatty()`` stays true and
colours and progress bars behave as before). Everything written to them, by Python, C
extensions or subprocesses, reaches a tee child process, which copies it unchanged to
the original descriptors and, with ``\\r`` redraws collapsed to each line's final state,
appends it to console.log.

The tee is a separate process, not a thread, so that a script killed with SIGKILL
loses nothing: the tee sees end-of-file and writes what it has. It ignores SIGINT,
SIGTERM and SIGHUP (and runs in its own session, so Ctrl-C never reaches it) and ends
at end-of-file, or when ``stop()`` asks it to drain and exit: ``stop()`` flushes Python's
and C's buffers, puts the original descriptors back and waits (bounded) for the tee, so
the shell prompt never comes before the script's last output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

from .errors import SwanlogWarning

__all__ = ["CAPTURE", "CONSOLE_LOG", "ConsoleTee", "start_console"]

CONSOLE_LOG = "console.log"

# Whether init() may capture the console at all. The test suite turns this off for
# in-process tests (pytest owns fds 1 and 2 there); users turn capture off with
# init(console=False).
CAPTURE = True

_STOP_WAIT = 5.0  # seconds stop() waits for the tee to drain and exit
_PIPE_SIZE = 1 << 20  # a bigger pipe: bursts of output never wait for the tee

# The tee child. Kept tiny and stdlib-only: it starts with -S -I (no site, no user
# environment) in a few milliseconds, while init() does not wait for it.
#
# argv: console.log fd (append), control fd, done fd, then one "src:dst" per stream: read
# src, copy to dst. A line goes to console.log when its "\n" arrives, as the last
# non-empty text between its "\r"s (what a progress bar finally showed); the bytes for
# the terminal are untouched. After a byte (or end-of-file) on the control fd, it exits
# once the streams are at end-of-file. If they stay open but quiet for GRACE seconds (a
# forked worker or a subprocess outlives the run), it hands off: writes its last partial
# lines, stops writing console.log, tells the parent "h" on the done fd, and keeps
# copying to the terminal until end-of-file, so that process's output is not cut off.
_TEE = r"""
import errno, os, select, signal, sys, time
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
GRACE, CAP = 0.25, 1 << 20

def low(fd):  # select() needs small numbers; the parent's may be large
    new = os.dup(fd)
    os.close(fd)
    return new

log = low(int(sys.argv[1]))
ctrl = low(int(sys.argv[2]))
done = low(int(sys.argv[3]))
streams = {}
for pair in sys.argv[4:]:
    src, dst = pair.split(":")
    streams[low(int(src))] = [int(dst), b""]

def final(line):
    if b"\r" not in line:
        return line
    parts = [p for p in line.split(b"\r") if p]
    return parts[-1] if parts else b""

def write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]

def write_log(data):
    global log
    if log is not None:
        try:
            write_all(log, data)
        except OSError:
            log = None  # a full disk: the terminal keeps getting everything

def take(state, data):
    dst, pending = state
    if dst is not None:
        try:
            write_all(dst, data)
        except OSError:
            state[0] = None  # the terminal went away; console.log still gets everything
    lines = (pending + data).split(b"\n")
    pending = lines.pop()
    if b"\r" in pending:  # a progress bar redrawn for hours: keep its last state only
        parts = pending.split(b"\r")
        done = [p for p in parts[:-1] if p]
        pending = (done[-1] if done else b"") + b"\r" + parts[-1]
    if len(pending) > CAP:
        lines.append(pending)
        pending = b""
    state[1] = pending
    if lines:
        write_log(b"".join(final(l) + b"\n" for l in lines))

def close(fd):
    state = streams.pop(fd)
    if state[1]:
        write_log(final(state[1]) + b"\n")
    os.close(fd)

deadline = None
while streams:
    watch = list(streams) + ([ctrl] if ctrl is not None else [])
    wait = None if deadline is None else max(0.0, deadline - time.monotonic())
    try:
        ready = select.select(watch, [], [], wait)[0]
    except InterruptedError:
        continue
    if not ready:  # quiet for GRACE after stop: what still holds a stream is not the script
        for state in streams.values():
            if state[1]:
                write_log(final(state[1]) + b"\n")
                state[1] = b""
        log, deadline = None, None
        try:
            os.write(done, b"h")
        except OSError:
            pass
        os.close(done)
        continue
    for fd in ready:
        if fd == ctrl:
            os.close(ctrl)
            ctrl = None
            deadline = time.monotonic() + GRACE
            continue
        try:
            data = os.read(fd, 65536)
        except OSError as exc:  # EIO: a pseudo-terminal whose last writer closed it
            if exc.errno not in (errno.EIO, errno.EBADF):
                raise
            data = b""
        if data:
            take(streams[fd], data)
            if deadline is not None:
                deadline = time.monotonic() + GRACE
        else:
            close(fd)
"""


class ConsoleTee:
    """A running capture of fds 1 and 2; ``stop()`` ends it."""

    def __init__(self, proc: subprocess.Popen[bytes], saved: dict[int, int], ctrl: int, done: int) -> None:
        self._proc = proc
        self._saved = saved  # fd -> a dup of the original it replaced
        self._ctrl = ctrl  # we write "q": drain and exit
        self._done = done  # the tee writes "h" (handed off) or exits (end-of-file)
        self._pid = os.getpid()
        self._resizing = False
        self._follow_resizes()

    def _follow_resizes(self) -> None:
        # A pseudo-terminal keeps the size it was given; SIGWINCH (the terminal was
        # resized) copies the new size, so progress bars fit the window again. Only
        # when the script has no SIGWINCH handler of its own.
        if not any(os.isatty(fd) for fd in self._saved.values()):
            return
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGWINCH) is not signal.SIG_DFL:
            return
        signal.signal(signal.SIGWINCH, self._on_resize)
        self._resizing = True

    def _on_resize(self, signum: int, frame: Any) -> None:
        for fd, original in self._saved.items():
            _copy_size(original, fd)

    def stop(self) -> None:
        """Flush, put the original fds back, let the tee drain, wait for it (bounded). Idempotent."""
        if not self._saved or self._pid != os.getpid():
            return  # stopped already, or a forked child: the parent owns the tee
        _flush_buffers()
        if self._resizing and threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGWINCH) == self._on_resize:
                signal.signal(signal.SIGWINCH, signal.SIG_DFL)
            self._resizing = False
        for fd, original in self._saved.items():
            # Closes our write end of the stream; the tee sees end-of-file once nobody
            # else (a subprocess, a forked worker) holds it.
            os.dup2(original, fd)
            os.close(original)
        self._saved = {}
        try:
            os.write(self._ctrl, b"q")
        except OSError:
            pass  # the tee has exited already (it saw end-of-file)
        os.close(self._ctrl)
        answer = _read_within(self._done, _STOP_WAIT)
        os.close(self._done)
        if answer == b"":  # end-of-file: the tee wrote everything and is exiting
            try:
                self._proc.wait(_STOP_WAIT)
                return
            except subprocess.TimeoutExpired:
                pass
        # Handed off to a process that outlives the run, or blocked on a stalled terminal:
        # it ends on its own. Kept referenced, so no "still running" warning.
        _abandoned.append(self._proc)


_abandoned: list[subprocess.Popen[bytes]] = []


def _read_within(fd: int, timeout: float) -> bytes | None:
    """One byte from ``fd`` (b"" at end-of-file), or None if nothing came within ``timeout``."""
    import select

    poller = select.poll()  # not select(): our fd numbers may exceed FD_SETSIZE
    poller.register(fd, select.POLLIN)
    if not poller.poll(timeout * 1000):
        return None
    try:
        return os.read(fd, 1)
    except OSError:
        return b""


def _flush_buffers(c_too: bool = True) -> None:
    for stream in {id(s): s for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)}.values():
        try:
            if stream is not None and not stream.closed:
                stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stream has nothing we could still save
    if not c_too:
        return
    try:  # C's stdio buffers: printf from an extension, block-buffered when fd 1 is a pipe
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (ImportError, OSError, AttributeError):
        pass  # no ctypes (a minimal build): C's buffers go out at exit, to the terminal only


def _copy_size(source: int, target: int) -> None:
    """Give terminal ``target`` the window size of terminal ``source``."""
    import fcntl
    import termios

    try:
        size = fcntl.ioctl(source, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(target, termios.TIOCSWINSZ, size)
    except OSError:
        pass  # not a terminal (any more), or one that will not tell its size


def _same_file(a: int, b: int) -> bool:
    try:
        sa, sb = os.fstat(a), os.fstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino, sa.st_rdev) == (sb.st_dev, sb.st_ino, sb.st_rdev)


def _open_stream(original: int) -> tuple[int, int]:
    """(read end for the tee, write end for the script), like the original fd."""
    if os.isatty(original):
        import termios
        import tty

        master, slave = os.openpty()
        try:
            tty.setraw(slave)  # bytes pass unchanged: no "\n" -> "\r\n", no echo
        except (OSError, termios.error):
            pass
        _copy_size(original, slave)  # progress bars size to the real terminal
        return master, slave
    read, write = os.pipe()
    try:
        import fcntl

        fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
    except (OSError, AttributeError):
        pass  # Linux-only, and capped by /proc/sys/fs/pipe-max-size: the default is fine
    return read, write


def start_console(log_path: Path) -> ConsoleTee | None:
    """Start capturing fds 1 and 2 into ``log_path``; None (with a warning) if that cannot be done."""
    if not CAPTURE:
        return None
    exe = sys.executable
    if not exe or getattr(sys, "frozen", False) or "python" not in os.path.basename(exe).lower():
        # Embedded or frozen (uwsgi, PyInstaller): sys.executable would not run our tee.
        warnings.warn("console.log not captured: no Python executable to run the tee", SwanlogWarning, 3)
        return None
    _flush_buffers(c_too=False)  # what was printed before init() goes out as it would have
    opened: list[int] = []
    try:
        targets = [fd for fd in (1, 2) if _fd_open(fd)]
        shared = len(targets) == 2 and _same_file(1, 2)  # `2>&1` or one terminal: one stream, in order
        pairs: dict[int, tuple[int, int]] = {}  # script fd -> (read end, write end)
        for fd in targets[:1] if shared else targets:
            pairs[fd] = _open_stream(fd)
            opened += pairs[fd]
        ctrl_read, ctrl_write = os.pipe()
        opened += [ctrl_read, ctrl_write]
        done_read, done_write = os.pipe()
        opened += [done_read, done_write]
        # Opened here, not by the tee: console.log exists when init() returns.
        log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        opened.append(log)
        proc = subprocess.Popen(
            [
                exe,
                "-S",
                "-I",
                "-c",
                _TEE,
                str(log),
                str(ctrl_read),
                str(done_write),
                *(f"{read}:{fd}" for fd, (read, _) in pairs.items()),
            ],
            stdin=subprocess.DEVNULL,  # the script's input stays the script's
            pass_fds=[log, ctrl_read, done_write, *(read for read, _ in pairs.values())],
            start_new_session=True,  # no Ctrl-C, no terminal hangup for the tee
        )
    except OSError as exc:
        for fd in opened:
            os.close(fd)
        warnings.warn(f"console.log not captured: {exc}", SwanlogWarning, 3)
        return None
    os.close(ctrl_read)
    os.close(done_write)
    os.close(log)
    saved: dict[int, int] = {}
    for fd in targets:
        read, write = pairs[targets[0] if shared else fd]
        saved[fd] = os.dup(fd)  # close-on-exec: subprocesses get the stream, not the original
        os.dup2(write, fd)
    for read, write in pairs.values():
        os.close(read)
        os.close(write)
    return ConsoleTee(proc, saved, ctrl_write, done_read)


def _fd_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False  # a daemon started with fd 1 closed: nothing to capture
    return True

"""console.log in real training scripts: every writer of fds 1 and 2 lands in it and still reaches the
terminal, progress bars collapse, a killed script loses nothing, a terminal stays a terminal."""

from __future__ import annotations

import json
import os
import select
import signal
import struct
import subprocess
import textwrap
from pathlib import Path
from typing import Callable

import pytest

from tests.metricfile import the_run_dir
from tests.support import PYTHON, python_env, wait_until

RUN_ID = "console1"


def console_log(logdir: Path) -> bytes:
    """The bytes of the run's console.log."""
    return (the_run_dir(logdir, RUN_ID) / "console.log").read_bytes()


def run_script(tmp_path: Path, body: str, *args: object, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``body`` after an init() of run RUN_ID in tmp_path/swanlog; stdout and stderr captured as bytes."""
    script = tmp_path / "train.py"
    script.write_text(
        "import os, sys\nimport swanlog_core as swanlog\n"
        f"swanlog.init(logdir={str(tmp_path / 'swanlog')!r}, id={RUN_ID!r}, resume='allow', env=False)\n"
        + textwrap.dedent(body)
    )
    return subprocess.run(
        [PYTHON, str(script), *map(str, args)], env=python_env(), capture_output=True, timeout=timeout
    )


# -- every writer of fds 1 and 2 ---------------------------------------------------------------

WRITERS = [
    pytest.param("print('from print')", "out", b"from print", id="print"),
    pytest.param("print('to stderr', file=sys.stderr)", "err", b"to stderr", id="print-to-stderr"),
    pytest.param(
        "import logging; logging.warning('from logging')", "err", b"WARNING:root:from logging", id="logging"
    ),
    pytest.param("os.write(1, b'from os.write\\n')", "out", b"from os.write", id="os.write-fd1"),
    pytest.param("os.write(2, b'from fd 2\\n')", "err", b"from fd 2", id="os.write-fd2"),
    pytest.param(
        "import ctypes; ctypes.CDLL(None).printf(b'from C printf %d\\n', 42)",
        "out",
        b"from C printf 42",
        id="C-printf",
    ),
    pytest.param(
        "import subprocess; subprocess.run(['echo', 'from echo'], check=True)",
        "out",
        b"from echo",
        id="subprocess",
    ),
    pytest.param(
        "import subprocess; subprocess.run(['sh', '-c', 'echo from sh >&2'], check=True)",
        "err",
        b"from sh",
        id="shell-stderr",
    ),
    pytest.param(
        "import multiprocessing as mp\n"
        "p = mp.get_context('fork').Process(target=print, args=('from a worker',))\n"
        "p.start(); p.join()",
        "out",
        b"from a worker",
        id="forked-worker",
    ),
]


@pytest.mark.parametrize(("code", "stream", "line"), WRITERS)
def test_each_writer_lands_in_console_log_and_still_reaches_its_stream(
    tmp_path: Path, code: str, stream: str, line: bytes
) -> None:
    """Python, logging, C, subprocess and worker output goes to console.log and still to the real stdout or
    stderr it was written to."""
    result = run_script(tmp_path, code + "\n")
    assert result.returncode == 0, result.stderr.decode()
    shown = result.stdout if stream == "out" else result.stderr
    other = result.stderr if stream == "out" else result.stdout
    assert shown.splitlines() == [line], (result.stdout, result.stderr)
    assert line not in other
    assert console_log(tmp_path / "swanlog").splitlines() == [line]


def test_progress_bar_redraws_collapse_to_the_final_line(tmp_path: Path) -> None:
    """A tqdm-style bar redrawn with \\r keeps only its final state in console.log; the terminal gets every
    byte unchanged."""
    result = run_script(
        tmp_path,
        """
        print("epoch 1")
        for i in range(1, 2001):
            sys.stdout.write(f"\\rtraining {i}/2000 [{'#' * (i // 100):<20}]")
            sys.stdout.flush()
        sys.stdout.write("\\n")
        sys.stderr.write("\\rloading 10%\\rloading 100%\\r\\n")  # ends with \\r\\n: the text before it stays
        print("done \\x1b[32mok\\x1b[0m")
        """,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.count(b"\rtraining ") == 2000  # the terminal saw every redraw
    assert result.stderr == b"\rloading 10%\rloading 100%\r\n"
    logged = console_log(tmp_path / "swanlog").splitlines()
    assert logged[0] == b"epoch 1"
    assert sorted(logged[1:]) == sorted(
        [b"training 2000/2000 [" + b"#" * 20 + b"]", b"loading 100%", b"done \x1b[32mok\x1b[0m"]
    )


def test_long_output_arrives_whole_in_both_places(tmp_path: Path) -> None:
    """Several megabytes of output reach the real stdout and console.log byte for byte."""
    result = run_script(
        tmp_path,
        """
        for i in range(100_000):
            print(f"line {i:06d} " + "x" * 40)
        """,
    )
    assert result.returncode == 0, result.stderr.decode()
    expected = b"".join(b"line %06d " % i + b"x" * 40 + b"\n" for i in range(100_000))
    assert result.stdout == expected
    assert console_log(tmp_path / "swanlog") == expected


def test_resumed_run_appends_to_console_log(tmp_path: Path) -> None:
    """A resumed run adds its session's output after the earlier one's."""
    assert run_script(tmp_path, "print('first session')\n").returncode == 0
    assert run_script(tmp_path, "print('second session')\n").returncode == 0
    assert console_log(tmp_path / "swanlog") == b"first session\nsecond session\n"


# -- however the script ends --------------------------------------------------------------------

ENDINGS = [
    pytest.param("raise RuntimeError('boom')", 1, id="uncaught-exception"),
    pytest.param("sys.exit(3)", 3, id="sys.exit(3)"),
    pytest.param("os.kill(os.getpid(), signal.SIGTERM)", -signal.SIGTERM, id="SIGTERM"),
    pytest.param(
        "signal.signal(signal.SIGINT, signal.default_int_handler); os.kill(os.getpid(), signal.SIGINT)",
        -signal.SIGINT,
        id="SIGINT",
    ),
]


@pytest.mark.parametrize(("ending", "returncode"), ENDINGS)
def test_console_log_is_complete_however_the_script_ends(
    tmp_path: Path, ending: str, returncode: int
) -> None:
    """An exception (with its traceback), sys.exit, SIGTERM or Ctrl-C leaves every line in console.log, and
    the terminal's last output comes before the script's exit."""
    result = run_script(
        tmp_path,
        f"""
        import signal
        print("last words", flush=True)
        sys.stdout.write("unflushed tail\\n")
        {ending}
        """,
    )
    assert result.returncode == returncode, result.stderr.decode()
    assert result.stdout == b"last words\nunflushed tail\n"
    logged = console_log(tmp_path / "swanlog")
    assert b"last words\nunflushed tail\n" in logged
    if "RuntimeError" in ending:
        assert b"RuntimeError: boom" in logged and b"Traceback" in logged
    if "SIGINT" in ending:
        assert b"KeyboardInterrupt" in logged


SIGKILLED = """
import time
ack = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
k = 0
while True:
    print(f"step {k}", flush=True)
    os.write(2, b"err %d\\n" % k)
    os.write(ack, b"%d\\n" % k)
    k += 1
    time.sleep(0.001)
"""


def test_sigkilled_script_keeps_its_output_up_to_the_kill(tmp_path: Path) -> None:
    """A script killed with SIGKILL mid-run still has every line it wrote before the kill in console.log."""
    script = tmp_path / "train.py"
    script.write_text(
        "import os, sys\nimport swanlog_core as swanlog\n"
        f"swanlog.init(logdir={str(tmp_path / 'swanlog')!r}, id={RUN_ID!r}, env=False)\n"
        + textwrap.dedent(SIGKILLED)
    )
    acks = tmp_path / "acks"
    child = subprocess.Popen(
        [PYTHON, str(script), str(acks)],
        env=python_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: child.poll() is not None or (acks.exists() and len(acks.read_bytes().split()) >= 200), 30
        )
        assert child.poll() is None
        child.kill()
    finally:
        child.wait(timeout=30)
    written = [int(x) for x in acks.read_bytes().split()]
    log = tmp_path / "swanlog"

    def has_everything() -> bool:
        lines = set(console_log(log).splitlines())
        return all(b"step %d" % k in lines and b"err %d" % k in lines for k in written)

    wait_until(has_everything, timeout=10)  # the tee saw end-of-file and wrote what it had
    assert len(set(console_log(log).splitlines())) == len(console_log(log).splitlines())  # no line twice


FORKED_WORKER = """
import time
r, w = os.pipe()
pid = os.fork()
if pid == 0:  # a worker that holds fds 1 and 2 and outlives the run
    os.close(w)
    os.read(r, 1)
    os._exit(0)
os.close(r)
print("before finish", flush=True)
t = time.monotonic()
swanlog.finish()
print(json.dumps({"finish_seconds": time.monotonic() - t}), flush=True)
os.close(w)
os.waitpid(pid, 0)
"""


def test_forked_worker_holding_the_streams_does_not_make_finish_hang(tmp_path: Path) -> None:
    """finish() returns in about a second even while a forked worker still holds stdout and stderr."""
    result = run_script(tmp_path, "import json\n" + FORKED_WORKER)
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.splitlines()
    assert lines[0] == b"before finish"
    assert json.loads(lines[1])["finish_seconds"] < 2.0
    assert console_log(tmp_path / "swanlog") == b"before finish\n"


def test_subprocess_outliving_the_run_still_reaches_the_terminal(tmp_path: Path) -> None:
    """A subprocess still running after finish() keeps writing to the real stdout instead of hitting a
    closed pipe."""
    result = run_script(
        tmp_path,
        """
        import subprocess
        print("in the run", flush=True)
        subprocess.Popen(["sh", "-c", "sleep 0.6; echo after the run"])
        swanlog.finish()
        """,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b"in the run\nafter the run\n"  # the pipe stays open until sh ends
    assert console_log(tmp_path / "swanlog").startswith(b"in the run\n")


# -- a terminal stays a terminal ----------------------------------------------------------------

IN_A_TERMINAL = """
import shutil
before = {"stdout": sys.stdout.isatty(), "stderr": sys.stderr.isatty(),
          "size": list(shutil.get_terminal_size())}
swanlog.init(logdir=sys.argv[1], id="console1")
after = {"stdout": sys.stdout.isatty(), "stderr": sys.stderr.isatty(), "fd1": os.isatty(1),
         "size": list(os.get_terminal_size(1))}
print(json.dumps({"before": before, "after": after}))
print("\\x1b[1;31mred bold\\x1b[0m plain")
sys.stderr.write("\\x1b[33mwarning\\x1b[0m\\n")
for i in range(1, 4):
    sys.stdout.write(f"\\r{i}/3"); sys.stdout.flush()
print()
"""


def read_terminal(master: int, child: subprocess.Popen) -> bytes:
    """Everything the child shows on its terminal, until it exits and the terminal is drained."""
    out = b""
    while True:
        ready = select.select([master], [], [], 0.1)[0]
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer of the terminal has closed it
                break
            if not data:
                break
            out += data
        elif child.poll() is not None:
            break
    return out


def test_stdout_stays_a_terminal_and_colours_pass_through(tmp_path: Path) -> None:
    """Run in a terminal, the script still sees a terminal (same size) after init(); colours and redraws reach
    the terminal unchanged and console.log keeps the colours."""
    import fcntl
    import termios

    script = tmp_path / "train.py"
    script.write_text(
        "import json, os, sys\nimport swanlog_core as swanlog\n" + textwrap.dedent(IN_A_TERMINAL)
    )
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 37, 111, 0, 0))
    try:
        child = subprocess.Popen(
            [PYTHON, str(script), str(tmp_path / "swanlog")],
            env=python_env(),
            stdin=slave,
            stdout=slave,
            stderr=slave,
        )
        os.close(slave)
        shown = read_terminal(master, child)
        assert child.wait(timeout=30) == 0, shown.decode(errors="replace")
    finally:
        os.close(master)
    # The terminal (with its usual settings) turns "\n" into "\r\n"; nothing else changes.
    lines = shown.split(b"\r\n")
    report = json.loads(lines[0])
    assert report["before"] == {"stdout": True, "stderr": True, "size": [111, 37]}
    assert report["after"] == {"stdout": True, "stderr": True, "fd1": True, "size": [111, 37]}
    assert lines[1:] == [
        b"\x1b[1;31mred bold\x1b[0m plain",
        b"\x1b[33mwarning\x1b[0m",
        b"\r1/3\r2/3\r3/3",
        b"",
    ]
    logged = console_log(tmp_path / "swanlog").split(b"\n")
    assert logged[1:] == [b"\x1b[1;31mred bold\x1b[0m plain", b"\x1b[33mwarning\x1b[0m", b"3/3", b""]


RESIZED = """
import time
swanlog.init(logdir=sys.argv[1], id="console1", env=False)
before = os.get_terminal_size(1)
print("ready", list(before), flush=True)
deadline = time.monotonic() + 20
while os.get_terminal_size(1) == before and time.monotonic() < deadline:
    time.sleep(0.01)  # the terminal is being resized
print("now", list(os.get_terminal_size(1)), flush=True)
"""


def test_resizing_the_terminal_reaches_the_script(tmp_path: Path) -> None:
    """A terminal resize (SIGWINCH) reaches the script: its stdout reports the new window size."""
    import fcntl
    import termios

    script = tmp_path / "train.py"
    script.write_text("import os, sys\nimport swanlog_core as swanlog\n" + textwrap.dedent(RESIZED))
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    try:
        child = subprocess.Popen(
            [PYTHON, str(script), str(tmp_path / "swanlog")],
            env=python_env(),
            stdin=slave,
            stdout=slave,
            stderr=slave,
        )
        os.close(slave)
        shown = b""

        def ready() -> bool:
            nonlocal shown
            if select.select([master], [], [], 0)[0]:
                shown += os.read(master, 65536)
            return b"ready" in shown or child.poll() is not None

        wait_until(ready, timeout=30)
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
        child.send_signal(signal.SIGWINCH)  # what the terminal sends its foreground job
        shown += read_terminal(master, child)
        assert child.wait(timeout=30) == 0, shown.decode(errors="replace")
    finally:
        os.close(master)
    assert shown.split(b"\r\n")[:2] == [b"ready [100, 30]", b"now [160, 50]"]


# -- turned off -----------------------------------------------------------------------------------

UNTOUCHED = """
import json
def fds():
    return [list(os.fstat(fd)[1:3]) for fd in (1, 2)]  # (inode, device)
before = fds()
swanlog.init(logdir=sys.argv[1], id="console1", console=sys.argv[2] == "on")
during = fds()
print("during the run", flush=True)
swanlog.finish()
print(json.dumps({"before": before, "during": during, "after": fds()}))
"""


@pytest.mark.parametrize("console", ["on", "off"])
def test_console_false_writes_no_console_log_and_leaves_the_fds_alone(tmp_path: Path, console: str) -> None:
    """init(console=False) creates no console.log and never swaps fds 1 and 2; with it on they are swapped
    during the run and put back at finish."""
    script = tmp_path / "train.py"
    script.write_text("import os, sys\nimport swanlog_core as swanlog\n" + textwrap.dedent(UNTOUCHED))
    result = subprocess.run(
        [PYTHON, str(script), str(tmp_path / "swanlog"), console],
        env=python_env(),
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()
    fds = json.loads(result.stdout.splitlines()[-1])
    assert fds["after"] == fds["before"]
    run_dir = the_run_dir(tmp_path / "swanlog", RUN_ID)
    if console == "off":
        assert fds["during"] == fds["before"]
        assert not (run_dir / "console.log").exists()
    else:
        assert fds["during"] != fds["before"]
        assert (run_dir / "console.log").read_bytes() == b"during the run\n"


def test_no_tee_process_is_left_behind(tmp_path: Path, spawn: Callable[..., subprocess.Popen]) -> None:
    """After finish() the tee process is gone: the script has no child process left."""
    child = spawn(
        f"""
        import os
        import swanlog_core as swanlog
        swanlog.init(logdir={str(tmp_path / "swanlog")!r}, id={RUN_ID!r}, env=False)
        print("hello", flush=True)
        swanlog.finish()
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            print("a child is left", pid, flush=True)
        except ChildProcessError:
            print("no child left", flush=True)
        """
    )
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err.decode()
    assert out == b"hello\nno child left\n"

"""What ``swanlog sync`` shows on a terminal and what it writes when redirected (docs/sync.md): one
live progress line on stderr (runs, points, bytes, rate) redrawn in place on a terminal, never a
redraw in a file, and the summary on stdout.

The real ``swanlog sync --watch`` runs against a real ``swanlog server`` while a training script
logs a few thousand points. Its terminal is a pseudo-terminal it owns as its controlling terminal,
so Ctrl-C is the byte a keyboard sends (the line discipline turns it into SIGINT), as at a shell.
"""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import threading
from pathlib import Path
from typing import IO, Callable, Iterator

import pytest

from tests.e2e.test_sync import assert_exact
from tests.serverproc import ServerProcess, start_server
from tests.support import PYTHON, python_env, wait_until

STEPS = 1000  # x 3 metrics: 3,000 points over about 2 s, time for several redraws (every 0.2 s)
POINTS = 3 * STEPS

TRAIN = """
import sys, time
import swanlog_core as swanlog
run = swanlog.init(project="proj", logdir=sys.argv[1], config={"lr": 0.01})
print(run.id, flush=True)
for i in range(int(sys.argv[2])):
    swanlog.log({"train/loss": 1 / (i + 1), "acc": i / 10, "lr": 0.01})
    time.sleep(0.002)
swanlog.finish()
"""

# Made session leader by Popen(start_new_session=True), the child takes its stdin (the pty) as its
# controlling terminal, then becomes ``python -m swanlog_cli.main ...`` (same pid).
_CONTROLLING_TTY = (
    "import fcntl, os, sys, termios\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])\n"
)
_CTRL_C = b"\x03"

# The live line: "1 run, 2,345 points, 123.4 kB, 1,234 points/s" (cli/sync.py _line).
PROGRESS = r"(\d+) runs?, ([\d,]+) points, ([\d.]+ (?:B|kB|MB|GB)), ([\d,]+) points/s"
SUMMARY = re.compile(
    rf"synced 1 run: {POINTS:,} points sent \({POINTS:,} new, 0 duplicates\), [\d.]+ (?:kB|MB) of metric "
    r"lines \([\d.]+ (?:kB|MB) sent\), \d+ files?, [\d.]+s \([\d,]+ points/s\)"
)


class Terminal:
    """A child whose stdin and stderr (and stdout, unless given) are a pty that is its controlling terminal.

    A thread reads the master side until the child exits and the slave side closes (EIO).
    """

    def __init__(self, argv: list[str], stdout: IO[bytes] | None = None) -> None:
        self.master, slave = pty.openpty()
        self._chunks: list[bytes] = []
        try:
            self.proc = subprocess.Popen(
                [PYTHON, "-c", _CONTROLLING_TTY, *argv],
                env=python_env(),
                stdin=slave,
                stdout=stdout if stdout is not None else slave,
                stderr=slave,
                start_new_session=True,
            )
        finally:
            os.close(slave)  # the child holds the only copy: its exit ends the reads with EIO
        self._reader = threading.Thread(target=self._read, name="pty-reader")
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: no process has the slave side open any more
                return
            if not data:
                return
            self._chunks.append(data)

    def ctrl_c(self) -> None:
        """Type Ctrl-C on the terminal."""
        os.write(self.master, _CTRL_C)

    def wait(self, timeout: float = 30) -> int:
        """Wait for the child to exit and for everything it wrote to be read; its exit code."""
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=timeout)
        assert not self._reader.is_alive()
        return code

    def output(self) -> str:
        """Every byte the terminal showed, as text."""
        return b"".join(self._chunks).decode("utf-8", "replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self._reader.join(timeout=30)
        os.close(self.master)


@pytest.fixture(scope="module")
def server_and_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    """One SQLite server for the module (each test logs its own run) and a key for project proj."""
    with start_server(f"sqlite:///{tmp_path_factory.mktemp('server') / 'server.db'}") as srv:
        yield srv, srv.create_key("proj")
        srv.assert_no_tracebacks()


@pytest.fixture
def terminals() -> Iterator[Callable[..., Terminal]]:
    """Start children on pseudo-terminals; every one is killed, reaped and closed after the test."""
    started: list[Terminal] = []

    def start(argv: list[str], stdout: IO[bytes] | None = None) -> Terminal:
        started.append(Terminal(argv, stdout))
        return started[-1]

    yield start
    for term in started:
        term.close()


def sync_argv(srv: ServerProcess, key: str, logdir: Path) -> list[str]:
    """``swanlog sync LOGDIR --watch --server URL --api-key KEY`` as argv for a child Python."""
    return ["-m", "swanlog_cli.main", "sync", str(logdir), "--watch", "--server", srv.url, "--api-key", key]


def train_while_syncing(srv: ServerProcess, key: str, logdir: Path, tmp_path: Path) -> tuple[str, Path]:
    """Run the training script to its end and wait until the server holds its run, finished; (id, folder)."""
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    out = subprocess.run(
        [PYTHON, str(script), str(logdir), str(STEPS)],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.split()[0]
    (run_dir,) = logdir.iterdir()
    with srv.client(key) as c:

        def pushed() -> bool:
            resp = c.get(f"/api/v1/runs/{run_id}")
            return resp.status_code == 200 and resp.json()["status"] == "finished"

        wait_until(pushed, timeout=20)
        assert assert_exact(c, run_dir, run_id) == POINTS
    return run_id, run_dir


def screen_lines(shown: str) -> list[str]:
    """The lines a terminal ends up showing: each line as left by its last carriage return."""
    return [line.rsplit("\r", 1)[-1].replace("\x1b[K", "") for line in shown.split("\n")]


def assert_redrawn_in_place(shown: str) -> list[re.Match[str]]:
    """The progress line was drawn several times, each over the last (a carriage return, no newline)."""
    draws = list(re.finditer("\r(?:\x1b\\[K)?" + PROGRESS, shown))
    assert len(draws) >= 3, repr(shown)
    assert "\n" not in shown[draws[0].start() : draws[-1].end()], repr(shown)  # one line, not a scroll
    points = [int(d.group(2).replace(",", "")) for d in draws]
    assert points == sorted(points) and 0 < points[-1] <= POINTS, points
    assert {d.group(1) for d in draws} == {"1"}
    return draws


def test_a_terminal_shows_a_live_progress_line_then_the_summary(
    server_and_key: tuple[ServerProcess, str],
    logdir: Path,
    tmp_path: Path,
    terminals: Callable[..., Terminal],
) -> None:
    """On a terminal, sync redraws one progress line in place (runs, points, bytes, rate); Ctrl-C ends
    --watch with exit 0 and the summary on a clean line, and the server holds every point."""
    srv, key = server_and_key
    term = terminals(sync_argv(srv, key, logdir))
    train_while_syncing(srv, key, logdir, tmp_path)
    term.ctrl_c()
    assert term.wait() == 0, term.output()
    shown = term.output().replace("\r\n", "\n")  # the tty's own newline translation (onlcr)
    draws = assert_redrawn_in_place(shown)
    tail = shown[draws[-1].end() :]
    assert "Traceback" not in shown and "Error" not in shown, shown
    assert "\r" in tail.split("synced", 1)[0], repr(tail)  # the live line is cleared before the summary
    lines = [ln for ln in screen_lines(shown) if ln.strip()]
    assert any(SUMMARY.fullmatch(ln) for ln in lines), lines  # the summary starts at column 0
    assert not any(re.fullmatch(PROGRESS, ln) for ln in lines), lines  # no progress left on screen


def test_stdout_redirected_to_a_file_gets_the_summary_and_no_redraws(
    server_and_key: tuple[ServerProcess, str],
    logdir: Path,
    tmp_path: Path,
    terminals: Callable[..., Terminal],
) -> None:
    """``swanlog sync ... > file`` on a terminal: the file gets the summary only; the live line stays."""
    srv, key = server_and_key
    out_path = tmp_path / "sync.out"
    with open(out_path, "wb") as out:
        term = terminals(sync_argv(srv, key, logdir), stdout=out)
    train_while_syncing(srv, key, logdir, tmp_path)
    term.ctrl_c()
    assert term.wait() == 0, term.output()
    assert_redrawn_in_place(term.output().replace("\r\n", "\n"))  # progress is on stderr, still a terminal
    written = out_path.read_text()
    assert "\r" not in written and "\x1b" not in written, repr(written)
    assert [SUMMARY.fullmatch(ln) is not None for ln in written.splitlines()] == [True], written


def test_without_a_terminal_progress_is_never_redrawn(
    server_and_key: tuple[ServerProcess, str], logdir: Path, tmp_path: Path
) -> None:
    """With stdout and stderr both redirected to files, nothing is redrawn: plain lines only, summary
    on stdout, exit 0 after SIGINT, and every point on the server."""
    srv, key = server_and_key
    out_path, err_path = tmp_path / "sync.out", tmp_path / "sync.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            [PYTHON, *sync_argv(srv, key, logdir)],
            env=python_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    try:
        train_while_syncing(srv, key, logdir, tmp_path)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, err_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    written, progress = out_path.read_text(), err_path.read_text()
    assert "\r" not in written + progress and "\x1b" not in written + progress, repr(written + progress)
    assert [SUMMARY.fullmatch(ln) is not None for ln in written.splitlines()] == [True], written
    # A progress line on stderr (one every 10 s, so none may come in this short test) is a whole line.
    assert all(re.fullmatch(PROGRESS, ln) for ln in progress.splitlines() if "points/s" in ln), progress

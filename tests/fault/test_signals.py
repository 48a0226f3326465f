"""SIGTERM and SIGINT sent to a real training script: the run is final and every file complete.

Files are checked with a json parser written here, not with swanlog's reader or _format.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import textwrap
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.metricfile import lock_is_free, read_lines, the_run_dir
from tests.support import PYTHON, python_env, wait_until

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

# Logs (acknowledging each returned call), then either keeps logging or idles in a loop
# until a signal ends it. SIGINT is restored to Python's default first: a child started
# from a background shell job inherits SIGINT ignored, and a terminal user's would not be.
TRAIN = """
import os, signal, sys, time
import swanlog_core as swanlog

signal.signal(signal.SIGINT, signal.default_int_handler)
logdir, ack_path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
swanlog.init(logdir=logdir, id="signal01")
ack = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
k = 0
while True:
    if mode == "logging" or k < 3:
        swanlog.log({"loss": k / 2, "train/acc": k})
        os.write(ack, b"%d\\n" % k)
        k += 1
    else:
        time.sleep(0.05)  # the script is busy elsewhere (data loading, say) when the signal comes
"""


def acked(path: Path) -> list[int]:
    """The counters of the log() calls the script saw return."""
    return [int(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def train(tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen]]:
    """Start the training script in a child Python; killed at teardown if still alive."""
    children: list[subprocess.Popen] = []

    def start(mode: str) -> subprocess.Popen:
        script = tmp_path / "train.py"
        script.write_text(textwrap.dedent(TRAIN))
        child = subprocess.Popen(
            [PYTHON, str(script), str(tmp_path / "swanlog"), str(tmp_path / "acks"), mode],
            env=python_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=30)


def assert_run_is_final_and_complete(tmp_path: Path, status: str, exit_code: int) -> None:
    """run.json final with that status, the lock free, summary complete, every acked point on disk."""
    run_dir = the_run_dir(tmp_path / "swanlog", "signal01")
    meta = json.loads((run_dir / "run.json").read_text())
    assert (meta["status"], meta["exit_code"]) == (status, exit_code)
    assert meta["duration"] > 0
    assert lock_is_free(run_dir)
    # No half-done atomic rewrite left behind.
    assert not [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")]
    ks = acked(tmp_path / "acks")
    loss = read_lines(run_dir / "metrics" / "loss.jsonl")
    acc = read_lines(run_dir / "metrics" / "train" / "acc.jsonl")
    for points in (loss, acc):
        assert [p["step"] for p in points] == list(range(len(points)))
        assert len(ks) <= len(points) <= len(ks) + 1  # every acked call, plus at most the one in flight
    assert [p["value"] for p in acc[: len(ks)]] == ks
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["loss"] == loss[-1]["value"] and summary["train/acc"] == acc[-1]["value"]


@pytest.mark.parametrize("mode", ["logging", "idle"])
def test_sigterm_marks_the_run_failed_143_and_the_process_still_dies_of_it(
    tmp_path: Path, train: Callable[[str], subprocess.Popen], mode: str
) -> None:
    """SIGTERM (mid-log or while idle) leaves run.json failed with exit code 143 and every file complete; the
    script dies of SIGTERM."""
    child = train(mode)
    wanted = 300 if mode == "logging" else 3
    wait_until(lambda: child.poll() is not None or len(acked(tmp_path / "acks")) >= wanted, timeout=30)
    assert child.poll() is None, child.communicate()[1].decode()
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGTERM, err.decode()
    assert_run_is_final_and_complete(tmp_path, "failed", 143)


@pytest.mark.parametrize("mode", ["logging", "idle"])
def test_sigint_marks_the_run_failed_130(
    tmp_path: Path, train: Callable[[str], subprocess.Popen], mode: str
) -> None:
    """Ctrl-C (SIGINT, KeyboardInterrupt left uncaught) leaves run.json failed with exit code 130 and every
    file complete."""
    child = train(mode)
    wanted = 300 if mode == "logging" else 3
    wait_until(lambda: child.poll() is not None or len(acked(tmp_path / "acks")) >= wanted, timeout=30)
    assert child.poll() is None, child.communicate()[1].decode()
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert b"KeyboardInterrupt" in err, err.decode()
    # Python ends an uncaught KeyboardInterrupt by dying of SIGINT; swanlog keeps that.
    assert child.returncode == -signal.SIGINT, err.decode()
    assert_run_is_final_and_complete(tmp_path, "failed", 130)


# Delivers a signal to itself at the 6th point line, just before or just after the write
# system call: the signal is real and Python runs its handler as soon as os.kill returns,
# which is where a signal arriving then would be handled. (Wrapping os.write only picks
# the moment; the handler, the exit hooks and the process's death are the real ones.)
SIGNAL_AT_WRITE = """
import os, signal, sys
import swanlog_core as swanlog

signal.signal(signal.SIGINT, signal.default_int_handler)
logdir, signum, when = sys.argv[1], int(sys.argv[2]), sys.argv[3]
real_write, lines = os.write, [0]

def write(fd, data):
    point = bytes(data[:8]) == b'{"step":'
    lines[0] += point
    if point and lines[0] == 6 and when == "before":
        os.kill(os.getpid(), signum)
    n = real_write(fd, data)
    if point and lines[0] == 6 and when == "after":
        os.kill(os.getpid(), signum)
    return n

os.write = write
swanlog.init(logdir=logdir, id="signal01")
for k in range(10):
    swanlog.log({"loss": k / 2})
"""

RESUME = """
import sys
import swanlog_core as swanlog

swanlog.init(logdir=sys.argv[1], id="signal01", resume="must")
swanlog.log({"loss": 100.0})
"""


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize(
    ("signum", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"]
)
def test_signal_at_a_write_leaves_summary_and_steps_that_agree_with_the_file(
    tmp_path: Path, signum: int, exit_code: int, when: str
) -> None:
    """A signal landing just before or after a point's write leaves summary.json and the next resumed step
    agreeing with the file."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SIGNAL_AT_WRITE))
    logdir = tmp_path / "swanlog"
    result = subprocess.run(
        [PYTHON, str(script), str(logdir), str(int(signum)), when],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == -signum, result.stderr
    run_dir = the_run_dir(logdir, "signal01")
    meta = json.loads((run_dir / "run.json").read_text())
    assert (meta["status"], meta["exit_code"]) == ("failed", exit_code)
    written = 6 if when == "after" else 5
    loss = read_lines(run_dir / "metrics" / "loss.jsonl")
    assert [(p["step"], p["value"]) for p in loss] == [(k, k / 2) for k in range(written)]
    assert json.loads((run_dir / "summary.json").read_text())["loss"] == loss[-1]["value"]

    script.write_text(textwrap.dedent(RESUME))
    resumed = subprocess.run(
        [PYTHON, str(script), str(logdir)], env=python_env(), capture_output=True, text=True, timeout=60
    )
    assert resumed.returncode == 0, resumed.stderr
    loss = read_lines(run_dir / "metrics" / "loss.jsonl")
    assert [p["step"] for p in loss] == list(range(written + 1))

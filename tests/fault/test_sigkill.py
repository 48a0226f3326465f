"""SIGKILL at random moments: what log() returned is on disk, once, on whole lines; resume continues.

A real training script runs in a child Python and acknowledges each log() call after it
returned (one os.write to a side file). The test kills it with SIGKILL at seeded random
moments and checks the files with its own json parser, not with swanlog's reader or
_format, so a reader bug cannot hide a writer bug.

One write() is not all-or-nothing under SIGKILL: Linux copies a write into the page cache a
page at a time and gives up between pages when a fatal signal is pending, so the line being
written when the kill lands may stop at a 4 KiB boundary. That line belongs to a call that
never returned; readers skip it and resume cuts it off. The test allows that one torn tail
per file, checks that it is the start of a point line, and checks that resume removes it.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.metricfile import lock_is_free, parse_lines, read_lines, run_json, the_run_dir
from tests.support import PYTHON, python_env, wait_until

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

# Logs forever: two auto-step metrics, then two metrics at explicit step 3k, acknowledging
# each call after log() returned. Starts its counter at argv[4] so restarts continue it.
TRAIN = """
import os, sys
import swanlog_core as swanlog

logdir, run_id, ack_path, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
swanlog.init(logdir=logdir, id=run_id, resume="allow")
ack = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
while True:
    swanlog.log({"auto/a": k, "auto/b": -k})
    os.write(ack, b"auto %d\\n" % k)
    swanlog.log({"exp/x": k, "exp/y": -k}, step=3 * k)
    os.write(ack, b"exp %d\\n" % k)
    k += 1
"""

# Resumes the killed run, logs one more call of each kind and finishes.
CLOSE = """
import sys
import swanlog_core as swanlog

swanlog.init(logdir=sys.argv[1], id=sys.argv[2], resume="allow")
swanlog.log({"auto/a": 0.5, "auto/b": -0.5})
swanlog.log({"exp/x": 0.25, "exp/y": -0.25}, step=10**9)
swanlog.finish()
"""
CLOSED = {"auto/a": 0.5, "auto/b": -0.5, "exp/x": 0.25, "exp/y": -0.25}

# Logs a known history, says so, then waits to be killed (or finishes, with argv[3]).
HISTORY = """
import sys, time
import swanlog_core as swanlog

logdir, ready, end = sys.argv[1], sys.argv[2], sys.argv[3]
swanlog.init(logdir=logdir, id="fww00001")
for step in range(0, 21, 2):
    swanlog.log({"x": step * 10}, step=step)
for i in range(5):
    swanlog.log({"a": i * 100})
if end == "finish":
    swanlog.finish()
open(ready, "w").close()
while end == "sigkill":
    time.sleep(1)  # the child's own idle loop: the test kills it here
"""

# Resumes that history and probes first write wins; prints the warnings it got as JSON.
PROBE = """
import json, sys, warnings
import swanlog_core as swanlog

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    swanlog.init(logdir=sys.argv[1], id="fww00001", resume="allow")
    swanlog.log({"x": -1}, step=4)   # held: discarded, warned
    swanlog.log({"x": -2}, step=6)   # held: discarded, not warned again
    swanlog.log({"x": 35}, step=3)   # free, below the largest step: written
    swanlog.log({"x": 999})          # auto: the largest step + 1 = 21
    swanlog.log({"a": -3}, step=2)   # held: discarded, warned (once for "a")
    swanlog.log({"a": 500})          # auto: 5
    swanlog.finish()
print(json.dumps([[w.category.__name__, str(w.message)] for w in caught]))
"""

# Dies of SIGKILL inside init() of a new run, just before run.json is put in place.
KILLED_IN_INIT = """
import os, signal, sys

def die_before_run_json(event, args):
    if event == "os.rename" and str(args[1]).endswith("run.json"):
        os.kill(os.getpid(), signal.SIGKILL)

sys.addaudithook(die_before_run_json)
import swanlog_core as swanlog
swanlog.init(logdir=sys.argv[1], id="early001")
"""


# -- an independent reader ------------------------------------------------------------


LINE_START = b'{"step":'


def steps_and_values(run_dir: Path, metric: str) -> list[tuple[int, Any]]:
    """(step, value) of a metric's whole lines in file order.

    A torn tail (the line a kill interrupted, see the module's text) is allowed if it is the
    start of a point line; it is not a point.
    """
    data = (run_dir / "metrics" / f"{metric}.jsonl").read_bytes()
    whole = data[: data.rfind(b"\n") + 1]
    torn = data[len(whole) :]
    assert torn[: len(LINE_START)] == LINE_START[: len(torn)] and len(torn) < 80, (metric, torn)
    return [(p["step"], p["value"]) for p in parse_lines(whole)]


def read_acks(path: Path) -> list[tuple[str, int]]:
    """The acknowledgements a training script wrote: ("auto"|"exp", k) per returned log().

    A torn last acknowledgement (the kill stopped its write at a page boundary) is not
    counted: the test then checks one call fewer, never one that did not return.
    """
    if not path.exists():
        return []
    data = path.read_bytes()
    data = data[: data.rfind(b"\n") + 1]
    return [(kind, int(k)) for kind, k in (line.split() for line in data.decode().splitlines())]


def cut_torn_ack(path: Path) -> None:
    """Cut a torn last acknowledgement, so the next child's first one does not glue onto it."""
    if path.exists():
        data = path.read_bytes()
        os.truncate(path, data.rfind(b"\n") + 1)


# -- child processes -------------------------------------------------------------------


def sigkill(child: subprocess.Popen) -> None:
    """SIGKILL a child and reap it."""
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL


# -- tests -----------------------------------------------------------------------------


def test_acknowledged_points_survive_repeated_sigkill_and_resume(
    tmp_path: Path, spawn: Callable[..., subprocess.Popen]
) -> None:
    """Every point whose log() returned survives SIGKILL, once, on whole lines; resumed auto steps go on."""
    logdir, ack_path = tmp_path / "swanlog", tmp_path / "acks"
    rng = random.Random(20261122)
    rounds = 8
    for round_no in range(rounds):
        acks_before = read_acks(ack_path)
        start = 1 + max((k for kind, k in acks_before if kind == "exp"), default=-1)
        child = spawn(TRAIN, logdir, "kill0001", ack_path, start)
        target = len(acks_before) + rng.choice([1, 2, 7, 40, 300, 2000, 6000])
        wait_until(
            lambda c=child, n=target: c.poll() is not None or len(read_acks(ack_path)) >= n, timeout=60
        )
        assert child.poll() is None, child.communicate()[1].decode()
        sigkill(child)
        cut_torn_ack(ack_path)

        run_dir = the_run_dir(logdir, "kill0001")
        acks = read_acks(ack_path)
        auto_a = steps_and_values(run_dir, "auto/a")
        auto_b = steps_and_values(run_dir, "auto/b")
        exp_x = steps_and_values(run_dir, "exp/x")
        exp_y = steps_and_values(run_dir, "exp/y")
        where = f"after kill {round_no + 1} of {rounds}"

        # Auto steps count on across every restart, from the largest step on disk: 0..n-1.
        assert [s for s, _ in auto_a] == list(range(len(auto_a))), where
        assert [s for s, _ in auto_b] == list(range(len(auto_b))), where
        # Explicit steps: each (metric, step) at most once, each at its own value.
        for points, sign in ((exp_x, 1), (exp_y, -1)):
            steps = [s for s, _ in points]
            assert len(steps) == len(set(steps)), where
            assert all(value == sign * (step // 3) and step % 3 == 0 for step, value in points), where
        # Every acknowledged call is on disk in full.
        auto_a_values = {v for _, v in auto_a}
        auto_b_values = {v for _, v in auto_b}
        exp_x_points, exp_y_points = set(exp_x), set(exp_y)
        for kind, k in acks:
            if kind == "auto":
                assert k in auto_a_values and -k in auto_b_values, (where, kind, k)
            else:
                assert (3 * k, k) in exp_x_points and (3 * k, -k) in exp_y_points, (where, kind, k)
        # Beyond the acknowledged points, at most the one call in flight per kill.
        auto_acks = sum(kind == "auto" for kind, _ in acks)
        assert 0 <= len(auto_a) - auto_acks <= round_no + 1, where
        # The killed writer never marked the run: it still says running, and its lock is
        # free, which is how readers tell it crashed.
        meta = run_json(run_dir)
        assert meta["status"] == "running" and meta["exit_code"] is None, where
        assert meta["pid"] == child.pid, where
        assert lock_is_free(run_dir), where
    assert sum(kind == "auto" for kind, _ in read_acks(ack_path)) >= rounds

    # A last resume cuts any torn tail and adds whole lines after it.
    closer = spawn(CLOSE, logdir, "kill0001")
    assert closer.wait(timeout=60) == 0, closer.communicate()[1].decode()
    run_dir = the_run_dir(logdir, "kill0001")
    for metric in ("auto/a", "auto/b", "exp/x", "exp/y"):
        lines = read_lines(run_dir / "metrics" / f"{metric}.jsonl")  # strict: whole lines only
        assert lines[-1]["value"] == CLOSED[metric], metric


@pytest.mark.parametrize("end", ["sigkill", "finish"])
def test_first_write_wins_holds_across_a_kill_and_resume(
    tmp_path: Path, spawn: Callable[..., subprocess.Popen], end: str
) -> None:
    """After a kill (or a finish) and resume, a held step keeps its value and warns once per metric; a free
    earlier step is written."""
    logdir, ready = tmp_path / "swanlog", tmp_path / "ready"
    writer = spawn(HISTORY, logdir, ready, end)
    wait_until(lambda: ready.exists() or writer.poll() is not None, timeout=30)
    assert ready.exists(), writer.communicate()[1].decode()
    if end == "sigkill":
        sigkill(writer)
    else:
        assert writer.wait(timeout=30) == 0

    probe = spawn(PROBE, logdir)
    out, err = probe.communicate(timeout=60)
    assert probe.returncode == 0, err.decode()
    warned = json.loads(out)
    assert [category for category, _ in warned] == ["SwanlogWarning", "SwanlogWarning"], warned
    assert "'x'" in warned[0][1] and "step 4" in warned[0][1], warned
    assert "'a'" in warned[1][1] and "step 2" in warned[1][1], warned

    run_dir = the_run_dir(logdir, "fww00001")
    x = steps_and_values(run_dir, "x")
    assert x == [(s, s * 10) for s in range(0, 21, 2)] + [(3, 35), (21, 999)]
    assert steps_and_values(run_dir, "a") == [(i, i * 100) for i in range(5)] + [(5, 500)]
    assert run_json(run_dir)["status"] == "finished"


def test_sigkill_inside_init_of_a_new_run_leaves_an_id_that_can_be_resumed(
    tmp_path: Path, spawn: Callable[..., subprocess.Popen]
) -> None:
    """A job killed while init() creates its run (before run.json exists) can be restarted with
    resume="allow"."""
    logdir = tmp_path / "swanlog"
    killed = spawn(KILLED_IN_INIT, logdir)
    killed.communicate(timeout=30)
    assert killed.returncode == -signal.SIGKILL

    restart = subprocess.run(
        [
            PYTHON,
            "-c",
            "import sys, swanlog_core as swanlog\n"
            "swanlog.init(logdir=sys.argv[1], id='early001', resume='allow')\n"
            "swanlog.log({'loss': 0.5})\n",
            str(logdir),
        ],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert restart.returncode == 0, restart.stderr
    run_dir = the_run_dir(logdir, "early001")
    assert run_json(run_dir)["status"] == "finished"
    assert steps_and_values(run_dir, "loss") == [(0, 0.5)]

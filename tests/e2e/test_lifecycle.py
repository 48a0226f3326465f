"""A run's life in real processes: how the script ends marks run.json; one writer per run; fork.

Files are checked with a json parser written here, not with swanlog's reader or _format.
"""

from __future__ import annotations

import json
import math
import subprocess
import textwrap
from pathlib import Path
from typing import Callable

import pytest

import swanlog_core as swanlog
from tests.metricfile import lock_is_free, point_pairs, run_json, the_run_dir
from tests.support import PYTHON, python_env, wait_until

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def snapshot(run_dir: Path) -> dict[str, bytes]:
    """Every file of a run folder and its bytes, but env.json (its writer completes it in the background)."""
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and p.name != "env.json"
    }


def python(text: str, *args: object, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run a script text in a child Python on this checkout and wait for it."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(text))
    return subprocess.run(
        [PYTHON, str(script), *map(str, args)],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


# -- how the script ends ------------------------------------------------------------------

PREAMBLE = """
import sys
import swanlog_core as swanlog
"""
START = "swanlog.init(logdir=sys.argv[1], id='end00001')\nswanlog.log({'loss': 0.5})\n"
WITH_BLOCK = "with swanlog.init(logdir=sys.argv[1], id='end00001'):\n    swanlog.log({'loss': 0.5})\n"

ENDINGS = [
    pytest.param(START, 0, "finished", 0, id="normal-exit-without-finish"),
    pytest.param(START + "sys.exit(0)\n", 0, "finished", 0, id="sys.exit(0)"),
    pytest.param(START + "sys.exit(3)\n", 3, "failed", 3, id="sys.exit(3)"),
    pytest.param(START + "sys.exit('bad config')\n", 1, "failed", 1, id="sys.exit(message)"),
    pytest.param(START + "raise RuntimeError('boom')\n", 1, "failed", 1, id="uncaught-exception"),
    pytest.param(START + "raise KeyboardInterrupt\n", -2, "failed", 130, id="uncaught-KeyboardInterrupt"),
    pytest.param(WITH_BLOCK, 0, "finished", 0, id="with-body-completes"),
    pytest.param(WITH_BLOCK + "    raise RuntimeError('boom')\n", 1, "failed", 1, id="with-body-raises"),
    pytest.param(
        "try:\n"
        + textwrap.indent(WITH_BLOCK + "    raise RuntimeError('boom')\n", "    ")
        + "except RuntimeError:\n    pass\n",
        0,
        "failed",
        1,
        id="with-body-raises-caught-outside",
    ),
    pytest.param(START + "swanlog.finish(exit_code=2)\n", 0, "failed", 2, id="finish(exit_code=2)"),
]


@pytest.mark.parametrize(("body", "returncode", "status", "exit_code"), ENDINGS)
def test_how_the_script_ends_decides_the_final_status(
    tmp_path: Path, body: str, returncode: int, status: str, exit_code: int
) -> None:
    """However a script ends (exit, sys.exit(n), an exception, a with block), run.json is final with the
    matching status and exit code."""
    logdir = tmp_path / "swanlog"
    result = python(PREAMBLE + body, logdir, tmp_path=tmp_path)
    assert result.returncode == returncode, result.stderr
    run_dir = the_run_dir(logdir, "end00001")
    meta = run_json(run_dir)
    assert (meta["status"], meta["exit_code"]) == (status, exit_code)
    assert meta["duration"] > 0
    assert lock_is_free(run_dir)
    assert point_pairs(run_dir / "metrics" / "loss.jsonl") == [(0, 0.5)]
    assert json.loads((run_dir / "summary.json").read_text()) == {"loss": 0.5}


# -- one writer per run -------------------------------------------------------------------

# Holds run "held0001" until its stdin closes, then logs once more and exits normally.
HOLDER = """
import sys
import swanlog_core as swanlog

swanlog.init(logdir=sys.argv[1], id="held0001")
swanlog.log({"loss": 1.0})
open(sys.argv[2], "w").close()
sys.stdin.read()
swanlog.log({"loss": 2.0})
"""

# Tries to continue "held0001"; prints what happened as JSON.
SECOND = """
import json, os, sys
import swanlog_core as swanlog

try:
    swanlog.init(logdir=sys.argv[1], id="held0001", resume="allow")
except swanlog.Error as exc:
    print(json.dumps({"error": type(exc).__name__, "is_error": isinstance(exc, swanlog.Error),
                      "message": str(exc), "no_current_run": swanlog.run is None}))
    sys.exit(0)
swanlog.log({"loss": 3.0})
print(json.dumps({"error": None, "pid": os.getpid()}))
"""


def test_a_run_killed_in_its_first_seconds_leaves_its_summary(tmp_path: Path) -> None:
    """SIGKILL 1.5 s after init: summary.json already holds what was logged before the last second."""
    result = python(
        PREAMBLE
        + """
import os, signal, time
swanlog.init(logdir=sys.argv[1], id='kill0001')
swanlog.define_metric('loss', summary='min')
swanlog.log({'loss': 0.9, 'acc': 0.1})
time.sleep(1.2)
swanlog.log({'loss': 0.4, 'acc': 0.6})  # the first snapshot is due 1 s after init
os.kill(os.getpid(), signal.SIGKILL)
""",
        tmp_path / "logs",
        tmp_path=tmp_path,
    )
    assert result.returncode == -9, result.stderr
    run_dir = the_run_dir(tmp_path / "logs", "kill0001")
    assert json.loads((run_dir / "summary.json").read_text()) == {"loss": 0.4, "acc": 0.6}


def test_second_writer_process_gets_run_locked_error_until_the_first_exits(
    tmp_path: Path, spawn: Callable[..., subprocess.Popen]
) -> None:
    """A second process continuing a run that another process writes gets RunLockedError and writes nothing;
    once the first exits it can."""
    logdir, ready = tmp_path / "swanlog", tmp_path / "ready"
    first = spawn(HOLDER, logdir, ready)
    wait_until(lambda: ready.exists() or first.poll() is not None, timeout=30)
    assert first.poll() is None, first.communicate()[1].decode()
    run_dir = the_run_dir(logdir, "held0001")
    before = snapshot(run_dir)

    refused = python(SECOND, logdir, tmp_path=tmp_path)
    assert refused.returncode == 0, refused.stderr
    outcome = json.loads(refused.stdout)
    assert outcome["error"] == "RunLockedError" and outcome["is_error"] and outcome["no_current_run"]
    assert "held0001" in outcome["message"] and "another process" in outcome["message"]
    assert snapshot(run_dir) == before
    assert run_json(run_dir)["pid"] == first.pid

    first.stdin.close()
    assert first.wait(timeout=30) == 0
    assert run_json(run_dir)["status"] == "finished"

    allowed = python(SECOND, logdir, tmp_path=tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    outcome = json.loads(allowed.stdout)
    assert outcome["error"] is None
    meta = run_json(run_dir)
    assert (meta["status"], meta["pid"]) == ("finished", outcome["pid"])
    assert point_pairs(run_dir / "metrics" / "loss.jsonl") == [(0, 1.0), (1, 2.0), (2, 3.0)]


def test_init_in_this_process_of_a_run_held_elsewhere_fails_and_keeps_the_current_run(
    tmp_path: Path, logdir: Path, spawn: Callable[..., subprocess.Popen]
) -> None:
    """init() of a run another process holds raises RunLockedError, writes nothing and leaves this process's
    current run logging."""
    ready = tmp_path / "ready"
    holder = spawn(HOLDER, logdir, ready)
    wait_until(lambda: ready.exists() or holder.poll() is not None, timeout=30)
    assert holder.poll() is None, holder.communicate()[1].decode()
    held_dir = the_run_dir(logdir, "held0001")
    before = snapshot(held_dir)

    mine = swanlog.init(logdir=logdir, id="mine0001")
    with pytest.raises(swanlog.RunLockedError, match="held0001.*another process") as info:
        swanlog.init(logdir=logdir, id="held0001", resume="allow")
    assert isinstance(info.value, swanlog.Error)
    assert snapshot(held_dir) == before
    assert swanlog.run is mine
    swanlog.log({"x": 1})
    swanlog.finish()
    assert point_pairs(mine.dir / "metrics" / "x.jsonl") == [(0, 1)]
    assert run_json(mine.dir)["status"] == "finished"


# -- fork -------------------------------------------------------------------------------

# Forks after init; the child tries to log, reports, and ends as argv[3] says; the parent
# then checks run.json, logs on and exits normally.
FORK = """
import json, os, signal, sys
import swanlog_core as swanlog

logdir, report, ending = sys.argv[1], sys.argv[2], sys.argv[3]
run = swanlog.init(logdir=logdir, id="fork0001")
swanlog.log({"loss": 1.0})
pid = os.fork()
if pid == 0:
    try:
        swanlog.log({"loss": 99.0})
        outcome = {"error": None}
    except swanlog.Error as exc:
        outcome = {"error": type(exc).__name__, "message": str(exc)}
    with open(report, "w") as f:
        json.dump(outcome, f)
    if ending == "exception":
        raise RuntimeError("worker failed")
    if ending == "sigterm":
        os.kill(os.getpid(), signal.SIGTERM)
    if ending == "finish":
        swanlog.finish(exit_code=5)
    sys.exit(0)
_, wait_status = os.waitpid(pid, 0)
with open(run.dir / "run.json") as f:
    meta = json.load(f)
swanlog.log({"loss": 2.0})
print(json.dumps({"status_after_child": meta["status"], "parent_pid": os.getpid(),
                  "child_exit": os.waitstatus_to_exitcode(wait_status)}))
"""


@pytest.mark.parametrize(
    ("ending", "child_exit"),
    [("exit", 0), ("exception", 1), ("sigterm", -15), ("finish", 0)],
)
def test_forked_child_cannot_log_and_its_end_does_not_finish_the_run(
    tmp_path: Path, ending: str, child_exit: int
) -> None:
    """A child forked after init() gets swanlog.Error naming the writing process, and however it ends the
    parent's run stays running."""
    logdir, report = tmp_path / "swanlog", tmp_path / "report.json"
    result = python(FORK, logdir, report, ending, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    parent = json.loads(result.stdout)
    assert parent["child_exit"] == child_exit
    assert parent["status_after_child"] == "running"

    child = json.loads(report.read_text())
    assert child["error"] is not None and issubclass(getattr(swanlog, child["error"]), swanlog.Error)
    assert str(parent["parent_pid"]) in child["message"] and "fork" in child["message"]

    run_dir = the_run_dir(logdir, "fork0001")
    meta = run_json(run_dir)
    assert (meta["status"], meta["exit_code"], meta["pid"]) == ("finished", 0, parent["parent_pid"])
    assert point_pairs(run_dir / "metrics" / "loss.jsonl") == [(0, 1.0), (1, 2.0)]


# Forks a worker that outlives the run (a DataLoader worker, say), finishes the run, says
# so, and keeps the worker alive until its own stdin closes.
WORKER_OUTLIVES_RUN = """
import os, sys
import swanlog_core as swanlog

logdir, finished = sys.argv[1], sys.argv[2]
swanlog.init(logdir=logdir, id="fork0002")
swanlog.log({"loss": 1.0})
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(w)
    os.read(r, 1)
    os._exit(0)
os.close(r)
swanlog.finish()
open(finished, "w").close()
sys.stdin.read()
os.close(w)
os.waitpid(pid, 0)
"""


def test_forked_worker_alive_after_finish_does_not_keep_the_run_locked(
    tmp_path: Path, spawn: Callable[..., subprocess.Popen]
) -> None:
    """Once a run is finished it can be continued by another process, even while a worker forked from its
    writer still runs."""
    logdir, finished = tmp_path / "swanlog", tmp_path / "finished"
    script = spawn(WORKER_OUTLIVES_RUN, logdir, finished)
    wait_until(lambda: finished.exists() or script.poll() is not None, timeout=30)
    assert script.poll() is None, script.communicate()[1].decode()
    run_dir = the_run_dir(logdir, "fork0002")
    assert run_json(run_dir)["status"] == "finished"
    assert lock_is_free(run_dir)

    resumed = python(SECOND.replace("held0001", "fork0002"), logdir, tmp_path=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["error"] is None
    assert point_pairs(run_dir / "metrics" / "loss.jsonl") == [(0, 1.0), (1, 3.0)]
    script.stdin.close()
    assert script.wait(timeout=30) == 0

"""The runs the browser tests look at, written by real training scripts in child Pythons.

Each script prints its run id on the first line of stdout. ``write_runs`` writes the three
runs of the dashboard tests at once (one child each, in parallel): a finished "baseline"
with charts, images and a histogram, a run killed with SIGKILL (crashed), and a run whose
project, run name, metric name and config value are HTML that must show as text, with
metric names that a URL mangles unless they are encoded.
"""

from __future__ import annotations

import json
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support import PYTHON, python_env

__all__ = [
    "AWKWARD",
    "BASELINE",
    "CRASHED",
    "HOSTILE",
    "HOSTILE_CONFIG",
    "HOSTILE_PROJECT",
    "LIVE",
    "NAMED_RUN",
    "Runs",
    "start_script",
    "run_script",
    "write_big_run",
    "write_named_runs",
    "write_runs",
]

HOSTILE = "<img src=x onerror=alert(1)>"
HOSTILE_CONFIG = "<script>alert(2)</script>"
HOSTILE_PROJECT = "<b>xss</b>"
# Metric names a URL mangles unless each segment is encoded (test id -> name); see
# write_named_runs.
AWKWARD = {
    "url-syntax": "odd %?#&=+ name",
    "other-scripts": "训练/损失",
    "encoded-slash": "a b/c%2Fd",
    "dot-dot": "..",
    "dot-segment": "a/./b",
}

# Imports, and a 48x48 RGB picture that changes with k in [0, 1] (each one a different file).
PRELUDE = """
import sys
import numpy as np
import swanlog_core as swanlog

def picture(k):
    y, x = np.mgrid[-1:1:48j, -1:1:48j]
    r = np.hypot(x, y)
    return np.stack([0.5 + 0.5 * np.sin(9 * r - 6 * k + p) for p in (0, 2, 4)], axis=-1)
"""

# argv: logdir [name lr]. 500 train steps, val/loss every 10th (its own steps 0..49) with
# "epoch" (0, 0.2, 0.4, ...) as its step_metric, an image and a histogram at steps 0, 100,
# ..., 400. With the default lr, best_acc is 0.93.
BASELINE = (
    PRELUDE
    + """
name = sys.argv[2] if len(sys.argv) > 2 else "baseline"
lr = float(sys.argv[3]) if len(sys.argv) > 3 else 0.01
speed = (lr / 0.01) ** 0.5
run = swanlog.init(project="vision", name=name, logdir=sys.argv[1],
                   config={"lr": lr, "arch": "resnet"}, tags=["ref"])
print(run.id, flush=True)
swanlog.define_metric("val/loss", step_metric="epoch")
rng = np.random.default_rng(int(lr * 10_000))
for i in range(500):
    swanlog.log({"train/loss": 2.0 / (1 + speed * i / 20) + 0.05 * rng.random(),
                 "train/acc": 1 - 1 / (1 + speed * i / 50)})
    if i % 10 == 0:
        swanlog.log({"val/loss": 2.2 / (1 + speed * i / 25) + 0.02 * rng.random(), "epoch": i / 50})
    if i % 100 == 0:
        k = i / 400
        swanlog.log({"samples": swanlog.Image(picture(k), caption=f"step {i}"),
                     "weights": swanlog.Histogram(rng.normal(k, 1, size=2000))}, step=i)
run.summary["best_acc"] = round(0.93 * speed ** 0.05, 3)
print("epoch 5 done: the baseline console line")
swanlog.finish()
"""
)

# argv: logdir. Logs (two images too), says "ready", then waits for the parent's SIGKILL: killed
# within seconds, it leaves no summary.json (the writer saves it every 10 s and at the end).
CRASHED = (
    PRELUDE
    + """
run = swanlog.init(project="vision", name="crashed-run", logdir=sys.argv[1],
                   config={"lr": 0.1, "arch": "vgg"})
print(run.id, flush=True)
for i in range(120):
    swanlog.log({"train/loss": 3.0 / (1 + i / 10), "train/acc": i / 240})
    if i % 10 == 0:
        swanlog.log({"val/loss": 3.3 / (1 + i / 10)})
    if i % 60 == 0:
        swanlog.log({"samples": swanlog.Image(picture(i / 120), caption=f"crashed {i}")}, step=i)
print("ready", flush=True)
sys.stdin.read()
"""
)

# argv: logdir, project, run name, config value, JSON list of metric names (30 points each).
NAMED_RUN = """
import json, sys
import swanlog_core as swanlog

logdir, project, name, note, names = sys.argv[1:]
run = swanlog.init(project=project, name=name, logdir=logdir, config={"note": note})
print(run.id, flush=True)
for i in range(30):
    swanlog.log({metric: i * 0.5 for metric in json.loads(names)})
swanlog.finish()
"""

# argv: logdir, number of points, seconds between points. Prints its id after the first point;
# halfway it starts a second metric, "live/late".
LIVE = """
import sys, time
import swanlog_core as swanlog

run = swanlog.init(project="live", name="live-run", logdir=sys.argv[1])
n, pause = int(sys.argv[2]), float(sys.argv[3])
for i in range(n):
    swanlog.log({"live/loss": 1 / (i + 1)})
    if i == 0:
        print(run.id, flush=True)
    if i >= n // 2:
        swanlog.log({"live/late": i})
    time.sleep(pause)
swanlog.finish()
"""

# argv: logdir, number of points of big/loss.
BIG = """
import math, sys
import swanlog_core as swanlog

run = swanlog.init(project="scale", name="big-run", logdir=sys.argv[1])
print(run.id, flush=True)
for i in range(int(sys.argv[2])):
    swanlog.log({"big/loss": 1 / (1 + i / 1000) + 0.05 * math.sin(i / 50)})
swanlog.finish()
"""


def start_script(text: str, *args: object) -> subprocess.Popen[str]:
    """Start a training script text in a child Python on this checkout; stdin and stdout piped."""
    return subprocess.Popen(
        [PYTHON, "-c", text, *map(str, args)],
        env=python_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(child: subprocess.Popen[str], expect: int = 0, timeout: float = 60) -> str:
    """Wait for ``child`` to exit with ``expect``; the first word it printed (a run id)."""
    out, err = child.communicate(timeout=timeout)
    assert child.returncode == expect, f"training script exited with {child.returncode}:\n{err}"
    return out.split()[0] if out.split() else ""


def run_script(text: str, *args: object) -> str:
    """Run a training script to its end; its run id."""
    return _finish(start_script(text, *args))


@dataclass(frozen=True)
class Runs:
    """The logdir and run ids of ``write_runs``."""

    logdir: Path
    baseline: str
    crashed: str
    hostile: str


def write_runs(logdir: Path) -> Runs:
    """Write the baseline, crashed and hostile runs into ``logdir`` (three children in parallel)."""
    baseline = start_script(BASELINE, logdir)
    crashed = start_script(CRASHED, logdir)
    hostile = start_script(NAMED_RUN, logdir, HOSTILE_PROJECT, HOSTILE, HOSTILE_CONFIG, json.dumps([HOSTILE]))
    try:
        assert crashed.stdout is not None
        crashed_id = crashed.stdout.readline().strip()
        assert crashed.stdout.readline().strip() == "ready", crashed.stderr.read() if crashed.stderr else ""
        crashed.send_signal(signal.SIGKILL)  # a real kill: the run stays "running" with a free lock
        _finish(crashed, expect=-signal.SIGKILL)
        return Runs(logdir, _finish(baseline), crashed_id, _finish(hostile))
    finally:
        for child in (baseline, crashed, hostile):
            if child.poll() is None:
                child.kill()
                child.communicate(timeout=30)


def write_named_runs(logdir: Path, names: dict[str, str]) -> dict[str, str]:
    """One run per metric name, named after its key, with 30 points of it; key -> run id."""
    children = {
        key: start_script(NAMED_RUN, logdir, "names", key, "", json.dumps([name]))
        for key, name in names.items()
    }
    try:
        return {key: _finish(child) for key, child in children.items()}
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()
                child.communicate(timeout=30)


def write_big_run(logdir: Path, points: int) -> str:
    """One run with ``points`` points of "big/loss"; its run id."""
    return run_script(BIG, logdir, points)

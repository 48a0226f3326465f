"""Scale: 10,000 metrics in one run within a small fd budget, and resuming a run of 1M points.

Files are checked with a json parser written here, not with swanlog's reader or _format.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import swanlog_core as swanlog
from tests.support import PYTHON, python_env

N_METRICS = 10_000


def name(i: int) -> str:
    """The i-th of the many metrics: 100 sections of 100."""
    return f"layer{i // 100:02d}/unit{i % 100:02d}"


def metric_lines(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Every metric file under metrics/ (name -> parsed lines); fails on a torn or odd line."""
    out = {}
    base = run_dir / "metrics"
    for root, _, files in os.walk(base):
        for f in files:
            path = Path(root) / f
            data = path.read_bytes()
            assert data.endswith(b"\n"), f"{path} ends in a torn line: {data[-80:]!r}"
            rows = [json.loads(raw) for raw in data.split(b"\n")[:-1]]
            assert all(set(r) == {"step", "value", "ts"} for r in rows), path
            out[str(path.relative_to(base))[: -len(".jsonl")]] = rows
    return out


def assert_many_metrics(run_dir: Path, rounds: int) -> None:
    """Every one of the N_METRICS files holds steps 0..rounds-1 with the values logged."""
    found = metric_lines(run_dir)
    assert len(found) == N_METRICS
    for i in range(N_METRICS):
        rows = found[name(i)]
        assert [(r["step"], r["value"]) for r in rows] == [(k, i * 10 + k) for k in range(rounds)], name(i)


def open_fds() -> int:
    """How many file descriptors this process holds."""
    return len(os.listdir("/proc/self/fd"))


def test_ten_thousand_metrics_with_the_default_fd_limit(logdir: Path) -> None:
    """A run of 10,000 metrics, each logged a few times in one call or one by one, writes every file and keeps
    at most ~1,024 fds open."""
    fds_before = open_fds()
    run = swanlog.init(logdir=logdir, id="wide0001")
    swanlog.log({name(i): i * 10 for i in range(N_METRICS)})  # all of them in one call
    for k in (1, 2):
        for i in range(N_METRICS):
            swanlog.log({name(i): i * 10 + k})  # one by one, cycling through every file
    assert open_fds() - fds_before <= 1024 + 8
    swanlog.finish()
    assert open_fds() <= fds_before
    assert_many_metrics(run.dir, rounds=3)


# Lowers RLIMIT_NOFILE to 256, keeps 150 descriptors of its own open (a script's data files),
# logs 10,000 metrics three times, resumes and logs a fourth time, then must still be able
# to open files of its own.
LOW_FD_LIMIT = """
import os, resource, sys

_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
import swanlog_core as swanlog

own = [os.open(os.devnull, os.O_RDONLY) for _ in range(150)]
names = [f"layer{i // 100:02d}/unit{i % 100:02d}" for i in range(10_000)]
swanlog.init(logdir=sys.argv[1], id="wide0002")
swanlog.log({n: i * 10 for i, n in enumerate(names)})
for k in (1, 2):
    for i, n in enumerate(names):
        swanlog.log({n: i * 10 + k})
swanlog.finish()
swanlog.init(logdir=sys.argv[1], id="wide0002", resume="must")
swanlog.log({n: i * 10 + 3 for i, n in enumerate(names)})
more = [os.open(os.devnull, os.O_RDONLY) for _ in range(20)]
swanlog.finish()
"""


def test_ten_thousand_metrics_under_a_256_fd_limit(tmp_path: Path) -> None:
    """With RLIMIT_NOFILE at 256 and 150 fds used by the script, 10,000 metrics are logged, resumed and logged
    again without EMFILE."""
    logdir = tmp_path / "swanlog"
    script = tmp_path / "wide.py"
    script.write_text(textwrap.dedent(LOW_FD_LIMIT))
    result = subprocess.run(
        [PYTHON, str(script), str(logdir)], env=python_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    (run_dir,) = logdir.iterdir()
    assert_many_metrics(run_dir, rounds=4)
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished"


# -- a long run -----------------------------------------------------------------------------

N_CALLS = 250_000  # x 4 metrics = 1M points

# Writes 1M points (four metrics at auto steps, and "eval" at every 1000th step).
LONG_RUN = """
import sys
import swanlog_core as swanlog

swanlog.init(logdir=sys.argv[1], id="long0001")
log = swanlog.log
for i in range(N_CALLS):
    log({"a": i, "b": -i, "c": i * 0.5, "d": i % 7})
    if i % 1000 == 0:
        log({"eval": i}, step=i)
swanlog.finish()
""".replace("N_CALLS", str(N_CALLS))

# Resumes, times the first log (which loads each metric's step index), logs at auto steps
# and at an explicit free and a held "eval" step; prints the time and the warnings.
RESUME = """
import json, sys, time, warnings
import swanlog_core as swanlog

value = int(sys.argv[2])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    swanlog.init(logdir=sys.argv[1], id="long0001", resume="must")
    t0 = time.perf_counter()
    swanlog.log({"a": value, "b": -value, "c": value * 0.5, "d": value % 7, "eval": value})
    elapsed = time.perf_counter() - t0
    swanlog.log({"eval": 1}, step=500)    # free, between two held steps
    swanlog.log({"eval": 2}, step=2000)   # held: discarded, warned
    swanlog.finish()
print(json.dumps({"elapsed": elapsed, "warnings": [str(w.message) for w in caught]}))
"""


def resume(script: Path, logdir: Path, value: int) -> dict[str, Any]:
    """Run RESUME in a child Python; its JSON report."""
    result = subprocess.run(
        [PYTHON, str(script), str(logdir), str(value)],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_run_of_a_million_points_resumes_with_and_without_the_index_cache(tmp_path: Path) -> None:
    """A 1M-point run resumes at the right auto steps with first write wins intact, from stepindex.json and,
    slower, without it."""
    logdir = tmp_path / "swanlog"
    writer, resumer = tmp_path / "long.py", tmp_path / "resume.py"
    writer.write_text(textwrap.dedent(LONG_RUN))
    resumer.write_text(textwrap.dedent(RESUME))
    result = subprocess.run(
        [PYTHON, str(writer), str(logdir)], env=python_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    (run_dir,) = logdir.iterdir()
    cache = run_dir / "stepindex.json"
    assert cache.exists()

    with_cache = resume(resumer, logdir, N_CALLS)
    cache.unlink()
    without_cache = resume(resumer, logdir, N_CALLS + 1)
    # Warned once per metric: at 2000 the first time; the second time 500 is held already.
    for report, step in ((with_cache, 2000), (without_cache, 500)):
        (warning,) = report["warnings"]
        assert "'eval'" in warning and f"step {step}" in warning
    # Loading the index from the cache reads only the tail; scanning 1M lines is far slower
    # (about 1 ms against 400 ms here): a factor of 10 shows the cache is used.
    assert with_cache["elapsed"] * 10 < without_cache["elapsed"]

    found = metric_lines(run_dir)
    assert sorted(found) == ["a", "b", "c", "d", "eval"]
    for metric in "abcd":
        steps = [r["step"] for r in found[metric]]
        assert steps == list(range(N_CALLS + 2)), metric
    assert [r["value"] for r in found["a"][-3:]] == [N_CALLS - 1, N_CALLS, N_CALLS + 1]
    evals = [(r["step"], r["value"]) for r in found["eval"]]
    held = [(i, i) for i in range(0, N_CALLS, 1000)]
    last = held[-1][0]
    # First resume: auto step after the largest (last + 1), and the free step 500.
    # Second resume: auto step last + 2; 500 and 2000 are held, nothing more is written.
    assert evals == held + [(last + 1, N_CALLS), (500, 1), (last + 2, N_CALLS + 1)]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["a"] == N_CALLS + 1 and summary["eval"] == N_CALLS + 1

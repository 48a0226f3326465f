"""Resuming a big run: ``init(id=..., resume="allow")`` plus one ``log()`` of every metric.

The run holds 100 metrics x 100,000 steps (10M points, about 0.5 GB of JSONL). Each
measurement is a fresh process that imports swanlog, resumes the run and logs one
value to every metric (which loads each metric's step index on first use), timed from
just before ``init()`` to just after that ``log()`` returns; the import (with the
training API, which ``import swanlog_core`` loads on first use) and ``finish()``
are reported apart. Three cases:

- with the index cache: ``stepindex.json`` (written by ``finish()``) is there, so each
  metric reads only its file's first bytes and what was appended since;
- a copy of the run folder (``shutil.copytree``: new inodes, as after ``cp -r``, rsync or
  a tarball) with the index cache it was copied with: the cache still applies, through
  the fingerprint of each file's bytes before the cached size;
- without it: ``stepindex.json`` is deleted first, so every metric file is read and
  scanned whole.

Baseline, in a fresh process too: open and read every metric file's bytes, nothing else.
Files are in the page cache (they were just written), as on a node that resumes a run
it wrote; a cold cache adds the disk's read time to both.
Target (the issue): under 3 s, with or without the cache.

The metric files are written directly in format v1 (the bytes orjson produces for
``log()``), in a run folder created by the library, and checked by the first resume.

    python benchmarks/bench_resume.py [--quick] [--reps N] [--steps N] [--metrics N]
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import orjson
from _common import Result, median, parser, print_table, run_child, scratch_dir, write_results

import swanlog_core as swanlog

TARGET_S = 3.0
RUN_ID = "bench-resume"

RESUME_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import swanlog_core as swanlog
swanlog.Run  # the training API loads on first use: count it with the import, not the resume
t1 = time.perf_counter()
logdir, run_id, n_metrics = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = {f"group{j // 10}/metric{j % 10}": 0.25 for j in range(n_metrics)}
t2 = time.perf_counter()
run = swanlog.init(id=run_id, resume="allow", logdir=logdir)
t3 = time.perf_counter()
swanlog.log(data)
t4 = time.perf_counter()
swanlog.finish()
t5 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "init": t3 - t2, "log": t4 - t3, "finish": t5 - t4,
                  "resume": t4 - t2}))
"""

READ_CHILD = r"""
import json, os, sys, time
metrics_dir = sys.argv[1]
t0 = time.perf_counter()
total = 0
for root, dirs, files in os.walk(metrics_dir):
    for f in files:
        with open(os.path.join(root, f), "rb") as fh:
            total += len(fh.read())
t1 = time.perf_counter()
print(json.dumps({"read": t1 - t0, "bytes": total}))
"""


def metric_name(j: int) -> str:
    return f"group{j // 10}/metric{j % 10}"


def make_run(logdir: Path, n_metrics: int, n_steps: int) -> Path:
    """A finished run of n_metrics x n_steps points; metric files written as raw bytes."""
    with swanlog.init(project="bench", id=RUN_ID, logdir=logdir) as run:
        run_dir = run.dir
    t0 = 1763828530.0
    # One body per 10 metrics (different values), reused across groups: writing 0.5 GB
    # of bytes takes a second or two, encoding 10M points in Python would take longer.
    bodies = [
        b"".join(
            orjson.dumps(
                {"step": s, "value": 1.0 / (s + 1) + k * 1e-3, "ts": t0 + s * 0.01},
                option=orjson.OPT_APPEND_NEWLINE,
            )
            for s in range(n_steps)
        )
        for k in range(min(10, n_metrics))
    ]
    for j in range(n_metrics):
        path = run_dir / "metrics" / f"{metric_name(j)}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bodies[j % len(bodies)])
    return run_dir


def last_step(path: Path) -> int:
    with open(path, "rb") as f:
        f.seek(-200, 2)
        return orjson.loads(f.read().splitlines()[-1])["step"]


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=None, help="steps per metric (default 100000)")
    p.add_argument("--metrics", type=int, default=100, help="metrics in the run (default 100)")
    args = p.parse_args()
    reps = args.reps or (3 if args.quick else 5)
    n_steps = args.steps or (10_000 if args.quick else 100_000)
    n_metrics = args.metrics
    points = n_metrics * n_steps
    print(f"resume: {n_metrics} metrics x {n_steps} steps = {points / 1e6:g}M points, {reps} repetitions")
    with scratch_dir(args.tmp, "resume") as tmp:
        t = time.perf_counter()
        run_dir = make_run(tmp, n_metrics, n_steps)
        size = sum(f.stat().st_size for f in (run_dir / "metrics").rglob("*.jsonl"))
        print(f"  wrote {size / 1e6:.0f} MB of metric files in {time.perf_counter() - t:.1f} s")
        cache = run_dir / "stepindex.json"
        cache.unlink(missing_ok=True)
        # A first resume (untimed) checks the files were understood: every metric goes
        # on at step n_steps. It also writes the index cache.
        run_child(RESUME_CHILD, str(tmp), RUN_ID, str(n_metrics))
        expected = n_steps
        for j in (0, n_metrics - 1):
            got = last_step(run_dir / "metrics" / f"{metric_name(j)}.jsonl")
            assert got == expected, f"resume wrote step {got}, expected {expected}"
        assert cache.exists(), "finish() did not write stepindex.json"
        copy = tmp / "copied" / run_dir.name
        shutil.copytree(run_dir, copy)
        copied_cache = (copy / "stepindex.json").read_bytes()  # as copied: the original's inodes

        samples: dict[str, list[dict[str, float]]] = {"cache": [], "copy": [], "nocache": [], "read": []}
        for rep in range(reps):
            order = ["nocache", "cache", "copy", "read"]
            if rep % 2:
                order.reverse()
            for which in order:
                if which == "read":
                    samples["read"].append(run_child(READ_CHILD, str(run_dir / "metrics")))
                    continue
                if which == "copy":
                    (copy / "stepindex.json").write_bytes(copied_cache)  # not the one its last resume wrote
                    samples["copy"].append(run_child(RESUME_CHILD, str(copy.parent), RUN_ID, str(n_metrics)))
                    continue
                if which == "nocache":
                    cache.unlink()
                samples[which].append(run_child(RESUME_CHILD, str(tmp), RUN_ID, str(n_metrics)))
                expected += 1
        got = last_step(run_dir / "metrics" / f"{metric_name(0)}.jsonl")
        assert got == expected, f"resume wrote step {got}, expected {expected}"

    read = [s["read"] for s in samples["read"]]
    results = []
    cases = (
        ("cache", "with stepindex.json"),
        ("copy", "copied folder (new inodes), with stepindex.json"),
        ("nocache", "without stepindex.json (rescan)"),
    )
    for which, label in cases:
        s = samples[which]
        value = [x["resume"] for x in s]
        ratios = [v / r for v, r in zip(value, read)]
        results.append(
            Result(
                "resume 10M points" if points == 10_000_000 else f"resume {points / 1e6:g}M points",
                f"init + log() of {n_metrics} metrics, {label}",
                "s",
                median(value),
                "read all files",
                median(read),
                f"< {TARGET_S:g} s",
                median(value) < TARGET_S,
                ratio=median(ratios),
                samples=value,
                baseline_samples=read,
                note=", ".join(
                    f"{'not timed: ' if part == 'import' else ''}{part} {median([x[part] for x in s]):.3f} s"
                    for part in ("init", "log", "import", "finish")
                ),
            )
        )
        print(f"  {label:<34} {median(value):6.3f} s  ({results[-1]['note']})")
    print(f"  {'baseline: read every file':<34} {median(read):6.3f} s")
    print()
    print_table(results)
    write_results(args.json, results)


if __name__ == "__main__":
    main()

"""Reading and exporting 1M points of one run (10 metrics x 100,000 steps).

Three measurements, each against the same baseline measured in the same repetition:

- ``swanlog_core.reader``: ``open_run(path)``, then ``history(name)`` of every name in
  ``metric_names()``: once using its columns (``steps``, ``values``, ``ts``: what a plot
  or a DataFrame takes), once with ``.points``, every point built as a ``Point`` tuple;
- ``swanlog_core.export.export_run(run, fmt, file)`` in this process, jsonl and csv;
- ``swanlog export RUN --format jsonl -o FILE`` and ``--format csv``, run as the user
  runs it: a fresh process, so its figure includes starting Python and importing the CLI
  (reported apart as "startup");
- baseline: for every metric file, read its bytes, split the lines and ``orjson.loads``
  each one: what any JSONL reader has to do at least.

The run is written with ``log()`` once; the files are then in the page cache.
Target (the issue): under 1 s for each.

    python benchmarks/bench_read.py [--quick] [--reps N] [--steps N]
"""

from __future__ import annotations

import gc
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import orjson
from _common import Result, child_env, median, parser, print_table, scratch_dir, write_results

import swanlog_core as swanlog

TARGET_S = 1.0
N_METRICS = 10
CLI = "import sys; from swanlog_cli.main import main; sys.exit(main())"


def make_run(logdir: Path, n_steps: int) -> Path:
    """A finished run of N_METRICS x n_steps points, written by log()."""
    names = [f"train/metric_{j}" if j % 2 else f"val/metric_{j}" for j in range(N_METRICS)]
    with swanlog.init(project="bench", logdir=logdir) as run:
        for s in range(n_steps):
            swanlog.log({name: 1.0 / (s + 1) + j * 1e-3 for j, name in enumerate(names)})
        return run.dir


def read_baseline(run_dir: Path) -> tuple[float, int]:
    """Seconds to read + split + orjson.loads every line of every metric file; points read."""
    files = sorted(p for p in (run_dir / "metrics").rglob("*.jsonl"))
    loads = orjson.loads
    gc.collect()
    t0 = time.perf_counter()
    n = 0
    for path in files:
        with open(path, "rb") as f:
            points = [loads(line) for line in f.read().splitlines()]
        n += len(points)
    return time.perf_counter() - t0, n


def read_swanlog(run_dir: Path, points: bool) -> tuple[float, int]:
    """Seconds to read every point of every metric through swanlog_core.reader; points read.

    With ``points`` every point is built as a Point tuple, else the columns are used.
    """
    from swanlog_core.reader import open_run

    gc.collect()
    t0 = time.perf_counter()
    run = open_run(run_dir)
    n = 0
    for name in run.metric_names():
        history = run.history(name)
        n += (
            len(history.points)
            if points
            else len(history.steps) + len(history.values) // 2 - len(history.ts) // 2
        )
    return time.perf_counter() - t0, n


def export_inprocess(run_dir: Path, fmt: str, out: Path) -> float:
    """Seconds for export_run() of the whole run to a file, in this process."""
    from swanlog_core.export import export_run
    from swanlog_core.reader import open_run

    gc.collect()
    t0 = time.perf_counter()
    with open(out, "wb") as f:
        export_run(open_run(run_dir), fmt, f)
    return time.perf_counter() - t0


def cli_available() -> bool:
    proc = subprocess.run(
        [sys.executable, "-c", "import swanlog_cli.main"], env=child_env(), capture_output=True
    )
    return proc.returncode == 0


def time_cli(args: list[str]) -> float:
    """Wall seconds of one `swanlog ...` process."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CLI, *args], env=child_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"swanlog {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed


def time_startup() -> float:
    """Wall seconds of a process that only imports the CLI (the fixed cost in each export)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import swanlog_cli.main"], env=child_env(), check=True)
    return time.perf_counter() - t0


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return f.read().count(b"\n")


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=None, help="steps per metric (default 100000)")
    args = p.parse_args()
    reps = args.reps or (3 if args.quick else 7)
    n_steps = args.steps or (10_000 if args.quick else 100_000)
    points = N_METRICS * n_steps
    have_reader = importlib.util.find_spec("swanlog_core.reader") is not None
    have_export = importlib.util.find_spec("swanlog_core.export") is not None
    have_cli = cli_available()
    print(
        f"read/export: {N_METRICS} metrics x {n_steps} steps = {points / 1e6:g}M points, {reps} repetitions"
    )
    if not have_reader:
        print("  swanlog_core.reader is not there yet: reader figure skipped")
    if not have_export:
        print("  swanlog_core.export is not there yet: in-process export figures skipped")
    if not have_cli:
        print("  swanlog_cli is not there yet: export figures skipped")

    label = "1M points" if points == 1_000_000 else f"{points / 1e6:g}M points"
    samples: dict[str, list[float]] = {
        k: [] for k in ("base", "columns", "reader", "fn-jsonl", "fn-csv", "jsonl", "csv", "startup")
    }
    with scratch_dir(args.tmp, "read") as tmp:
        t = time.perf_counter()
        run_dir = make_run(tmp / "logs", n_steps)
        print(f"  wrote the run with log() in {time.perf_counter() - t:.1f} s")
        out = {"jsonl": tmp / "out.jsonl", "csv": tmp / "out.csv"}
        for rep in range(reps):
            order = list(samples)
            if rep % 2:
                order.reverse()
            for which in order:
                if which == "base":
                    elapsed, n = read_baseline(run_dir)
                    assert n == points, f"baseline read {n} points, expected {points}"
                elif which in ("columns", "reader"):
                    if not have_reader:
                        continue
                    elapsed, n = read_swanlog(run_dir, points=which == "reader")
                    assert n == points, f"reader read {n} points, expected {points}"
                elif which.startswith("fn-"):
                    if not have_export:
                        continue
                    fmt = which[3:]
                    elapsed = export_inprocess(run_dir, fmt, out[fmt])
                    lines = count_lines(out[fmt])
                    assert lines in (points, points + 1), (
                        f"export_run {fmt} wrote {lines} lines, expected {points}"
                    )
                elif which == "startup":
                    if not have_cli:
                        continue
                    elapsed = time_startup()
                else:
                    if not have_cli:
                        continue
                    out[which].unlink(missing_ok=True)
                    elapsed = time_cli(["export", str(run_dir), "--format", which, "-o", str(out[which])])
                    lines = count_lines(out[which])
                    assert lines in (points, points + 1), (
                        f"export {which} wrote {lines} lines, expected {points}"
                    )
                samples[which].append(elapsed)

    base = samples["base"]
    results = []
    rows = [
        ("columns", "reader: history() of every metric, columns"),
        ("reader", "reader: history() of every metric, .points"),
        ("fn-jsonl", "export_run(jsonl) to a file, in-process"),
        ("fn-csv", "export_run(csv) to a file, in-process"),
        ("jsonl", "`swanlog export --format jsonl` (process)"),
        ("csv", "`swanlog export --format csv` (process)"),
    ]
    for which, case in rows:
        s = samples[which]
        if not s:
            continue
        ratios = [a / b for a, b in zip(s, base)]
        note = ""
        if which in ("jsonl", "csv"):
            note = f"startup (python + import swanlog_cli) {median(samples['startup']):.3f} s"
        results.append(
            Result(
                f"read {label}",
                case,
                "s",
                median(s),
                "read+split+orjson.loads",
                median(base),
                f"< {TARGET_S:g} s",
                median(s) < TARGET_S,
                ratio=median(ratios),
                samples=s,
                baseline_samples=base,
                note=note,
            )
        )
    print(f"  baseline (read + split + orjson.loads per line): {median(base):.3f} s")
    for r in results:
        print(f"  {r['case']:<45} {r['value']:.3f} s  ratio {r['ratio']:.2f}x {r['note']}")
    if samples["startup"]:
        print(f"  startup alone (python -c 'import swanlog_cli.main'): {median(samples['startup']):.3f} s")
    print()
    print_table(results)
    write_results(
        args.json,
        results,
        {
            "skipped": [
                x
                for x, ok in (
                    ("reader", have_reader),
                    ("export_run", have_export),
                    ("swanlog export", have_cli),
                )
                if not ok
            ]
        },
    )


if __name__ == "__main__":
    main()

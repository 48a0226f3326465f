"""What every benchmark script shares: the checkout on sys.path, medians, results, the table.

A benchmark measures swanlog and a baseline in the same run, interleaved, several
times, and reports medians and their ratio: the machines are shared and noisy, so one
timing alone says little and a ratio to a baseline measured a second earlier says more.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # benchmark this checkout, not an installed copy

__all__ = [
    "REPO",
    "Result",
    "child_env",
    "machine",
    "median",
    "parser",
    "print_table",
    "run_child",
    "scratch_dir",
    "write_results",
]


def parser(description: str) -> argparse.ArgumentParser:
    """The flags every benchmark script takes: --quick, --reps, --json."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="a fast smoke run: less data, fewer repetitions")
    p.add_argument("--reps", type=int, default=None, help="repetitions per case (default: 7, quick: 3)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE (for run_all.py)")
    p.add_argument("--tmp", metavar="DIR", help="where to put scratch data (default: the system temp dir)")
    return p


def median(xs: list[float]) -> float:
    """The median, which one slow repetition (a neighbour's job) does not move."""
    return statistics.median(xs)


class Result(dict):
    """One row of the table: a swanlog figure, its baseline, their ratio, the target."""

    def __init__(
        self,
        bench: str,
        case: str,
        unit: str,
        value: float,
        baseline_name: str,
        baseline: float | None,
        target: str,
        passed: bool | None,
        ratio: float | None = None,
        samples: list[float] | None = None,
        baseline_samples: list[float] | None = None,
        note: str = "",
    ) -> None:
        if ratio is None and baseline:
            ratio = value / baseline
        super().__init__(
            bench=bench,
            case=case,
            unit=unit,
            value=value,
            baseline_name=baseline_name,
            baseline=baseline,
            ratio=ratio,
            target=target,
            passed=passed,
            samples=samples or [],
            baseline_samples=baseline_samples or [],
            note=note,
        )


def _fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "-"
    if abs(x) >= 100:
        s = f"{x:.0f}"
    elif abs(x) >= 10:
        s = f"{x:.1f}"
    else:
        s = f"{x:.2f}"
    return f"{s} {unit}".strip()


def table_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    """Header + one row of strings per result."""
    rows = [["benchmark", "case", "swanlog (median)", "baseline (median)", "ratio", "target", "result"]]
    for r in results:
        verdict = {True: "pass", False: "FAIL", None: "-"}[r["passed"]]
        base = "-" if r["baseline"] is None else f"{_fmt(r['baseline'], r['unit'])} ({r['baseline_name']})"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        rows.append([r["bench"], r["case"], _fmt(r["value"], r["unit"]), base, ratio, r["target"], verdict])
    return rows


def print_table(results: list[dict[str, Any]], markdown: bool = False) -> None:
    """Print results as an aligned text table, or as a Markdown table."""
    rows = table_rows(results)
    if markdown:
        print("| " + " | ".join(rows[0]) + " |")
        print("|" + "|".join(" --- " for _ in rows[0]) + "|")
        for row in rows[1:]:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for k, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))


def machine() -> dict[str, Any]:
    """Where the figures come from: CPU count, Python, orjson, kernel, date."""
    import orjson

    try:
        git = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        git = ""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "orjson": orjson.__version__,
        "platform": platform.platform(),
        "git": git,
    }


def write_results(
    path: str | None, results: list[dict[str, Any]], extra: dict[str, Any] | None = None
) -> None:
    """Write results as JSON for run_all.py (when --json was given)."""
    if path:
        Path(path).write_text(json.dumps({"results": results, **(extra or {})}, indent=2))


@contextmanager
def scratch_dir(base: str | None, prefix: str) -> Iterator[Path]:
    """A temp folder for scratch data, removed afterwards whatever happens."""
    d = Path(tempfile.mkdtemp(prefix=f"swanlog-bench-{prefix}-", dir=base))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def child_env() -> dict[str, str]:
    """The environment for a fresh child process: this checkout first on PYTHONPATH."""
    # SWANLOG_TEST_PG_URL stays: the ingest and sync benchmarks measure PostgreSQL with it
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWANLOG_") or k == "SWANLOG_TEST_PG_URL"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def run_child(code: str, *args: str) -> dict[str, Any]:
    """Run ``code`` in a fresh Python process; it prints one JSON object on its last line."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=child_env(), timeout=1800
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])

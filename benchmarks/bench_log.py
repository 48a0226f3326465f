"""Cost of one ``log()`` call, against the floor of doing the same writes by hand.

The floor is what any logger with swanlog's durability rule (every returned point has
reached the OS) must pay at least: per call one ``time.time()``, and per metric one
``orjson.dumps({"step", "value", "ts"})`` and one ``os.write`` on an fd opened with
O_APPEND, with the same values, the same number of metrics and one ts per call.
Target (the issue): ``log()`` of 10 scalars costs at most 2x the floor.

Floor and swanlog run interleaved in every repetition, each into a fresh folder on the
same filesystem; the figures are medians over the repetitions, and the ratio is the
median of the per-repetition ratios.

    python benchmarks/bench_log.py [--quick] [--reps N] [--points N] [--profile]
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

import orjson
from _common import Result, median, parser, print_table, scratch_dir, write_results

import swanlog_core as swanlog

TARGET_RATIO = 2.0
# (case label, metrics per call, explicit step?)
CASES = [
    ("1 metric, auto step", 1, False),
    ("10 metrics, auto step", 10, False),
    ("10 metrics, step=i", 10, True),
    ("100 metrics, auto step", 100, False),
]


def make_calls(n_metrics: int, n_calls: int) -> tuple[list[str], list[dict[str, float]]]:
    """The dicts one training loop would pass: distinct float values, names with a section."""
    names = [f"train/metric_{j}" for j in range(n_metrics)]
    calls = [
        {name: (i * n_metrics + j) * 1.0e-3 + 0.5 for j, name in enumerate(names)} for i in range(n_calls)
    ]
    return names, calls


def time_floor(folder: Path, names: list[str], calls: list[dict[str, float]]) -> float:
    """Seconds for the hand-written floor loop over ``calls``."""
    (folder / "train").mkdir(parents=True)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
    fds = {name: os.open(folder / f"{name}.jsonl", flags, 0o644) for name in names}
    dumps, write, now, opt = orjson.dumps, os.write, time.time, orjson.OPT_APPEND_NEWLINE
    gc.collect()
    t0 = time.perf_counter()
    for step, data in enumerate(calls):
        ts = now()
        for name, value in data.items():
            write(fds[name], dumps({"step": step, "value": value, "ts": ts}, option=opt))
    elapsed = time.perf_counter() - t0
    for fd in fds.values():
        os.close(fd)
    return elapsed


def time_swanlog(folder: Path, calls: list[dict[str, float]], explicit_step: bool) -> float:
    """Seconds for ``swanlog.log()`` over ``calls`` (init and finish not timed)."""
    swanlog.init(project="bench", logdir=folder)
    log = swanlog.log
    gc.collect()
    t0 = time.perf_counter()
    if explicit_step:
        for step, data in enumerate(calls):
            log(data, step=step)
    else:
        for data in calls:
            log(data)
    elapsed = time.perf_counter() - t0
    swanlog.finish()
    return elapsed


def check_same_bytes(folder: Path, names: list[str], calls: list[dict[str, float]]) -> None:
    """The floor writes what swanlog writes, up to ts: the comparison is like for like."""
    time_floor(folder / "floor", names, calls[:3])
    time_swanlog(folder / "lib", calls[:3], explicit_step=False)
    (run_dir,) = (folder / "lib").iterdir()
    for name in names:
        a = [orjson.loads(x) for x in (folder / "floor" / f"{name}.jsonl").read_bytes().splitlines()]
        b = [orjson.loads(x) for x in (run_dir / "metrics" / f"{name}.jsonl").read_bytes().splitlines()]
        strip = [{k: v for k, v in d.items() if k != "ts"} for d in a]
        assert strip == [{k: v for k, v in d.items() if k != "ts"} for d in b], name
        assert list(a[0]) == list(b[0]) == ["step", "value", "ts"], name


def bench_case(
    base: str | None, label: str, n_metrics: int, explicit: bool, points: int, reps: int
) -> Result:
    n_calls = max(1, points // n_metrics)
    names, calls = make_calls(n_metrics, n_calls)
    floor, lib, ratios = [], [], []
    with scratch_dir(base, "log") as tmp:
        check_same_bytes(tmp / "check", names, calls)
        for rep in range(reps):
            # Alternate which goes first, so a slow stretch of the machine hits both.
            order = ("floor", "lib") if rep % 2 == 0 else ("lib", "floor")
            t = {}
            for which in order:
                folder = tmp / f"{which}-{rep}"
                if which == "floor":
                    t[which] = time_floor(folder, names, calls)
                else:
                    t[which] = time_swanlog(folder, calls, explicit)
            floor.append(t["floor"] / n_calls * 1e6)
            lib.append(t["lib"] / n_calls * 1e6)
            ratios.append(t["lib"] / t["floor"])
    ratio = median(ratios)
    return Result(
        "log()",
        f"{label} ({n_calls} calls)",
        "µs/call",
        median(lib),
        "floor",
        median(floor),
        f"≤ {TARGET_RATIO:g}x floor",
        ratio <= TARGET_RATIO,
        ratio=ratio,
        samples=lib,
        baseline_samples=floor,
    )


def profile_case(base: str | None, n_metrics: int, n_calls: int) -> None:
    """cProfile of log() with n_metrics scalars: where the time above the floor goes."""
    import cProfile
    import pstats

    _, calls = make_calls(n_metrics, n_calls)
    with scratch_dir(base, "logprof") as tmp:
        swanlog.init(project="bench", logdir=tmp)
        log = swanlog.log
        prof = cProfile.Profile()
        prof.enable()
        for data in calls:
            log(data)
        prof.disable()
        swanlog.finish()
    pstats.Stats(prof).sort_stats("tottime").print_stats(12)


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--points", type=int, default=None, help="points per repetition (default 100000)")
    p.add_argument("--profile", action="store_true", help="also print a cProfile of log() of 10 scalars")
    args = p.parse_args()
    reps = args.reps or (3 if args.quick else 7)
    points = args.points or (20_000 if args.quick else 100_000)
    print(f"log(): {points} points per repetition, {reps} repetitions, floor and swanlog interleaved")
    results = []
    for label, n_metrics, explicit in CASES:
        r = bench_case(args.tmp, label, n_metrics, explicit, points, reps)
        print(
            f"  {r['case']:<40} swanlog {r['value']:7.2f} µs/call  floor {r['baseline']:7.2f} µs/call"
            f"  ratio {r['ratio']:.2f}x  ({r['value'] / n_metrics:.2f} µs/point)",
            flush=True,
        )
        results.append(r)
    print()
    print_table(results)
    if args.profile:
        print()
        profile_case(args.tmp, 10, points // 10)
    write_results(args.json, results)


if __name__ == "__main__":
    main()

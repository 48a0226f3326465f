"""Memory that 10M logged points add to the training process.

A fresh process imports swanlog, starts a run and logs one value to each of 100 metrics
per call, 100,000 calls (10M points), through ``log()``. Its resident set size
(``/proc/self/statm``) is read after ``init()`` and again after the last ``log()``;
the difference is what the points cost the process. ``ru_maxrss`` (the peak) is
reported beside it. Nothing is kept per point: each metric keeps its file descriptor,
its last value and its step index, which holds a run of steps 0, 1, 2, ... as three ints.

Baseline, in another fresh process: the same measurement around building a Python
``set`` of 10M ints, what a naive "steps seen" index would hold.
Target (the issue): under 50 MB.

Logging 10M points takes a while (about 3 µs a point); ``--points`` makes it shorter
(the docs report the full 10M).

    python benchmarks/bench_memory.py [--quick] [--reps N] [--points N]
"""

from __future__ import annotations

from _common import Result, median, parser, print_table, run_child, scratch_dir, write_results

TARGET_MB = 50.0

RSS = r"""
import os, resource
PAGE = os.sysconf("SC_PAGE_SIZE")
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 1e6
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # kB on Linux
"""

LOG_CHILD = (
    RSS
    + r"""
import gc, json, sys, time
import swanlog_core as swanlog
logdir, n_metrics, n_steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
names = [f"group{j // 10}/metric{j % 10}" for j in range(n_metrics)]
run = swanlog.init(project="bench", logdir=logdir)
swanlog.log({name: 0.0 for name in names})  # first use of each metric: fds, state
gc.collect()
before, peak_before = rss_mb(), peak_mb()
t0 = time.perf_counter()
log = swanlog.log
for step in range(1, n_steps):
    x = 1.0 / step
    log({name: x for name in names})
elapsed = time.perf_counter() - t0
gc.collect()
after, peak_after = rss_mb(), peak_mb()
swanlog.finish()
print(json.dumps({"before": before, "after": after, "peak_before": peak_before,
                  "peak_after": peak_after, "seconds": elapsed}))
"""
)

SET_CHILD = (
    RSS
    + r"""
import gc, json, sys
n = int(sys.argv[1])
gc.collect()
before = rss_mb()
seen = set(range(n))
gc.collect()
after = rss_mb()
print(json.dumps({"before": before, "after": after, "peak_before": before,
                  "peak_after": peak_mb(), "seconds": 0.0}))
"""
)


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--points", type=int, default=None, help="points to log (default 10M; quick: 1M)")
    args = p.parse_args()
    reps = args.reps or (1 if args.quick else 3)
    points = args.points or (1_000_000 if args.quick else 10_000_000)
    n_metrics = 100
    n_steps = points // n_metrics
    points = n_metrics * n_steps
    print(f"memory: {n_metrics} metrics x {n_steps} steps = {points / 1e6:g}M points, {reps} repetitions")
    logged, sets = [], []
    for rep in range(reps):
        with scratch_dir(args.tmp, "memory") as tmp:
            logged.append(run_child(LOG_CHILD, str(tmp), str(n_metrics), str(n_steps)))
        sets.append(run_child(SET_CHILD, str(points)))
        a, s = logged[-1], sets[-1]
        print(
            f"  rep {rep}: log() added {a['after'] - a['before']:.1f} MB RSS (peak {a['peak_after']:.0f} MB, "
            f"{a['seconds']:.1f} s, {a['seconds'] / points * 1e6:.2f} µs/point); "
            f"set of {points / 1e6:g}M ints: {s['after'] - s['before']:.0f} MB",
            flush=True,
        )
    added = [a["after"] - a["before"] for a in logged]
    peak_added = [a["peak_after"] - a["peak_before"] for a in logged]
    set_added = [s["after"] - s["before"] for s in sets]
    label = "10M points" if points == 10_000_000 else f"{points / 1e6:g}M points"
    results = [
        Result(
            f"memory, {label}",
            f"RSS added by log() of {n_metrics} metrics x {n_steps} steps",
            "MB",
            median(added),
            f"set of {points / 1e6:g}M ints",
            median(set_added),
            f"< {TARGET_MB:g} MB",
            median(added) < TARGET_MB,
            samples=added,
            baseline_samples=set_added,
            note=f"peak RSS growth {median(peak_added):.1f} MB; "
            f"{median([a['seconds'] for a in logged]) / points * 1e6:.2f} µs/point while logging",
        )
    ]
    print()
    print_table(results)
    write_results(args.json, results)


if __name__ == "__main__":
    main()

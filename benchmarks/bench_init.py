"""What environment capture (env.json) and console capture (console.log) add to ``init()``.

Each measurement is a fresh Python process (run from this checkout, so git has a
repository to describe) that imports swanlog untimed, then times ``init()`` alone and
``init()`` + ``finish()`` with one ``log()`` between them. Cases, interleaved:

- off: ``init(env=False, console=False)``, the baseline;
- env: ``init(env=True, console=False)``: the quick parts written at once, git,
  nvidia-smi and package metadata started in the background;
- console: ``init(env=False, console=True)``: the pipes and the tee process started;
- both: the default, ``init()``.

``finish()`` with env on waits for the background collection (git status, the package
scan), so init + finish shows what a short script pays in all. Target (the issue):
collecting must not delay ``init()`` by more than 100 ms: median init of "both" minus
median init of "off".

    python benchmarks/bench_init.py [--quick] [--reps N]
"""

from __future__ import annotations

from _common import REPO, Result, median, parser, print_table, run_child, scratch_dir, write_results

TARGET_MS = 100.0

CHILD = r"""
import json, os, sys, time
os.chdir(sys.argv[3])
import swanlog_core as swanlog
env, console = sys.argv[2] in ("env", "both"), sys.argv[2] in ("console", "both")
t0 = time.perf_counter()
swanlog.init(logdir=sys.argv[1], env=env, console=console)
t1 = time.perf_counter()
swanlog.log({"loss": 0.5})
swanlog.finish()
t2 = time.perf_counter()
print(json.dumps({"init": t1 - t0, "init_finish": t2 - t0}))
"""

CASES = ("off", "env", "console", "both")


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    args = p.parse_args()
    reps = args.reps or (5 if args.quick else 15)
    print(f"init: env and console capture on and off, {reps} fresh processes per case, cwd {REPO}")
    samples: dict[str, list[dict[str, float]]] = {case: [] for case in CASES}
    with scratch_dir(args.tmp, "init") as tmp:
        run_child(CHILD, str(tmp), "both", str(REPO))  # warm the page cache and pyc files
        for rep in range(reps):
            order = CASES if rep % 2 == 0 else CASES[::-1]
            for case in order:
                samples[case].append(run_child(CHILD, str(tmp), case, str(REPO)))

    def ms(case: str, key: str) -> list[float]:
        return [s[key] * 1000 for s in samples[case]]

    base_init, base_total = median(ms("off", "init")), median(ms("off", "init_finish"))
    results = []
    for case in CASES[1:]:
        init = median(ms(case, "init"))
        added = init - base_init
        results.append(
            Result(
                "init",
                f"init(), {case} on",
                "ms",
                init,
                "init(), capture off",
                base_init,
                f"+{TARGET_MS:.0f} ms at most",
                added <= TARGET_MS,
                samples=ms(case, "init"),
                baseline_samples=ms("off", "init"),
                note=f"adds {added:.1f} ms",
            )
        )
    for case in CASES[1:]:
        total = median(ms(case, "init_finish"))
        results.append(
            Result(
                "init",
                f"init()+finish(), {case} on",
                "ms",
                total,
                "capture off",
                base_total,
                "-",
                None,
                samples=ms(case, "init_finish"),
                baseline_samples=ms("off", "init_finish"),
                note=f"adds {total - base_total:.1f} ms",
            )
        )
    print_table(results)
    for r in results:
        print(f"  {r['case']}: {r['note']}")
    write_results(args.json, results)
    if not all(r["passed"] is not False for r in results):
        raise SystemExit(f"init() with env and console capture exceeds the {TARGET_MS:.0f} ms budget")


if __name__ == "__main__":
    main()

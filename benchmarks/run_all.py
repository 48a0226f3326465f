"""Run every benchmark, each in its own process, and print one table of the results.

    python benchmarks/run_all.py [--quick] [--markdown]
        [--only log,read,resume,memory,init,ingest,sync,dashboard]

Each script prints its own details as it goes; the table at the end has, per figure,
the median over the repetitions, the baseline measured in the same run, their ratio,
the target and whether it is met. --markdown prints the table as docs/benchmarks.md
shows it. A full run takes about 15 minutes on 2 cores; --quick a minute or two. The ingest
and sync scripts measure PostgreSQL too when SWANLOG_TEST_PG_URL is set.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import child_env, machine, print_table

HERE = Path(__file__).resolve().parent
SCRIPTS = {
    "log": "bench_log.py",
    "read": "bench_read.py",
    "resume": "bench_resume.py",
    "memory": "bench_memory.py",
    "init": "bench_init.py",
    "ingest": "bench_ingest.py",
    "sync": "bench_sync.py",
    "dashboard": "bench_dashboard.py",
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a fast smoke run of every script")
    p.add_argument(
        "--only", default=",".join(SCRIPTS), help="comma-separated subset of: " + ", ".join(SCRIPTS)
    )
    p.add_argument("--markdown", action="store_true", help="print the final table as Markdown")
    p.add_argument("--tmp", metavar="DIR", help="where to put scratch data (default: the system temp dir)")
    p.add_argument("--json", metavar="FILE", help="also write every result and the machine as JSON")
    args = p.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SCRIPTS]
    if unknown:
        p.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(SCRIPTS)}")

    info = machine()
    print(
        f"swanlog benchmarks, {info['date']}: {info['nproc']} CPUs ({info['cpu']}), Python {info['python']}, "
        f"orjson {info['orjson']}, git {info['git'] or '?'}{' (quick)' if args.quick else ''}"
    )
    results, skipped, failed = [], [], []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="swanlog-bench-results-") as out:
        for name in chosen:
            print(f"\n== {SCRIPTS[name]}", flush=True)
            json_path = Path(out) / f"{name}.json"
            cmd = [sys.executable, str(HERE / SCRIPTS[name]), "--json", str(json_path)]
            if args.quick:
                cmd.append("--quick")
            if args.tmp:
                cmd += ["--tmp", args.tmp]
            code = subprocess.run(cmd, env=child_env()).returncode
            if code != 0 or not json_path.exists():
                failed.append(name)
                continue
            doc = json.loads(json_path.read_text())
            results += doc["results"]
            skipped += [f"{name}: {what}" for what in doc.get("skipped", [])]
    print(f"\n== all ({time.perf_counter() - started:.0f} s)\n")
    print_table(results, markdown=args.markdown)
    for note in (r for r in results if r.get("note")):
        print(f"  {note['case']}: {note['note']}")
    if skipped:
        print(f"\nskipped (not there yet): {'; '.join(skipped)}")
    if failed:
        print(f"\nbenchmark scripts that failed: {', '.join(failed)}")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "results": results}, indent=2))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

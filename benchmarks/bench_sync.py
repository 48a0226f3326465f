"""``swanlog sync`` end to end: a 10M-point run into a real ``swanlog server``, and live lag.

Measurements, interleaved per repetition:

- one-shot ``swanlog sync RUN`` (a fresh CLI process, so startup is included) of one run
  of 100 metrics x 100,000 steps (``--quick``: 20 x 10,000) into a fresh ``swanlog server``
  on SQLite: points/s, median;
- baseline (the floor of the database alone): the same points, as ready-made tuples, into
  the server's table with ``executemany("INSERT OR IGNORE ...")`` in 50,000-row
  transactions, WAL and ``synchronous=FULL`` as the server uses;
- with ``SWANLOG_TEST_PG_URL`` set, the same into PostgreSQL, against COPY into a temp
  table + ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` per 50,000 rows;
- live lag: a training script logs a few hundred points (one every 20 ms) while
  ``swanlog sync --watch`` runs; the lag of a point is the time from its ``ts`` (taken by
  ``log()``) to the moment a poller (every 5 ms) first sees it on the server; p50, p99.

Target (the issue): 300,000 points/s end to end on SQLite; live lag p99 under 1 s.

    python benchmarks/bench_sync.py [--quick] [--reps N] [--metrics N --steps N] [--lag-points N]
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import httpx
import orjson
from _common import Result, child_env, machine, median, parser, print_table, scratch_dir, write_results

import swanlog_core as swanlog
from tests.serverproc import ServerProcess, start_server

TARGET_PPS = 300_000
TARGET_LAG_S = 1.0
BATCH = 50_000
CLI = [sys.executable, "-m", "swanlog_cli.main"]


def make_run(logdir: Path, n_metrics: int, n_steps: int) -> tuple[Path, list[tuple[str, list[tuple]]]]:
    """A finished run whose metric files hold n_metrics x n_steps points, written as the writer writes
    them (init/finish by swanlog, the lines by orjson, which is what log() uses); also the rows."""
    with swanlog.init(project="bench", logdir=logdir) as run:
        run_dir = run.dir
    rows: list[tuple[str, list[tuple]]] = []
    t0 = time.time()
    for m in range(n_metrics):
        name = f"train/metric_{m:03d}" if m % 2 else f"val/metric_{m:03d}"
        pts = [(s, 1.0 / (s + 1) + m * 1e-3, t0 + s * 1e-3) for s in range(n_steps)]
        path = run_dir / "metrics" / (name + ".jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            b"".join(
                orjson.dumps({"step": s, "value": v, "ts": t}, option=orjson.OPT_APPEND_NEWLINE)
                for s, v, t in pts
            )
        )
        rows.append((name, pts))
    return run_dir, rows


def time_sync(server: ServerProcess, key: str, run_dir: Path) -> float:
    """Seconds of one ``swanlog sync RUN`` from a clean state (fresh CLI process)."""
    for f in (run_dir / "sync").glob("*"):
        f.unlink()
    start = time.perf_counter()
    out = subprocess.run(
        [*CLI, "sync", str(run_dir), "--server", server.url, "--api-key", key],
        env=child_env(),
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"swanlog sync failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return seconds


def sqlite_floor(path: Path, rows: list[tuple[str, list[tuple]]]) -> float:
    """Seconds to INSERT OR IGNORE every point into the server's points table, 50k rows a commit."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute(
        "CREATE TABLE points (mid INTEGER NOT NULL, step INTEGER NOT NULL, value, extra TEXT,"
        " ts REAL NOT NULL, PRIMARY KEY (mid, step)) WITHOUT ROWID"
    )
    flat = [(mid, s, v, None, t) for mid, (_, pts) in enumerate(rows) for s, v, t in pts]
    start = time.perf_counter()
    for i in range(0, len(flat), BATCH):
        conn.execute("BEGIN")
        conn.executemany("INSERT OR IGNORE INTO points VALUES (?, ?, ?, ?, ?)", flat[i : i + BATCH])
        conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    conn.close()
    return seconds


def pg_floor(url: str, rows: list[tuple[str, list[tuple]]]) -> float:
    """Seconds to COPY + INSERT ... ON CONFLICT DO NOTHING every point, 50k rows a commit."""
    import psycopg

    flat = [(mid, s, v, None, t) for mid, (_, pts) in enumerate(rows) for s, v, t in pts]
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE points (mid BIGINT NOT NULL, step BIGINT NOT NULL, value DOUBLE PRECISION,"
            " extra TEXT, ts DOUBLE PRECISION NOT NULL, PRIMARY KEY (mid, step))"
        )
        conn.execute(
            "CREATE TEMP TABLE incoming (mid BIGINT, step BIGINT, value DOUBLE PRECISION, extra TEXT,"
            " ts DOUBLE PRECISION) ON COMMIT DELETE ROWS"
        )
        conn.commit()
        start = time.perf_counter()
        for i in range(0, len(flat), BATCH):
            with conn.cursor() as cur:
                with cur.copy("COPY incoming FROM STDIN") as copy:
                    for row in flat[i : i + BATCH]:
                        copy.write_row(row)
                cur.execute("INSERT INTO points SELECT * FROM incoming ON CONFLICT DO NOTHING")
            conn.commit()
        return time.perf_counter() - start


class PgDatabases:
    """Fresh PostgreSQL databases made from an admin URL, all dropped at the end."""

    def __init__(self, admin: str) -> None:
        self.admin = admin
        self.made: list[str] = []

    def new(self) -> str:
        import psycopg

        name = f"swanlog_bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        self.made.append(name)
        base = self.admin.rsplit("/", 1)[0]
        return f"{base}/{name}"

    def drop_all(self) -> None:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            for name in self.made:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


LIVE = """
import sys, time
import swanlog_core as swanlog
run = swanlog.init(project="bench", logdir=sys.argv[1])
print(run.id, flush=True)
n, every = int(sys.argv[2]), float(sys.argv[3])
sys.stdin.readline()  # go
next_at = time.monotonic()
for s in range(n):
    swanlog.log({"loss": 1.0 / (s + 1)}, step=s)
    next_at += every
    time.sleep(max(0.0, next_at - time.monotonic()))
swanlog.finish()
"""


def live_lag(tmp: Path, server: ServerProcess, key: str, n_points: int, every: float = 0.02) -> list[float]:
    """Per point: seconds from log() to first seen on the server, with ``sync --watch`` running."""
    logdir = tmp / f"live-{uuid.uuid4().hex[:6]}"
    script = tmp / "live.py"
    script.write_text(LIVE)
    trainer = subprocess.Popen(
        [sys.executable, str(script), str(logdir), str(n_points), str(every)],
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert trainer.stdout is not None and trainer.stdin is not None
    run_id = trainer.stdout.readline().strip()
    watcher = subprocess.Popen(
        [*CLI, "sync", str(logdir), "--watch", "--server", server.url, "--api-key", key],
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seen: dict[int, float] = {}
    ts: dict[int, float] = {}
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
            url = f"/api/v1/runs/{run_id}/metrics/loss"
            deadline = time.monotonic() + 60  # the watcher starts and PUTs the run
            while c.get(f"/api/v1/runs/{run_id}").status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError("swanlog sync --watch did not push the run within 60 s")
                time.sleep(0.01)
            trainer.stdin.write("go\n")
            trainer.stdin.flush()
            after = -1
            deadline = time.monotonic() + n_points * every + 60
            while len(seen) < n_points and time.monotonic() < deadline:
                resp = c.get(url, params={"after_step": after, "limit": 100_000})
                pts = resp.json()["points"] if resp.status_code == 200 else []
                now = time.time()
                for p in pts:
                    seen.setdefault(p["step"], now)
                    ts[p["step"]] = p["ts"]
                    after = max(after, p["step"])
                time.sleep(0.005)
    finally:
        trainer.stdin.close()
        trainer.wait(timeout=60)
        trainer.stdout.close()
        watcher.terminate()
        watcher.wait(timeout=60)
    return [seen[s] - ts[s] for s in sorted(seen)]


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--metrics", type=int, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--lag-points", type=int, default=None)
    args = p.parse_args()
    reps = args.reps or 3
    n_metrics = args.metrics or (20 if args.quick else 100)
    n_steps = args.steps or (10_000 if args.quick else 100_000)
    lag_points = args.lag_points or (100 if args.quick else 400)
    total = n_metrics * n_steps
    pg_admin = os.environ.get("SWANLOG_TEST_PG_URL")
    results: list[dict[str, Any]] = []
    with scratch_dir(args.tmp, "sync") as tmp:
        t = time.perf_counter()
        run_dir, rows = make_run(tmp / "logs", n_metrics, n_steps)
        print(f"wrote {total:,} points in {time.perf_counter() - t:.1f}s", file=sys.stderr)

        backends: list[tuple[str, Callable[[int], str], Callable[[int], float], str]] = [
            (
                "sqlite",
                lambda i: f"sqlite:///{tmp / f'server{i}.db'}",
                lambda i: sqlite_floor(tmp / f"floor{i}.db", rows),
                "executemany INSERT OR IGNORE",
            )
        ]
        pgs = PgDatabases(pg_admin) if pg_admin else None
        if pgs is not None:
            backends.append(
                (
                    "postgresql",
                    lambda i: pgs.new(),
                    lambda i: pg_floor(pgs.new(), rows),
                    "COPY + INSERT ON CONFLICT",
                )
            )
        try:
            for name, db_for, floor_for, floor_name in backends:
                syncs: list[float] = []
                floors: list[float] = []
                for i in range(reps):
                    with start_server(db_for(i)) as server:
                        key = server.create_key("bench")
                        syncs.append(time_sync(server, key, run_dir))
                    floors.append(floor_for(i))
                    rate, floor = total / syncs[-1], total / floors[-1]
                    print(f"{name} rep {i}: sync {rate:,.0f} points/s, floor {floor:,.0f}", file=sys.stderr)
                pps = [total / s for s in syncs]
                base = [total / s for s in floors]
                target = f">= {TARGET_PPS:,} points/s" if name == "sqlite" else "-"
                results.append(
                    Result(
                        "sync",
                        f"one-shot {n_metrics}x{n_steps:,} -> {name}",
                        "points/s",
                        median(pps),
                        floor_name,
                        median(base),
                        target,
                        median(pps) >= TARGET_PPS if name == "sqlite" else None,
                        samples=pps,
                        baseline_samples=base,
                    )
                )
            with start_server(f"sqlite:///{tmp / 'live.db'}") as server:
                key = server.create_key("bench")
                lags = live_lag(tmp, server, key, lag_points)
        finally:
            if pgs is not None:
                pgs.drop_all()
        p50, p99 = percentile(lags, 0.5), percentile(lags, 0.99)
        for label, value in (("p50", p50), ("p99", p99)):
            results.append(
                Result(
                    "sync",
                    f"--watch lag log() -> server, {label} of {len(lags)}",
                    "s",
                    value,
                    "-",
                    None,
                    f"< {TARGET_LAG_S:g} s" if label == "p99" else "-",
                    value < TARGET_LAG_S if label == "p99" else None,
                    samples=lags if label == "p50" else [],
                )
            )
    print_table(results)
    write_results(args.json, results, {"machine": machine()})


if __name__ == "__main__":
    main()

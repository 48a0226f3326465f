"""Ingest through the server: POST /api/v1/runs/{id}/records into SQLite (and PostgreSQL).

One run of N_METRICS metrics x ``--steps`` steps is sent as gzipped NDJSON batches of
``--batch`` lines, in metric order as sync sends them, over real HTTP to a real
``swanlog server`` process on a fresh database per repetition. The clock runs from the
first POST to the last acknowledgement; the bodies are built and gzipped beforehand
(that is the sync client's work, measured in bench_sync).

Baseline, measured in the same repetition on a fresh SQLite file: the same rows put
into the same ``points`` table by ``executemany("INSERT OR IGNORE ...")``, one
transaction per batch, ``synchronous=FULL``: the floor of what any Python server on
SQLite can do, with no HTTP, no JSON and no validation.

PostgreSQL too when ``SWANLOG_TEST_PG_URL`` is set (a fresh database per repetition).
Target (the issue): >= 300,000 points/s into SQLite end to end.

    python benchmarks/bench_ingest.py [--quick] [--reps N] [--steps N] [--batch N]
"""

from __future__ import annotations

import itertools
import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

import httpx
from _common import REPO, Result, child_env, median, parser, print_table, scratch_dir, write_results

from swanlog_core.server import open_store
from swanlog_core.server.auth import create_key
from swanlog_core.server.migrations import SQLITE

TARGET = 300_000  # points/s
N_METRICS = 100
_LISTENING = re.compile(rb"listening on (http://\S+)")


def _value(m: int, s: int) -> float:
    return 1.0 / (s + 1) + m


def _ts(s: int) -> float:
    return 1763828530.0 + s * 0.01


def make_batches(n_steps: int, batch: int) -> Iterator[bytes]:
    """NDJSON bodies of ``batch`` lines each, metric after metric, as sync sends them."""
    points = ((m, s) for m in range(N_METRICS) for s in range(n_steps))
    while chunk := list(itertools.islice(points, batch)):
        yield b"".join(
            b'{"metric":"train/m%03d","step":%d,"value":%r,"ts":%r}\n' % (m, s, _value(m, s), _ts(s))
            for m, s in chunk
        )


def floor_rows(n_steps: int, batch: int, k: int) -> list[tuple[int, int, float, None, float]]:
    """The rows of batch ``k`` as the points table holds them (metric ids from 1)."""
    first = k * batch
    last = min(first + batch, N_METRICS * n_steps)
    return [
        (1 + i // n_steps, i % n_steps, _value(i // n_steps, i % n_steps), None, _ts(i % n_steps))
        for i in range(first, last)
    ]


def gzip1(data: bytes) -> bytes:
    """gzip at level 1, as the sync client sends."""
    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


@contextmanager
def server(db_url: str) -> Iterator[str]:
    """A ``swanlog server`` process on ``db_url``; yields its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "swanlog_cli.main", "server", "--db", db_url, "--port", "0"],
        env=child_env(),
        cwd=REPO,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = _LISTENING.search(line)
        if m is None:
            raise RuntimeError(f"server did not start: {line!r}")
        yield m.group(1).decode()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        if proc.stdout is not None:
            proc.stdout.close()


def ingest(db_url: str, bodies: list[bytes]) -> float:
    """Seconds to POST every body to a fresh run on a fresh server over ``db_url``."""
    store = open_store(db_url)
    try:
        key = create_key(store, ["bench"])
    finally:
        store.close()
    with server(db_url) as url, httpx.Client(base_url=url, timeout=600) as c:
        c.headers["Authorization"] = f"Bearer {key}"
        c.put("/api/v1/runs/bench", json={"project": "bench"}).raise_for_status()
        headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
        started = time.perf_counter()
        for body in bodies:
            r = c.post("/api/v1/runs/bench/records", content=body, headers=headers)
            r.raise_for_status()
        return time.perf_counter() - started


def sqlite_floor(path: Path, n_steps: int, batch: int, n_batches: int) -> float:
    """Seconds for executemany INSERT OR IGNORE of the same rows, a transaction per batch."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    for statement in SQLITE[0][1]:
        conn.execute(statement)
    elapsed = 0.0
    for k in range(n_batches):
        rows = floor_rows(n_steps, batch, k)  # built outside the clock
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT OR IGNORE INTO points (mid, step, value, extra, ts) VALUES (?, ?, ?, ?, ?)", rows
        )
        conn.execute("COMMIT")
        elapsed += time.perf_counter() - started
    conn.close()
    return elapsed


@contextmanager
def pg_database(admin: str) -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"swanlog_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(urlsplit(admin)._replace(path="/" + name))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def main() -> None:
    """Run the benchmark and print the table."""
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=None, help="steps per metric (default 20,000; quick: 2,000)")
    p.add_argument("--batch", type=int, default=50_000, help="lines per POST (default 50,000)")
    args = p.parse_args()
    steps = args.steps or (2_000 if args.quick else 20_000)
    reps = args.reps or (3 if args.quick else 5)
    n = N_METRICS * steps
    raw_bytes = 0
    bodies = []
    for raw in make_batches(steps, args.batch):
        raw_bytes += len(raw)
        bodies.append(gzip1(raw))
    pg_admin = os.environ.get("SWANLOG_TEST_PG_URL")
    print(
        f"{n:,} points ({N_METRICS} metrics x {steps:,} steps) in {len(bodies)} batches of {args.batch:,}"
        f" lines; {raw_bytes / 2**20:.0f} MiB NDJSON, {sum(map(len, bodies)) / 2**20:.1f} MiB gzipped;"
        f" {reps} reps",
        file=sys.stderr,
    )
    sq, floor, pg = [], [], []
    with scratch_dir(args.tmp, "ingest") as tmp:
        for rep in range(reps):
            floor.append(n / sqlite_floor(tmp / f"floor{rep}.db", steps, args.batch, len(bodies)))
            sq.append(n / ingest(f"sqlite:///{tmp / f'server{rep}.db'}", bodies))
            if pg_admin:
                with pg_database(pg_admin) as url:
                    pg.append(n / ingest(url, bodies))
            print(
                f"rep {rep + 1}: sqlite {sq[-1]:,.0f}/s, floor {floor[-1]:,.0f}/s"
                + (f", postgresql {pg[-1]:,.0f}/s" if pg else ""),
                file=sys.stderr,
            )
    unit = "kpoints/s"
    results = [
        Result(
            "ingest",
            "sqlite, HTTP + gzip",
            unit,
            median(sq) / 1000,
            "executemany floor",
            median(floor) / 1000,
            f">= {TARGET // 1000} {unit}",
            median(sq) >= TARGET,
            samples=sq,
            baseline_samples=floor,
        )
    ]
    if pg:
        results.append(
            Result(
                "ingest",
                "postgresql, HTTP + gzip",
                unit,
                median(pg) / 1000,
                "sqlite executemany floor",
                median(floor) / 1000,
                "-",
                None,
                samples=pg,
                baseline_samples=floor,
            )
        )
    print_table(results)
    write_results(args.json, results)


if __name__ == "__main__":
    main()

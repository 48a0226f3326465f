"""The connection pool: bounded, reusing connections, dropping broken ones."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from swanlog_core.server.pool import Pool


def test_connections_are_reused_and_broken_ones_dropped(tmp_path: Path) -> None:
    """A returned connection is handed out again; one left mid-transaction is closed instead."""
    made: list[sqlite3.Connection] = []

    def connect() -> sqlite3.Connection:
        made.append(sqlite3.connect(tmp_path / "x.db", isolation_level=None, check_same_thread=False))
        return made[-1]

    pool: Pool[sqlite3.Connection] = Pool(connect, 2, lambda c: not c.in_transaction, lambda c: c.close())
    with pool.connection() as first:
        pass
    with pool.connection() as again:
        assert again is first
        again.execute("BEGIN")  # left open: not usable any more
    with pool.connection() as fresh:
        assert fresh is not first and len(made) == 2
    pool.close()


def test_at_most_size_connections_exist_at_once(tmp_path: Path) -> None:
    """Borrowing up to the pool size makes that many connections, and no more are made after."""
    made: list[sqlite3.Connection] = []

    def connect() -> sqlite3.Connection:
        made.append(sqlite3.connect(tmp_path / "x.db", check_same_thread=False))
        return made[-1]

    pool: Pool[sqlite3.Connection] = Pool(connect, 2, lambda c: True, lambda c: c.close())
    with pool.connection() as a, pool.connection() as b:
        assert a is not b
    for _ in range(5):
        with pool.connection():
            pass
    assert len(made) == 2
    pool.close()

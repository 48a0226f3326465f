"""The SQLite store: one file, WAL, ``synchronous=FULL`` so that an acknowledged write
survives a crash of the server or the machine.

Writes take the database's write lock up front (``BEGIN IMMEDIATE``) so two writers
queue on the busy timeout instead of failing to upgrade a read lock; reads run in
autocommit mode and see the last committed state (WAL lets them run beside a writer).
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson

from ..errors import Error
from . import migrations
from .downsample import pick
from .errors import BadRequestError, ConflictError, NotFoundError
from .pool import Pool
from .records import Batch
from .store import LIST_FIELDS, RUN_FIELDS, KeyRecord

__all__ = ["SQLiteStore"]

BUSY_TIMEOUT_S = 30.0
POOL_SIZE = 8
_INSERT_POINTS = "INSERT OR IGNORE INTO points (mid, step, value, extra, ts) VALUES (?, ?, ?, ?, ?)"
_POINTS = "SELECT step, value, extra, ts FROM points WHERE mid = ? AND step > ? ORDER BY step LIMIT ?"
_POINTS_AT = "SELECT step, value, extra, ts FROM points WHERE mid = ? AND step IN"
# Under the write lock of BEGIN IMMEDIATE, so revisions follow commit order.
_NEXT_REV = "(SELECT COALESCE(MAX(rev), 0) + 1 FROM runs)"
_STEPS_PER_QUERY = 900  # bound parameters per statement: old SQLite builds allow 999


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA synchronous=FULL")  # per connection: fsync the WAL at every commit
    conn.execute("PRAGMA cache_size=-65536")  # 64 MiB of page cache
    return conn


@contextmanager
def _write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already (e.g. disk full)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    # One read transaction: its statements see one state of the database (WAL), whatever
    # a writer commits meanwhile.
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


def _key(row: tuple[Any, ...]) -> KeyRecord:
    return KeyRecord(row[0], row[1], tuple(orjson.loads(row[2])), row[3], row[4])


class SQLiteStore:
    """A Store on a SQLite file (created, with its folder, when missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = _connect(path)
        except (OSError, sqlite3.Error) as exc:
            raise Error(f"cannot open the SQLite database {str(path)!r}: {exc}") from exc
        try:
            conn.execute("PRAGMA journal_mode=WAL")  # stored in the file; set before any table exists
            self._migrate(conn)
        except sqlite3.Error as exc:
            raise Error(f"cannot prepare the SQLite database {str(path)!r}: {exc}") from exc
        finally:
            conn.close()
        self._pool: Pool[sqlite3.Connection] = Pool(lambda: _connect(path), POOL_SIZE, _usable, _close)

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        with _write(conn):  # the write lock serialises servers starting at once
            conn.execute(migrations.CREATE_TABLE)
            applied = {v for (v,) in conn.execute(f"SELECT version FROM {migrations.TABLE}")}
            now = _dt.datetime.now(_dt.timezone.utc).isoformat()
            for version, statements in migrations.pending(migrations.SQLITE, applied):
                for statement in statements:
                    conn.execute(statement)
                conn.execute(f"INSERT INTO {migrations.TABLE} VALUES (?, ?)", (version, now))

    def close(self) -> None:
        """Close every connection."""
        self._pool.close()

    # -- keys -------------------------------------------------------------------------------

    def add_key(self, key: KeyRecord) -> None:
        """Store a new key."""
        with self._pool.connection() as conn, _write(conn):
            conn.execute(
                "INSERT INTO keys VALUES (?, ?, ?, ?, ?)",
                (key.id, key.secret_hash, orjson.dumps(list(key.projects)).decode(), key.created, None),
            )

    def get_key(self, key_id: str) -> KeyRecord | None:
        """The key with this id, revoked or not."""
        with self._pool.connection() as conn:
            row = conn.execute("SELECT * FROM keys WHERE id = ?", (key_id,)).fetchone()
        return None if row is None else _key(row)

    def list_keys(self) -> list[KeyRecord]:
        """Every key, oldest first."""
        with self._pool.connection() as conn:
            return [_key(r) for r in conn.execute("SELECT * FROM keys ORDER BY created, id")]

    def revoke_key(self, key_id: str, when: str) -> bool:
        """Mark a key revoked (keeping the first revocation time)."""
        with self._pool.connection() as conn, _write(conn):
            cur = conn.execute("UPDATE keys SET revoked = COALESCE(revoked, ?) WHERE id = ?", (when, key_id))
            return cur.rowcount > 0

    # -- runs -------------------------------------------------------------------------------

    def run_project(self, run_id: str) -> str | None:
        """The project of a run, or None."""
        with self._pool.connection() as conn:
            row = conn.execute("SELECT project FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else row[0]

    def put_run(self, run_id: str, fields: dict[str, Any]) -> bool:
        """Create or update a run; True if it was created."""
        with self._pool.connection() as conn, _write(conn):
            row = conn.execute("SELECT project FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                if "project" not in fields:
                    raise BadRequestError(f'run {run_id} does not exist yet: "project" is required')
                cols = ["id", *fields]
                conn.execute(
                    f"INSERT INTO runs ({', '.join(cols)}, rev)"
                    f" VALUES ({', '.join('?' * len(cols))}, {_NEXT_REV})",
                    (run_id, *fields.values()),
                )
                return True
            if fields.get("project", row[0]) != row[0]:
                raise ConflictError(f"run {run_id} exists in project {row[0]!r}, not {fields['project']!r}")
            if fields:
                sets = ", ".join(f"{c} = ?" for c in fields)
                sql = f"UPDATE runs SET {sets}, rev = {_NEXT_REV} WHERE id = ?"
                conn.execute(sql, (*fields.values(), run_id))
            return False

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """Every column of a run, or None."""
        with self._pool.connection() as conn:
            row = conn.execute(f"SELECT {', '.join(RUN_FIELDS)} FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else dict(zip(RUN_FIELDS, row))

    def runs_rev(self, projects: Iterable[str] | None) -> int:
        """One above the newest revision of a run in ``projects`` (None: all): writes are serial,
        so the next write of any run gets a revision above it."""
        sql, wanted = "SELECT COALESCE(MAX(rev), 0) + 1 FROM runs", []
        if projects is not None:
            wanted = list(projects)
            sql += f" WHERE project IN ({', '.join('?' * len(wanted))})" if wanted else " WHERE 0"
        with self._pool.connection() as conn:
            return conn.execute(sql, wanted).fetchone()[0]

    def list_runs(
        self, projects: Iterable[str] | None, documents: tuple[str, ...] = (), since: int | None = None
    ) -> list[dict[str, Any]]:
        """The list columns (and ``documents``) of every run in ``projects`` (None: all), newest first;
        with ``since``, of those written at or after that watermark (``runs_rev``)."""
        where: list[str] = []
        params: list[Any] = []
        if projects is not None:
            wanted = list(projects)
            if not wanted:
                return []
            where.append(f"project IN ({', '.join('?' * len(wanted))})")
            params += wanted
        if since is not None:
            where.append("rev >= ?")
            params.append(since)
        columns = (*LIST_FIELDS, *documents)  # documents: names checked by the app against DOC_FIELDS
        cond = f" WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT {', '.join(columns)} FROM runs{cond} ORDER BY created DESC, id"
        with self._pool.connection() as conn:
            return [dict(zip(columns, r)) for r in conn.execute(sql, params)]

    # -- points -----------------------------------------------------------------------------

    def insert_points(self, run_id: str, batch: Batch) -> int:
        """One transaction: make missing metrics, then INSERT OR IGNORE every point."""
        with self._pool.connection() as conn, _write(conn):
            row = conn.execute("SELECT rid FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"run {run_id} does not exist: PUT /api/v1/runs/{run_id} first")
            rid = row[0]
            mid_of = dict(conn.execute("SELECT name, mid FROM metrics WHERE rid = ?", (rid,)))
            missing = batch.names - mid_of.keys()
            if missing:
                conn.executemany(
                    "INSERT INTO metrics (rid, name) VALUES (?, ?)", [(rid, n) for n in sorted(missing)]
                )
                mid_of = dict(conn.execute("SELECT name, mid FROM metrics WHERE rid = ?", (rid,)))
            before = conn.total_changes
            conn.executemany(_INSERT_POINTS, batch.rows(mid_of))
            return conn.total_changes - before

    def metric_names(self, run_id: str) -> list[str]:
        """The run's metric names, sorted."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT m.name FROM metrics m JOIN runs r ON r.rid = m.rid WHERE r.id = ?", (run_id,)
            ).fetchall()
        return sorted(name for (name,) in rows)

    def metric_points(
        self, run_id: str, name: str, after_step: int, limit: int
    ) -> list[tuple[int, Any, str | None, float]] | None:
        """Up to ``limit`` points after ``after_step``, by step; None for no such metric."""
        with self._pool.connection() as conn:
            mid = self._mid(conn, run_id, name)
            if mid is None:
                return None
            return conn.execute(_POINTS, (mid, after_step, limit)).fetchall()

    def downsample_points(
        self, run_id: str, name: str, after_step: int, max_points: int
    ) -> tuple[int, list[tuple[int, Any, str | None, float]]] | None:
        """How many points follow ``after_step``, and the rows ``downsample.pick`` keeps, by step.

        Python pays per column and row it fetches, so every point gives only its step and
        one value (the number, else the extra: a non-finite spelling or the media JSON,
        which ``pick`` tells apart); full rows are read for the kept steps alone.
        """
        with self._pool.connection() as conn, _snapshot(conn):
            mid = self._mid(conn, run_id, name)
            if mid is None:
                return None
            cells = conn.execute(
                "SELECT step, COALESCE(value, extra) FROM points WHERE mid = ? AND step > ? ORDER BY step",
                (mid, after_step),
            ).fetchall()
            total = len(cells)
            if total <= max_points:
                rows = conn.execute(_POINTS, (mid, after_step, max_points)).fetchall()
                return total, rows
            kept = [cells[i][0] for i in pick([c[1] for c in cells], max_points)]
            rows = []
            for start in range(0, len(kept), _STEPS_PER_QUERY):
                chunk = kept[start : start + _STEPS_PER_QUERY]
                sql = f"{_POINTS_AT} ({', '.join('?' * len(chunk))}) ORDER BY step"
                rows += conn.execute(sql, (mid, *chunk)).fetchall()
            return total, rows

    @staticmethod
    def _mid(conn: sqlite3.Connection, run_id: str, name: str) -> int | None:
        row = conn.execute(
            "SELECT m.mid FROM metrics m JOIN runs r ON r.rid = m.rid WHERE r.id = ? AND m.name = ?",
            (run_id, name),
        ).fetchone()
        return None if row is None else row[0]

    # -- files ------------------------------------------------------------------------------

    def put_file(self, run_id: str, path: str, data: bytes) -> None:
        """Store (or replace) one file of a run."""
        with self._pool.connection() as conn, _write(conn):
            row = conn.execute("SELECT rid FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"run {run_id} does not exist: PUT /api/v1/runs/{run_id} first")
            conn.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?)", (row[0], path, data))

    def get_file(self, run_id: str, path: str) -> bytes | None:
        """A file's bytes, or None."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT f.data FROM files f JOIN runs r ON r.rid = f.rid WHERE r.id = ? AND f.path = ?",
                (run_id, path),
            ).fetchone()
        return None if row is None else bytes(row[0])


def _usable(conn: sqlite3.Connection) -> bool:
    return not conn.in_transaction


def _close(conn: sqlite3.Connection) -> None:
    conn.close()

"""The PostgreSQL store: for teams and scale, several server processes on one database.

Each request borrows a connection from a small bounded pool in this process; nothing
else is kept in memory, so any server process can answer any request. Migrations run
under an advisory lock held for their transaction, so servers that start together apply
each schema version once. A records batch is COPYed into a temporary table and moved
into ``points`` with one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``: the first
line of a (metric, step) in the batch wins, and existing points are never overwritten.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterable

import orjson
import psycopg

from ..errors import Error
from . import migrations
from .downsample import pick
from .errors import BadRequestError, ConflictError, NotFoundError
from .pool import Pool
from .records import Batch
from .store import LIST_FIELDS, RUN_FIELDS, KeyRecord

__all__ = ["PostgresStore"]

POOL_SIZE = 10
CONNECT_TIMEOUT_S = 10
MIN_SERVER_VERSION = 130000  # pg_current_xact_id(), pg_current_snapshot()
_MIGRATION_LOCK = 0x5377616E6C6F67  # "Swanlog": the advisory lock id of schema changes
# A run's revision is the id of the transaction that wrote it (64-bit, PostgreSQL 13+).
_XACT_ID = "pg_current_xact_id()::text::bigint"

# Temporary, per connection; emptied at each commit. ``seq`` keeps the batch's line order.
_INCOMING = (
    "CREATE TEMP TABLE IF NOT EXISTS incoming (seq BIGINT, mid BIGINT, step BIGINT,"
    " value DOUBLE PRECISION, extra TEXT, ts DOUBLE PRECISION) ON COMMIT DELETE ROWS"
)
_INCOMING_TYPES = ["int8", "int8", "int8", "float8", "text", "float8"]
_POINTS = "SELECT step, value, extra, ts FROM points WHERE mid = %s AND step > %s ORDER BY step LIMIT %s"
_MOVE = (
    "INSERT INTO points (mid, step, value, extra, ts)"
    " SELECT DISTINCT ON (mid, step) mid, step, value, extra, ts FROM incoming"
    " ORDER BY mid, step, seq ON CONFLICT DO NOTHING"
)


def _key(row: tuple[Any, ...]) -> KeyRecord:
    return KeyRecord(row[0], row[1], tuple(orjson.loads(row[2])), row[3], row[4])


def _usable(conn: psycopg.Connection) -> bool:
    return not conn.closed and not conn.broken and conn.info.transaction_status == 0  # IDLE


def _close(conn: psycopg.Connection) -> None:
    conn.close()


class PostgresStore:
    """A Store on a PostgreSQL database (which must exist; its tables are created)."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            with self._connect() as conn:
                if conn.info.server_version < MIN_SERVER_VERSION:
                    raise Error(
                        "swanlog needs PostgreSQL 13 or later (for 64-bit transaction ids); "
                        f"this server is version {conn.info.server_version // 10000}"
                    )
                self._migrate(conn)
        except psycopg.Error as exc:
            raise Error(f"cannot open the PostgreSQL database: {exc}") from exc
        self._pool: Pool[psycopg.Connection] = Pool(self._connect, POOL_SIZE, _usable, _close)

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S)

    @staticmethod
    def _migrate(conn: psycopg.Connection) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(migrations.CREATE_TABLE)
            applied = {v for (v,) in conn.execute(f"SELECT version FROM {migrations.TABLE}")}
            now = _dt.datetime.now(_dt.timezone.utc).isoformat()
            for version, statements in migrations.pending(migrations.POSTGRES, applied):
                for statement in statements:
                    conn.execute(statement)
                conn.execute(f"INSERT INTO {migrations.TABLE} VALUES (%s, %s)", (version, now))

    def close(self) -> None:
        """Close every connection."""
        self._pool.close()

    # -- keys -------------------------------------------------------------------------------

    def add_key(self, key: KeyRecord) -> None:
        """Store a new key."""
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO keys VALUES (%s, %s, %s, %s, NULL)",
                (key.id, key.secret_hash, orjson.dumps(list(key.projects)).decode(), key.created),
            )

    def get_key(self, key_id: str) -> KeyRecord | None:
        """The key with this id, revoked or not."""
        with self._pool.connection() as conn, conn.transaction():
            row = conn.execute("SELECT * FROM keys WHERE id = %s", (key_id,)).fetchone()
        return None if row is None else _key(row)

    def list_keys(self) -> list[KeyRecord]:
        """Every key, oldest first."""
        with self._pool.connection() as conn, conn.transaction():
            return [_key(r) for r in conn.execute("SELECT * FROM keys ORDER BY created, id")]

    def revoke_key(self, key_id: str, when: str) -> bool:
        """Mark a key revoked (keeping the first revocation time)."""
        with self._pool.connection() as conn, conn.transaction():
            sql = "UPDATE keys SET revoked = COALESCE(revoked, %s) WHERE id = %s"
            cur = conn.execute(sql, (when, key_id))
            return cur.rowcount > 0

    # -- runs -------------------------------------------------------------------------------

    def run_project(self, run_id: str) -> str | None:
        """The project of a run, or None."""
        with self._pool.connection() as conn, conn.transaction():
            row = conn.execute("SELECT project FROM runs WHERE id = %s", (run_id,)).fetchone()
        return None if row is None else row[0]

    def put_run(self, run_id: str, fields: dict[str, Any]) -> bool:
        """Create or update a run; True if it was created."""
        with self._pool.connection() as conn, conn.transaction():
            row = conn.execute("SELECT project FROM runs WHERE id = %s FOR UPDATE", (run_id,)).fetchone()
            if row is None:
                if "project" not in fields:
                    raise BadRequestError(f'run {run_id} does not exist yet: "project" is required')
                cols = ["id", *fields]
                created = conn.execute(
                    f"INSERT INTO runs ({', '.join(cols)}, rev)"
                    f" VALUES ({', '.join(['%s'] * len(cols))}, {_XACT_ID})"
                    " ON CONFLICT (id) DO NOTHING RETURNING rid",
                    (run_id, *fields.values()),
                ).fetchone()
                if created is not None:
                    return True
                # Another server created it between our SELECT and INSERT: update it instead.
                row = conn.execute("SELECT project FROM runs WHERE id = %s FOR UPDATE", (run_id,)).fetchone()
                assert row is not None
            if fields.get("project", row[0]) != row[0]:
                raise ConflictError(f"run {run_id} exists in project {row[0]!r}, not {fields['project']!r}")
            if fields:
                sets = ", ".join(f"{c} = %s" for c in fields)
                conn.execute(
                    f"UPDATE runs SET {sets}, rev = {_XACT_ID} WHERE id = %s",
                    (*fields.values(), run_id),
                )
            return False

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """Every column of a run, or None."""
        with self._pool.connection() as conn, conn.transaction():
            sql = f"SELECT {', '.join(RUN_FIELDS)} FROM runs WHERE id = %s"
            row = conn.execute(sql, (run_id,)).fetchone()
        return None if row is None else dict(zip(RUN_FIELDS, row))

    def runs_rev(self, projects: Iterable[str] | None) -> int:
        """The oldest transaction still running (the snapshot's xmin): every run write that is
        not visible yet, in any server process, has an id at or above it. No lock is needed:
        run writes commit in any order. ``projects`` does not narrow it."""
        sql = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
        with self._pool.connection() as conn, conn.transaction():
            return conn.execute(sql).fetchone()[0]

    def list_runs(
        self, projects: Iterable[str] | None, documents: tuple[str, ...] = (), since: int | None = None
    ) -> list[dict[str, Any]]:
        """The list columns (and ``documents``) of every run in ``projects`` (None: all), newest first;
        with ``since``, of those written at or after that watermark (``runs_rev``)."""
        where: list[str] = []
        params: list[Any] = []
        if projects is not None:
            where.append("project = ANY(%s)")
            params.append(list(projects))
        if since is not None:
            where.append("rev >= %s")
            params.append(since)
        cond = f" WHERE {' AND '.join(where)}" if where else ""
        # NULLS LAST: as SQLite orders them
        columns = (*LIST_FIELDS, *documents)  # documents: names checked by the app against DOC_FIELDS
        sql = f"SELECT {', '.join(columns)} FROM runs{cond} ORDER BY created DESC NULLS LAST, id"
        with self._pool.connection() as conn, conn.transaction():
            return [dict(zip(columns, r)) for r in conn.execute(sql, params)]

    # -- points -----------------------------------------------------------------------------

    def insert_points(self, run_id: str, batch: Batch) -> int:
        """One transaction: make missing metrics, COPY the batch in, move the new points over."""
        with self._pool.connection() as conn, conn.transaction():
            row = conn.execute("SELECT rid FROM runs WHERE id = %s", (run_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"run {run_id} does not exist: PUT /api/v1/runs/{run_id} first")
            rid = row[0]
            conn.execute(
                "INSERT INTO metrics (rid, name) SELECT %s, unnest(%s::text[]) ON CONFLICT DO NOTHING",
                (rid, sorted(batch.names)),
            )
            sql = "SELECT name, mid FROM metrics WHERE rid = %s AND name = ANY(%s)"
            mid_of = dict(conn.execute(sql, (rid, list(batch.names))).fetchall())
            conn.execute(_INCOMING)
            with conn.cursor() as cur:
                # Binary COPY: about three times the rate of the text format.
                with cur.copy(
                    "COPY incoming (seq, mid, step, value, extra, ts) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(_INCOMING_TYPES)
                    for seq, row in enumerate(batch.rows(mid_of)):
                        copy.write_row((seq, *row))
                cur.execute(_MOVE)
                return cur.rowcount

    def metric_names(self, run_id: str) -> list[str]:
        """The run's metric names, sorted."""
        with self._pool.connection() as conn, conn.transaction():
            rows = conn.execute(
                "SELECT m.name FROM metrics m JOIN runs r ON r.rid = m.rid WHERE r.id = %s", (run_id,)
            ).fetchall()
        return sorted(name for (name,) in rows)

    def metric_points(
        self, run_id: str, name: str, after_step: int, limit: int
    ) -> list[tuple[int, Any, str | None, float]] | None:
        """Up to ``limit`` points after ``after_step``, by step; None for no such metric."""
        with self._pool.connection() as conn, conn.transaction():
            mid = self._mid(conn, run_id, name)
            if mid is None:
                return None
            return conn.execute(_POINTS, (mid, after_step, limit)).fetchall()

    def downsample_points(
        self, run_id: str, name: str, after_step: int, max_points: int
    ) -> tuple[int, list[tuple[int, Any, str | None, float]]] | None:
        """How many points follow ``after_step``, and the rows ``downsample.pick`` keeps, by step.

        Every point gives its step and value columns; full rows are read for the kept steps
        alone, in the same (repeatable-read) snapshot.
        """
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            mid = self._mid(conn, run_id, name)
            if mid is None:
                return None
            with conn.cursor(binary=True) as cur:  # binary rows: half the cost of text for 100k
                cells = cur.execute(
                    "SELECT step, value, extra FROM points WHERE mid = %s AND step > %s ORDER BY step",
                    (mid, after_step),
                ).fetchall()
            total = len(cells)
            if total <= max_points:
                return total, conn.execute(_POINTS, (mid, after_step, max_points)).fetchall()
            # A value column: the number, else the extra (a non-finite spelling or media JSON).
            values = [v if e is None else e for _, v, e in cells]
            kept = [cells[i][0] for i in pick(values, max_points)]
            # ::bigint[]: else small ints make a numeric[] and the primary key goes unused
            sql = "SELECT step, value, extra, ts FROM points WHERE mid = %s AND step = ANY(%s::bigint[])"
            sql += " ORDER BY step"
            return total, conn.execute(sql, (mid, kept)).fetchall()

    @staticmethod
    def _mid(conn: psycopg.Connection, run_id: str, name: str) -> int | None:
        row = conn.execute(
            "SELECT m.mid FROM metrics m JOIN runs r ON r.rid = m.rid WHERE r.id = %s AND m.name = %s",
            (run_id, name),
        ).fetchone()
        return None if row is None else row[0]

    # -- files ------------------------------------------------------------------------------

    def put_file(self, run_id: str, path: str, data: bytes) -> None:
        """Store (or replace) one file of a run."""
        with self._pool.connection() as conn, conn.transaction():
            row = conn.execute("SELECT rid FROM runs WHERE id = %s", (run_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"run {run_id} does not exist: PUT /api/v1/runs/{run_id} first")
            conn.execute(
                "INSERT INTO files VALUES (%s, %s, %s)"
                " ON CONFLICT (rid, path) DO UPDATE SET data = EXCLUDED.data",
                (row[0], path, data),
            )

    def get_file(self, run_id: str, path: str) -> bytes | None:
        """A file's bytes, or None."""
        with self._pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT f.data FROM files f JOIN runs r ON r.rid = f.rid WHERE r.id = %s AND f.path = %s",
                (run_id, path),
            ).fetchone()
        return None if row is None else bytes(row[0])

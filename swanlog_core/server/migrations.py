"""The versioned database schema, one list of statements per version and dialect.

A backend applies, at start, every version above the one recorded in
``swanlog_migrations``, all in one transaction and under a lock (SQLite: the write
lock of ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock), so that several server
processes starting at once on one database apply each version exactly once. Versions
are append-only: never edit one that has shipped, add the next.

Points are stored compactly: one row per (metric id, step), ``WITHOUT ROWID`` in
SQLite. ``value`` holds a finite number, else NULL (SQLite turns a NaN REAL into NULL
anyway), and ``extra`` holds "NaN", "Infinity", "-Infinity" or a media description's
JSON. In SQLite ``value`` has no declared type, so an integer stays an integer.

Version 2 gives each run a revision, ``rev``, set by every create or update of the run:
in SQLite one above every other run's (writes are serial), in PostgreSQL the id of the
writing transaction. ``GET /runs?since=REV`` then answers only what changed (the
dashboard's runs table polls that way; see ``Store.runs_rev``).
"""

from __future__ import annotations

__all__ = ["CREATE_TABLE", "POSTGRES", "SQLITE", "TABLE", "pending"]

TABLE = "swanlog_migrations"

_RUN_COLUMNS = """
    project TEXT NOT NULL,
    name TEXT, tags TEXT, notes TEXT, status TEXT, created TEXT, updated TEXT,
    exit_code {int}, duration {real}, host TEXT, pid {int},
    config TEXT, summary TEXT, metrics TEXT, env TEXT
"""

SQLITE: list[tuple[int, list[str]]] = [
    (
        1,
        [
            "CREATE TABLE keys (id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, projects TEXT NOT NULL,"
            " created TEXT NOT NULL, revoked TEXT)",
            "CREATE TABLE runs (rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
            + _RUN_COLUMNS.format(int="INTEGER", real="REAL")
            + ")",
            "CREATE INDEX runs_project ON runs (project)",
            "CREATE TABLE metrics (mid INTEGER PRIMARY KEY, rid INTEGER NOT NULL REFERENCES runs (rid),"
            " name TEXT NOT NULL, UNIQUE (rid, name))",
            "CREATE TABLE points (mid INTEGER NOT NULL, step INTEGER NOT NULL, value, extra TEXT,"
            " ts REAL NOT NULL, PRIMARY KEY (mid, step)) WITHOUT ROWID",
            "CREATE TABLE files (rid INTEGER NOT NULL, path TEXT NOT NULL, data BLOB NOT NULL,"
            " PRIMARY KEY (rid, path))",
        ],
    ),
    (
        2,
        [
            "ALTER TABLE runs ADD COLUMN rev INTEGER NOT NULL DEFAULT 0",
            "UPDATE runs SET rev = rid",
            "CREATE INDEX runs_project_rev ON runs (project, rev)",
        ],
    ),
]

POSTGRES: list[tuple[int, list[str]]] = [
    (
        1,
        [
            "CREATE TABLE keys (id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, projects TEXT NOT NULL,"
            " created TEXT NOT NULL, revoked TEXT)",
            "CREATE TABLE runs (rid BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
            + _RUN_COLUMNS.format(int="BIGINT", real="DOUBLE PRECISION")
            + ")",
            "CREATE INDEX runs_project ON runs (project)",
            "CREATE TABLE metrics (mid BIGSERIAL PRIMARY KEY, rid BIGINT NOT NULL REFERENCES runs (rid),"
            " name TEXT NOT NULL, UNIQUE (rid, name))",
            "CREATE TABLE points (mid BIGINT NOT NULL, step BIGINT NOT NULL, value DOUBLE PRECISION,"
            " extra TEXT, ts DOUBLE PRECISION NOT NULL, PRIMARY KEY (mid, step))",
            "CREATE TABLE files (rid BIGINT NOT NULL, path TEXT NOT NULL, data BYTEA NOT NULL,"
            " PRIMARY KEY (rid, path))",
        ],
    ),
    (
        2,
        [
            "ALTER TABLE runs ADD COLUMN rev BIGINT NOT NULL DEFAULT 0",
            "UPDATE runs SET rev = pg_current_xact_id()::text::bigint",
            "CREATE INDEX runs_project_rev ON runs (project, rev)",
        ],
    ),
]

CREATE_TABLE = f"CREATE TABLE IF NOT EXISTS {TABLE} (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)"


def pending(versions: list[tuple[int, list[str]]], applied: set[int]) -> list[tuple[int, list[str]]]:
    """The versions not yet applied, in order."""
    return [(v, stmts) for v, stmts in versions if v not in applied]

"""The Store protocol: everything the server keeps, behind one interface.

``open_store(url)`` is the one place that picks a backend (SQLite or PostgreSQL) from a
``--db`` URL; nothing downstream knows which it got. Every method is blocking: the app
calls them from worker threads, never on the event loop. A store keeps no state that
another server process on the same database would need: all of it is in the database.

``ReadStore`` is the read half, all that a read-only app needs: ``logdir.LogdirStore``
(``swanlog watch``) implements only it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Protocol

from ..errors import Error
from .records import Batch

__all__ = [
    "DOC_FIELDS",
    "KeyRecord",
    "LIST_FIELDS",
    "RUN_FIELDS",
    "ReadStore",
    "Store",
    "default_db_url",
    "open_store",
    "sqlite_path",
]

# Columns of a run, in the order the API lists them; tags and the documents are JSON text.
LIST_FIELDS = (
    "id",
    "project",
    "name",
    "tags",
    "notes",
    "status",
    "created",
    "updated",
    "exit_code",
    "duration",
    "host",
)
DOC_FIELDS = ("config", "summary", "metrics", "env")
RUN_FIELDS = (*LIST_FIELDS, "pid", *DOC_FIELDS)


@dataclass(frozen=True)
class KeyRecord:
    """An API key as stored: never the secret, only its hash."""

    id: str
    secret_hash: str
    projects: tuple[str, ...]
    created: str
    revoked: str | None


class ReadStore(Protocol):
    """What a read-only app needs: runs, metrics and files. Run ids are unique across the store."""

    def close(self) -> None:
        """Release what the store holds (connections, caches)."""

    def run_project(self, run_id: str) -> str | None:
        """The project of a run, or None when the run does not exist."""

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """Every column of a run (documents still as JSON text), or None."""

    def runs_rev(self, projects: Iterable[str] | None) -> int | None:
        """A watermark of the runs in ``projects`` (None: every run): any run created or updated
        after this call gets a revision at or above it. None if the store keeps no revisions.

        Read it before ``list_runs(..., since=...)``: a client that asks next time with the
        watermark it got misses no change (and may get a run twice). A store without
        revisions (a logdir) answers None.
        """

    def list_runs(
        self, projects: Iterable[str] | None, documents: tuple[str, ...] = (), since: int | None = None
    ) -> list[dict[str, Any]]:
        """The list columns of every run in ``projects`` (None: every run), newest created first.

        The keyed app always names the key's projects; None comes from an app without keys
        (``Settings(auth=False)``). ``documents`` (a subset of DOC_FIELDS) adds those
        documents, as JSON text, to each run (the dashboard's runs table shows them). With
        ``since``, only the runs whose revision is at or above it (ignored where ``runs_rev``
        is None).
        """

    def metric_names(self, run_id: str) -> list[str]:
        """The run's metric names, sorted."""

    def metric_points(
        self, run_id: str, name: str, after_step: int, limit: int
    ) -> list[tuple[int, Any, str | None, float]] | None:
        """Up to ``limit`` (step, value, extra, ts) rows after ``after_step``; None for no such metric."""

    def downsample_points(
        self, run_id: str, name: str, after_step: int, max_points: int
    ) -> tuple[int, list[tuple[int, Any, str | None, float]]] | None:
        """Every point after ``after_step``, reduced by ``downsample.pick``; None for no such metric.

        Returns:
            How many points there are after ``after_step``, and the (step, value, extra, ts)
            rows that ``downsample.pick(values, max_points)`` keeps, by step (all of them
            when there are at most ``max_points``). A store reads only the columns the
            choice needs for every point, then the full rows of the points it keeps.
        """

    def get_file(self, run_id: str, path: str) -> bytes | None:
        """A file's bytes, or None."""


class Store(ReadStore, Protocol):
    """What the server needs from a database: the read half, keys and writes."""

    def add_key(self, key: KeyRecord) -> None:
        """Store a new key."""

    def get_key(self, key_id: str) -> KeyRecord | None:
        """The key with this id, revoked or not; None when there is none."""

    def list_keys(self) -> list[KeyRecord]:
        """Every key, oldest first."""

    def revoke_key(self, key_id: str, when: str) -> bool:
        """Mark a key revoked at ``when``; False when there is no such key."""

    def put_run(self, run_id: str, fields: dict[str, Any]) -> bool:
        """Create or update a run with already-encoded column values; True if it was created.

        Raises:
            BadRequestError: the run does not exist and ``fields`` has no project.
            ConflictError: the run exists in another project.
        """

    def insert_points(self, run_id: str, batch: Batch) -> int:
        """Insert a batch in one transaction, keeping existing points; returns how many were new.

        Raises:
            NotFoundError: the run does not exist.
        """

    def put_file(self, run_id: str, path: str, data: bytes) -> None:
        """Store (or replace) one file of a run."""


def default_db_url() -> str:
    """``sqlite:///`` + ``$XDG_DATA_HOME`` (else ``~/.local/share``) ``/swanlog/server.db``."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return "sqlite:///" + os.path.abspath(os.path.join(base, "swanlog", "server.db"))


def sqlite_path(url: str) -> Path:
    """``sqlite:///relative.db`` -> ``relative.db``; ``sqlite:////abs.db`` -> ``/abs.db``."""
    path = url[len("sqlite:///") :]
    if not path:
        raise Error(f"database URL {url!r} names no file (use sqlite:///file.db or sqlite:////abs/file.db)")
    return Path(path)


def open_store(url: str) -> Store:
    """Open (and migrate) the database a ``--db`` URL names.

    Raises:
        swanlog_core.errors.Error: the URL is not sqlite:/// or postgresql://, or the
            database cannot be opened.
    """
    if url.startswith("sqlite:///"):
        from .sqlite import SQLiteStore

        return SQLiteStore(sqlite_path(url))
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore(url)
    raise Error(f"database URL {url!r} is not supported: use sqlite:///PATH or postgresql://...")

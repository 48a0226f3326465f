"""The stores directly, on a real SQLite file and a real PostgreSQL database: schema, keys, points."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import orjson
import psycopg
import pytest

from swanlog_core.errors import Error
from swanlog_core.server import Store, migrations, open_store
from swanlog_core.server.auth import authenticate, create_key, key_id_of
from swanlog_core.server.errors import NotFoundError, UnauthorizedError
from swanlog_core.server.postgres import PostgresStore
from swanlog_core.server.records import parse_batch
from tests.support import wait_until


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A freshly migrated store on ``db_url``."""
    s = open_store(db_url)
    yield s
    s.close()


def batch(*points: tuple[str, int, object]):  # type: ignore[no-untyped-def]
    """A parsed batch of (metric, step, value) points."""
    lines = b"".join(
        orjson.dumps({"metric": m, "step": s, "value": v, "ts": 1.0}) + b"\n" for m, s, v in points
    )
    return parse_batch(lines, 100_000, 1024)


def test_reopening_applies_no_migration_twice(db_url: str, store: Store) -> None:
    """Opening a migrated database again is harmless and keeps its data."""
    store.put_run("r1", {"project": "p"})
    again = open_store(db_url)
    try:
        assert again.run_project("r1") == "p"
    finally:
        again.close()


def test_only_a_hash_of_the_secret_is_stored(store: Store) -> None:
    """The stored key holds a hash, never the secret, and the key authenticates."""
    key = create_key(store, ["p", "p", "q"])
    key_id, secret = key.split("_")[1], key.split("_", 2)[2]
    record = store.get_key(key_id)
    assert record is not None and secret not in repr(record) and record.projects == ("p", "q")
    assert authenticate(store, f"Bearer {key}").id == key_id
    with pytest.raises(UnauthorizedError):
        authenticate(store, f"Bearer {key[:-1]}{'A' if key[-1] != 'A' else 'B'}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0123456789ab", "0123456789ab"),
        ("swl_0123456789ab", "0123456789ab"),
        ("swl_0123456789ab_s3cr3t", "0123456789ab"),
        ("xyz", None),
    ],
)
def test_key_ids_are_found_in_every_spelling(text: str, expected: str | None) -> None:
    """key revoke accepts the id, swl_<id> as `key list` shows it, or the whole key."""
    assert key_id_of(text) == expected


def test_first_write_wins_in_the_store(store: Store) -> None:
    """insert_points keeps the first value per (metric, step), within a batch and across batches."""
    store.put_run("r1", {"project": "p"})
    assert store.insert_points("r1", batch(("a", 0, 1), ("a", 0, 2), ("b", 0, "NaN"))) == 2
    assert store.insert_points("r1", batch(("a", 0, 3), ("a", 1, 4))) == 1
    rows = store.metric_points("r1", "a", -1, 10)
    assert [(s, v) for s, v, _, _ in rows or []] == [(0, 1), (1, 4)]
    assert store.metric_points("r1", "b", -1, 10) == [(0, None, "NaN", 1.0)]
    assert store.metric_points("r1", "c", -1, 10) is None


def test_list_runs_of_none_is_every_run(store: Store) -> None:
    """list_runs(None) lists the runs of every project (as ReadStore says), an empty list none."""
    store.put_run("r1", {"project": "p", "created": "2026-01-01T00:00:00.000Z"})
    store.put_run("r2", {"project": "q", "created": "2026-01-02T00:00:00.000Z"})
    assert [r["id"] for r in store.list_runs(None)] == ["r2", "r1"]
    assert [r["id"] for r in store.list_runs(["q"])] == ["r2"]
    assert store.list_runs([]) == []


def test_list_runs_adds_the_documents_asked_for(store: Store) -> None:
    """list_runs(..., documents) adds exactly those documents, as the JSON text get_run holds."""
    docs = {"config": '{"lr":0.1}', "summary": '{"loss":0.5}', "env": '{"os":"x"}'}
    store.put_run("r1", {"project": "p", **docs})
    [plain] = store.list_runs(["p"])
    assert "config" not in plain and "summary" not in plain
    [row] = store.list_runs(["p"], ("config", "summary"))
    assert set(row) - set(plain) == {"config", "summary"}
    full = store.get_run("r1")
    assert full is not None
    assert (row["config"], row["summary"]) == (full["config"], full["summary"])


def test_points_for_a_missing_run_are_refused(store: Store) -> None:
    """insert_points for a run that does not exist raises NotFoundError and creates nothing."""
    with pytest.raises(NotFoundError):
        store.insert_points("ghost", batch(("a", 0, 1)))
    assert store.metric_names("ghost") == []


def test_sqlite_is_in_wal_mode(tmp_path: Path) -> None:
    """The SQLite database is in WAL mode, so readers never block the writer."""
    s = open_store(f"sqlite:///{tmp_path / 'server.db'}")
    s.close()
    with sqlite3.connect(tmp_path / "server.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unsupported_url_is_an_error() -> None:
    """open_store refuses a URL that is neither sqlite:/// nor postgresql://."""
    with pytest.raises(Error, match="not supported"):
        open_store("mysql://localhost/db")


# -- run revisions (GET /runs?since=REV) -------------------------------------------------


def quiet_mark(store: Store, projects: list[str] | None) -> int:
    """A watermark past which nothing of ``projects`` is answered any more. On SQLite the first
    one; PostgreSQL may answer a run again while a transaction begun before its write is open
    anywhere on the server (the contract allows it), so wait that out. Times out, failing the
    test, if ``since`` does not filter."""
    marks: list[int] = []

    def quiet() -> bool:
        marks.append(store.runs_rev(projects))
        return not store.list_runs(projects, since=marks[-1])

    wait_until(quiet, timeout=10)
    return marks[-1]


def test_list_runs_since_a_watermark_answers_the_runs_written_after_it(store: Store) -> None:
    """runs_rev gives a watermark; list_runs(since=it) answers exactly the runs of the projects
    created or updated after it, and nothing written before it once it is quiet."""

    def since(projects: list[str] | None, mark: int, docs: tuple[str, ...] = ()) -> dict[str, Any]:
        return {r["id"]: r for r in store.list_runs(projects, docs, since=mark)}

    start = quiet_mark(store, None)
    store.put_run("r1", {"project": "p"})
    assert set(since(["p"], start)) == {"r1"}
    mark = quiet_mark(store, ["p"])  # r1 is older than mark: never answered again
    assert mark >= start
    store.put_run("r2", {"project": "q"})
    assert since(["p"], mark) == {}  # q's run is not p's change
    assert set(since(["q"], mark)) == {"r2"}
    store.put_run("r1", {"summary": '{"loss": 0.5}'})
    assert set(since(["p"], mark, ("summary",))) == {"r1"}
    assert since(["p"], mark, ("summary",))["r1"]["summary"] == '{"loss": 0.5}'
    assert quiet_mark(store, None) > mark
    assert set(since(None, 0)) == {"r1", "r2"}


def test_concurrent_run_writes_are_all_seen_by_a_reader_that_polls_since(store: Store) -> None:
    """Writers in several threads, a reader asking only for what changed since its last answer:
    its copy ends equal to the whole list (no change lost to commit order)."""
    runs = [f"c{i:02d}" for i in range(8)]
    for run in runs:
        store.put_run(run, {"project": "p", "summary": orjson.dumps({"n": -1}).decode()})
    seen: dict[str, str] = {}
    rev = 0

    def poll() -> None:
        nonlocal rev
        now = store.runs_rev(["p"])
        for row in store.list_runs(["p"], ("summary",), since=rev):
            seen[row["id"]] = row["summary"]
        rev = now

    def write(run: str) -> None:
        for n in range(30):
            store.put_run(run, {"summary": orjson.dumps({"n": n}).decode()})

    threads = [threading.Thread(target=write, args=(run,)) for run in runs]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        poll()
    for t in threads:
        t.join()
    poll()
    assert seen == {r["id"]: r["summary"] for r in store.list_runs(["p"], ("summary",))}
    assert set(seen.values()) == {'{"n":29}'}


def test_a_version_1_database_gets_revisions(db_url: str) -> None:
    """Runs stored before revisions existed get distinct ones when the server first opens the
    database, and are listed since revision 0."""
    if db_url.startswith("sqlite"):
        conn: Any = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        mark = "?"
    else:
        conn = psycopg.connect(db_url, autocommit=True)
        mark = "%s"
    versions = migrations.SQLITE if db_url.startswith("sqlite") else migrations.POSTGRES
    conn.execute(migrations.CREATE_TABLE)
    for statement in versions[0][1]:
        conn.execute(statement)
    conn.execute(f"INSERT INTO {migrations.TABLE} VALUES (1, {mark})", ("2026-11-23T00:00:00Z",))
    for run in ("old1", "old2"):
        conn.execute(f"INSERT INTO runs (id, project) VALUES ({mark}, 'p')", (run,))
    conn.close()

    s = open_store(db_url)
    try:
        assert sorted(r["id"] for r in s.list_runs(["p"], since=0)) == ["old1", "old2"]
        mark = s.runs_rev(["p"])
        s.put_run("old1", {"name": "renamed"})
        assert "old1" in {r["id"] for r in s.list_runs(["p"], since=mark)}
    finally:
        s.close()


def test_a_postgresql_older_than_13_is_refused_by_name(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening a PostgreSQL 12 server is an Error naming the version needed, before any table is made."""
    real = PostgresStore._connect

    class Twelve:
        """A real connection that says it is PostgreSQL 12.5."""

        def __init__(self, conn: psycopg.Connection) -> None:
            self.conn, self.info = conn, SimpleNamespace(server_version=120005)

        def __enter__(self) -> Twelve:
            return self

        def __exit__(self, *exc: object) -> None:
            self.conn.close()

    monkeypatch.setattr(PostgresStore, "_connect", lambda self: Twelve(real(self)))
    with pytest.raises(Error, match=r"PostgreSQL 13 or later .* version 12$"):
        PostgresStore(pg_url)
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('runs')").fetchone() == (None,)

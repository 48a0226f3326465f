"""The read-only logdir store (``swanlog watch``) and the keyless app over it, on hand-made run folders."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from starlette.routing import Route

from swanlog_core._names import name_to_path
from swanlog_core.errors import Error
from swanlog_core.server import Settings, create_app
from swanlog_core.server.errors import ConflictError, NotFoundError
from swanlog_core.server.logdir import LogdirStore
from swanlog_core.server.openapi import openapi_document
from swanlog_core.server.serve import is_loopback, serve_logdir
from tests.runfolder import T0, LockHolder, iso, line, make_run
from tests.support import record_sizes, wait_until


@pytest.fixture
def store(logdir: Path) -> Iterator[LogdirStore]:
    """A LogdirStore over the test's logdir."""
    s = LogdirStore(logdir)
    yield s
    s.close()


class Client:
    """Requests to an ASGI app in process (httpx's ASGI transport, one event loop per request)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; the response is read whole."""

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://watch") as c:
                return await c.request(method, url, **kwargs)

        return asyncio.run(go())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """GET ``url``."""
        return self.request("GET", url, **kwargs)


@pytest.fixture
def client(store: LogdirStore) -> Client:
    """The keyless read-only app over the store, in process."""
    return Client(create_app(Settings(auth=False), store))


def points(store: LogdirStore, run: str, name: str, after: int = -1, limit: int = 10_000) -> list[Any]:
    """(step, value, ts) of a page of a metric, as the store answers it."""
    rows = store.metric_points(run, name, after, limit)
    assert rows is not None
    return [(s, v, t) for s, v, _, t in rows]


def metric_file(run_dir: Path, name: str) -> Path:
    """The file of metric ``name`` in a run folder."""
    return run_dir / "metrics" / name_to_path(name)


# -- runs ----------------------------------------------------------------------------------------


def test_run_list_and_document_come_from_run_json(store: LogdirStore, logdir: Path) -> None:
    """A run's list fields and document are run.json's, with config, summary and definitions."""
    run_dir = make_run(logdir, "abc", tags=["x", 3], name="baseline")
    (run_dir / "env.json").write_text(json.dumps({"python": "3.11"}))
    [row] = store.list_runs(None)
    assert row == {
        "id": "abc",
        "project": "proj",
        "name": "baseline",
        "tags": '["x"]',
        "notes": None,
        "status": "finished",
        "created": iso(T0),
        "updated": iso(T0 + 10),
        "exit_code": 0,
        "duration": 10.0,
        "host": "node1",
    }
    doc = store.get_run("abc")
    assert doc is not None and doc["pid"] == 4242 and json.loads(doc["config"]) == {"lr": 0.001}
    [with_docs] = store.list_runs(None, ("config", "summary"))
    assert set(with_docs) == {*row, "config", "summary"}  # no env read, no pid
    assert (with_docs["config"], with_docs["summary"]) == (doc["config"], doc["summary"])
    assert json.loads(doc["env"]) == {"python": "3.11"} and json.loads(doc["metrics"]) == {}
    assert store.get_run("nope") is None and store.run_project("nope") is None


def test_runs_are_listed_newest_first_and_filtered_by_project(store: LogdirStore, logdir: Path) -> None:
    """The list is newest created first, and a project set narrows it."""
    make_run(logdir, "old", created=T0)
    make_run(logdir, "new", created=T0 + 100, project="other")
    assert [r["id"] for r in store.list_runs(None)] == ["new", "old"]
    assert [r["id"] for r in store.list_runs(["proj"])] == ["old"]
    assert store.list_runs([]) == []


def test_status_is_computed_live(store: LogdirStore, logdir: Path) -> None:
    """A run marked running is running while a writer holds its lock, and crashed once it is gone."""
    run_dir = make_run(logdir, "live", status="running")
    with LockHolder(run_dir) as holder:
        assert store.get_run("live")["status"] == "running"  # type: ignore[index]
        holder.kill()
        assert store.get_run("live")["status"] == "crashed"  # type: ignore[index]


def test_unreadable_run_json_is_left_out_and_named(store: LogdirStore, logdir: Path) -> None:
    """A folder whose run.json is unreadable is not listed, and asking for it is a 404 saying why."""
    make_run(logdir, "good")
    make_run(logdir, "bad", run_json=b"{torn")
    assert [r["id"] for r in store.list_runs(None)] == ["good"]
    with pytest.raises(NotFoundError, match="run.json is unreadable"):
        store.run_project("bad")


def test_a_run_id_in_two_folders_is_an_error_naming_both(store: LogdirStore, logdir: Path) -> None:
    """Two folders with one run id make that run and the list a 409 naming both folders."""
    a = make_run(logdir, "twin", created=T0)
    b = make_run(logdir, "twin", created=T0 + 5)
    for call in (lambda: store.list_runs(None), lambda: store.get_run("twin")):
        with pytest.raises(ConflictError) as exc:
            call()
        assert a.name in str(exc.value) and b.name in str(exc.value)


def test_new_runs_appear_without_restart(store: LogdirStore, logdir: Path) -> None:
    """A run folder created after the first request is listed by the next one."""
    assert store.list_runs(None) == []
    make_run(logdir, "later")
    assert [r["id"] for r in store.list_runs(None)] == ["later"]


# -- metrics -------------------------------------------------------------------------------------


def test_points_skip_torn_and_corrupt_lines(store: LogdirStore, logdir: Path) -> None:
    """A corrupt line and a torn tail are skipped; the lines after the corrupt one are read."""
    data = line(0, 1.0) + b"garbage\n" + line(1, 2.0) + b'{"step": 2, "val'
    make_run(logdir, "r", metrics={"loss": data})
    assert points(store, "r", "loss") == [(0, 1.0, T0), (1, 2.0, T0)]


def test_nonfinite_and_media_values_are_spelled_as_the_api_does(store: LogdirStore, logdir: Path) -> None:
    """NaN and infinities come back as their strings and a media description as its object."""
    media = {"_type": "image", "path": "media/s/ab.png", "width": 3}
    data = line(0, "NaN") + line(1, "Infinity") + line(2, "-Infinity") + line(3, media) + line(4, 7)
    make_run(logdir, "r", metrics={"m": data})
    assert [v for _, v, _ in points(store, "r", "m")] == ["NaN", "Infinity", "-Infinity", media, 7]


def test_points_are_by_step_first_line_wins(store: LogdirStore, logdir: Path) -> None:
    """Points come ordered by step, and of two lines with one step the first in the file wins."""
    make_run(logdir, "r", metrics={"m": line(5, 5.0) + line(1, 1.0) + line(5, 99.0) + line(3, 3.0)})
    assert points(store, "r", "m") == [(1, 1.0, T0), (3, 3.0, T0), (5, 5.0, T0)]


def test_paging_after_step_is_exclusive(store: LogdirStore, logdir: Path) -> None:
    """after_step is exclusive and limit bounds the page."""
    make_run(logdir, "r", metrics={"m": b"".join(line(s, float(s)) for s in range(0, 100, 2))})
    assert [s for s, _, _ in points(store, "r", "m", after=10, limit=3)] == [12, 14, 16]
    assert [s for s, _, _ in points(store, "r", "m", after=11, limit=2)] == [12, 14]
    assert points(store, "r", "m", after=98) == []


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("train/loss", id="slash"),
        pytest.param("..", id="dot-dot"),
        pytest.param("a/../../b", id="dot-dot-inside"),
        pytest.param("a b?c#d%e", id="reserved"),
        pytest.param("训练/损失", id="non-ascii"),
        pytest.param("x.jsonl/y", id="jsonl-folder"),
    ],
)
def test_hostile_metric_names_round_trip(store: LogdirStore, logdir: Path, name: str) -> None:
    """A metric whose name is hostile to paths is listed and read back under its own name."""
    run_dir = make_run(logdir, "r")
    path = metric_file(run_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(line(0, 1.0))
    assert store.metric_names("r") == [name]
    assert points(store, "r", name) == [(0, 1.0, T0)]


@pytest.mark.parametrize(
    "name", ["nope", "", "a//b", "../run.json"], ids=["unknown", "empty", "empty-seg", "up"]
)
def test_unknown_or_invalid_metric_is_none(store: LogdirStore, logdir: Path, name: str) -> None:
    """A metric the run has no file for, or a name no file can hold, is None (a 404)."""
    make_run(logdir, "r", metrics={"loss": line(0, 1.0)})
    assert store.metric_points("r", name, -1, 10) is None


# -- the cache -----------------------------------------------------------------------------------


def test_live_growth_is_seen_and_only_the_tail_is_parsed(
    store: LogdirStore, logdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines appended after a request are served by the next one, parsing only the new bytes."""
    run_dir = make_run(logdir, "r", metrics={"m": b"".join(line(s, 1.0) for s in range(100_000))})
    import swanlog_core.server.logdir as mod

    parsed = record_sizes(monkeypatch, mod, "parse_points")
    assert len(points(store, "r", "m", limit=100_000)) == 100_000
    assert len(points(store, "r", "m", limit=100_000)) == 100_000
    assert len(parsed) == 1  # the second request parsed nothing
    with open(metric_file(run_dir, "m"), "ab") as f:
        f.write(line(100_000, 2.0) + b'{"step":100001')
    assert points(store, "r", "m", after=99_999) == [(100_000, 2.0, T0)]
    assert parsed[1] == len(line(100_000, 2.0))
    with open(metric_file(run_dir, "m"), "ab") as f:
        f.write(b',"value":3.0,"ts":1.0}\n')  # the torn line completed
    assert points(store, "r", "m", after=99_999) == [(100_000, 2.0, T0), (100_001, 3.0, 1.0)]


@pytest.mark.parametrize("how", ["truncate", "replace", "rewrite-same-size"])
def test_cache_is_not_stale_after_the_file_changes(store: LogdirStore, logdir: Path, how: str) -> None:
    """A metric file truncated, replaced, or rewritten in place is read again, not served from cache."""
    run_dir = make_run(logdir, "r", metrics={"m": line(0, 1.0) + line(1, 2.0) + line(2, 3.0)})
    path = metric_file(run_dir, "m")
    assert len(points(store, "r", "m")) == 3
    if how == "truncate":
        path.write_bytes(line(7, 7.0))
    elif how == "replace":
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(line(0, 5.0) + line(1, 6.0) + line(2, 7.0) + line(3, 8.0))
        os.replace(tmp, path)
    else:
        st = path.stat()
        path.write_bytes(line(0, 4.0) + line(1, 5.0) + line(2, 6.0))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a coarse clock still moves
    expected = {
        "truncate": [(7, 7.0, T0)],
        "replace": [(0, 5.0, T0), (1, 6.0, T0), (2, 7.0, T0), (3, 8.0, T0)],
        "rewrite-same-size": [(0, 4.0, T0), (1, 5.0, T0), (2, 6.0, T0)],
    }[how]
    assert points(store, "r", "m") == expected


def test_a_line_with_nul_bytes_is_waited_on_while_fresh(logdir: Path) -> None:
    """A fresh line of NUL bytes (NFS) is not skipped for good: its data is read once it arrives."""
    run_dir = make_run(logdir, "r", metrics={"m": line(0, 1.0) + b"\x00" * 31 + b"\n"})
    s = LogdirStore(logdir)
    assert points(s, "r", "m") == [(0, 1.0, T0)]
    path = metric_file(run_dir, "m")
    with open(path, "r+b") as f:
        f.seek(len(line(0, 1.0)))
        f.write(b'{"step":1,"value":2.0,"ts":1.0}\n')
    assert points(s, "r", "m") == [(0, 1.0, T0), (1, 2.0, 1.0)]
    short = LogdirStore(logdir, nul_grace=0.3)  # once the grace is over, the line is corrupt
    path.write_bytes(line(0, 1.0) + b"\x00" * 31 + b"\n" + line(2, 3.0))
    assert points(short, "r", "m") == [(0, 1.0, T0)]
    wait_until(lambda: points(short, "r", "m") == [(0, 1.0, T0), (2, 3.0, T0)], timeout=5)


def test_the_cache_is_bounded(logdir: Path) -> None:
    """The cache drops the least recently used metrics past its point budget, and still answers."""
    make_run(logdir, "r", metrics={f"m{i}": b"".join(line(s, 1.0) for s in range(100)) for i in range(5)})
    s = LogdirStore(logdir, cache_points=250)
    for i in range(5):
        assert len(points(s, "r", f"m{i}")) == 100
    assert sum(len(e.steps) for e in s._cache._entries.values()) <= 250
    assert len(points(s, "r", "m0")) == 100


# -- files ---------------------------------------------------------------------------------------


def test_files_stay_inside_the_run_folder(store: LogdirStore, logdir: Path, tmp_path: Path) -> None:
    """console.log and media files are served; a symlink out of the run folder is not."""
    run_dir = make_run(logdir, "r")
    (run_dir / "console.log").write_bytes(b"hello\n")
    (run_dir / "media" / "s").mkdir(parents=True)
    (run_dir / "media" / "s" / "a.png").write_bytes(b"\x89PNG")
    (tmp_path / "secret").write_bytes(b"secret")
    (run_dir / "media" / "s" / "out").symlink_to(tmp_path / "secret")
    assert store.get_file("r", "console.log") == b"hello\n"
    assert store.get_file("r", "media/s/a.png") == b"\x89PNG"
    assert store.get_file("r", "media/s/out") is None
    assert store.get_file("r", "media/none") is None


# -- the app -------------------------------------------------------------------------------------


def test_app_answers_reads_without_a_key(client: Client, logdir: Path) -> None:
    """The keyless app answers the run list, a run, its metrics and a page of points with no key."""
    make_run(logdir, "r", metrics={"train/loss": line(0, "NaN") + line(1, 0.5)})
    assert [r["id"] for r in client.get("/api/v1/runs").json()["runs"]] == ["r"]
    assert client.get("/api/v1/runs", params={"project": "nope"}).json() == {"runs": [], "rev": None}
    assert client.get("/api/v1/runs/r").json()["config"] == {"lr": 0.001}
    assert client.get("/api/v1/runs/r/metrics").json() == {"metrics": ["train/loss"]}
    r = client.get("/api/v1/runs/r/metrics/train/loss", params={"after_step": 0})
    assert r.json() == {"metric": "train/loss", "points": [{"step": 1, "value": 0.5, "ts": T0}]}
    assert client.get("/api/v1/runs/r/metrics/train/loss").json()["points"][0]["value"] == "NaN"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/api/v1/runs/r"),
        ("POST", "/api/v1/runs/r/records"),
        ("PUT", "/api/v1/runs/r/files/console.log"),
        ("DELETE", "/api/v1/runs/r"),
    ],
    ids=["put-run", "records", "put-file", "delete"],
)
def test_writes_are_405_json(client: Client, logdir: Path, method: str, path: str) -> None:
    """Every write is a 405 with a JSON error saying the server is read-only, and changes nothing."""
    make_run(logdir, "r")
    before = sorted(p.name for p in (logdir).rglob("*"))
    r = client.request(method, path, content=b"{}")
    assert r.status_code == 405 and "read-only" in r.json()["error"] and r.headers["Allow"] == "GET"
    assert sorted(p.name for p in logdir.rglob("*")) == before


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/runs/r/files/%2E%2E/run.json", 400),
        ("/api/v1/runs/r/files/media/%2E%2E/%2E%2E/x", 400),
        ("/api/v1/runs/r/files/run.json", 400),
        ("/api/v1/runs/r/files/console.log", 404),
        ("/api/v1/runs/a.b/metrics", 400),
        ("/api/v1/runs/ghost", 404),
        ("/api/v1/runs/r/metrics/nope", 404),
        ("/api/v1/runs/r/metrics/m?limit=0", 400),
    ],
)
def test_bad_requests_get_the_servers_answers(client: Client, logdir: Path, path: str, status: int) -> None:
    """Bad paths, run ids and parameters get the same 4xx JSON errors as the database server."""
    make_run(logdir, "r", metrics={"m": line(0, 1.0)})
    r = client.get(path)
    assert r.status_code == status and "error" in r.json()


def test_read_only_openapi_matches_its_routes(store: LogdirStore) -> None:
    """The keyless app's /openapi.json documents exactly its routes and methods, and asks no key."""
    app = create_app(Settings(auth=False), store)
    routes = [r for r in app.routes if isinstance(r, Route)]
    served = {
        (r.path.replace(":path", ""), m.lower()) for r in routes for m in r.methods or () if m != "HEAD"
    }
    doc = openapi_document(read_only=True)
    assert served == {(p, m) for p, item in doc["paths"].items() for m in item}
    assert doc["security"] == []
    assert Client(app).get("/openapi.json").json() == doc


@pytest.mark.parametrize(
    ("host", "loopback"), [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False)]
)
def test_loopback_is_told_apart(host: str, loopback: bool) -> None:
    """Loopback addresses are recognised as such, and 0.0.0.0 is not."""
    assert is_loopback(host) is loopback


def test_a_remote_host_must_be_allowed_explicitly(logdir: Path) -> None:
    """serve_logdir refuses a non-loopback host unless allow_remote is passed, naming the risk."""
    with pytest.raises(Error, match="asks no key"):
        serve_logdir(logdir, "0.0.0.0", 0)

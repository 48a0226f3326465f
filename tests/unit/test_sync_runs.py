"""Syncer edge cases against an in-memory API v1 (httpx.MockTransport): files that change under
sync, lost offsets, refusals of one run. The real server is exercised in tests/e2e/test_sync.py."""

from __future__ import annotations

import gzip
import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from swanlog_core.sync import Limits, Syncer
from tests.runfolder import LockHolder, line, make_run
from tests.support import wait_until

SERVER = "http://fake.test"


class FakeServer:
    """Just enough of API v1: runs by id, first value per (run, metric, step) wins."""

    def __init__(self, refuse_project: str | None = None) -> None:
        self.runs: dict[str, dict[str, Any]] = {}
        self.points: dict[str, dict[tuple[str, int], Any]] = {}
        self.files: dict[tuple[str, str], bytes] = {}
        self.batches = 0
        self.refuse_project = refuse_project

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        m = re.fullmatch(r"/api/v1/runs/([^/]+)(/records|/files/.+)?", path)
        assert m, path
        run_id, rest = m.group(1), m.group(2)
        if rest is None:
            doc = json.loads(request.content)
            project = doc.get("project") or self.runs.get(run_id, {}).get("project")
            if project == self.refuse_project:
                return httpx.Response(403, json={"error": f"key lacks project {project}"})
            created = run_id not in self.runs
            self.runs.setdefault(run_id, {}).update(doc)
            return httpx.Response(200, json={"id": run_id, "created": created})
        if run_id not in self.runs:
            return httpx.Response(404, json={"error": f"no run {run_id}"})
        if rest == "/records":
            body = gzip.decompress(request.content)
            store = self.points.setdefault(run_id, {})
            accepted = dup = 0
            for raw in body.split(b"\n")[:-1]:
                rec = json.loads(raw)
                key = (rec["metric"], rec["step"])
                if key in store:
                    dup += 1
                else:
                    store[key] = rec["value"]
                    accepted += 1
            self.batches += 1
            return httpx.Response(200, json={"accepted": accepted, "duplicates": dup})
        self.files[(run_id, rest[len("/files/") :])] = request.content
        return httpx.Response(200, json={})

    def steps(self, run_id: str, metric: str) -> list[int]:
        return sorted(s for (m, s) in self.points.get(run_id, {}) if m == metric)


def _sync(paths: list[Path], server: FakeServer, **kwargs: Any):
    return Syncer(paths, SERVER, "key", transport=httpx.MockTransport(server), **kwargs).run()


def test_one_shot_sync_sends_every_point_once(logdir: Path) -> None:
    """A sync sends every point of every metric; a second sync sends nothing more."""
    make_run(logdir, "aaaa", metrics={"loss": [line(i, i / 2) for i in range(100)], "a/b": [line(0, 1)]})
    server = FakeServer()
    first = _sync([logdir], server)
    assert first.ok and first.points == 101 and first.accepted == 101
    assert server.steps("aaaa", "loss") == list(range(100)) and server.steps("aaaa", "a/b") == [0]
    assert server.runs["aaaa"]["status"] == "finished" and server.runs["aaaa"]["config"] == {"lr": 0.001}
    second = _sync([logdir], server)
    assert second.ok and second.points == 0 and second.duplicates == 0


def test_batches_respect_the_record_bound(logdir: Path) -> None:
    """No batch carries more records than the bound; all of them arrive."""
    make_run(logdir, "aaaa", metrics={"m": [line(i, 1.0) for i in range(1000)]})
    server = FakeServer()
    report = _sync([logdir], server, limits=Limits(records=100, chunk=2000))
    assert report.ok and server.batches >= 10 and server.steps("aaaa", "m") == list(range(1000))


def test_new_lines_are_sent_from_the_offset(logdir: Path) -> None:
    """Lines appended after a sync are sent by the next one, and only they."""
    run_dir = make_run(logdir, "aaaa", metrics={"m": [line(i, 1.0) for i in range(10)]})
    server = FakeServer()
    _sync([logdir], server)
    with open(run_dir / "metrics" / "m.jsonl", "ab") as f:
        f.write(b"".join(line(i, 1.0) for i in range(10, 15)))
    report = _sync([logdir], server)
    assert (report.points, report.duplicates) == (5, 0)
    assert server.steps("aaaa", "m") == list(range(15))


@pytest.mark.parametrize("how", ["truncated", "replaced", "rewritten-in-place"])
def test_a_changed_file_is_read_again_from_the_start(logdir: Path, how: str) -> None:
    """A metric file truncated, replaced or rewritten is read again from 0: its new points arrive."""
    run_dir = make_run(logdir, "aaaa", metrics={"m": [line(i, 1.0) for i in range(10)]})
    path = run_dir / "metrics" / "m.jsonl"
    server = FakeServer()
    _sync([logdir], server)
    new = b"".join(line(i, 2.0, ts=5.0) for i in range(100, 130))  # longer than the old file
    if how == "truncated":
        with open(path, "r+b") as f:
            f.truncate(0)
            f.write(new[: len(line(100, 2.0, ts=5.0)) * 3])
    elif how == "replaced":
        tmp = path.with_name("tmp")
        tmp.write_bytes(new)
        os.replace(tmp, path)
    else:
        inode = path.stat().st_ino
        with open(path, "r+b") as f:
            f.write(new)
        assert path.stat().st_ino == inode
    report = _sync([logdir], server)
    assert report.ok
    expected = 3 if how == "truncated" else 30
    assert server.steps("aaaa", "m") == list(range(10)) + list(range(100, 100 + expected))


def test_losing_the_offsets_costs_bandwidth_not_data(logdir: Path) -> None:
    """With the sync/ folder deleted, everything is sent again and reported as duplicates."""
    run_dir = make_run(logdir, "aaaa", metrics={"m": [line(i, 1.0) for i in range(50)]})
    server = FakeServer()
    _sync([logdir], server)
    for f in (run_dir / "sync").iterdir():
        f.unlink()
    report = _sync([logdir], server)
    assert report.ok and (report.accepted, report.duplicates) == (0, 50)


def test_corrupt_lines_are_skipped_and_reported(logdir: Path) -> None:
    """Corrupt complete lines are counted in the report and never reach the server."""
    make_run(logdir, "aaaa", metrics={"m": [line(0, 1.0), b"garbage\n", line(1, 2.0), b'{"step":-3}\n']})
    server = FakeServer()
    report = _sync([logdir], server)
    assert report.ok and report.corrupt == 2 and server.steps("aaaa", "m") == [0, 1]


def test_a_torn_tail_is_waited_on_and_sent_once_complete(logdir: Path) -> None:
    """An incomplete last line is not sent and not skipped: once its newline arrives, it goes."""
    run_dir = make_run(logdir, "aaaa", metrics={"m": line(0, 1.0) + line(1, 2.0)[:10]})
    server = FakeServer()
    first = _sync([logdir], server)
    assert first.waiting == {"aaaa": 10} and server.steps("aaaa", "m") == [0]
    with open(run_dir / "metrics" / "m.jsonl", "ab") as f:
        f.write(line(1, 2.0)[10:])
    second = _sync([logdir], server)
    assert second.waiting == {} and server.steps("aaaa", "m") == [0, 1]


def test_a_nul_tail_of_a_live_run_is_waited_on(logdir: Path) -> None:
    """While the writer lives, a NUL region (NFS before the data arrives) is not sent and not skipped."""
    run_dir = make_run(logdir, "aaaa", status="running", metrics={"m": line(0, 1.0) + b"\x00" * 30 + b"\n"})
    server = FakeServer()
    with LockHolder(run_dir):
        report = _sync([logdir], server)
        assert report.corrupt == 0 and server.steps("aaaa", "m") == [0]
        with open(run_dir / "metrics" / "m.jsonl", "r+b") as f:  # the data arrives
            f.seek(len(line(0, 1.0)))
            f.write(line(1, 2.0)[:-1].ljust(30) + b"\n")
        report = _sync([logdir], server)
    assert report.corrupt == 0 and server.steps("aaaa", "m") == [0, 1]
    assert server.runs["aaaa"]["status"] == "running"


def test_a_crashed_run_is_pushed_as_crashed(logdir: Path) -> None:
    """A run marked running whose lock is free is sent with status crashed, with its points."""
    make_run(logdir, "aaaa", status="running", metrics={"m": [line(0, 1.0)]})
    server = FakeServer()
    assert _sync([logdir], server).ok
    assert server.runs["aaaa"]["status"] == "crashed" and server.steps("aaaa", "m") == [0]


def test_a_refused_run_stops_alone(logdir: Path) -> None:
    """A 4xx for one run stops that run only; the others are synced; the report names it."""
    make_run(logdir, "aaaa", project="ok", metrics={"m": [line(0, 1.0)]})
    make_run(logdir, "bbbb", project="secret", created=1_795_000_100.0, metrics={"m": [line(0, 1.0)]})
    make_run(logdir, "cccc", project="ok", created=1_795_000_200.0, metrics={"m": [line(0, 1.0)]})
    server = FakeServer(refuse_project="secret")
    report = _sync([logdir], server)
    assert not report.ok and list(report.failed) == ["bbbb"]
    assert "key lacks project secret" in report.failed["bbbb"]
    assert server.steps("aaaa", "m") == [0] and server.steps("cccc", "m") == [0]


def test_a_server_that_lost_the_run_gets_it_again(logdir: Path) -> None:
    """When the server answers 404 for records (its database was replaced), the run is PUT again."""
    run_dir = make_run(logdir, "aaaa", metrics={"m": [line(0, 1.0)]})
    server = FakeServer()
    _sync([logdir], server)
    with open(run_dir / "metrics" / "m.jsonl", "ab") as f:
        f.write(line(1, 1.0))
    fresh = FakeServer()
    syncer = Syncer([logdir], SERVER, "key", transport=httpx.MockTransport(fresh))
    syncer._run_for(run_dir)._put_once = True  # as if this process had PUT it already
    from swanlog_core.sync.offsets import OffsetStore

    state = OffsetStore(run_dir, "aaaa", SERVER)
    assert state.run_doc
    report = syncer.run()
    assert report.ok and fresh.steps("aaaa", "m") == [1] and "aaaa" in fresh.runs


def test_console_and_media_files_are_pushed_once(logdir: Path) -> None:
    """console.log and media payloads are pushed, and not again while they are unchanged."""
    run_dir = make_run(logdir, "aaaa", metrics={"m": [line(0, 1.0)]})
    (run_dir / "console.log").write_bytes(b"hello\n")
    (run_dir / "media" / "img").mkdir(parents=True)
    (run_dir / "media" / "img" / "ab12.png").write_bytes(b"\x89PNG")
    (run_dir / "env.json").write_text(json.dumps({"python": "3.11"}))
    server = FakeServer()
    first = _sync([logdir], server)
    assert first.files == 2
    assert server.files == {("aaaa", "console.log"): b"hello\n", ("aaaa", "media/img/ab12.png"): b"\x89PNG"}
    assert server.runs["aaaa"]["env"] == {"python": "3.11"}
    assert _sync([logdir], server).files == 0


def test_a_run_without_run_json_is_reported_not_synced(logdir: Path) -> None:
    """A run folder whose run.json is unreadable is named in the report; the others still go."""
    make_run(logdir, "aaaa", run_json=b"{broken", metrics={"m": [line(0, 1.0)]})
    make_run(logdir, "bbbb", created=1_795_000_100.0, metrics={"m": [line(0, 1.0)]})
    server = FakeServer()
    report = _sync([logdir], server)
    assert not report.ok and "aaaa" in report.failed and server.steps("bbbb", "m") == [0]


def test_a_bad_server_url_is_refused_up_front(logdir: Path) -> None:
    """A server URL that is not http(s) is a clear error before anything is read."""
    from swanlog_core.errors import InvalidValueError

    with pytest.raises(InvalidValueError, match="ftp://x"):
        Syncer([logdir], "ftp://x", "key")


def _in_thread(syncer: Syncer) -> tuple[threading.Thread, list]:
    out: list = []
    t = threading.Thread(target=lambda: out.append(syncer.run()), name="syncer")
    t.start()
    return t, out


def test_watch_goes_on_by_rescans_when_file_events_stop(logdir: Path) -> None:
    """If the file event observer dies, --watch still pushes new lines (by its rescan) and says so."""
    run_dir = make_run(logdir, "aaaa", status="running", metrics={"m": [line(0, 1.0)]})
    server = FakeServer()
    with LockHolder(run_dir):
        syncer = Syncer(
            [logdir], SERVER, "key", watch=True, rescan=0.1, transport=httpx.MockTransport(server)
        )
        thread, out = _in_thread(syncer)
        try:
            wait_until(lambda: server.steps("aaaa", "m") == [0])
            observer = syncer.watcher._observer  # type: ignore[attr-defined]
            observer.stop()
            observer.join(timeout=10)
            with open(run_dir / "metrics" / "m.jsonl", "ab") as f:
                f.write(line(1, 2.0))
            wait_until(lambda: server.steps("aaaa", "m") == [0, 1])
        finally:
            syncer.stop()
            thread.join(timeout=30)
    (report,) = out
    assert report.ok and any("observer stopped" in p for p in report.problems)


def test_until_finished_returns_once_the_writer_is_gone(logdir: Path) -> None:
    """The online sync child pushes while the run lives and returns once its writer is gone."""
    run_dir = make_run(logdir, "aaaa", status="running", metrics={"m": [line(0, 1.0)]})
    server = FakeServer()
    holder = LockHolder(run_dir)
    syncer = Syncer(
        [run_dir], SERVER, "key", until_finished=True, rescan=0.1, transport=httpx.MockTransport(server)
    )
    thread, out = _in_thread(syncer)
    try:
        wait_until(lambda: server.steps("aaaa", "m") == [0])
        assert thread.is_alive()
        with open(run_dir / "metrics" / "m.jsonl", "ab") as f:
            f.write(line(1, 2.0))
        holder.kill()
        thread.join(timeout=30)
        assert not thread.is_alive()
    finally:
        holder.kill()
        syncer.stop()
        thread.join(timeout=30)
    assert out[0].ok and server.steps("aaaa", "m") == [0, 1] and server.runs["aaaa"]["status"] == "crashed"


def test_a_run_another_sync_is_pushing_is_skipped_and_reported(logdir: Path) -> None:
    """A one-shot sync skips a run whose sync lock another process holds, and does not exit 0."""
    from swanlog_core.sync.offsets import OffsetStore

    run_dir = make_run(logdir, "aaaa", metrics={"m": [line(0, 1.0)]})
    other = OffsetStore(run_dir, "aaaa", SERVER)
    assert other.try_lock()
    try:
        server = FakeServer()
        report = _sync([logdir], server)
    finally:
        other.unlock()
    assert report.busy == ["aaaa"] and not report.ok and server.steps("aaaa", "m") == []

"""Durable sync offsets: where they live, what survives a restart, and when a file is read again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from swanlog_core.sync.offsets import Cursor, OffsetStore, head_hash, server_key
from tests.runfolder import make_run

SERVER = "http://127.0.0.1:5092"


def test_offsets_survive_a_restart(logdir: Path) -> None:
    """Saved offsets, fingerprints and pushed files are what the next sync process loads."""
    run_dir = make_run(logdir, "abcd")
    store = OffsetStore(run_dir, "abcd", SERVER)
    store.cursor("loss.jsonl").advance(120, 77, b"x" * 200)
    store.files["console.log"] = [10, 123]
    store.run_doc = "feed"
    store.save()
    again = OffsetStore(run_dir, "abcd", SERVER)
    c = again.cursor("loss.jsonl")
    assert (c.offset, c.inode, c.head_len, c.head) == (120, 77, 64, head_hash(b"x" * 64))
    assert again.files == {"console.log": [10, 123]} and again.run_doc == "feed"
    assert store.path.parent == run_dir / "sync"
    assert not [p for p in store.path.parent.iterdir() if p.name.endswith(".tmp")]


def test_each_server_has_its_own_offsets(logdir: Path) -> None:
    """Syncing one run to two servers keeps two sets of offsets; a trailing slash is the same server."""
    run_dir = make_run(logdir, "abcd")
    assert server_key(SERVER) == server_key(SERVER + "/") == server_key("HTTP://127.0.0.1:5092")
    assert server_key(SERVER) != server_key("http://127.0.0.1:5093")
    OffsetStore(run_dir, "abcd", SERVER).save()
    OffsetStore(run_dir, "abcd", "http://127.0.0.1:5093").save()
    assert len(list((run_dir / "sync").glob("*.json"))) == 2


@pytest.mark.parametrize(
    "content", [b"{not json", b"[]", b'{"format": 1, "run_id": "other", "metrics": {}}', b'{"format": 1}'],
    ids=["garbage", "not-object", "other-run", "missing-fields"],
)  # fmt: skip
def test_a_damaged_offsets_file_means_sending_again(logdir: Path, content: bytes) -> None:
    """An unreadable or foreign offsets file is ignored with a note: it costs bandwidth, never data."""
    run_dir = make_run(logdir, "abcd")
    first = OffsetStore(run_dir, "abcd", SERVER)
    first.path.write_bytes(content)
    store = OffsetStore(run_dir, "abcd", SERVER)
    assert store.cursors == {} and store.problem


def test_offsets_go_to_the_state_dir_when_the_run_folder_cannot_hold_them(
    logdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the run folder cannot take a sync/ folder, offsets live under $XDG_STATE_HOME instead."""
    run_dir = make_run(logdir, "abcd")
    (run_dir / "sync").write_bytes(b"")  # a file in the way, as an unwritable folder would be
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    store = OffsetStore(run_dir, "abcd", SERVER)
    store.cursor("m.jsonl").advance(5, 1, b"abcde")
    store.save()
    assert store.path.is_relative_to(tmp_path / "state" / "swanlog" / "sync")
    assert OffsetStore(run_dir, "abcd", SERVER).cursor("m.jsonl").offset == 5


def _cursor_for(data: bytes, offset: int, inode: int = 1) -> Cursor:
    c = Cursor()
    c.advance(offset, inode, data[:64])
    return c


def test_a_cursor_matches_the_same_file_grown() -> None:
    """A file that only grew is the same file: reading continues from the offset."""
    data = b"a" * 100
    c = _cursor_for(data, 100)
    assert c.matches(1, 150, (data + b"b" * 50)[:64])


@pytest.mark.parametrize(
    "inode, size, head",
    [(1, 50, b"a" * 50), (2, 200, b"a" * 64), (1, 200, b"z" + b"a" * 63), (1, 200, b"")],
    ids=["truncated", "replaced-new-inode", "rewritten-same-inode", "emptied-then-grown"],
)
def test_a_cursor_does_not_match_a_changed_file(inode: int, size: int, head: bytes) -> None:
    """A truncated, replaced or rewritten file no longer matches its offset: it is read again from 0."""
    c = _cursor_for(b"a" * 100, 100)
    assert not c.matches(inode, size, head)


def test_a_short_file_is_fingerprinted_by_what_it_has() -> None:
    """A file shorter than the fingerprint is matched on the bytes it had when acknowledged."""
    c = _cursor_for(b"abc", 3)
    assert c.head_len == 3
    assert c.matches(1, 10, b"abcdefghij")
    assert not c.matches(1, 10, b"abXdefghij")


def test_the_sync_lock_admits_one_process(logdir: Path) -> None:
    """Only one sync process at a time pushes a run to a server; the lock is released on unlock."""
    run_dir = make_run(logdir, "abcd")
    a = OffsetStore(run_dir, "abcd", SERVER)
    b = OffsetStore(run_dir, "abcd", SERVER)
    assert a.try_lock()
    assert not b.try_lock()
    a.unlock()
    assert b.try_lock()
    b.unlock()
    assert os.path.exists(a.lock_path)

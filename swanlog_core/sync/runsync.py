"""Pushing one run: its document (run.json fields, config, summary, definitions, env), its
metric files from their acknowledged offsets, its console log and media.

Order and invariants:

- the run is PUT before any of its records (the server answers 404 to records of a
  run it does not know), and PUT again whenever its document changes, status included
  (a run marked running whose lock is free is ``crashed``), so the server ends final;
- an offset moves only after the server acknowledged the batch holding those lines,
  and is saved by atomic rewrite (at most every ``SAVE_SECONDS``, and at the end);
- only complete lines are sent; a line holding NUL bytes is waited on while the run
  is live (NFS shows such regions before the data arrives), and counted as corrupt
  once the writer is gone or it stayed unchanged for ``NUL_GRACE`` seconds with lines
  after it; a torn last line is always waited on;
- a corrupt complete line is skipped and counted, never sent.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .._format import METRICS_DIR, RUN_JSON, iter_metric_files, parse_run_dir_name, read_json
from .._names import path_to_name
from ..errors import CorruptRunError
from ..reader import RunView
from .client import Client, gzip_bytes
from .errors import ServerRejectedError, SyncInterrupted
from .offsets import HEAD_BYTES, Cursor, OffsetStore
from .scan import metric_prefix, read_chunk, to_records

__all__ = ["Limits", "RunSync", "Totals"]

SAVE_SECONDS = 0.5  # offsets are saved at most this often (and at the end of each pass)
NUL_GRACE = 30.0  # seconds a NUL line with lines after it may take to heal in a live run
CONSOLE_SECONDS = 5.0  # console.log and media of a live run are pushed at most this often
_RUN_FIELDS = ("project", "name", "tags", "notes", "created", "updated", "exit_code", "host", "pid")
_DOC_FILES = (RUN_JSON, "config.json", "summary.json", "metrics.json", "env.json")
FINAL = frozenset(("finished", "failed", "crashed"))


@dataclass
class Limits:
    """Bounds of one records batch."""

    records: int = 50_000
    bytes: int = 16 << 20  # record bytes before gzip; the server takes 64 MiB
    chunk: int = 1 << 20  # metric-file bytes read at a time


@dataclass
class Totals:
    """Counters summed over every run of a sync."""

    points: int = 0  # records the server acknowledged (accepted + duplicates)
    accepted: int = 0
    duplicates: int = 0
    corrupt: int = 0  # complete lines skipped as not a valid point
    bytes: int = 0  # metric-file bytes acknowledged
    wire: int = 0  # request bytes sent (gzip)
    files: int = 0  # console and media files pushed
    batches: int = 0
    problems: list[str] = field(default_factory=list)


class _Piece:
    """Lines of one metric file inside a batch; the cursor moves to ``end`` once acknowledged."""

    __slots__ = ("cursor", "end", "inode", "head", "size")

    def __init__(self, cursor: Cursor, end: int, inode: int, head: bytes, size: int) -> None:
        self.cursor, self.end, self.inode, self.head, self.size = cursor, end, inode, head, size


class RunSync:
    """The sync state of one run folder, pass after pass.

    Args:
        run_dir: the run folder.
        client: the HTTP client.
        server: the server URL (names the state file).
        totals: counters to add to.
        limits: batch bounds.
    """

    def __init__(self, run_dir: Path, client: Client, server: str, totals: Totals, limits: Limits) -> None:
        self.dir = run_dir
        self.id = parse_run_dir_name(run_dir.name) or run_dir.name
        self.client = client
        self.totals = totals
        self.limits = limits
        self.server = server
        self.state: OffsetStore | None = None
        self.stopped: str | None = None  # why the server refused this run; it is not tried again
        self.status = "unknown"  # as last read
        self.done = False  # final, and every complete line acknowledged
        self.waiting = 0  # bytes of torn or NUL tails left after the last pass, waited on
        self.busy = False  # another sync process holds this run's sync lock
        self.changed = False  # its status changed during the last pass: pass again
        self.abort = threading.Event()  # set: stop at the next batch boundary
        self.on_batch: Any = None  # called after each acknowledged batch
        self.sender: Executor | None = None  # one thread sending batches; None sends inline
        self._inflight: Future[None] | None = None
        self._prefixes: dict[str, bytes] = {}
        self._saved_at = 0.0
        self._dirty = False
        self._console_at = 0.0
        self._put_once = False
        self._doc_signature: tuple[Any, ...] = ()

    # -- one pass ---------------------------------------------------------------------

    def sync_pass(self, final: bool = False) -> bool:
        """Push what is new; True when something was sent. ``final`` pushes console.log now.

        Raises:
            ServerRejectedError: the server refused this run (the caller stops it).
            ServerUnavailableError, SyncInterrupted: from the client.
        """
        view = RunView(self.dir)
        if view.status == "corrupt":
            self.status = "corrupt"
            raise CorruptRunError(f"run {self.id} in {self.dir}: {view.problem}; it cannot be synced")
        if view.status == "running" and not (self.dir / RUN_JSON).exists():
            return False  # a run being created: init() writes run.json last
        self.id = view.id
        if self.state is None:
            self.state = OffsetStore(self.dir, self.id, self.server)
            if self.state.problem:
                self.totals.problems.append(self.state.problem)
        if not self.state.try_lock():
            self.busy = True  # another sync process pushes this run to this server
            return False
        self.busy = False
        self.status = view.status
        self._put_run(view)
        sent = self._push_metrics(live=view.status == "running")
        sent = self._push_files(final or view.status in FINAL) or sent
        self.save(force=True)
        self.done = view.status in FINAL  # and every complete line is acknowledged
        self.changed = False
        if view.status in FINAL or final:
            # The document may have changed while the lines went (summary, status).
            again = RunView(self.dir)
            if again.status != "corrupt":
                self.status = again.status
                self.changed = again.status != view.status
                if not self.changed:
                    self._put_run(again)  # else the next pass sends its last lines first
        return sent

    # -- the run document ----------------------------------------------------------------

    def _document(self, view: RunView) -> bytes:
        try:
            meta = read_json(self.dir / RUN_JSON)
        except (OSError, ValueError):
            meta = {}
        doc: dict[str, Any] = {k: meta[k] for k in _RUN_FIELDS if k in meta}
        doc["status"] = view.status
        # A live run's duration grows with every read: send the stored one, so that the
        # document (and its hash) changes only when the writer rewrites run.json.
        duration = meta.get("duration") if view.status == "running" else view.duration
        if type(duration) in (int, float):
            doc["duration"] = round(duration, 3)
        for key, attr in (("config", "config"), ("summary", "summary"), ("metrics", "metric_definitions")):
            try:
                doc[key] = getattr(view, attr)
            except CorruptRunError as exc:
                self._problem(str(exc))
        try:
            env = read_json(self.dir / "env.json")
            if isinstance(env, dict):
                doc["env"] = env
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            self._problem(f"run {self.id}: env.json is unreadable ({exc})")
        return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)

    def _signature(self, status: str) -> tuple[Any, ...]:
        """What the run document depends on: the status and the JSON files' stat."""
        marks: list[Any] = [status]
        for name in _DOC_FILES:
            try:
                st = os.stat(self.dir / name)
                marks.append((st.st_ino, st.st_size, st.st_mtime_ns))
            except FileNotFoundError:
                marks.append(None)
        return tuple(marks)

    def _put_run(self, view: RunView) -> None:
        assert self.state is not None
        signature = self._signature(view.status)
        if signature == self._doc_signature and self._put_once:
            return  # nothing it is made from changed: skip reading five files every pass
        doc = self._document(view)
        digest = hashlib.blake2b(doc, digest_size=16).hexdigest()
        if digest == self.state.run_doc and self._put_once:
            self._doc_signature = signature
            return  # the first pass of each sync PUTs anyway: it checks the key and the run exist
        self.client.put_run(self.id, doc)
        self._put_once = True
        self._doc_signature = signature
        self.state.run_doc = digest
        self._dirty = True

    def _problem(self, text: str) -> None:
        if text not in self.totals.problems:
            self.totals.problems.append(text)

    # -- metric files ------------------------------------------------------------------

    def _push_metrics(self, live: bool) -> bool:
        assert self.state is not None
        limits = self.limits
        pieces: list[_Piece] = []
        bodies: list[bytes] = []
        count = size = 0
        sent = False
        waiting = 0
        now = time.monotonic()
        for rel, path in iter_metric_files(self.dir / METRICS_DIR):
            name = self._name(rel)
            if name is None:
                continue
            prefix = self._prefixes.get(name)
            if prefix is None:
                prefix = self._prefixes[name] = metric_prefix(name)
            cursor = self.state.cursor(rel)
            offset = cursor.offset
            probe = cursor  # what the file must still match: the acknowledged state, then the last read
            while True:
                skip_nul = not live or (
                    cursor.nul_at == offset and cursor.nul_since and now - cursor.nul_since > NUL_GRACE
                )
                chunk = read_chunk(path, offset, probe.matches, limits.chunk, HEAD_BYTES, bool(skip_nul))
                if chunk is None:
                    break
                if chunk.nul:
                    if cursor.nul_at != chunk.start:
                        cursor.nul_at, cursor.nul_since = chunk.start, now
                else:
                    cursor.nul_at, cursor.nul_since = -1, 0.0
                if chunk.skip:
                    self.totals.corrupt += 1
                records = to_records(name, prefix, chunk.body)
                self.totals.corrupt += records.corrupt
                if chunk.end > chunk.start or chunk.reset:
                    if bodies and (
                        count + records.count > limits.records or size + len(records.body) > limits.bytes
                    ):
                        self._submit(pieces, bodies, count)
                        if self.abort.is_set():
                            raise SyncInterrupted(f"run {self.id}: stopped between two batches")
                        sent = True
                        pieces, bodies, count, size = [], [], 0, 0
                    pieces.append(_Piece(cursor, chunk.end, chunk.inode, chunk.head, chunk.end - chunk.start))
                    if records.count:
                        bodies.append(records.body)
                        count += records.count
                        size += len(records.body)
                offset = chunk.end
                if not chunk.more:
                    waiting += chunk.pending
                    break
                probe = Cursor()
                probe.advance(chunk.end, chunk.inode, chunk.head)
        if bodies or pieces:
            self._submit(pieces, bodies, count)
            sent = sent or bool(bodies)
        self._wait()
        self.waiting = waiting
        return sent

    def _name(self, rel: str) -> str | None:
        try:
            return path_to_name(rel)
        except UnicodeDecodeError:  # a hand-made file name that decodes to no text
            return None

    def _submit(self, pieces: list[_Piece], bodies: list[bytes], count: int) -> None:
        """Send a batch from the sender thread while this one reads and converts the next.

        One batch in flight at most, acknowledged in order: an offset never passes a
        batch the server has not acknowledged. The batch is compressed here, before
        waiting, so that compressing overlaps the server's work on the batch in flight.
        """
        body = b"".join(bodies)
        gzipped = gzip_bytes(body) if count else b""
        self._wait()
        if self.sender is None:
            self._send(pieces, body, gzipped, count)
        else:
            self._inflight = self.sender.submit(self._send, pieces, body, gzipped, count)

    def _wait(self) -> None:
        """Wait for the batch in flight; its error (a refusal, giving up) is raised here."""
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            inflight.result()

    def _send(self, pieces: list[_Piece], body: bytes, gzipped: bytes, count: int) -> None:
        if count:
            try:
                ack = self.client.post_records(self.id, body, gzipped)
            except ServerRejectedError as exc:
                if exc.status != 404:
                    raise
                # The server lost the run (a new database): PUT it again, then the records.
                assert self.state is not None
                self.state.run_doc = ""
                self._doc_signature = ()
                self._put_run(RunView(self.dir))
                ack = self.client.post_records(self.id, body, gzipped)
            t = self.totals
            t.accepted += ack.accepted
            t.duplicates += ack.duplicates
            t.points += count
            t.batches += 1
            t.wire += ack.wire
        for p in pieces:
            p.cursor.advance(p.end, p.inode, p.head)
            self.totals.bytes += p.size
        self._dirty = True
        self.save()
        if self.on_batch is not None:
            self.on_batch()

    # -- console and media -------------------------------------------------------------

    def _push_files(self, final: bool) -> bool:
        assert self.state is not None
        sent = False
        now = time.monotonic()
        if not final and now - self._console_at < CONSOLE_SECONDS:
            return False  # a live run's console and media are looked at every few seconds
        self._console_at = now
        candidates = [("console.log", self.dir / "console.log")]
        media = self.dir / "media"
        if media.is_dir():
            for root, dirs, files in os.walk(media):
                dirs.sort()
                for f in sorted(files):
                    full = Path(root, f)
                    rel = full.relative_to(self.dir).as_posix()
                    if not f.startswith("."):
                        candidates.append((rel, full))
        for rel, path in candidates:
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            mark = [st.st_size, st.st_mtime_ns]
            if self.state.files.get(rel) == mark:
                continue
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            try:
                self.client.put_file(self.id, rel, data)
            except ServerRejectedError as exc:
                if exc.status in (401, 403, 404, 409):
                    raise
                self._problem(str(exc))  # one file refused (too large, say): the rest goes on
            self.state.files[rel] = mark
            self.totals.files += 1
            self._dirty = True
            sent = True
        return sent

    # -- state ----------------------------------------------------------------------------

    def close(self) -> None:
        """Save the offsets and release the run's sync lock."""
        self.save(force=True)
        if self.state is not None:
            self.state.unlock()

    def save(self, force: bool = False) -> None:
        """Save the offsets if they changed (at most every SAVE_SECONDS unless ``force``)."""
        if self.state is None or not self._dirty:
            return
        now = time.monotonic()
        if not force and now - self._saved_at < SAVE_SECONDS:
            return
        try:
            self.state.save()
        except OSError as exc:  # a full disk: sync goes on, a restart would send more again
            self._problem(f"run {self.id}: cannot save sync offsets to {self.state.path}: {exc}")
            return
        self._saved_at = now
        self._dirty = False

    def unsent(self) -> int:
        """Bytes of metric files past the acknowledged offsets (complete or not)."""
        total = 0
        if self.state is None:
            try:
                self.state = OffsetStore(self.dir, self.id, self.server)
            except OSError:
                pass
        cursors = self.state.cursors if self.state else {}
        for rel, path in iter_metric_files(self.dir / METRICS_DIR):
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            c = cursors.get(rel)
            total += size - (c.offset if c is not None and c.offset <= size else 0)
        return total

"""The read-only logdir store behind ``swanlog watch``: API v1's read endpoints from the files.

``LogdirStore(logdir)`` implements ``store.ReadStore`` over the run folders of one
logdir, through ``swanlog_core.reader``; ``create_app(Settings(auth=False), store)``
serves it without keys and without the write endpoints. Nothing is ever written.

What differs from a database server (docs/http-api.md, "Serving a logdir"):

- a run's id is its folder's (``run-<time>-<id>``); an id held by two folders is a 409
  naming both, for that run and for the run list;
- ``status`` and ``duration`` are computed at each request, as ``swanlog ls`` does: a
  run marked running whose writer is gone is ``crashed``, and a live run's duration
  grows; a folder whose run.json is missing or unreadable is not listed (404 naming why);
- points are first-write-wins by step, as on the server: the file's first line of a
  step wins.

Reads stay cheap on big, live runs: a metric file's parsed columns are cached, keyed by
the file's inode, size and mtime and by its first bytes; a grown file has only its new
complete lines parsed; a file truncated, replaced or rewritten is parsed again from 0.
The cache holds at most ``cache_points`` points (least recently used go first).
"""

from __future__ import annotations

import math
import os
import threading
import time
from bisect import bisect_right
from collections import OrderedDict
from contextlib import contextmanager
from itertools import repeat
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson

from .._format import METRICS_DIR, RUN_JSON, parse_run_dir_name, read_json
from .._names import name_to_path
from ..errors import CorruptRunError, Error, InvalidValueError
from ..reader import RunView, metric_names_in, parse_points
from .downsample import all_finite, pick
from .errors import ConflictError, NotFoundError
from .store import DOC_FIELDS, LIST_FIELDS

__all__ = ["LogdirStore"]

HEAD_BYTES = 64  # first bytes of a metric file kept to tell a rewritten file from a grown one
NUL_GRACE = 30.0  # seconds a line with NUL bytes may take to be filled in (NFS) before it is corrupt
INDEX_SECONDS = 1.0  # the logdir is listed again after this long even if its mtime is unchanged
CACHE_POINTS = 2_000_000  # about 200 MB of parsed columns
_NONFINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def _api_values(values: list[Any]) -> list[Any]:
    """The values as the API spells them: non-finite floats as strings (media dicts stay)."""
    if all_finite(values):
        return values  # the common case, decided at C speed
    return [
        ("NaN" if v != v else _NONFINITE.get(v, v)) if type(v) is float and not math.isfinite(v) else v
        for v in values
    ]


class _Metric:
    """One metric file's parsed columns: in file order, and by step (first line of a step wins)."""

    __slots__ = ("lock", "key", "offset", "head", "steps", "values", "ts", "ordered", "view")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: tuple[int, int, int] | None = None  # (inode, size, mtime_ns) when last read
        self.reset()

    def reset(self) -> None:
        self.offset = 0  # bytes of complete lines parsed
        self.head = b""
        self.steps: list[int] = []
        self.values: list[Any] = []
        self.ts: list[Any] = []
        self.ordered = True  # steps strictly increasing: file order is step order
        self.view: tuple[list[int], list[Any], list[Any]] | None = None

    def refresh(self, path: Path, nul_grace: float) -> bool:
        """Bring the columns up to date with the file; False when it does not exist."""
        try:
            f = open(path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return False
        with f:
            st = os.fstat(f.fileno())
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            if key == self.key:
                return True
            if (
                self.key is None
                or st.st_ino != self.key[0]
                or st.st_size < self.offset
                or os.pread(f.fileno(), len(self.head), 0) != self.head
            ):
                self.reset()  # new, replaced, truncated or rewritten: read it again from 0
            f.seek(self.offset)
            data = f.read()
            self.key = key
        end = data.rfind(b"\n") + 1  # a torn last line waits for its newline
        nul = data.find(b"\x00", 0, end)
        if nul >= 0 and time.time() - st.st_mtime < nul_grace:
            end = data.rfind(b"\n", 0, nul) + 1  # NFS may show a region before its data: wait
            self.key = (st.st_ino, -1, -1)  # look again next time, even if the file is unchanged
        if end:
            self._append(data[:end])
        return True

    def _append(self, lines: bytes) -> None:
        history = parse_points(lines)
        if not self.head:
            self.head = lines[:HEAD_BYTES]
        elif len(self.head) < HEAD_BYTES:
            self.head = (self.head + lines)[:HEAD_BYTES]
        self.offset += len(lines)
        steps = history.steps
        if not steps:
            return
        increasing = all(map(int.__lt__, steps, steps[1:])) and (not self.steps or steps[0] > self.steps[-1])
        self.ordered = self.ordered and increasing
        self.steps += steps
        self.values += _api_values(history.values)
        self.ts += history.ts
        self.view = None

    def by_step(self) -> tuple[list[int], list[Any], list[Any]]:
        """The columns ordered by step, one point per step (the first in the file)."""
        if self.ordered:
            return self.steps, self.values, self.ts
        if self.view is None:
            steps = self.steps
            # dict() keeps the last value of a key: fed backwards, that is the first line.
            first = dict(zip(reversed(steps), range(len(steps) - 1, -1, -1)))
            order = sorted(first.values(), key=steps.__getitem__)
            self.view = (
                list(map(steps.__getitem__, order)),
                list(map(self.values.__getitem__, order)),
                list(map(self.ts.__getitem__, order)),
            )
        return self.view


class _Cache:
    """Parsed metric files by path, least recently used first, bounded by their points."""

    def __init__(self, max_points: int) -> None:
        self.max_points = max_points
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Metric] = OrderedDict()

    def entry(self, path: Path) -> _Metric:
        with self._lock:
            entry = self._entries.get(str(path))
            if entry is None:
                entry = self._entries[str(path)] = _Metric()
            self._entries.move_to_end(str(path))
            return entry

    def trim(self) -> None:
        with self._lock:
            total = sum(len(e.steps) for e in self._entries.values())
            while total > self.max_points and len(self._entries) > 1:
                _, old = self._entries.popitem(last=False)
                total -= len(old.steps)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _text(value: Any) -> str | None:
    return value if type(value) is str else None


class LogdirStore:
    """A ``ReadStore`` over the run folders of ``logdir``: read-only, nothing is ever written.

    Args:
        logdir: the logdir (it may not exist yet: then it holds no runs).
        cache_points: at most this many parsed points are kept in memory.
        nul_grace: seconds a metric line holding NUL bytes is waited on before it is
            skipped as corrupt (NFS shows such regions before their data).

    Raises:
        swanlog_core.errors.Error: ``logdir`` exists but is not a folder.
    """

    def __init__(
        self,
        logdir: str | os.PathLike[str],
        *,
        cache_points: int = CACHE_POINTS,
        nul_grace: float = NUL_GRACE,
    ) -> None:
        self.logdir = Path(logdir).absolute()
        if self.logdir.exists() and not self.logdir.is_dir():
            raise Error(f"logdir {self.logdir} is not a folder")
        self.nul_grace = nul_grace
        self._cache = _Cache(cache_points)
        self._index_lock = threading.Lock()
        self._index_key: tuple[int, int] | None = None
        self._index_at = 0.0
        self._index: dict[str, list[Path]] = {}

    def close(self) -> None:
        """Drop the cached metric columns."""
        self._cache.clear()

    # -- run folders ----------------------------------------------------------------------

    def _folders(self) -> dict[str, list[Path]]:
        """Run id -> its folders, re-listed only when the logdir's own mtime or inode changed."""
        try:
            st = os.stat(self.logdir)
        except FileNotFoundError:
            return {}
        with self._index_lock:
            key = (st.st_ino, st.st_mtime_ns)
            now = time.monotonic()
            # A coarse mtime (NFS, 1 s clocks) may hide a folder made just after a listing.
            if key != self._index_key or now - self._index_at > INDEX_SECONDS:
                index: dict[str, list[Path]] = {}
                try:
                    entries = list(os.scandir(self.logdir))
                except (FileNotFoundError, NotADirectoryError):
                    entries = []
                for e in entries:
                    run_id = parse_run_dir_name(e.name)
                    if run_id and e.is_dir():
                        index.setdefault(run_id, []).append(Path(e.path))
                self._index, self._index_key, self._index_at = index, key, now
            return self._index

    @staticmethod
    def _duplicate(run_id: str, dirs: list[Path]) -> ConflictError:
        names = " and ".join(sorted(d.name for d in dirs))
        return ConflictError(
            f"run id {run_id} is held by two run folders, {names}: move one out of the logdir"
        )

    def _run_dir(self, run_id: str) -> Path | None:
        dirs = self._folders().get(run_id)
        if not dirs:
            return None
        if len(dirs) > 1:
            raise self._duplicate(run_id, dirs)
        return dirs[0]

    def _meta(self, run_id: str, run_dir: Path) -> dict[str, Any]:
        """run.json as a dict; NotFoundError says why a run without a readable one is not served."""
        try:
            meta = read_json(run_dir / RUN_JSON)
        except FileNotFoundError:
            raise NotFoundError(f"run {run_id} ({run_dir.name}) has no run.json (yet)") from None
        except (OSError, orjson.JSONDecodeError) as exc:
            raise NotFoundError(f"run {run_id} ({run_dir.name}): run.json is unreadable ({exc})") from None
        if not isinstance(meta, dict):
            raise NotFoundError(f"run {run_id} ({run_dir.name}): run.json does not hold a JSON object")
        return meta

    def _row(self, run_id: str, run_dir: Path, documents: tuple[str, ...]) -> dict[str, Any]:
        """A run's list columns and ``documents`` as a database holds them (all as JSON text)."""
        meta = self._meta(run_id, run_dir)
        try:
            view = RunView(run_dir)  # status and duration, computed now
        except FileNotFoundError:
            raise NotFoundError(f"run {run_id} ({run_dir.name}) was deleted") from None
        if view.status == "corrupt":
            raise NotFoundError(f"run {run_id} ({run_dir.name}): {view.problem}")
        tags = meta.get("tags")
        row: dict[str, Any] = {
            "id": run_id,
            "project": _text(meta.get("project")),
            "name": _text(meta.get("name")),
            "tags": orjson.dumps([t for t in tags if type(t) is str] if type(tags) is list else []).decode(),
            "notes": _text(meta.get("notes")),
            "status": view.status,
            "created": _text(meta.get("created")),
            "updated": _text(meta.get("updated")),
            "exit_code": meta.get("exit_code") if type(meta.get("exit_code")) is int else None,
            "duration": round(float(view.duration), 3),
            "host": _text(meta.get("host")),
        }
        if documents == DOC_FIELDS:  # the whole run
            row["pid"] = meta.get("pid") if type(meta.get("pid")) is int else None
        attrs = {"config": "config", "summary": "summary", "metrics": "metric_definitions"}
        for field in documents:
            if field == "env":
                try:
                    env = read_json(run_dir / "env.json")
                except (OSError, orjson.JSONDecodeError):
                    env = None
                row["env"] = orjson.dumps(env).decode() if isinstance(env, dict) else None
                continue
            try:
                row[field] = orjson.dumps(getattr(view, attrs[field])).decode()
            except CorruptRunError:
                row[field] = None  # served as {}, as a server that never got the file
        return row

    def _metric_path(self, run_id: str, name: str) -> Path | None:
        run_dir = self._run_dir(run_id)
        if run_dir is None:
            return None
        try:
            return run_dir / METRICS_DIR / name_to_path(name)
        except InvalidValueError:
            return None  # no file can hold that name

    # -- ReadStore ------------------------------------------------------------------------

    def run_project(self, run_id: str) -> str | None:
        """The run's project ("" when run.json names none); None when no folder holds the id.

        Raises:
            ConflictError: two folders hold the id.
            NotFoundError: the folder's run.json is missing or unreadable (the message says).
        """
        run_dir = self._run_dir(run_id)
        if run_dir is None:
            return None
        return _text(self._meta(run_id, run_dir).get("project")) or ""

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """Every column of a run, status and duration as of now; None when no folder holds the id."""
        run_dir = self._run_dir(run_id)
        return None if run_dir is None else self._row(run_id, run_dir, DOC_FIELDS)

    def runs_rev(self, projects: Iterable[str] | None) -> None:
        """None: the files keep no revisions, so every list is whole."""
        return None

    def list_runs(
        self, projects: Iterable[str] | None, documents: tuple[str, ...] = (), since: int | None = None
    ) -> list[dict[str, Any]]:
        """The list columns (and ``documents``) of the runs in ``projects`` (None: all), newest first.

        Folders whose run.json is missing or unreadable are left out. ``since`` is ignored
        (``runs_rev`` is None): every run is listed.

        Raises:
            ConflictError: two folders hold one run id.
        """
        wanted = None if projects is None else set(projects)
        folders = self._folders()
        rows = []
        for run_id, dirs in sorted(folders.items()):
            if len(dirs) > 1:
                raise self._duplicate(run_id, dirs)
            try:
                row = self._row(run_id, dirs[0], documents)
            except NotFoundError:
                continue  # not readable (or deleted while we listed): `swanlog ls` shows why
            if wanted is None or row["project"] in wanted:
                rows.append({f: row[f] for f in (*LIST_FIELDS, *documents)})
        # Sorted by id, then (stable) by created, newest first; runs without one last.
        rows.sort(key=lambda r: r["created"] or "", reverse=True)
        return rows

    def metric_names(self, run_id: str) -> list[str]:
        """The names of the run's metric files, sorted."""
        run_dir = self._run_dir(run_id)
        return [] if run_dir is None else metric_names_in(run_dir)

    def metric_points(
        self, run_id: str, name: str, after_step: int, limit: int
    ) -> list[tuple[int, Any, str | None, float]] | None:
        """Up to ``limit`` points after ``after_step``, by step; None for no such metric.

        Values come as the API spells them ("NaN", media objects), with ``extra`` None.
        """
        with self._columns(run_id, name) as columns:
            if columns is None:
                return None
            steps, values, ts = columns
            i = bisect_right(steps, after_step)
            j = i + limit
            return list(zip(steps[i:j], values[i:j], repeat(None), ts[i:j]))

    def downsample_points(
        self, run_id: str, name: str, after_step: int, max_points: int
    ) -> tuple[int, list[tuple[int, Any, str | None, float]]] | None:
        """How many points follow ``after_step``, and the rows ``downsample.pick`` keeps, by step.

        ``pick`` runs on the cached value column itself; only the kept points become rows.
        """
        with self._columns(run_id, name) as columns:
            if columns is None:
                return None
            steps, values, ts = columns
            i = bisect_right(steps, after_step)
            kept = [i + k for k in pick(values[i:] if i else values, max_points)]
            return len(steps) - i, [(steps[k], values[k], None, ts[k]) for k in kept]

    @contextmanager
    def _columns(self, run_id: str, name: str) -> Iterator[tuple[list[int], list[Any], list[Any]] | None]:
        """The metric's cached (steps, values, ts) by step, held under its lock; None for no such metric."""
        path = self._metric_path(run_id, name)
        try:
            if path is None:
                yield None
                return
            entry = self._cache.entry(path)
            with entry.lock:
                yield entry.by_step() if entry.refresh(path, self.nul_grace) else None
        finally:
            self._cache.trim()  # after the lock is released

    def get_file(self, run_id: str, path: str) -> bytes | None:
        """A file of the run folder (``path`` is checked by the app); None if absent or outside it."""
        run_dir = self._run_dir(run_id)
        if run_dir is None:
            return None
        full = os.path.realpath(run_dir / path)
        if not full.startswith(os.path.realpath(run_dir) + os.sep):
            return None  # a symlink out of the run folder
        try:
            with open(full, "rb") as f:
                return f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

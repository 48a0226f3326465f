"""Read runs from a logdir: find them, open one, read its metrics, follow them live.

Readers never write and never take the writer's lock (only probe it, to tell a live
run from a crashed one). They tolerate what a killed writer or a power loss leaves
behind: a torn last line or a corrupt line is skipped and counted, and the lines
after it are still read.

    from swanlog_core import reader

    for run in reader.find_runs("swanlog"):
        print(run.id, run.status, run.metric_names())
    run = reader.open_run("k3j9")                  # id, unique id prefix, or run folder
    h = run.history("train/loss")
    h.steps, h.values, h.ts                        # columns, in file order
    for step, value, ts in h: ...                  # Point tuples; h.points: the same, a list
    h.corrupt, h.torn                              # what was skipped

``swanlog_core.follow.Follower`` reads the points a live run appends, poll by poll.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from functools import cached_property
from itertools import repeat
from pathlib import Path
from typing import Any, Iterator

import orjson

from ._format import (
    CONFIG_JSON,
    METRICS_DIR,
    METRICS_JSON,
    RUN_JSON,
    SUMMARY_JSON,
    Point,
    gc_paused,
    iter_metric_files,
    lock_is_free,
    parse_iso,
    parse_run_dir_name,
    read_json,
    resolve_logdir,
    scan_columns,
)
from ._names import name_to_path, path_to_name
from .errors import CorruptRunError, Error, InvalidValueError, RunNotFoundError

__all__ = [
    "STATUSES",
    "History",
    "MetricNotFoundError",
    "RunView",
    "find_runs",
    "metric_names_in",
    "open_run",
    "parse_points",
]

STATUSES = ("running", "finished", "failed", "crashed", "corrupt")
"""What ``RunView.status`` can be: the writer's three, plus ``crashed`` (run.json says
running but no process holds the lock) and ``corrupt`` (run.json is missing or unreadable)."""

_WRITER_STATUSES = frozenset({"running", "finished", "failed"})


class MetricNotFoundError(Error, KeyError):
    """A run has no metric of that name (also a KeyError, like a missing dict key)."""

    def __str__(self) -> str:
        return Exception.__str__(self)  # KeyError would quote the message


class History:
    """Every readable point of one metric, and what was skipped to get them.

    The points are held as three parallel columns in file order (the order they were
    logged), which is what plotting and export want and costs no object per point.
    Iterating gives ``Point(step, value, ts)`` tuples; ``points`` is them as a list,
    built on first use.
    """

    __slots__ = ("steps", "values", "ts", "corrupt", "torn", "_points")

    def __init__(
        self, steps: list[int], values: list[Any], ts: list[float], corrupt: int = 0, torn: int = 0
    ) -> None:
        self.steps = steps
        self.values = values  # float or int; a dict for a media value
        self.ts = ts  # UNIX seconds
        self.corrupt = corrupt  # complete lines that are not a valid point, skipped
        self.torn = torn  # bytes after the last newline: an incomplete last line, skipped
        self._points: list[Point] | None = None

    @property
    def points(self) -> list[Point]:
        """The points as ``Point(step, value, ts)`` tuples, in file order."""
        if self._points is None:
            with gc_paused():
                self._points = list(self)
        return self._points

    def __iter__(self) -> Iterator[Point]:
        if self._points is not None:
            return iter(self._points)
        return map(tuple.__new__, repeat(Point), zip(self.steps, self.values, self.ts))

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        return f"<History {len(self.steps)} points, {self.corrupt} corrupt lines, {self.torn} torn bytes>"


# -- parsing ------------------------------------------------------------------------


def parse_points(data: bytes) -> History:
    """Parse a metric file's bytes, skipping (and counting) corrupt lines and a torn tail.

    The writer's own lines are decoded straight into columns at C speed; only the
    chunks around other lines are parsed line by line (``_format.scan_columns``).

    Args:
        data: the file's bytes, or any run of its lines.

    Returns:
        The valid points in file order, the number of corrupt lines, and the number of
        bytes after the last newline.
    """
    end = data.rfind(b"\n") + 1
    with gc_paused():  # the line-by-line path builds a dict and a tuple per point
        return History(*scan_columns(data if end == len(data) else data[:end]), len(data) - end)


# -- runs ---------------------------------------------------------------------------


def _load_meta(run_dir: Path) -> dict[str, Any]:
    """run.json as a dict with the fields readers rely on checked; ValueError says why not."""
    try:
        meta = read_json(run_dir / RUN_JSON)
    except FileNotFoundError:
        raise ValueError("run.json is missing") from None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"run.json is unreadable ({exc})") from exc
    if not isinstance(meta, dict):
        raise ValueError("run.json does not hold a JSON object")
    if meta.get("status") not in _WRITER_STATUSES:
        raise ValueError(f"run.json has an unknown status {meta.get('status')!r}")
    try:
        parse_iso(meta["created"])
        if meta.get("updated") is not None:
            parse_iso(meta["updated"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ValueError("run.json has no valid 'created' or 'updated' time") from None
    return meta


def _created_from_dir_name(run_dir: Path) -> float:
    try:
        stamp = run_dir.name.split("-")[1]
        return _dt.datetime.strptime(stamp, "%Y%m%d_%H%M%S").replace(tzinfo=_dt.timezone.utc).timestamp()
    except (IndexError, ValueError):
        return run_dir.stat().st_mtime


def _number(value: Any, default: float = 0.0) -> float:
    return float(value) if type(value) in (int, float) else default


def metric_names_in(run_dir: Path) -> list[str]:
    """The names of the metrics of a run folder, sorted, from the files under ``metrics/``."""
    names = []
    for rel, _ in iter_metric_files(run_dir / METRICS_DIR):
        try:
            name = path_to_name(rel)
        except UnicodeDecodeError:  # a hand-made file name that decodes to no text
            continue
        if name is not None:
            names.append(name)
    return sorted(names)


class RunView:
    """One run folder as readers see it: a snapshot of run.json, and its files on demand.

    The fields are read when the view is made; open the run again for fresh ones.
    ``config``, ``summary`` and ``metric_definitions`` are read on first use;
    ``metric_names()`` and ``history()`` read the files each time they are called.

    A folder whose run.json is missing or unreadable is still a RunView: its status is
    ``"corrupt"``, ``problem`` says why, its id comes from the folder name and its other
    fields are empty. (A run.json that is missing while a writer holds the lock belongs
    to a run being created: that is reported as ``"running"``.)
    """

    dir: Path
    id: str
    name: str
    project: str | None
    tags: list[str]
    notes: str | None
    status: str  # one of STATUSES
    created: float  # UNIX seconds
    updated: float  # UNIX seconds: last rewrite of run.json
    exit_code: int | None
    duration: float  # seconds of activity, including the current session of a live run
    host: str | None
    pid: int | None
    problem: str | None  # why the status is "corrupt"

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        """Read the run folder ``run_dir`` (it must exist)."""
        self.dir = Path(run_dir).absolute()
        try:
            meta = _load_meta(self.dir)
        except ValueError as exc:
            self._set_corrupt(str(exc))
            return
        if meta["status"] == "running" and lock_is_free(self.dir):
            # The writer may have finished between our read and the lock probe: read
            # again, so a run that just finished is not reported as crashed.
            try:
                meta = _load_meta(self.dir)
            except ValueError as exc:
                self._set_corrupt(str(exc))
                return
            status = "crashed" if meta["status"] == "running" else meta["status"]
        else:
            status = meta["status"]
        self._set_fields(meta, status)

    def _set_fields(self, meta: dict[str, Any], status: str) -> None:
        self.id = str(meta.get("id") or parse_run_dir_name(self.dir.name) or self.dir.name)
        self.name = str(meta.get("name") or self.id)
        self.project = meta.get("project")
        tags = meta.get("tags")
        self.tags = [str(t) for t in tags] if isinstance(tags, list) else []
        self.notes = meta.get("notes")
        self.status = status
        self.created = parse_iso(meta["created"])
        self.updated = parse_iso(meta["updated"]) if meta.get("updated") else self.created
        exit_code = meta.get("exit_code")
        self.exit_code = exit_code if type(exit_code) is int else None
        self.host = meta.get("host")
        pid = meta.get("pid")
        self.pid = pid if type(pid) is int else None
        self.problem = None
        stored = max(0.0, _number(meta.get("duration")))
        if status == "running":
            self.duration = stored + max(0.0, time.time() - self.updated)
        elif status == "crashed":
            self.duration = stored + max(0.0, self._last_write() - self.updated)
        else:
            self.duration = stored

    def _set_corrupt(self, problem: str) -> None:
        self.id = parse_run_dir_name(self.dir.name) or self.dir.name
        self.name = self.id
        self.project = self.notes = self.host = None
        self.tags = []
        self.exit_code = self.pid = None
        self.created = self.updated = _created_from_dir_name(self.dir)
        self.duration = 0.0
        if problem == "run.json is missing" and not lock_is_free(self.dir):
            self.status, self.problem = "running", None  # init() writes run.json last
        else:
            self.status, self.problem = "corrupt", problem

    def _last_write(self) -> float:
        """Newest modification time among the metric files (0 when there are none)."""
        newest = 0.0
        for _, path in iter_metric_files(self.dir / METRICS_DIR):
            try:
                newest = max(newest, path.stat().st_mtime)
            except FileNotFoundError:
                continue
        return newest

    def __repr__(self) -> str:
        return f"<RunView {self.id} {self.status} {str(self.dir)!r}>"

    def _document(self, file_name: str) -> dict[str, Any]:
        path = self.dir / file_name
        try:
            doc = read_json(path)
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as exc:
            raise CorruptRunError(f"run {self.id}: {file_name} is unreadable ({exc})") from exc
        if not isinstance(doc, dict):
            raise CorruptRunError(f"run {self.id}: {file_name} does not hold a JSON object")
        return doc

    @cached_property
    def config(self) -> dict[str, Any]:
        """The run config ({} when config.json is absent).

        Raises:
            CorruptRunError: config.json exists but cannot be read.
        """
        return self._document(CONFIG_JSON)

    @cached_property
    def summary(self) -> dict[str, Any]:
        """The summary: one plain value per key ({} when summary.json is absent).

        Raises:
            CorruptRunError: summary.json exists but cannot be read.
        """
        return self._document(SUMMARY_JSON)

    @cached_property
    def metric_definitions(self) -> dict[str, Any]:
        """define_metric definitions keyed by metric name or glob ({} when absent).

        Raises:
            CorruptRunError: metrics.json exists but cannot be read.
        """
        return self._document(METRICS_JSON)

    def metric_names(self) -> list[str]:
        """The names of the run's metrics, sorted, from the files under ``metrics/``."""
        return metric_names_in(self.dir)

    def metric_path(self, name: str) -> Path:
        """The file of metric ``name`` (which may not exist).

        Raises:
            MetricNotFoundError: ``name`` is not a valid metric name.
        """
        try:
            return self.dir / METRICS_DIR / name_to_path(name)
        except InvalidValueError as exc:
            raise MetricNotFoundError(f"run {self.id} has no metric {name!r}: {exc}") from exc

    def history(self, name: str) -> History:
        """Every readable point of metric ``name``, skipping torn and corrupt lines.

        Raises:
            MetricNotFoundError: the run has no metric ``name`` (a KeyError too).
        """
        path = self.metric_path(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise self._missing(name) from None
        return parse_points(data)

    def _missing(self, name: str) -> MetricNotFoundError:
        names = self.metric_names()
        if not names:
            return MetricNotFoundError(f"run {self.id} has no metric {name!r}: it has no metrics yet")
        listed = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        return MetricNotFoundError(f"run {self.id} has no metric {name!r}; its metrics: {listed}")


def _run_dirs(logdir: Path) -> list[Path]:
    """Folders of ``logdir`` named like runs (``run-<time>-<id>``), unordered."""
    try:
        entries = list(os.scandir(logdir))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [Path(e.path) for e in entries if parse_run_dir_name(e.name) and e.is_dir()]


def find_runs(logdir: str | os.PathLike[str] | None = None) -> list[RunView]:
    """Every run in a logdir, oldest first.

    Folders not named like a run folder are ignored. A run folder whose run.json is
    missing or unreadable is listed with status ``"corrupt"``: one bad run never hides
    the others.

    Args:
        logdir: the logdir; default ``$SWANLOG_DIR``, else ``./swanlog``. A logdir that
            does not exist holds no runs.
    """
    runs = []
    for run_dir in _run_dirs(resolve_logdir(logdir)):
        try:
            runs.append(RunView(run_dir))
        except FileNotFoundError:
            continue  # deleted while we listed
    return sorted(runs, key=lambda r: (r.created, r.id))


def open_run(ref: str | os.PathLike[str], logdir: str | os.PathLike[str] | None = None) -> RunView:
    """Open one run, named by its folder, its id, or a unique prefix of its id.

    An exact id wins over a longer id it is a prefix of.

    Args:
        ref: a run folder (a path to a folder holding run.json, or named like a run
            folder), a run id, or a prefix of one.
        logdir: where ids are looked up; default ``$SWANLOG_DIR``, else ``./swanlog``.

    Raises:
        RunNotFoundError: no run matches, or the prefix matches several (listed).
    """
    text = os.fspath(ref)
    if not text:
        raise RunNotFoundError("no run given: pass a run folder, an id or an id prefix")
    path = Path(text)
    if path.is_dir() and (parse_run_dir_name(path.name) or (path / RUN_JSON).exists()):
        return RunView(path)
    root = resolve_logdir(logdir)
    if parse_run_dir_name(text) and (root / text).is_dir():
        return RunView(root / text)  # a run folder's name, inside the logdir
    if os.sep in text or (os.altsep and os.altsep in text):
        raise RunNotFoundError(f"{text} is not a run folder")
    dirs = _run_dirs(root)
    by_id: dict[str, list[Path]] = {}
    for d in dirs:
        by_id.setdefault(parse_run_dir_name(d.name) or "", []).append(d)
    matches = by_id.get(text) or [d for run_id, ds in by_id.items() if run_id.startswith(text) for d in ds]
    if len(matches) == 1:
        return RunView(matches[0])
    if matches:
        listed = ", ".join(sorted(d.name for d in matches))
        raise RunNotFoundError(f"run id prefix {text!r} is ambiguous in {root}: it matches {listed}")
    if not root.is_dir():
        raise RunNotFoundError(f"no run {text!r}: the logdir {root} does not exist")
    raise RunNotFoundError(f"no run with id or id prefix {text!r} in {root} ({len(dirs)} runs there)")

"""On-disk format, version 1: file names in a run folder, point lines, atomic rewrites.

A point line is one JSON object ending in "\\n"::

    {"step":12,"value":0.314,"ts":1763828530.123}

Non-finite floats are the strings "NaN", "Infinity" and "-Infinity". Every line the
writer produces starts with ``{"step":`` so steps can be scanned without a JSON parse.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import math
import os
import re
from pathlib import Path
from typing import Any, Iterable, NamedTuple

import orjson

from .errors import InvalidValueError

__all__ = [
    "CONFIG_JSON",
    "FORMAT_VERSION",
    "LOCK_FILE",
    "METRICS_DIR",
    "METRICS_JSON",
    "RUN_JSON",
    "STEPINDEX_JSON",
    "SUMMARY_JSON",
    "Point",
    "ScanResult",
    "atomic_write_json",
    "decode_value",
    "encode_value",
    "iso_utc",
    "lock_is_free",
    "parse_iso",
    "parse_run_dir_name",
    "read_json",
    "resolve_logdir",
    "dumps_json",
    "iter_metric_files",
    "run_dir_name",
    "scan_points",
    "scan_steps",
]

FORMAT_VERSION = 1
RUN_JSON = "run.json"
CONFIG_JSON = "config.json"
SUMMARY_JSON = "summary.json"
METRICS_JSON = "metrics.json"
STEPINDEX_JSON = "stepindex.json"  # a cache; deleting it only makes the next resume slower
LOCK_FILE = "run.lock"
METRICS_DIR = "metrics"

_RUN_DIR_RE = re.compile(r"^run-(\d{8}_\d{6})-([A-Za-z0-9_-]{1,64})$")
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class Point(NamedTuple):
    """One logged value of a metric."""

    step: int
    value: Any  # float or int; a dict for media (format v1 leaves room for them)
    ts: float


class ScanResult(NamedTuple):
    """What a tolerant read of a metric file found."""

    points: list[Point]
    corrupt: int  # complete lines that are not a valid point, skipped
    torn: int  # bytes after the last newline: an incomplete last line


def run_dir_name(created: float, run_id: str) -> str:
    """Folder name of a run: ``run-<UTC start time>-<id>``."""
    stamp = _dt.datetime.fromtimestamp(created, _dt.timezone.utc).strftime("%Y%m%d_%H%M%S")
    return f"run-{stamp}-{run_id}"


def parse_run_dir_name(name: str) -> str | None:
    """The run id in a run folder's name, or None if the name is not a run folder's."""
    m = _RUN_DIR_RE.match(name)
    return m.group(2) if m else None


def iso_utc(t: float) -> str:
    """UNIX seconds -> ``2026-11-22T16:22:10.123Z``."""
    d = _dt.datetime.fromtimestamp(t, _dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> float:
    """``2026-11-22T16:22:10.123Z`` -> UNIX seconds."""
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def encode_value(v: float) -> Any:
    """A finite float stays; NaN and infinities become their JSON string spelling."""
    if v != v:
        return "NaN"
    return "Infinity" if v > 0 else "-Infinity"


def decode_value(v: Any) -> Any:
    """Inverse of encode_value for a value read from a point line."""
    if type(v) is str:
        return _NONFINITE[v]  # KeyError for any other string: caller treats it as corrupt
    return v


def _point(obj: Any) -> Point | None:
    """Validate one decoded line; None if it is not a point."""
    if type(obj) is not dict:
        return None
    step, value, ts = obj.get("step"), obj.get("value"), obj.get("ts")
    if type(step) is not int or step < 0 or type(ts) not in (float, int):
        return None
    t = type(value)
    if t is float or t is int:
        return Point(step, value, ts)
    if t is str and value in _NONFINITE:
        return Point(step, _NONFINITE[value], ts)
    if t is dict and "_type" in value:  # media description
        return Point(step, value, ts)
    return None


def scan_points(data: bytes) -> ScanResult:
    """Parse a metric file's bytes, skipping (and counting) corrupt lines and a torn tail.

    Reads the whole file as one JSON array when it is clean (one C call), and falls back
    to line by line only when that fails.
    """
    end = data.rfind(b"\n") + 1
    torn = len(data) - end
    body = data[:end]
    if not body:
        return ScanResult([], 0, torn)
    if b"\x00" not in body:
        try:
            objs = orjson.loads(b"[" + body[:-1].replace(b"\n", b",") + b"]")
        except orjson.JSONDecodeError:
            objs = None
        if objs is not None and len(objs) == body.count(b"\n"):
            points = [_point(o) for o in objs]
            good = [p for p in points if p is not None]
            return ScanResult(good, len(points) - len(good), torn)
    points, corrupt = [], 0
    for line in body.split(b"\n")[:-1]:
        try:
            p = _point(orjson.loads(line))
        except orjson.JSONDecodeError:
            p = None
        if p is None:
            corrupt += 1
        else:
            points.append(p)
    return ScanResult(points, corrupt, torn)


_STEP_RE = re.compile(rb'\{"step":(\d+),')
_NUMBER_CHARS = b"0123456789.eE+-"
_SKELETON = b'{"stp":,"valu":,"ts":}\n'  # a writer's line with its number characters deleted


def has_writer_shape(body: bytes) -> bool | None:
    """Whether every line of ``body`` (complete lines) has the shape the writer gives it.

    Deleting every character a number can hold must leave the same skeleton on each
    line: a check at C speed over the whole file. Returns None when a line differs,
    else whether a non-finite value ("NaN", "Infinity", "-Infinity") occurs. It does
    not prove the numbers well formed ("1.2.3" passes); orjson does that where it matters.
    """
    lines = body.count(b"\n")
    nonfinite = b'"NaN"' in body or b'Infinity"' in body
    skeleton = body.translate(None, _NUMBER_CHARS)
    if nonfinite:  # "-Infinity" lost its "-" to the translate
        skeleton = skeleton.replace(b'"NaN"', b"").replace(b'"Infinity"', b"")
    if len(skeleton) != len(_SKELETON) * lines or skeleton.count(_SKELETON) != lines:
        return None
    return nonfinite


def scan_steps(data: bytes) -> list[int]:
    """The steps of the complete, valid points in a metric file's bytes, in file order.

    When every line has the writer's shape a regex over the step prefix is enough;
    any doubt (corruption, a hand-edited line) falls back to a full parse.
    """
    body = data[: data.rfind(b"\n") + 1]
    if has_writer_shape(body) is not None:
        found = _STEP_RE.findall(body)
        if len(found) == body.count(b"\n"):
            return list(map(int, found))
    return [p.step for p in scan_points(body).points]


def read_json(path: Path) -> Any:
    """Read a JSON file written by atomic_write_json."""
    return orjson.loads(path.read_bytes())


def _default(obj: Any) -> Any:
    # Values that users put in config and summary: NumPy/PyTorch scalars and arrays,
    # paths, sets; anything else is kept as its text rather than refused.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, float):
        return encode_value(obj)
    return str(obj)


def dumps_json(obj: Any) -> bytes:
    """Encode a JSON document the way every swanlog JSON file is written (indented).

    Raises:
        InvalidValueError: ``obj`` holds what JSON cannot (a lone surrogate, a tuple key).
    """
    try:
        return orjson.dumps(
            obj,
            default=_default,
            option=orjson.OPT_INDENT_2
            | orjson.OPT_APPEND_NEWLINE
            | orjson.OPT_NON_STR_KEYS
            | orjson.OPT_SERIALIZE_NUMPY,
        )
    except orjson.JSONEncodeError as exc:
        raise InvalidValueError(f"cannot be stored as JSON: {exc}") from exc


def atomic_write_json(path: Path, obj: Any, durable: bool = True) -> None:
    """Replace ``path`` with ``obj`` as JSON: readers see the old file or the new, never half.

    Writes a temp file in the same folder, fsyncs it (unless ``durable`` is False, for
    caches), then renames it over the target.
    """
    atomic_write_bytes(path, dumps_json(obj), durable)


def atomic_write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` the way ``atomic_write_json`` does."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if durable:
            os.fsync(fd)  # fsync before rename: the name must never point at unwritten data
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)


def lock_is_free(run_dir: Path) -> bool:
    """True when no process holds the run's writer lock (the writer exited or was killed)."""
    try:
        fd = os.open(run_dir / LOCK_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops a shared lock we may have taken
    return True


def iter_metric_files(metrics_dir: Path) -> Iterable[tuple[str, Path]]:
    """(relative posix path, absolute path) of every file under ``metrics/``, sorted."""
    base = len(str(metrics_dir)) + 1
    for root, dirs, files in os.walk(metrics_dir):
        dirs.sort()
        for f in sorted(files):
            full = os.path.join(root, f)
            yield full[base:].replace(os.sep, "/"), Path(full)


def resolve_logdir(logdir: str | os.PathLike[str] | None) -> Path:
    """The logdir: the argument, else ``$SWANLOG_DIR``, else ``./swanlog``."""
    if logdir is not None:
        return Path(logdir)
    return Path(os.environ.get("SWANLOG_DIR") or "swanlog")

"""On-disk format, version 1: file names in a run folder, point lines, atomic rewrites.

A point line is one JSON object ending in "\\n"::

    {"step":12,"value":0.314,"ts":1763828530.123}

Non-finite floats are the strings "NaN", "Infinity" and "-Infinity". Every line the
writer produces starts with ``{"step":`` so steps can be scanned without a JSON parse.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import gc
import math
import os
import re
from array import array
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple

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
    "iter_line_chunks",
    "iter_step_chunks",
    "iter_metric_files",
    "run_dir_name",
    "scan_columns",
    "scan_points",
    "writer_columns",
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
    """Parse a metric file's bytes line by line, skipping (and counting) corrupt lines and a torn tail.

    Decodes the lines with one orjson call when it can tell them apart: each line
    becomes a one-element array. A raw newline cannot sit inside a JSON string, so
    without "[" or "]" in the data each array holds exactly its own line; otherwise,
    or when that parse fails, each line is decoded on its own.
    """
    end = data.rfind(b"\n") + 1
    torn = len(data) - end
    body = data[:end]
    if not body:
        return ScanResult([], 0, torn)
    rows = None
    if b"[" not in body and b"]" not in body:
        try:
            rows = orjson.loads(b"[[" + body[:-1].replace(b"\n", b"],\n[") + b"]]")
        except orjson.JSONDecodeError:
            pass
    if rows is None:
        rows = []
        for line in body.split(b"\n")[:-1]:
            try:
                rows.append([orjson.loads(line)])
            except orjson.JSONDecodeError:
                rows.append(None)
    points = [_point(row[0]) if row and len(row) == 1 else None for row in rows]
    good = [p for p in points if p is not None]
    return ScanResult(good, len(points) - len(good), torn)


_NUMBER_CHARS = b"0123456789.eE+-"
_SKELETON = b'{"stp":,"valu":,"ts":}\n'  # a writer's line with its number characters deleted


def has_writer_shape(body: bytes) -> bool | None:
    """Whether every line of ``body`` (complete lines) has the shape the writer gives it.

    Deleting every character a number can hold must leave the same skeleton on each
    line: a check at C speed over the whole file. Returns None when a line differs,
    else whether a non-finite value ("NaN", "Infinity", "-Infinity") occurs. It does
    not prove the numbers well formed ("1.2.3" passes) nor the keys spelled right
    (a digit may sit inside one); ``writer_columns`` proves both.
    """
    lines = body.count(b"\n")
    nonfinite = b'"NaN"' in body or b'Infinity"' in body
    skeleton = body.translate(None, _NUMBER_CHARS)
    if nonfinite:  # "-Infinity" lost its "-" to the translate
        skeleton = skeleton.replace(b'"NaN"', b"").replace(b'"Infinity"', b"")
    if len(skeleton) != len(_SKELETON) * lines or skeleton.count(_SKELETON) != lines:
        return None
    return nonfinite


# -- the writer's own lines, decoded at C speed -----------------------------------------
#
# ``scan_points`` decodes each line into a dict and checks it in Python: ~1 us a point.
# The writer spells every line the same way, {"step":S,"value":V,"ts":T}, so a chunk of
# such lines is proved and decoded by a few bytes operations over the whole chunk:
#
# 1. Skeleton: deleting the number characters except "e" must leave exactly the line
#    below, repeated. So the keys, quotes, braces, colons and commas are where the
#    writer puts them and every other byte is a number character (an "e" only in keys).
# 2. One translate makes the chunk a flat JSON array: each ":" becomes ",", the keys,
#    braces and quotes are deleted, the other "," and "}" and "\n" become spaces:
#        {"step":12,"value":0.5,"ts":1.5}\n  ->  ,12 ,0.5 ,1.5
#    Every S, V and T is one element, right after its ",". An empty number shows as
#    ", " and is refused; then a number character anywhere else (in a key, before "{",
#    after "}") joins the element before it after a space: invalid JSON.
# 3. orjson parses the array, which proves every number well formed; steps must be
#    ints >= 0. A chunk that fails any check is not all the writer's: it is parsed
#    line by line instead (``scan_points``), which decides each line on its own.
#
# Numbers with an exponent ("1e-7") keep their "e", so in those chunks the two keys
# holding an "e" are removed by name first. Non-finite values become [0], [1] or [2],
# the only lists the array can hold. Chunks of 64 KB keep the passes in the CPU cache:
# ~1.7x faster than whole-file passes over a 6 MB file.

_LINE = b'{"step":,"value":,"ts":}\n'  # a writer's line without its numbers
_LINE_NO_E = _LINE.replace(b"e", b"")
_NUMBER_CHARS_NO_E = _NUMBER_CHARS.replace(b"e", b"")
_TO_FLAT = bytes.maketrans(b":,}\n", b",   ")
_KEYS_CHARS = b'{"stepvalu'  # deleted when the "e"s of the chunk are all the keys'
_NONFINITE_CODES = {b'"NaN"': b"[0]", b'"Infinity"': b"[1]", b'"-Infinity"': b"[2]"}
_NONFINITE_BY_CODE = (math.nan, math.inf, -math.inf)
_EMPTY_NUMBER = re.compile(rb", ")  # re finds a literal faster than bytes.find here
_CHUNK = 1 << 16  # bytes


def iter_line_chunks(body: bytes) -> Iterator[bytes]:
    """``body`` (complete lines) cut into pieces of about 64 KB, each of whole lines."""
    start, size = 0, len(body)
    while start < size:
        end = body.find(b"\n", min(start + _CHUNK, size) - 1) + 1 or size
        yield body[start:end]
        start = end


def _tiles(skeleton: bytes, line: bytes) -> int | None:
    """How many copies of ``line`` make up ``skeleton`` exactly, or None."""
    n, rest = divmod(len(skeleton), len(line))
    # Building the expected bytes and comparing them (memcpy, memcmp) is ~10x faster than
    # skeleton.count(line).
    return n if not rest and skeleton == line * n else None


def _chunk_flat(chunk: bytes) -> tuple[list[Any], bool] | None:
    """The numbers of a chunk of the writer's lines as one list ``[None, S, V, T, S, V, T, ...]``.

    Returns the list and whether a non-finite value occurs (each is then [code], see
    ``_NONFINITE_BY_CODE``), or None when a line is not the writer's.
    """
    skeleton = chunk.translate(None, _NUMBER_CHARS_NO_E)
    nonfinite = b"N" in skeleton or b"I" in skeleton
    if nonfinite:  # "-Infinity" lost its "-" to the translate
        skeleton = skeleton.replace(b'"NaN"', b"").replace(b'"Infinity"', b"")
    delete = _KEYS_CHARS
    n = _tiles(skeleton, _LINE)
    if n is None:  # an "e" outside the keys: an exponent, or not the writer's line
        n = _tiles(skeleton.translate(None, b"e"), _LINE_NO_E)
        if n is None:
            return None
        chunk = chunk.replace(b'"step"', b"").replace(b'"value"', b"")
        delete = b'{"ts'  # what is left of a writer's keys; a stray letter stays, invalid
    if nonfinite:
        for text, code in _NONFINITE_CODES.items():
            chunk = chunk.replace(text, code)
    text = chunk.translate(_TO_FLAT, delete)
    if _EMPTY_NUMBER.search(text):  # a stray number character could stand in for it
        return None
    try:
        flat = orjson.loads(b"[null" + text + b"]")
    except orjson.JSONDecodeError:
        return None
    if len(flat) != 3 * n + 1:
        return None
    try:
        array("Q", flat[1::3])  # steps are ints >= 0 (floats, lists and negative ints raise), in C
        if nonfinite:
            array("d", flat[3::3])  # timestamps are numbers, not a non-finite value's [code]
    except (TypeError, OverflowError):
        return None
    return flat, nonfinite


def _chunk_columns(chunk: bytes) -> tuple[list[Any], list[Any], list[Any]] | None:
    found = _chunk_flat(chunk)
    if found is None:
        return None
    flat, nonfinite = found
    values = flat[2::3]
    if nonfinite:
        values = [v if type(v) is not list else _NONFINITE_BY_CODE[v[0]] for v in values]
    return flat[1::3], values, flat[3::3]


def scan_columns(body: bytes) -> tuple[list[int], list[Any], list[Any], int]:
    """Steps, values and timestamps of the valid points of ``body``, and how many lines are corrupt.

    Each chunk of the writer's own lines is decoded at C speed (``writer_columns``);
    any other chunk is parsed line by line (``scan_points``), so a corrupt line slows
    down only the 64 KB around it.

    Args:
        body: complete lines (ending in "\\n").
    """
    steps: list[int] = []
    values: list[Any] = []
    ts: list[Any] = []
    corrupt = 0
    for chunk in iter_line_chunks(body):
        columns = _chunk_columns(chunk)
        if columns is None:
            found = scan_points(chunk)
            corrupt += found.corrupt
            columns = tuple(zip(*found.points)) or ((), (), ())
        steps += columns[0]
        values += columns[1]
        ts += columns[2]
    return steps, values, ts, corrupt


def writer_columns(body: bytes) -> tuple[list[int], list[Any], list[Any]] | None:
    """Steps, values and timestamps of ``body`` if every line is spelled as the writer spells it.

    Exact: it returns columns only when every line is ``{"step":S,"value":V,"ts":T}``
    with S an int >= 0, V and T well-formed JSON numbers (V may also be "NaN",
    "Infinity" or "-Infinity", decoded to floats), nothing else on the line. Any other
    line (other spacing, media, corruption) gives None: parse with ``scan_points``.

    Args:
        body: complete lines (ending in "\\n").
    """
    steps: list[int] = []
    values: list[Any] = []
    ts: list[Any] = []
    for chunk in iter_line_chunks(body):
        columns = _chunk_columns(chunk)
        if columns is None:
            return None
        steps += columns[0]
        values += columns[1]
        ts += columns[2]
    return steps, values, ts


def iter_step_chunks(data: bytes) -> Iterator[list[int]]:
    """The steps of the complete, valid points in a metric file's bytes, in file order, a
    chunk (~64 KB of lines) at a time: one list per chunk.

    Exact: a step is listed iff a valid point line holds it. As ``scan_columns``, but
    keeps only the steps, and never holds a list of every step of a long file
    (``StepIndex.from_step_chunks`` checks each list while it is in the CPU cache).
    """
    for chunk in iter_line_chunks(data[: data.rfind(b"\n") + 1]):
        found = _chunk_flat(chunk)
        yield found[0][1::3] if found is not None else [p.step for p in scan_points(chunk).points]


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


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while many fresh, acyclic objects are built.

    Decoding a million lines makes a million dicts or tuples; the collector's passes over
    them find nothing (they hold no cycles) and cost as much as the decoding itself.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

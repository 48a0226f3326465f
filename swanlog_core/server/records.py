"""Parsing a records batch (NDJSON, one point per line) into columns for one bulk insert.

This is the ingest hot path. The whole body is parsed by one orjson call (the lines
joined into a JSON array) and checked column by column with C-level builtins
(``map``, ``set``, ``min``, ``max``); a per-line Python loop runs only to name the bad
line of a batch that failed those checks, or to encode non-finite and media values.

A point is ``{"metric": str, "step": int, "value": v, "ts": number}`` where ``v`` is a
number, one of the strings "NaN", "Infinity", "-Infinity", or a media description (an
object with "_type"). In storage a value is two columns: ``value`` holds a finite
number, else NULL, and ``extra`` holds the non-finite spelling or the media JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any, Iterable, Sequence

import orjson

from .._format import gc_paused
from .errors import ApiError, BadRequestError, PayloadTooLargeError

__all__ = ["Batch", "MAX_STEP", "decode_value", "parse_batch", "validate_metric_name"]

MAX_STEP = (1 << 63) - 1
_MIN_INT, _MAX_INT = -(1 << 63), (1 << 63) - 1  # what both databases store as an integer
NONFINITE = frozenset(("NaN", "Infinity", "-Infinity"))
_METRIC, _STEP, _VALUE, _TS = map(itemgetter, ("metric", "step", "value", "ts"))
_NUMBER = frozenset((float, int))


@dataclass
class Batch:
    """One request's points as columns; ``extras`` is None when every value is a finite number."""

    metrics: Sequence[str]  # per point
    steps: Sequence[int]
    values: Sequence[Any]  # finite number or None
    extras: Sequence[str | None] | None  # "NaN", "Infinity", "-Infinity", media JSON, or None
    ts: Sequence[float]
    names: frozenset[str]  # the distinct metric names

    def __len__(self) -> int:
        return len(self.steps)

    def rows(self, mid_of: dict[str, int]) -> Iterable[tuple[Any, ...]]:
        """(metric id, step, value, extra, ts) per point, built at C speed."""
        mids = map(mid_of.__getitem__, self.metrics)
        extras = repeat(None) if self.extras is None else self.extras
        return zip(mids, self.steps, self.values, extras, self.ts)


def decode_value(value: Any, extra: str | None) -> Any:
    """The API value of a stored point: the number, a non-finite spelling, or the media object."""
    if extra is None:
        return value
    if extra in NONFINITE:
        return extra
    return orjson.loads(extra)


def validate_metric_name(name: Any, max_bytes: int) -> None:
    """Raise 400/413 unless ``name`` is a non-empty string without NUL, at most ``max_bytes`` long."""
    if type(name) is not str or not name:
        raise BadRequestError(f'"metric" must be a non-empty string, not {orjson.dumps(name).decode()[:100]}')
    if "\x00" in name:
        raise BadRequestError(f"metric {name[:100]!r} contains a NUL character")
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise PayloadTooLargeError(f"metric name is {size} UTF-8 bytes, over the limit of {max_bytes}")


def _point_error(obj: Any, max_name_bytes: int) -> str | ApiError | None:
    """What is wrong with one decoded line (a message, or an error for a name over its limit)."""
    if type(obj) is not dict:
        return f"expected a JSON object, got {type(obj).__name__}"
    for field in ("metric", "step", "value", "ts"):
        if field not in obj:
            return f'missing field "{field}"'
    try:
        validate_metric_name(obj["metric"], max_name_bytes)
    except (BadRequestError, PayloadTooLargeError) as exc:
        return exc
    step = obj["step"]
    if type(step) is not int or not 0 <= step <= MAX_STEP:
        return f'"step" must be an integer from 0 to 2^63-1, not {orjson.dumps(step).decode()}'
    value = obj["value"]
    t = type(value)
    if not (t in _NUMBER or (t is str and value in NONFINITE) or (t is dict and "_type" in value)):
        return (
            '"value" must be a number, "NaN", "Infinity", "-Infinity" or a media object with '
            f'"_type", not {orjson.dumps(value).decode()[:100]}'
        )
    if type(obj["ts"]) not in _NUMBER:
        return f'"ts" must be a number (UNIX seconds), not {orjson.dumps(obj["ts"]).decode()[:100]}'
    return None


def _find_bad_line(lines: list[bytes], max_name_bytes: int) -> ApiError:
    """The error naming the first bad line; the slow path, only for a batch that is refused."""
    for number, line in enumerate(lines, 1):
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            return BadRequestError(f"line {number}: invalid JSON: {exc}")
        problem = _point_error(obj, max_name_bytes)
        if isinstance(problem, ApiError):
            return type(problem)(f"line {number}: {problem}")
        if problem is not None:
            return BadRequestError(f"line {number}: {problem}")
    return BadRequestError("the batch is not valid NDJSON")  # not reached for a list of lines


def _encode_values(values: Sequence[Any]) -> tuple[list[Any], list[str | None]] | None:
    """Split values into (finite numbers, extras); None if some value is not acceptable."""
    numbers: list[Any] = []
    extras: list[str | None] = []
    for v in values:
        t = type(v)
        if t is float or t is int:
            if t is int and not _MIN_INT <= v <= _MAX_INT:
                v = float(v)  # an integer too large for a 64-bit column keeps its magnitude
            numbers.append(v)
            extras.append(None)
        elif t is str and v in NONFINITE:
            numbers.append(None)
            extras.append(v)
        elif t is dict and "_type" in v:
            numbers.append(None)
            extras.append(orjson.dumps(v).decode())
        else:
            return None
    return numbers, extras


def parse_batch(body: bytes, max_records: int, max_name_bytes: int) -> Batch:
    """Parse and check a records body; raises 400 naming the first bad line, 413 past a limit.

    A trailing newline is optional; blank lines are errors (a point per line, nothing else).
    """
    if body.endswith(b"\n"):
        body = body[:-1]
    if not body:
        raise BadRequestError("the batch is empty: send one JSON point per line")
    count = body.count(b"\n") + 1
    if count > max_records:
        raise PayloadTooLargeError(f"the batch has {count} records, over the limit of {max_records}")
    with gc_paused():
        batch = _columns(body, count, max_name_bytes)
    if batch is None:
        raise _find_bad_line(body.split(b"\n"), max_name_bytes)
    return batch


def _columns(body: bytes, count: int, max_name_bytes: int) -> Batch | None:
    """The batch as columns, or None when some line is bad (the slow path then names it)."""
    try:
        objs = orjson.loads(b"[" + body.replace(b"\n", b",") + b"]")
    except orjson.JSONDecodeError:
        return None
    # Each line gives exactly one element when the counts match (no line can give none).
    if len(objs) != count:
        return None
    try:
        metrics = list(map(_METRIC, objs))  # TypeError for a line that is not an object,
        steps = list(map(_STEP, objs))  # KeyError for a missing field
        values = list(map(_VALUE, objs))
        ts = list(map(_TS, objs))
        names = frozenset(metrics)  # TypeError for an unhashable metric
    except (TypeError, KeyError):
        return None
    ts_types = set(map(type, ts))
    if not (
        set(map(type, steps)) == {int}
        and min(steps) >= 0
        and max(steps) <= MAX_STEP
        and ts_types <= _NUMBER
        and set(map(type, metrics)) == {str}
    ):
        return None
    if int in ts_types and not _MIN_INT <= min(ts) <= max(ts) <= _MAX_INT:
        ts = [float(t) for t in ts]  # rare: an integer time beyond 64 bits
    try:
        for name in names:
            validate_metric_name(name, max_name_bytes)
    except (BadRequestError, PayloadTooLargeError):
        return None
    value_types = set(map(type, values))
    if value_types <= _NUMBER:
        if int in value_types and not _MIN_INT <= min(values) <= max(values) <= _MAX_INT:
            split = _encode_values(values)  # rare: an integer beyond 64 bits
            assert split is not None
            return Batch(metrics, steps, split[0], None, ts, names)
        return Batch(metrics, steps, values, None, ts, names)
    split = _encode_values(values)
    if split is None:
        return None
    return Batch(metrics, steps, split[0], split[1], ts, names)

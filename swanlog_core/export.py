"""Export a run's metrics as CSV or JSON Lines: one row per point, every metric in one stream.

    csv     metric,step,value,ts           (a header line, then one row per point)
    jsonl   {"metric":"train/loss","step":12,"value":0.314,"ts":1763828530.123}

Non-finite values are spelled as in the metric files: NaN, Infinity, -Infinity (quoted
strings in jsonl, bare in csv, where Python's float() and pandas read them). Torn and
corrupt lines are skipped, exactly as the reader skips them, and counted for the caller.

A file of the writer's own lines is converted chunk by chunk with a few bytes operations,
once ``_format.writer_columns`` has proved every line of the chunk exact; any other file
is parsed point by point.
"""

from __future__ import annotations

from typing import Any, BinaryIO, NamedTuple, Sequence

import orjson

from ._format import encode_value, iter_line_chunks, writer_columns
from .errors import InvalidValueError
from .reader import History, RunView, parse_points

__all__ = ["FORMATS", "Skipped", "export_metric", "export_run"]

FORMATS = ("csv", "jsonl")
CSV_HEADER = b"metric,step,value,ts\n"

# Rows are the metric file's own number text, so it must decode to what the reader
# returns. It does, except for an integer literal beyond 64 bits, which orjson (hence
# the reader) makes a float: a chunk holding a number that large goes point by point.
_BIG = 9.2e18  # just under 2**63
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_INTEGER = b":" + b"0" * 19  # in a chunk whose digits became 0 and signs went


class Skipped(NamedTuple):
    """Lines of one metric that an export left out."""

    metric: str
    corrupt: int  # complete lines that are not a valid point
    torn: int  # bytes after the last newline


def _csv_field(text: str) -> bytes:
    raw = text.encode("utf-8")
    if any(c in raw for c in b',"\r\n'):
        return b'"' + raw.replace(b'"', b'""') + b'"'
    return raw


def _csv_value(value: Any) -> bytes:
    t = type(value)
    if t is float and value - value != 0:  # NaN or infinite
        return encode_value(value).encode()
    if t is float or t is int:
        return orjson.dumps(value)
    return _csv_field(orjson.dumps(value).decode())  # a media description: its JSON, quoted


def _jsonl_point(metric: str, step: int, value: Any, ts: float) -> bytes:
    if type(value) is float and value - value != 0:
        value = encode_value(value)
    return orjson.dumps(
        {"metric": metric, "step": step, "value": value, "ts": ts}, option=orjson.OPT_APPEND_NEWLINE
    )


def _exportable(chunk: bytes) -> int | None:
    """How many lines ``chunk`` holds if all are the writer's and their text reads back exactly, else None."""
    columns = writer_columns(chunk)
    if columns is None:
        return None
    steps, values, ts = columns
    if b"N" in chunk or b"I" in chunk:  # a NaN would confuse min() and max()
        exact = _LONG_INTEGER not in chunk.translate(_DIGITS_TO_ZERO, b"-")
    else:
        exact = -_BIG < min(values) and max(values) < _BIG and -_BIG < min(ts) and max(ts) < _BIG
    return len(steps) if exact else None


def _convert_clean(name: str, body: bytes, fmt: str, lines: int) -> bytes:
    """Rows of ``body`` (``lines`` lines, all the writer's), by bytes operations."""
    if fmt == "jsonl":
        return body.replace(b'{"step":', b'{"metric":' + orjson.dumps(name) + b',"step":')
    prefix = _csv_field(name) + b","
    if body.count(b"e") == 2 * lines and b"N" not in body and b"I" not in body:
        # Only the keys hold an "e" and no value is spelled with letters: deleting the
        # key letters leaves {S,V,T on each line.
        return body.translate(None, b'"stepvalu:}').replace(b"{", prefix)
    rows = body.replace(b',"value":', b",").replace(b',"ts":', b",").translate(None, b'}"')
    return rows.replace(b"{step:", prefix)  # the quotes of "step" are gone too


def _convert_points(name: str, history: History, fmt: str) -> bytes:
    """Rows of the points of ``history``, one by one."""
    if fmt == "jsonl":
        return b"".join([_jsonl_point(name, *p) for p in history])
    prefix = _csv_field(name) + b","
    return b"".join(
        [b"%s%d,%s,%s\n" % (prefix, step, _csv_value(value), orjson.dumps(ts)) for step, value, ts in history]
    )


def export_metric(name: str, data: bytes, fmt: str) -> tuple[bytes, Skipped]:
    """Rows (without a header) for the metric ``name`` whose file holds ``data``.

    Raises:
        InvalidValueError: ``fmt`` is not one of FORMATS.
    """
    if fmt not in FORMATS:
        raise InvalidValueError(f"export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    end = data.rfind(b"\n") + 1
    body = data if end == len(data) else data[:end]
    chunks = list(iter_line_chunks(body))
    lines = list(map(_exportable, chunks))
    if fmt == "jsonl" and None not in lines:  # one replace over the whole file beats one per chunk
        return _convert_clean(name, body, fmt, sum(lines)), Skipped(name, 0, len(data) - end)
    rows, corrupt = [], 0
    for chunk, n in zip(chunks, lines):
        if n is not None:  # csv passes are faster over chunks that stay in the CPU cache
            rows.append(_convert_clean(name, chunk, fmt, n))
        else:  # only this chunk goes point by point
            history = parse_points(chunk)
            corrupt += history.corrupt
            rows.append(_convert_points(name, history, fmt))
    return b"".join(rows), Skipped(name, corrupt, len(data) - end)


def export_run(run: RunView, fmt: str, out: BinaryIO, metrics: Sequence[str] | None = None) -> list[Skipped]:
    """Write every point of ``run`` (or of ``metrics``) to ``out``, metric by metric, by name.

    Args:
        run: the run to export.
        fmt: "csv" or "jsonl".
        out: a binary stream.
        metrics: the metrics to export, in this order; default every metric, sorted.

    Returns:
        One Skipped for each metric that had corrupt lines or a torn tail.

    Raises:
        MetricNotFoundError: a name in ``metrics`` is not a metric of the run (checked
            before anything is written).
        InvalidValueError: ``fmt`` is not one of FORMATS.
    """
    if fmt not in FORMATS:
        raise InvalidValueError(f"export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    names = run.metric_names() if metrics is None else list(metrics)
    paths = [(name, run.metric_path(name)) for name in names]
    for name, path in paths:
        if not path.is_file():
            run.history(name)  # raises MetricNotFoundError listing the run's metrics
    if fmt == "csv":
        out.write(CSV_HEADER)
    skipped = []
    for name, path in paths:
        rows, skip = export_metric(name, path.read_bytes(), fmt)
        out.write(rows)
        if skip.corrupt or skip.torn:
            skipped.append(skip)
    return skipped

"""Export a run's metrics as CSV or JSON Lines: one row per point, every metric in one stream.

    csv     metric,step,value,ts           (a header line, then one row per point)
    jsonl   {"metric":"train/loss","step":12,"value":0.314,"ts":1763828530.123}

Non-finite values are spelled as in the metric files: NaN, Infinity, -Infinity (quoted
strings in jsonl, bare in csv, where Python's float() and pandas read them). Torn and
corrupt lines are skipped, exactly as the reader skips them, and counted for the caller.

A file the writer produced is converted with a handful of whole-file bytes operations,
after one regular expression has proved that every line has the writer's exact shape;
any other file is parsed point by point.
"""

from __future__ import annotations

import re
from typing import Any, BinaryIO, NamedTuple, Sequence

import orjson

from ._format import encode_value
from .errors import InvalidValueError
from .reader import History, RunView, parse_points

__all__ = ["FORMATS", "Skipped", "export_metric", "export_run"]

FORMATS = ("csv", "jsonl")
CSV_HEADER = b"metric,step,value,ts\n"

# A number the reader decodes to the same int or float that its text says: JSON grammar,
# at most 18 integer digits (no silent int -> float) and a two-digit exponent (no overflow).
_NUM = rb"-?(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{1,40})?(?:[eE][+-]?[0-9]{1,2})?"
_WRITER_LINES = re.compile(
    rb'(?:\{"step":(?:0|[1-9][0-9]{0,17}),"value":(?:'
    + _NUM
    + rb'|"NaN"|"Infinity"|"-Infinity"),"ts":'
    + _NUM
    + rb"\}\n)*+"
)


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


def _convert_clean(name: str, body: bytes, fmt: str) -> bytes:
    """Rows of ``body``, whose every line has the writer's exact shape, by bytes operations."""
    if fmt == "jsonl":
        return body.replace(b'{"step":', b'{"metric":' + orjson.dumps(name) + b',"step":')
    rows = body.replace(b',"value":', b",").replace(b',"ts":', b",").translate(None, b'}"')
    return rows.replace(b"{step:", _csv_field(name) + b",")  # the quotes of "step" are gone too


def export_metric(name: str, data: bytes, fmt: str) -> tuple[bytes, Skipped]:
    """Rows (without a header) for the metric ``name`` whose file holds ``data``.

    Raises:
        InvalidValueError: ``fmt`` is not one of FORMATS.
    """
    if fmt not in FORMATS:
        raise InvalidValueError(f"export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    end = data.rfind(b"\n") + 1
    body = data if end == len(data) else data[:end]
    if _WRITER_LINES.fullmatch(body):
        return _convert_clean(name, body, fmt), Skipped(name, 0, len(data) - end)
    history: History = parse_points(data)
    if fmt == "jsonl":
        out = b"".join([_jsonl_point(name, *p) for p in history.points])
    else:
        prefix = _csv_field(name) + b","
        out = b"".join(
            [
                b"%s%d,%s,%s\n" % (prefix, p.step, _csv_value(p.value), orjson.dumps(p.ts))
                for p in history.points
            ]
        )
    return out, Skipped(name, history.corrupt, history.torn)


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

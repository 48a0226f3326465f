"""swanlog_core.export: CSV and JSON Lines rows, identical whether a file is clean or not."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from swanlog_core import reader
from swanlog_core._format import decode_value
from swanlog_core.errors import InvalidValueError
from swanlog_core.export import Skipped, export_metric, export_run
from swanlog_core.reader import parse_points
from tests.runfolder import T0, line, make_run

CLEAN = (
    line(0, 0.5, 1.25)
    + line(1, 2, 1.5)
    + line(2, "NaN", 2.0)
    + line(3, "-Infinity", 2.5)
    + line(4, 0.125, 3.0)
)
# The same points, spelled differently: the careful path must give the same rows.
SPACED = b"".join(ln.replace(b",", b", ").replace(b":", b": ") for ln in CLEAN.splitlines(keepends=True))


@pytest.mark.parametrize(
    "data", [pytest.param(CLEAN, id="writer-lines"), pytest.param(SPACED, id="other-spacing")]
)
def test_jsonl_rows_carry_the_metric_and_keep_nonfinite_strings(data: bytes) -> None:
    """jsonl export writes one {"metric","step","value","ts"} per point, NaN and infinities as strings."""
    rows, skipped = export_metric("train/loss", data, "jsonl")
    assert rows.decode().splitlines() == [
        '{"metric":"train/loss","step":0,"value":0.5,"ts":1.25}',
        '{"metric":"train/loss","step":1,"value":2,"ts":1.5}',
        '{"metric":"train/loss","step":2,"value":"NaN","ts":2.0}',
        '{"metric":"train/loss","step":3,"value":"-Infinity","ts":2.5}',
        '{"metric":"train/loss","step":4,"value":0.125,"ts":3.0}',
    ]
    assert skipped == Skipped("train/loss", 0, 0)


@pytest.mark.parametrize(
    "data", [pytest.param(CLEAN, id="writer-lines"), pytest.param(SPACED, id="other-spacing")]
)
def test_csv_rows_are_long_format_with_bare_nonfinite_values(data: bytes) -> None:
    """csv export writes metric,step,value,ts rows, non-finite values bare, names quoted when needed."""
    rows, _ = export_metric('a,"b"', data, "csv")
    assert rows.decode().splitlines() == [
        '"a,""b""",0,0.5,1.25',
        '"a,""b""",1,2,1.5',
        '"a,""b""",2,NaN,2.0',
        '"a,""b""",3,-Infinity,2.5',
        '"a,""b""",4,0.125,3.0',
    ]


def test_corrupt_and_torn_lines_are_left_out_and_counted() -> None:
    """Export skips corrupt lines and a torn tail, reports how many, and keeps the lines after them."""
    data = line(0, 1, 1.0) + b"garbage\n" + line(1, 2, 1.0) + b'{"step":2,"va'
    rows, skipped = export_metric("m", data, "csv")
    assert rows == b"m,0,1,1.0\nm,1,2,1.0\n"
    assert skipped == Skipped("m", 1, 13)


def test_export_run_writes_a_header_then_every_metric_by_name(logdir: Path) -> None:
    """export_run writes the csv header once, then each metric's rows, metrics in name order."""
    run = reader.open_run(
        make_run(logdir, "e", metrics={"b": line(0, 1, 1.0), "a": line(0, 2, 1.0) + b"x\n"})
    )
    out = io.BytesIO()
    assert export_run(run, "csv", out) == [Skipped("a", 1, 0)]
    assert out.getvalue() == b"metric,step,value,ts\na,0,2,1.0\nb,0,1,1.0\n"


def test_export_run_of_an_unknown_metric_writes_nothing(logdir: Path) -> None:
    """Naming a metric the run lacks raises before a single byte is written."""
    run = reader.open_run(make_run(logdir, "e", metrics={"a": line(0, 1)}))
    out = io.BytesIO()
    with pytest.raises(reader.MetricNotFoundError, match="no metric 'zz'"):
        export_run(run, "jsonl", out, ["a", "zz"])
    assert out.getvalue() == b""


def test_an_unknown_format_is_an_invalid_value() -> None:
    """A format other than csv or jsonl is refused with a message listing the formats."""
    with pytest.raises(InvalidValueError, match="csv, jsonl"):
        export_metric("m", CLEAN, "xlsx")


_POOL = [
    line(0, 0.5),
    line(1, "NaN"),
    line(2, "-Infinity", 3),
    line(3, 7),
    b'{"step":4,"value":1e5,"ts":1E3}\n',
    b'{"step": 5, "value": 1, "ts": 3}\n',
    b'{"step":6,"value":{"_type":"image","path":"x.png"},"ts":1}\n',
    b'{"step":7,"value":1e400,"ts":1}\n',
    b'{"step":8,"value":1.2.3,"ts":1}\n',
    b'{"st1ep":9,"value":1,"ts":1}\n',
    b'{"step":10,"value":"-NaN","ts":1}\n',
    b'{"step":-1,"value":1,"ts":1}\n',
    b'{"step":11,"value":1,"ts":"NaN"}\n',
    b'{"step":12,"value":"Infinity1","ts":1}\n',
    b"garbage\n",
    b"\x00\x00\n",
    b"\n",
    b'{"step":,"value13":1,"ts":1}\n',
    b'{"step":14,"value":,2"ts":1}\n',
    b'{"step":15,"value":123456789012345678901234,"ts":1}\n',
    b'{"step":16,"value":1e-7,"ts":2.5e20}\n',
    b'{"step":17,"value":-0,"ts":1E3}\n',
    b'{"step":18,"value":1.5,"ts":-"NaN"}\n',
]


@given(st.lists(st.sampled_from(_POOL), max_size=12), st.sampled_from([b"", b'{"step":1', b"\x00"]))
def test_export_keeps_exactly_the_points_the_reader_reads(lines: list[bytes], tail: bytes) -> None:
    """Whatever a metric file holds, export writes exactly the points the reader returns, and its counts."""
    data = b"".join(lines) + tail
    history = parse_points(data)
    expected = [(p.step, repr(p.value), p.ts) for p in history.points]
    rows, skipped = export_metric("m", data, "jsonl")
    got = []
    for row in rows.splitlines():
        obj = orjson.loads(row)
        value = decode_value(obj["value"]) if isinstance(obj["value"], str) else obj["value"]
        got.append((obj["step"], repr(value), obj["ts"]))
    assert got == expected
    assert skipped == Skipped("m", history.corrupt, history.torn)
    csv_rows, _ = export_metric("m", data, "csv")
    assert [_csv_point(row) for row in csv_rows.decode().splitlines()] == expected


def _csv_point(row: str) -> tuple[int, str, float]:
    """(step, repr(value), ts) of a csv row of metric m, read as a csv reader, int() and float() would."""
    metric, step, value, ts = next(csv.reader([row]))
    assert metric == "m"
    if value.startswith("{"):
        number = json.loads(value)
    else:
        number = int(value) if value.lstrip("-").isdigit() else float(value)
    return int(step), repr(number), float(ts)


def test_a_long_writer_file_exports_every_point_spelled_as_in_the_file() -> None:
    """A file of thousands of writer lines, exponents and non-finite values in its second half, exports every
    point with its numbers spelled exactly as in the file."""
    values = [
        s / 7 if s < 3500 or s % 5 else (1e-9 * s, "NaN", "-Infinity", 2.5e20, s)[s % 4] for s in range(7000)
    ]
    data = b"".join(line(s, v, T0 + s) for s, v in enumerate(values))
    spelled = [v.encode() if isinstance(v, str) else json.dumps(v).encode() for v in values]
    rows, skipped = export_metric("a,b", data, "csv")
    assert skipped == Skipped("a,b", 0, 0)
    assert rows == b"".join(b'"a,b",%d,%s,%r\n' % (s, v, T0 + s) for s, v in enumerate(spelled))
    rows, _ = export_metric("a,b", data, "jsonl")
    assert rows == data.replace(b'{"step":', b'{"metric":"a,b","step":')


def test_a_corrupt_line_in_a_long_file_costs_only_that_line() -> None:
    """In a file of thousands of writer lines, a corrupt line in the middle is counted and left out, and every
    other point is exported, in order, in both formats."""
    good = [line(s, s / 4, T0 + s) for s in range(6000)]
    data = b"".join(good[:3000]) + b'{"step":3000,"value":1.2.3,"ts":1}\n' + b"".join(good[3000:])
    rows, skipped = export_metric("m", data, "csv")
    assert skipped == Skipped("m", 1, 0)
    assert rows == b"".join(b"m,%d,%r,%r\n" % (s, s / 4, T0 + s) for s in range(6000))
    rows, skipped = export_metric("m", data, "jsonl")
    assert skipped == Skipped("m", 1, 0)
    assert [orjson.loads(row) for row in rows.splitlines()] == [
        {"metric": "m", "step": s, "value": s / 4, "ts": T0 + s} for s in range(6000)
    ]

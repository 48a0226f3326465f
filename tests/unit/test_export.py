"""swanlog_core.export: CSV and JSON Lines rows, identical whether a file is clean or not."""

from __future__ import annotations

import io
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
from tests.runfolder import line, make_run

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
    assert len(csv_rows.splitlines()) == len(expected)

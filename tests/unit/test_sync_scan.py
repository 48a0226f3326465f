"""Turning metric lines into server records, reading only complete lines, and finding runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import hypothesis
import hypothesis.strategies as st
import pytest

from swanlog_core.sync.offsets import Cursor
from swanlog_core.sync.scan import find_run_dirs, metric_prefix, read_chunk, to_records
from tests.runfolder import line, make_run


def _records(body: bytes) -> list[dict]:
    return [json.loads(raw) for raw in body.split(b"\n")[:-1]]


def _convert(name: str, data: bytes) -> tuple[list[dict], int]:
    r = to_records(name, metric_prefix(name), data)
    recs = _records(r.body)
    assert len(recs) == r.count
    return recs, r.corrupt


def test_writer_lines_become_records_with_the_metric_name() -> None:
    """Every line of a metric file becomes one record naming the metric, values unchanged."""
    data = line(0, 0.5) + line(1, 2) + line(7, "NaN") + line(8, "-Infinity") + line(9, "Infinity")
    recs, corrupt = _convert("train/loss", data)
    assert corrupt == 0
    assert [(r["metric"], r["step"], r["value"]) for r in recs] == [
        ("train/loss", 0, 0.5),
        ("train/loss", 1, 2),
        ("train/loss", 7, "NaN"),
        ("train/loss", 8, "-Infinity"),
        ("train/loss", 9, "Infinity"),
    ]
    assert all(set(r) == {"metric", "step", "value", "ts"} for r in recs)


@pytest.mark.parametrize(
    "name", ["loss", 'quote"name', "训练/损失", "back\\slash", "a/b/c", "x" * 1000], ids=str.__len__
)
def test_metric_names_are_json_escaped(name: str) -> None:
    """A metric name with quotes, backslashes or any script arrives exactly as it is."""
    recs, _ = _convert(name, line(3, 1.0))
    assert recs[0]["metric"] == name


BAD_LINES = {
    "not-json": b"{this is not json}\n",
    "empty-line": b"\n",
    "missing-step": b'{"value":1,"ts":1.0}\n',
    "negative-step": b'{"step":-1,"value":1,"ts":1.0}\n',
    "float-step": b'{"step":1.5,"value":1,"ts":1.0}\n',
    "step-beyond-int64": b'{"step":9223372036854775808,"value":1,"ts":1.0}\n',
    "digit-in-key": b'{"st1ep":4,"value":1,"ts":1.0}\n',
    "digit-in-nan": b'{"step":4,"value":"N1aN","ts":1.0}\n',
    "string-value": b'{"step":4,"value":"hello","ts":1.0}\n',
    "nan-ts": b'{"step":4,"value":1,"ts":"NaN"}\n',
    "list-value": b'{"step":4,"value":[1],"ts":1.0}\n',
    "malformed-number": b'{"step":4,"value":1.2.3,"ts":1.0}\n',
    "array": b"[1,2,3]\n",
}


@pytest.mark.parametrize("bad", BAD_LINES.values(), ids=BAD_LINES.keys())
def test_a_corrupt_line_is_skipped_counted_and_never_blocks_the_next(bad: bytes) -> None:
    """A complete line that is not a valid point is counted, not sent, and the lines after it still go."""
    data = line(0, 1.0) + bad + line(1, 2.0) + line(2, "NaN")
    recs, corrupt = _convert("m", data)
    assert corrupt == 1
    assert [(r["step"], r["value"]) for r in recs] == [(0, 1.0), (1, 2.0), (2, "NaN")]


def test_hand_written_lines_are_accepted_when_they_are_points() -> None:
    """Lines with spaces, other key order or a media description are valid points and are sent."""
    data = (
        b'{ "ts": 5.0, "value": 3, "step": 2 }\n'
        b'{"step":4,"value":{"_type":"image","path":"media/x/ab.png"},"ts":6.0}\n'
    )
    recs, corrupt = _convert("m", data)
    assert corrupt == 0
    assert recs == [
        {"metric": "m", "step": 2, "value": 3, "ts": 5.0},
        {"metric": "m", "step": 4, "value": {"_type": "image", "path": "media/x/ab.png"}, "ts": 6.0},
    ]


def _read(path: Path, offset: int = 0, skip_nul: bool = False, max_bytes: int = 1 << 20):
    cursor = Cursor()
    return read_chunk(path, offset, cursor.matches, max_bytes, 64, skip_nul)


def test_a_torn_last_line_is_left_for_later(tmp_path: Path) -> None:
    """Bytes after the last newline are not read as a line; they are reported as pending."""
    f = tmp_path / "m.jsonl"
    f.write_bytes(line(0, 1.0) + b'{"step":1,"val')
    chunk = _read(f)
    assert chunk.body == line(0, 1.0) and chunk.end == len(line(0, 1.0))
    assert chunk.pending == len(b'{"step":1,"val') and not chunk.more


def test_a_nul_tail_is_waited_on(tmp_path: Path) -> None:
    """Lines before a NUL region are sent; the NUL line itself is waited on, not skipped."""
    f = tmp_path / "m.jsonl"
    good = line(0, 1.0)
    f.write_bytes(good + b"\x00" * 40 + b"\n")
    first = _read(f)
    assert first.body == good and first.more
    second = _read(f, first.end, skip_nul=False)
    assert second.nul and second.body == b"" and second.end == len(good)


def test_a_nul_line_followed_by_lines_is_skipped_once_allowed(tmp_path: Path) -> None:
    """A NUL line with complete lines after it is stepped over when the writer is gone."""
    f = tmp_path / "m.jsonl"
    bad = b"\x00" * 10 + b"\n"
    f.write_bytes(bad + line(1, 2.0))
    waited = _read(f, skip_nul=False)
    assert waited.nul and waited.end == 0
    skipped = _read(f, skip_nul=True)
    assert skipped.skip == len(bad) and skipped.end == len(bad) and skipped.more
    rest = _read(f, skipped.end)
    assert rest.body == line(1, 2.0)


def test_a_line_longer_than_the_read_size_is_read_whole(tmp_path: Path) -> None:
    """A line longer than one read is read to its newline (and then judged), never split."""
    f = tmp_path / "m.jsonl"
    long_line = b'{"step":0,"value":1,"ts":1.0,"pad":"' + b"x" * 5000 + b'"}\n'
    f.write_bytes(long_line + line(1, 2.0))
    chunk = _read(f, max_bytes=1000)
    assert chunk.body in (long_line, long_line + line(1, 2.0))


def test_find_run_dirs_takes_logdirs_and_run_folders(logdir: Path) -> None:
    """Paths may be logdirs or run folders; each run is found once; other folders are ignored."""
    a = make_run(logdir, "aaaa")
    b = make_run(logdir, "bbbb", created=1_795_000_100.0)
    (logdir / "notes").mkdir()
    assert find_run_dirs([logdir]) == [a, b]
    assert find_run_dirs([a, logdir, logdir / "missing"]) == [a, b]


def test_nonfinite_survive_as_strings() -> None:
    """NaN and infinities stay the strings the format and the API use, never bare constants."""
    r = to_records("m", metric_prefix("m"), line(0, "NaN"))
    assert b'"NaN"' in r.body and math.isnan(float(json.loads(r.body)["value"]))


_ALPHABET = b'0123456789.-+eE"{}:,[] NaInftyvlus\\'


def _oracle(raw: bytes) -> bool:
    """Whether a line is a point the server takes, judged with the json module alone."""

    def no_constants(token: str) -> None:
        raise ValueError(token)

    try:
        obj = json.loads(raw.decode("utf-8"), parse_constant=no_constants)
    except (ValueError, UnicodeDecodeError):
        return False
    if not isinstance(obj, dict):
        return False
    step, value, ts = obj.get("step"), obj.get("value"), obj.get("ts")
    if type(step) is not int or not 0 <= step < 2**63 or type(ts) not in (int, float):
        return False
    if type(ts) is float and not math.isfinite(ts):
        return False
    t = type(value)
    if t is float and not math.isfinite(value):
        return False
    return (
        t in (int, float)
        or (t is str and value in ("NaN", "Infinity", "-Infinity"))
        or (t is dict and "_type" in value)
    )


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(
    st.lists(
        st.tuples(
            st.integers(0, 2**40),
            st.sampled_from([0.5, 1, -3, "NaN", "Infinity", "-Infinity", 1e300]),
            st.lists(st.tuples(st.integers(0, 60), st.sampled_from(list(_ALPHABET))), max_size=2),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_only_points_the_server_takes_are_sent(specs: list) -> None:
    """Whatever damage lines carry, exactly the lines that are valid points become records, in order."""
    lines = []
    for step, value, edits in specs:
        raw = bytearray(line(step, value).rstrip(b"\n"))
        for pos, ch in edits:
            raw[pos % len(raw)] = ch
        lines.append(bytes(raw))
    body = b"".join(raw + b"\n" for raw in lines)
    r = to_records("m", metric_prefix("m"), body)
    expected = [json.loads(raw) for raw in lines if _oracle(raw)]
    got = _records(r.body)
    assert r.count == len(got) == len(expected) and r.corrupt == len(lines) - len(expected)
    assert [(g["step"], g["value"], g["ts"]) for g in got] == [
        (e["step"], e["value"], e["ts"]) for e in expected
    ]
    assert all(g["metric"] == "m" for g in got)

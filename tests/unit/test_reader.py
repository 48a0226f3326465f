"""swanlog_core.reader: finding and opening runs, statuses, tolerant metric reading, following."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swanlog_core import reader
from swanlog_core.errors import CorruptRunError, Error, RunNotFoundError
from swanlog_core.follow import Follower
from tests.runfolder import T0, LockHolder, iso, line, make_run

GOOD = line(0, 0.5) + line(1, 0.25) + line(2, 0.125)


# -- find_runs ------------------------------------------------------------------------


def test_find_runs_lists_runs_oldest_first_and_ignores_other_folders(logdir: Path) -> None:
    """find_runs returns every run folder sorted by creation time and skips anything else."""
    make_run(logdir, "bbbb", created=T0 + 100)
    make_run(logdir, "aaaa", created=T0)
    make_run(logdir, "cccc", created=T0 + 50)
    (logdir / "not-a-run").mkdir()
    (logdir / "run-garbage").mkdir()
    (logdir / "notes.txt").write_text("hello")
    runs = reader.find_runs(logdir)
    assert [r.id for r in runs] == ["aaaa", "cccc", "bbbb"]
    assert [r.created for r in runs] == [T0, T0 + 50, T0 + 100]


def test_find_runs_lists_a_run_with_broken_run_json_as_corrupt(logdir: Path) -> None:
    """A run folder whose run.json is unreadable is listed as corrupt and does not hide the others."""
    make_run(logdir, "good")
    make_run(logdir, "bad1", created=T0 + 1, run_json=b'{"id": "bad1", "sta')
    missing = make_run(logdir, "bad2", created=T0 + 2)
    (missing / "run.json").unlink()
    runs = {r.id: r for r in reader.find_runs(logdir)}
    assert runs["good"].status == "finished"
    assert runs["bad1"].status == "corrupt" and "unreadable" in (runs["bad1"].problem or "")
    assert runs["bad2"].status == "corrupt" and runs["bad2"].problem == "run.json is missing"
    assert runs["bad2"].created == T0 + 2  # from the folder name


def test_find_runs_of_a_missing_logdir_is_empty(tmp_path: Path) -> None:
    """A logdir that does not exist holds no runs rather than raising."""
    assert reader.find_runs(tmp_path / "nowhere") == []


def test_find_runs_defaults_to_swanlog_dir(logdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an argument, find_runs looks in $SWANLOG_DIR."""
    make_run(logdir, "envrun")
    monkeypatch.setenv("SWANLOG_DIR", str(logdir))
    assert [r.id for r in reader.find_runs()] == ["envrun"]


def test_run_view_exposes_run_json_config_summary_and_definitions(logdir: Path) -> None:
    """A RunView carries run.json's fields as Python values and reads config, summary and definitions."""
    run_dir = make_run(logdir, "k3j9x0a1", status="failed", tags=["a", "b"], notes="n", exit_code=143)
    (run_dir / "metrics.json").write_text(json.dumps({"val/*": {"summary": "max"}}))
    run = reader.open_run(run_dir)
    assert (run.id, run.name, run.project, run.status) == ("k3j9x0a1", "k3j9x0a1", "proj", "failed")
    assert (run.tags, run.notes, run.exit_code, run.host, run.pid) == (["a", "b"], "n", 143, "node1", 4242)
    assert (run.created, run.updated, run.duration) == (T0, T0 + 10, 10.0)
    assert run.config == {"lr": 0.001}
    assert run.summary == {"loss": 0.5}
    assert run.metric_definitions == {"val/*": {"summary": "max"}}
    assert run.dir == run_dir


def test_missing_documents_read_as_empty_and_broken_ones_raise(logdir: Path) -> None:
    """An absent config.json reads as {}, an unreadable summary.json raises CorruptRunError naming it."""
    run_dir = make_run(logdir, "docs")
    (run_dir / "config.json").unlink()
    (run_dir / "summary.json").write_bytes(b"{not json")
    run = reader.open_run(run_dir)
    assert run.config == {}
    with pytest.raises(CorruptRunError, match="summary.json"):
        _ = run.summary


# -- running, crashed -----------------------------------------------------------------


def test_a_running_run_whose_writer_is_killed_is_reported_crashed(logdir: Path) -> None:
    """A run marked running is "running" while a process holds its lock and "crashed" after SIGKILL."""
    run_dir = make_run(logdir, "live", status="running", metrics={"loss": GOOD})
    holder = LockHolder(run_dir)
    try:
        assert reader.open_run(run_dir).status == "running"
    finally:
        holder.kill()
    assert reader.open_run(run_dir).status == "crashed"
    assert [r.status for r in reader.find_runs(logdir)] == ["crashed"]


def test_duration_of_a_running_run_counts_the_current_session(logdir: Path) -> None:
    """A running run's duration is its stored duration plus the time since run.json was written."""
    now = time.time()
    run_dir = make_run(
        logdir, "live", status="running", created=now - 100, updated=iso(now - 30), duration=5.0
    )
    with LockHolder(run_dir):
        duration = reader.open_run(run_dir).duration
    assert 35 <= duration < 45


def test_duration_of_a_crashed_run_ends_at_its_last_metric_write(logdir: Path) -> None:
    """A crashed run's duration is its stored duration plus the time to the newest metric file's mtime."""
    run_dir = make_run(logdir, "dead", status="running", duration=5.0, metrics={"a": GOOD, "b": GOOD})
    os.utime(run_dir / "metrics" / "a.jsonl", (T0 + 40, T0 + 40))  # updated is T0 + 10
    os.utime(run_dir / "metrics" / "b.jsonl", (T0 + 20, T0 + 20))
    run = reader.open_run(run_dir)
    assert run.status == "crashed"
    assert run.duration == pytest.approx(35.0)


def test_duration_of_a_crashed_run_is_never_less_than_stored(logdir: Path) -> None:
    """A crashed run whose metric files are older than its run.json keeps its stored duration."""
    run_dir = make_run(logdir, "dead", status="running", duration=5.0, metrics={"a": GOOD})
    os.utime(run_dir / "metrics" / "a.jsonl", (T0 - 1000, T0 - 1000))
    assert reader.open_run(run_dir).duration == 5.0


# -- open_run -------------------------------------------------------------------------


@pytest.fixture
def three_runs(logdir: Path) -> Path:
    """A logdir with runs abc123, abd456 and ab."""
    make_run(logdir, "abc123")
    make_run(logdir, "abd456", created=T0 + 1)
    make_run(logdir, "ab", created=T0 + 2)
    return logdir


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        pytest.param("abc123", "abc123", id="full-id"),
        pytest.param("abc", "abc123", id="unique-prefix"),
        pytest.param("abd", "abd456", id="other-prefix"),
        pytest.param("ab", "ab", id="exact-id-beats-longer-ids"),
    ],
)
def test_open_run_finds_a_run_by_id_or_unique_prefix(three_runs: Path, ref: str, expected: str) -> None:
    """open_run accepts a full id or a unique id prefix, and an exact id wins over a prefix match."""
    assert reader.open_run(ref, three_runs).id == expected


def test_open_run_accepts_a_run_folder_path(three_runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """open_run accepts a run folder as a path, or as a folder name inside the logdir."""
    run_dir = next(three_runs.glob("run-*-abd456"))
    assert reader.open_run(run_dir).id == "abd456"
    assert reader.open_run(run_dir.name, three_runs).id == "abd456"
    monkeypatch.chdir(three_runs)
    assert reader.open_run(run_dir.name).id == "abd456"


def test_open_run_lists_the_candidates_of_an_ambiguous_prefix(logdir: Path) -> None:
    """An id prefix matching several runs is refused with a message naming each of them."""
    make_run(logdir, "abc123")
    make_run(logdir, "abd456")
    with pytest.raises(RunNotFoundError, match="ambiguous") as info:
        reader.open_run("ab", logdir)
    assert "abc123" in str(info.value) and "abd456" in str(info.value)


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        pytest.param("zzz", "no run with id or id prefix 'zzz'", id="unknown-id"),
        pytest.param("", "no run given", id="empty"),
        pytest.param("some/where", "not a run folder", id="not-a-folder"),
    ],
)
def test_open_run_explains_what_it_could_not_find(three_runs: Path, ref: str, message: str) -> None:
    """A reference that matches no run raises RunNotFoundError saying what was looked for."""
    with pytest.raises(RunNotFoundError, match=message):
        reader.open_run(ref, three_runs)


def test_open_run_in_a_missing_logdir_names_the_logdir(tmp_path: Path) -> None:
    """Looking up an id in a logdir that does not exist says so."""
    with pytest.raises(RunNotFoundError, match="does not exist"):
        reader.open_run("abc", tmp_path / "nowhere")


# -- metrics --------------------------------------------------------------------------


def test_metric_names_come_from_the_files_decoded(logdir: Path) -> None:
    """metric_names() lists every metric file under metrics/, decoded, sorted, ignoring other files."""
    run_dir = make_run(
        logdir, "m", metrics={"train/loss": GOOD, "top%205%25": GOOD, "训练/损失": GOOD, "acc": GOOD}
    )
    (run_dir / "metrics" / "README.txt").write_text("not a metric")
    (run_dir / "metrics" / ".hidden.jsonl").write_text("")
    assert reader.open_run(run_dir).metric_names() == ["acc", "top 5%", "train/loss", "训练/损失"]


HOSTILE = [
    pytest.param(GOOD, [0, 1, 2], 0, 0, id="clean"),
    pytest.param(GOOD + b'{"step":3,"val', [0, 1, 2], 0, 14, id="torn-tail"),
    pytest.param(line(0, 1) + b"garbage\n" + line(2, 3), [0, 2], 1, 0, id="garbage-line-then-more"),
    pytest.param(
        line(0, 1) + b'{"step":1,"va{"step":2,"value":3,"ts":1}\n' + line(3, 4),
        [0, 3],
        1,
        0,
        id="torn-line-glued-to-the-next",
    ),
    pytest.param(line(0, 1) + b"\x00" * 20 + b"\n" + line(1, 2), [0, 1], 1, 0, id="nul-bytes-line"),
    pytest.param(line(0, 1) + b"\x00" * 20, [0], 0, 20, id="nul-bytes-tail"),
    pytest.param(line(0, 1) + b"\n" + line(1, 2), [0, 1], 1, 0, id="empty-line"),
    pytest.param(line(0, 1) + b'{"step":-1,"value":1,"ts":1}\n', [0], 1, 0, id="negative-step"),
    pytest.param(b'{"step":1.5,"value":1,"ts":1}\n' + line(2, 1), [2], 1, 0, id="float-step"),
    pytest.param(b'{"step":1,"value":true,"ts":1}\n', [], 1, 0, id="boolean-value"),
    pytest.param(b'{"step":1,"value":"nan","ts":1}\n', [], 1, 0, id="unknown-string-value"),
    pytest.param(b'{"step":1,"value":1.2.3,"ts":1}\n' + line(2, 1), [2], 1, 0, id="malformed-number"),
    pytest.param(b"[1,2,3]\n" + line(2, 1), [2], 1, 0, id="not-an-object"),
    pytest.param(b'{"ts":1,"value":2,"step":7}\n', [7], 0, 0, id="other-key-order-is-still-json"),
    pytest.param(b'{"st1ep":1,"value":1,"ts":1}\n' + line(2, 1), [2], 1, 0, id="digit-inside-a-key"),
    pytest.param(b'{"step":1,"value":1,"t5s":1}\n' + line(2, 1), [2], 1, 0, id="digit-inside-another-key"),
    pytest.param(b'{"step":1,"value":"-NaN","ts":1}\n' + line(2, 1), [2], 1, 0, id="minus-nan"),
    pytest.param(b'{"step":,"value7":1,"ts":1}\n' + line(2, 1), [2], 1, 0, id="digit-moved-into-a-key"),
    pytest.param(b'{"step":1,"value":,2"ts":1}\n' + line(2, 1), [2], 1, 0, id="digit-moved-out-of-value"),
    pytest.param(b'{"step":1,"value":1,"ts":}5\n' + line(2, 1), [2], 1, 0, id="digit-moved-after-brace"),
    pytest.param(b'5{"step":1,"value":1,"ts":}\n' + line(2, 1), [2], 1, 0, id="digit-moved-before-brace"),
    pytest.param(b'{"step":1,"value":1,"ts":1.5.0}\n' + line(2, 1), [2], 1, 0, id="malformed-ts"),
    pytest.param(b'{"step":1,"value":1e,"ts":1}\n' + line(2, 1), [2], 1, 0, id="exponent-without-digits"),
    pytest.param(b'{"step":1,"value":-"NaN","ts":1}\n' + line(2, 1), [2], 1, 0, id="sign-before-a-string"),
    pytest.param(
        b'{"\ntep":1,"value":1,"ts":1}\n{"step":2,"value":1,"ts":1},{"step":3,"value":1,"ts":1}\n'
        + line(4, 1),
        [4],
        3,
        0,
        id="objects-split-and-joined-across-lines",
    ),
    pytest.param(line(0, "NaN") + b'{"step":1,"value":1,"ts":"NaN"}\n', [0], 1, 0, id="nan-as-ts"),
    pytest.param(line(0, "NaN") + b'{"step":1,"value":"NaN1","ts":1}\n', [0], 1, 0, id="nan-with-digits"),
    pytest.param(b"", [], 0, 0, id="empty-file"),
    pytest.param(b"no newline at all", [], 0, 17, id="only-a-torn-line"),
]


@pytest.mark.parametrize(("data", "steps", "corrupt", "torn"), HOSTILE)
def test_history_skips_and_counts_torn_and_corrupt_lines(
    logdir: Path, data: bytes, steps: list[int], corrupt: int, torn: int
) -> None:
    """history() skips torn and corrupt lines, counts them, and still reads every valid line after them."""
    run = reader.open_run(make_run(logdir, "h", metrics={"m": data}))
    history = run.history("m")
    assert [p.step for p in history.points] == steps
    assert (history.corrupt, history.torn) == (corrupt, torn)


def test_history_decodes_values_and_timestamps(logdir: Path) -> None:
    """history() returns ints, floats and the non-finite strings as the floats they stand for."""
    data = line(0, 3, 1.5) + line(1, 0.25, 2) + line(2, "NaN") + line(3, "Infinity") + line(4, "-Infinity")
    points = reader.open_run(make_run(logdir, "v", metrics={"m": data})).history("m").points
    assert points[0] == (0, 3, 1.5) and type(points[0].value) is int
    assert points[1] == (1, 0.25, 2)
    assert math.isnan(points[2].value)
    assert [p.value for p in points[3:]] == [math.inf, -math.inf]


def test_history_holds_columns_and_gives_the_same_points_as_tuples(logdir: Path) -> None:
    """history() gives steps, values and ts columns; iterating it or its points list gives Point tuples."""
    data = line(0, 3, 1.5) + line(1, 1e-7, 2.5) + line(5, "NaN", 3.0) + line(7, 2.5e20, 4.0)
    history = reader.open_run(make_run(logdir, "c", metrics={"m": data})).history("m")
    assert (history.steps, history.ts, len(history)) == ([0, 1, 5, 7], [1.5, 2.5, 3.0, 4.0], 4)
    assert history.values[:2] == [3, 1e-7] and math.isnan(history.values[2]) and history.values[3] == 2.5e20
    assert [tuple(p) for p in history] == [tuple(p) for p in history.points]
    step, value, ts = history.points[3]
    assert (step, value, ts) == (history.points[3].step, history.points[3].value, history.points[3].ts)
    assert (step, value, ts) == (7, 2.5e20, 4.0)


def test_a_long_file_reads_every_line_around_a_corrupt_one(logdir: Path) -> None:
    """A file of thousands of lines with a corrupt line in the middle reads back every other line in order."""
    good = [line(s, s / 8 if s % 3 else "NaN", T0 + s) for s in range(6000)]
    data = b"".join(good[:3001]) + b'{"step":6001,"value":1.2.3,"ts":1}\n' + b"".join(good[3001:])
    history = reader.open_run(make_run(logdir, "long", metrics={"m": data})).history("m")
    assert history.steps == list(range(6000)) and history.corrupt == 1
    assert history.ts == [T0 + s for s in range(6000)]
    assert [repr(v) for v in history.values] == [repr(s / 8 if s % 3 else math.nan) for s in range(6000)]


def test_history_of_a_missing_metric_names_it_and_the_existing_ones(logdir: Path) -> None:
    """Asking for a metric the run lacks raises MetricNotFoundError (a KeyError) listing its metrics."""
    run = reader.open_run(make_run(logdir, "x", metrics={"loss": GOOD, "acc": GOOD}))
    with pytest.raises(reader.MetricNotFoundError) as info:
        run.history("los")
    assert isinstance(info.value, KeyError) and isinstance(info.value, Error)
    assert str(info.value) == "run x has no metric 'los'; its metrics: acc, loss"


def test_history_of_an_invalid_metric_name_is_not_found(logdir: Path) -> None:
    """A name that no metric can have (an empty segment) is reported as not found, with the reason."""
    run = reader.open_run(make_run(logdir, "x"))
    with pytest.raises(reader.MetricNotFoundError, match="empty segment"):
        run.history("a//b")


_VALID = st.builds(
    lambda s, v, t: (s, v, t),
    st.integers(0, 2**62),
    st.one_of(
        st.integers(-(2**53), 2**53),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(["NaN", "Infinity", "-Infinity"]),
    ),
    st.floats(0, 2e9),
)
_BAD = st.sampled_from(
    [b"garbage", b"", b"\x00\x00", b'{"step":1,"va', b"{}", b'{"step":"1","value":1,"ts":1}']
)


@given(
    st.lists(st.one_of(_VALID, _BAD), max_size=30),
    st.sampled_from([b"", b'{"step":9', b"\x00\x00\x00"]),
)
def test_parse_points_keeps_every_valid_line_whatever_surrounds_it(lines: list, tail: bytes) -> None:
    """Any mix of valid, corrupt and NUL lines with any torn tail reads back every valid point in order."""
    data = b"".join((ln if isinstance(ln, bytes) else line(*ln)[:-1]) + b"\n" for ln in lines) + tail
    expected = [ln for ln in lines if not isinstance(ln, bytes)]
    history = reader.parse_points(data)
    decode = {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}
    assert [(p.step, repr(p.value), p.ts) for p in history.points] == [
        (s, decode.get(v, repr(v)) if isinstance(v, str) else repr(v), t) for s, v, t in expected
    ]
    assert history.corrupt == len(lines) - len(expected)
    assert history.torn == len(tail)


def _reference_point(raw: bytes) -> tuple[int, str, str] | None:
    """A line's point as DESIGN.md defines one, decided with the json module; None if it is not one."""
    try:
        obj = json.loads(raw, parse_constant=lambda name: None)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    step, value, ts = obj.get("step"), obj.get("value"), obj.get("ts")
    if type(step) is not int or step < 0 or type(ts) not in (int, float) or not math.isfinite(ts):
        return None
    if isinstance(value, str):
        named = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
        return (step, repr(named[value]), repr(ts)) if value in named else None
    if type(value) not in (int, float) or not math.isfinite(value):
        return None
    return step, repr(value), repr(ts)


_WRITER_LINES = st.lists(
    st.builds(
        line,
        st.integers(0, 99),
        st.sampled_from([0, 7, -3, 0.5, -0.25, 1e-07, 2.5e20, "NaN", "Infinity", "-Infinity"]),
        st.sampled_from([T0, 1.5, 0.0]),
    ),
    min_size=1,
    max_size=4,
)
_EDITS = st.lists(
    st.tuples(
        st.integers(0, 10_000),
        st.sampled_from(["insert", "delete", "replace"]),
        st.sampled_from(list(b'0123456789.eE+-{}":, \nNaIf[]')),
    ),
    max_size=3,
)


@given(_WRITER_LINES, _EDITS)
def test_parse_points_reads_exactly_the_valid_lines_of_edited_writer_lines(
    lines: list[bytes], edits: list
) -> None:
    """Writer lines with a few characters inserted, deleted or replaced read back exactly the lines that are
    still valid points, and count the others."""
    data = bytearray(b"".join(lines))
    for position, kind, char in edits:
        at = position % len(data)
        if kind == "insert":
            data.insert(at, char)
        elif kind == "delete" and len(data) > 1:
            del data[at]
        else:
            data[at] = char
    body = bytes(data[: data.rfind(b"\n") + 1])
    expected = [_reference_point(raw) for raw in body.split(b"\n")[:-1]]
    history = reader.parse_points(body)
    assert [(s, repr(v), repr(t)) for s, v, t in history] == [p for p in expected if p is not None]
    assert history.corrupt == expected.count(None)


# -- Follower -------------------------------------------------------------------------


def test_follower_returns_only_completed_lines_and_rereads_a_truncated_file(logdir: Path) -> None:
    """poll() returns new complete lines only, waits for a torn line's newline, rereads a shrunk file."""
    run_dir = make_run(logdir, "f", metrics={"m": line(0, 1) + b'{"step":1,"va'})
    path = run_dir / "metrics" / "m.jsonl"
    follower = Follower(reader.open_run(run_dir))
    assert [(n, [p.step for p in h.points]) for n, h in follower.poll()] == [("m", [0])]
    assert follower.poll() == []
    with open(path, "ab") as f:
        f.write(b'lue":2,"ts":1}\n' + line(2, 3))
    assert [(n, [p.step for p in h.points]) for n, h in follower.poll()] == [("m", [1, 2])]
    (run_dir / "metrics" / "new.jsonl").write_bytes(line(5, 1))
    path.write_bytes(line(7, 1))  # shorter than what was read: replaced
    assert [(n, [p.step for p in h.points]) for n, h in follower.poll()] == [("m", [7]), ("new", [5])]

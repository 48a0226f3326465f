"""swanlog_core.verify: what a check reports, and that a repair only cuts torn tails."""

from __future__ import annotations

from pathlib import Path

import pytest

from swanlog_core.errors import RunLockedError
from swanlog_core.verify import FileCheck, repair_run, verify_run
from tests.runfolder import LockHolder, line, make_run

GOOD = line(0, 1) + line(1, 2) + line(2, 3)


def _check(run_dir: Path, metric: str) -> FileCheck:
    return next(f for f in verify_run(run_dir).files if f.metric == metric)


def test_a_clean_run_verifies_clean(logdir: Path) -> None:
    """A run with well-formed files has no problems."""
    check = verify_run(make_run(logdir, "ok", metrics={"a": GOOD, "b/c": GOOD}))
    assert check.clean()
    assert [(f.path, f.points) for f in check.files] == [("metrics/a.jsonl", 3), ("metrics/b/c.jsonl", 3)]


@pytest.mark.parametrize(
    ("data", "problems"),
    [
        pytest.param(GOOD + b'{"step":3', ["torn last line: 9 bytes after the last newline"], id="torn"),
        pytest.param(
            line(0, 1) + b"x\n" + line(1, 2) + b"y\n" + line(2, 3),
            ["2 corrupt lines (line 2, 4)"],
            id="corrupt-lines-with-numbers",
        ),
        pytest.param(
            line(0, 1) + b'{"step":1,"value":1.2.3,"ts":1}\n' + line(2, 3),
            ["1 corrupt line (line 2)"],
            id="writer-shaped-line-with-a-malformed-number",
        ),
        pytest.param(
            line(0, 1) + b"\x00\x00\x00\n",
            ["1 corrupt line (line 2)", "3 NUL bytes"],
            id="nul-bytes",
        ),
        pytest.param(
            line(0, 1) + line(1, 2) + line(0, 3) + line(1, 4) + line(1, 5),
            ["3 duplicate steps (step 0, 1)"],
            id="duplicate-steps",
        ),
    ],
)
def test_verify_reports_each_kind_of_problem(logdir: Path, data: bytes, problems: list[str]) -> None:
    """verify_run names torn tails, corrupt lines by number, NUL bytes and duplicate steps."""
    run_dir = make_run(logdir, "p", metrics={"m": data})
    assert _check(run_dir, "m").problems() == problems
    assert not verify_run(run_dir).clean()


def test_verify_lists_only_the_first_few_corrupt_lines(logdir: Path) -> None:
    """A file with many corrupt lines reports their count and the first five line numbers."""
    data = b"".join(line(i, 1) if i % 1000 else b"bad\n" for i in range(10_000))
    check = _check(make_run(logdir, "p", metrics={"m": data}), "m")
    assert check.corrupt == 10 and check.corrupt_lines == [1, 1001, 2001, 3001, 4001]
    assert check.problems() == ["10 corrupt lines (line 1, 1001, 2001, 3001, 4001, ...)"]


def test_verify_reports_unreadable_documents(logdir: Path) -> None:
    """A JSON document that does not parse is reported by name; an absent optional one is fine."""
    run_dir = make_run(logdir, "d")
    (run_dir / "config.json").write_bytes(b"{oops")
    (run_dir / "summary.json").write_bytes(b"[1, 2]")
    (run_dir / "metrics.json").unlink()
    documents = verify_run(run_dir).documents
    assert documents["run.json"] is None and documents["metrics.json"] is None
    assert documents["config.json"].startswith("unreadable")
    assert documents["summary.json"] == "does not hold a JSON object"


def test_repair_cuts_torn_tails_and_keeps_every_complete_line(logdir: Path) -> None:
    """repair_run removes only the bytes after the last newline; corrupt complete lines stay."""
    middle = line(0, 1) + b"garbage\n" + line(1, 2)
    run_dir = make_run(logdir, "r", metrics={"a": GOOD + b'{"step":3,"v', "b": middle, "c": b"no newline"})
    assert repair_run(run_dir) == [("metrics/a.jsonl", 12), ("metrics/c.jsonl", 10)]
    assert (run_dir / "metrics" / "a.jsonl").read_bytes() == GOOD
    assert (run_dir / "metrics" / "b.jsonl").read_bytes() == middle
    assert (run_dir / "metrics" / "c.jsonl").read_bytes() == b""
    assert repair_run(run_dir) == []


def test_repair_is_refused_while_a_writer_holds_the_lock(logdir: Path) -> None:
    """repair_run raises RunLockedError naming the writer's pid and changes nothing while the run is live."""
    torn = GOOD + b'{"step":3'
    run_dir = make_run(logdir, "live", status="running", metrics={"a": torn})
    with LockHolder(run_dir) as holder:
        with pytest.raises(RunLockedError, match=f"pid {holder.proc.pid}"):
            repair_run(run_dir)
    assert (run_dir / "metrics" / "a.jsonl").read_bytes() == torn

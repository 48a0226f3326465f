"""Damaged metric files on resume: a torn tail is cut with a warning, a corrupt line is left alone.

The damage is written by hand, byte by byte, as a power loss, a full disk or a careless
edit leaves it. Files are checked with a json parser written here, not with swanlog's
reader or _format, and "what a reader sees" means the lines that parser accepts.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

import swanlog_core as swanlog
from swanlog_core import SwanlogWarning

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

TORN_TAIL = b'{"step":3,"value":0.12'  # a line cut short: no newline


def valid_point(raw: bytes) -> tuple[int, Any] | None:
    """(step, value) if ``raw`` is a well-formed point line as DESIGN.md defines it, else None."""
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(obj, dict) or set(obj) != {"step", "value", "ts"}:
        return None
    step, value, ts = obj["step"], obj["value"], obj["ts"]
    if type(step) is not int or step < 0 or type(ts) not in (int, float):
        return None
    if isinstance(value, str):
        return (step, _NONFINITE[value]) if value in _NONFINITE else None
    return (step, value) if type(value) in (int, float) else None


def lines(path: Path) -> list[bytes]:
    """The complete lines of a file; fails if it ends in a torn one."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), f"{path} ends in a torn line: {data[-80:]!r}"
    return data.split(b"\n")[:-1]


def readable(path: Path) -> list[tuple[int, Any]]:
    """The points a tolerant reader sees: every valid line, corrupt ones skipped."""
    return [p for p in map(valid_point, lines(path)) if p is not None]


def make_run(logdir: Path) -> Path:
    """A finished run 'torn0001' whose metric loss holds steps 0, 1, 2."""
    run = swanlog.init(logdir=logdir, id="torn0001")
    for value in (0.5, 0.25, 0.125):
        swanlog.log({"loss": value})
    swanlog.finish()
    return run.dir / "metrics" / "loss.jsonl"


GARBAGE = [
    pytest.param(b"this is not json\n", id="text"),
    pytest.param(b"\0" * 24 + b"\n", id="nul-bytes"),
    pytest.param(b'{"step":9,"val\n', id="cut-line-then-newline"),
    pytest.param(b'{"step":9,"value":"oops","ts":1.5}\n', id="value-not-a-number"),
    pytest.param(b'{"step":9,"value":0.5}\n', id="no-ts"),
    pytest.param(b"[1, 2, 3]\n", id="not-an-object"),
    # Lines spelled like the writer's that still are not points: a step they name stays free.
    pytest.param(b'{"step":9,"value":1.2.3,"ts":1.5}\n', id="malformed-value"),
    pytest.param(b'{"step":9,"value":0.5,"ts":1.5.0}\n', id="malformed-ts"),
    pytest.param(b'{"step":,"value9":0.5,"ts":1.5}\n', id="step-digit-moved-into-a-key"),
    pytest.param(b'{"step":9,"value":-"NaN","ts":1.5}\n', id="sign-before-nan"),
]


@pytest.mark.parametrize("cache", ["kept", "deleted"])
@pytest.mark.parametrize("garbage", GARBAGE)
def test_resume_cuts_a_torn_tail_keeps_a_corrupt_line_and_continues_steps(
    logdir: Path, garbage: bytes, cache: str
) -> None:
    """Resuming cuts a torn last line (warning once), leaves a corrupt line for readers to skip, and new
    points land on their own lines at the right steps."""
    path = make_run(logdir)
    good = path.read_bytes()
    with open(path, "ab") as f:
        f.write(garbage + TORN_TAIL)
    if cache == "deleted":
        (path.parents[1] / "stepindex.json").unlink()

    swanlog.init(logdir=logdir, id="torn0001", resume="must")
    with pytest.warns(SwanlogWarning, match=r"'loss'.*incomplete last line") as record:
        swanlog.log({"loss": 0.0625})
    assert len(record) == 1
    swanlog.log({"loss": 1.5}, step=9)  # a step only the corrupt line names: free for readers
    swanlog.log({"loss": 2.5})
    swanlog.finish()

    assert path.read_bytes().startswith(good + garbage)
    assert TORN_TAIL not in path.read_bytes()
    assert readable(path) == [(0, 0.5), (1, 0.25), (2, 0.125), (3, 0.0625), (9, 1.5), (10, 2.5)]
    new_lines = lines(path)[-3:]
    assert all(valid_point(raw) is not None for raw in new_lines)


def test_metric_file_holding_only_a_torn_line_starts_again_at_step_zero(logdir: Path) -> None:
    """A metric whose file holds nothing but a torn line resumes at step 0, and the file then holds only whole
    lines."""
    run = swanlog.init(logdir=logdir, id="torn0002")
    swanlog.log({"other": 1})
    swanlog.finish()
    path = run.dir / "metrics" / "loss.jsonl"
    path.write_bytes(TORN_TAIL)

    swanlog.init(logdir=logdir, id="torn0002", resume="must")
    with pytest.warns(SwanlogWarning, match="incomplete last line"):
        swanlog.log({"loss": 7.0})
    swanlog.finish()
    assert [valid_point(raw) for raw in lines(path)] == [(0, 7.0)]


def test_torn_tail_is_cut_even_when_the_resume_only_logs_explicit_steps(logdir: Path) -> None:
    """The torn-tail repair does not depend on how the next point is logged: an explicit step lands on its own
    line too."""
    path = make_run(logdir)
    with open(path, "ab") as f:
        f.write(TORN_TAIL)

    swanlog.init(logdir=logdir, id="torn0001", resume="must")
    with pytest.warns(SwanlogWarning, match="incomplete last line"):
        swanlog.log({"loss": 4.0}, step=100)
    swanlog.finish()
    assert [valid_point(raw) for raw in lines(path)] == [(0, 0.5), (1, 0.25), (2, 0.125), (100, 4.0)]


def test_a_corrupt_line_deep_in_a_long_file_never_blocks_its_step(logdir: Path) -> None:
    """Resuming without the index cache, a step named only by a corrupt line among thousands of good ones is
    free, and every other step stays taken."""
    run = swanlog.init(logdir=logdir, id="torn0003")
    for step in range(5000):
        swanlog.log({"loss": step / 2}, step=step * 2)  # even steps only
    swanlog.finish()
    path = run.dir / "metrics" / "loss.jsonl"
    good = lines(path)
    corrupt = b'{"step":5001,"value":1.2.3,"ts":1.5}'
    path.write_bytes(b"\n".join(good[:3000] + [corrupt] + good[3000:]) + b"\n")
    (run.dir / "stepindex.json").unlink()

    swanlog.init(logdir=logdir, id="torn0003", resume="must")
    swanlog.log({"loss": -1.0}, step=5001)
    with pytest.warns(SwanlogWarning, match="loss"):
        swanlog.log({"loss": -2.0}, step=6000)  # held by a good line: discarded
    swanlog.finish()
    assert readable(path) == [(s * 2, s / 2) for s in range(5000)] + [(5001, -1.0)]


def test_resume_keeps_the_summary_at_the_largest_step_when_it_is_not_the_last_line(logdir: Path) -> None:
    """Resuming without the index cache, a metric whose largest step is not on its last line keeps the value
    at that step as its summary when an earlier step is logged."""
    run = swanlog.init(logdir=logdir, id="torn0004")
    swanlog.log({"loss": 1.0}, step=10)
    swanlog.log({"loss": 2.0}, step=3)
    swanlog.finish()
    path = run.dir / "metrics" / "loss.jsonl"
    with open(path, "ab") as f:
        f.write(b'{"step":11,"value":1.2.3,"ts":1.5}\n')  # corrupt: step 11 is not held
    (run.dir / "stepindex.json").unlink()

    swanlog.init(logdir=logdir, id="torn0004", resume="must")
    swanlog.log({"loss": 3.0}, step=4)
    swanlog.finish()
    assert json.loads((run.dir / "summary.json").read_text())["loss"] == 1.0
    assert readable(path) == [(10, 1.0), (3, 2.0), (4, 3.0)]

"""log(): step rules, staging, first write wins, values and names as they land in the files.

Files are checked with ``tests.unit.metricfile`` (json module only), never with
swanlog's reader or ``_format``, so a bug shared by writer and reader cannot hide.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import swanlog_core as swanlog
from swanlog_core import InvalidValueError, NotInitializedError, SwanlogWarning
from swanlog_core import _format as swanlog_format
from tests.metricfile import metric_files, points, read_json, read_lines, same
from tests.support import PYTHON, python_env, record_sizes


def discard_warnings(record: Any) -> list[str]:
    """The messages of the first-write-wins warnings in a pytest.warns record."""
    return [str(w.message) for w in record if issubclass(w.category, SwanlogWarning)]


# -- lines on disk -----------------------------------------------------------------------


def test_logged_value_is_on_disk_when_log_returns(logdir: Path) -> None:
    """A value is in its file as soon as log() returns, before finish (a SIGKILL cannot lose it)."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"loss": 0.5})
    assert points(run.dir, "loss.jsonl") == [(0, 0.5)]
    assert (run.dir / "metrics" / "loss.jsonl").read_bytes().endswith(b"\n")


def test_line_holds_step_value_and_timestamp(logdir: Path) -> None:
    """Each point is one JSON line {"step", "value", "ts"} with ts the UNIX time of the call."""
    run = swanlog.init(logdir=logdir)
    before = time.time()
    swanlog.log({"acc": 1})
    after = time.time()
    (line,) = read_lines(run.dir / "metrics" / "acc.jsonl")
    assert line["step"] == 0 and line["value"] == 1 and type(line["value"]) is int
    assert before - 0.01 <= line["ts"] <= after + 0.01


def test_run_log_and_module_log_write_the_same_run(logdir: Path) -> None:
    """``run.log`` and ``swanlog.log`` are the same thing."""
    run = swanlog.init(logdir=logdir)
    run.log({"x": 1})
    swanlog.log({"x": 2})
    assert points(run.dir, "x.jsonl") == [(0, 1), (1, 2)]


# -- step rules ----------------------------------------------------------------------------


def test_each_metric_takes_its_own_next_step(logdir: Path) -> None:
    """Without step=, each metric counts its own steps (the DESIGN.md example)."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"loss": 1.0, "acc": 0.1})
    swanlog.log({"loss": 0.9, "iter": 1})
    swanlog.log({"loss": 0.8, "iter": 2})
    assert [s for s, _ in points(run.dir, "loss.jsonl")] == [0, 1, 2]
    assert [s for s, _ in points(run.dir, "iter.jsonl")] == [0, 1]
    assert [s for s, _ in points(run.dir, "acc.jsonl")] == [0]


def test_explicit_step_applies_to_every_key(logdir: Path) -> None:
    """With step=N every key of the call is recorded at step N."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"a": 1, "b": 2}, step=7)
    assert points(run.dir, "a.jsonl") == [(7, 1)]
    assert points(run.dir, "b.jsonl") == [(7, 2)]


def test_automatic_step_follows_the_largest_step_held(logdir: Path) -> None:
    """After explicit steps and backfills, the next automatic step is the largest held + 1."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"a": 1}, step=10)
    swanlog.log({"a": 2}, step=3)  # a backfill below the largest step
    swanlog.log({"a": 3})
    swanlog.log({"a": 4})
    assert points(run.dir, "a.jsonl") == [(10, 1), (3, 2), (11, 3), (12, 4)]


def test_numpy_integer_step(logdir: Path) -> None:
    """A NumPy integer is a valid step and is written as a plain JSON int."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"a": 1}, step=np.int64(5))
    assert points(run.dir, "a.jsonl") == [(5, 1)]


def test_sync_argument_is_accepted_and_ignored(logdir: Path) -> None:
    """``sync=`` (deprecated in W&B) is accepted and changes nothing."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"a": 1}, sync=False)
    run.log({"a": 2}, sync=True)
    assert points(run.dir, "a.jsonl") == [(0, 1), (1, 2)]


# -- first write wins ----------------------------------------------------------------------


def test_first_write_wins_and_warns_once_per_metric(logdir: Path) -> None:
    """A second value at a held step is discarded, with one SwanlogWarning per metric, not per call."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"a": 1, "b": 1}, step=0)
    with pytest.warns(SwanlogWarning) as record:
        for value in range(2, 6):
            swanlog.log({"a": value, "b": value}, step=0)
        swanlog.log({"a": 99}, step=0)
    messages = discard_warnings(record)
    assert len(messages) == 2
    assert sum("'a'" in m for m in messages) == 1 and sum("'b'" in m for m in messages) == 1
    assert all("step 0" in m for m in messages)
    assert points(run.dir, "a.jsonl") == [(0, 1)]
    assert points(run.dir, "b.jsonl") == [(0, 1)]


def test_discard_in_one_metric_does_not_stop_the_others(logdir: Path) -> None:
    """A call with one conflicting key still writes its other keys."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"a": 1}, step=4)
    with pytest.warns(SwanlogWarning):
        swanlog.log({"a": 2, "b": 2}, step=4)
    assert points(run.dir, "a.jsonl") == [(4, 1)]
    assert points(run.dir, "b.jsonl") == [(4, 2)]


@pytest.mark.parametrize("via", ["module", "run"])
def test_discard_warning_points_at_the_callers_line(logdir: Path, via: str) -> None:
    """The first-write-wins warning is reported at the user's log() call, not inside swanlog."""
    run = swanlog.init(logdir=logdir)
    log = swanlog.log if via == "module" else run.log
    log({"a": 1}, step=0)
    with pytest.warns(SwanlogWarning) as record:
        log({"a": 2}, step=0)
    assert record[0].filename == __file__


def test_discard_warning_of_staged_values_points_at_the_callers_line(logdir: Path) -> None:
    """A staged value discarded on commit is warned of at the user's log() call, not inside swanlog."""
    swanlog.init(logdir=logdir)
    swanlog.log({"a": 1}, step=0)
    swanlog.log({"a": 2}, step=0, commit=False)
    with pytest.warns(SwanlogWarning) as record:
        swanlog.log({"b": 1}, step=1)  # a new step commits what was staged at step 0
    assert record[0].filename == __file__


# -- commit=False --------------------------------------------------------------------------


def test_staged_values_merge_into_the_next_committing_call(logdir: Path) -> None:
    """``log(a, commit=False); log(b)`` writes the same as ``log(a | b)``."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"a": 0, "b": 0})  # both metrics at step 0 already
    swanlog.log({"a": 1}, commit=False)
    assert points(run.dir, "a.jsonl") == [(0, 0)]  # staged, not written yet
    swanlog.log({"b": 2})
    assert points(run.dir, "a.jsonl") == [(0, 0), (1, 1)]
    assert points(run.dir, "b.jsonl") == [(0, 0), (1, 2)]


def test_staged_step_applies_to_the_committing_call(logdir: Path) -> None:
    """A step given while staging is the step of the values committed with it."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"a": 1}, step=5, commit=False)
    swanlog.log({"b": 2})
    assert points(run.dir, "a.jsonl") == [(5, 1)]
    assert points(run.dir, "b.jsonl") == [(5, 2)]


def test_later_staged_value_of_a_key_replaces_the_earlier(logdir: Path) -> None:
    """Within one staged step the last value given for a key is the one written (as in W&B)."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"a": 1}, commit=False)
    swanlog.log({"a": 2}, commit=False)
    swanlog.log({"a": 3})
    assert points(run.dir, "a.jsonl") == [(0, 3)]


def test_a_different_step_commits_what_was_staged(logdir: Path) -> None:
    """Staged values keep their step when the next call names another step (W&B semantics)."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"a": 1}, step=1, commit=False)
    swanlog.log({"b": 2}, step=2)
    assert points(run.dir, "a.jsonl") == [(1, 1)]
    assert points(run.dir, "b.jsonl") == [(2, 2)]


def test_staging_then_a_stepped_staging_call_merges_like_a_commit(logdir: Path) -> None:
    """A step given later while staging applies to earlier step-less staged values, as a commit's does."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"a": 0}, step=0)
    swanlog.log({"a": 1}, commit=False)
    swanlog.log({"b": 2}, step=5, commit=False)
    swanlog.log({})
    committed = dict(points(run.dir, "a.jsonl"))
    swanlog.log({"c": 0}, step=0)
    swanlog.log({"c": 1}, commit=False)
    swanlog.log({"d": 2}, step=5)
    # The same two calls, the second one committing or not, put "a" and "c" at the same step.
    assert committed == dict(points(run.dir, "c.jsonl")) == {0: 0, 5: 1}


def test_a_staged_step_does_not_outlive_its_commit(logdir: Path) -> None:
    """A step given while staging is used up by the next commit; it never moves later values."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({}, step=1, commit=False)
    swanlog.log({"a": 0}, step=3)  # commits (with step 3) whatever was pending
    swanlog.log({"b": 0}, commit=False)
    swanlog.log({})
    assert points(run.dir, "a.jsonl") == [(3, 0)]
    assert points(run.dir, "b.jsonl") == [(0, 0)]  # b's own first step: nothing set a step for it


def test_finish_writes_what_is_still_staged(logdir: Path) -> None:
    """Values staged with commit=False and never committed are written by finish()."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"a": 1, "nested": {"b": 2}}, commit=False)
    swanlog.finish()
    assert points(run.dir, "a.jsonl") == [(0, 1)]
    assert points(run.dir, "nested/b.jsonl") == [(0, 2)]


def test_staged_invalid_value_is_refused_at_the_staging_call(logdir: Path) -> None:
    """A bad value raises in the commit=False call that gave it, and nothing of it is staged."""
    run = swanlog.init(logdir=logdir)
    with pytest.raises(ValueError, match="'bad'"):
        swanlog.log({"ok": 1, "bad": "abc"}, commit=False)
    swanlog.finish()
    assert metric_files(run.dir) == set()


def test_staged_values_survive_a_refused_commit(logdir: Path) -> None:
    """A committing call refused for a bad value does not lose what earlier calls staged."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"a": 1}, commit=False)
    with pytest.raises(ValueError):
        swanlog.log({"b": "not a number"})
    swanlog.finish()
    assert points(run.dir, "a.jsonl") == [(0, 1)]
    assert points(run.dir, "b.jsonl") == []


# -- values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(math.nan, math.nan, id="nan"),
        pytest.param(math.inf, math.inf, id="inf"),
        pytest.param(-math.inf, -math.inf, id="minus-inf"),
        pytest.param(np.float32("nan"), math.nan, id="numpy-nan"),
        pytest.param(np.float64("-inf"), -math.inf, id="numpy-minus-inf"),
        pytest.param("Infinity", math.inf, id="string-infinity"),
        pytest.param(np.float32(0.5), 0.5, id="numpy-float32"),
        pytest.param(np.int64(3), 3, id="numpy-int64"),
        pytest.param(np.bool_(True), 1, id="numpy-bool"),
        pytest.param(np.array(1.5), 1.5, id="numpy-0d-array"),
        pytest.param(True, 1, id="bool"),
        pytest.param(2**70, float(2**70), id="huge-int"),
        pytest.param("0.125", 0.125, id="numeric-string"),
        pytest.param(Fraction(1, 4), 0.25, id="fraction"),
        pytest.param(-0.0, -0.0, id="negative-zero"),
        pytest.param(5e-324, 5e-324, id="subnormal"),
        pytest.param(1.7976931348623157e308, 1.7976931348623157e308, id="float-max"),
    ],
)
def test_value_is_written_as_plain_json(logdir: Path, value: Any, expected: Any) -> None:
    """Supported values land as JSON numbers, non-finite ones as "NaN"/"Infinity"/"-Infinity"."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"m": value})
    ((step, got),) = points(run.dir, "m.jsonl")
    assert step == 0 and same(got, expected), (got, expected)
    if isinstance(expected, float) and not math.isfinite(expected):
        raw = (run.dir / "metrics" / "m.jsonl").read_text()
        assert '"value":"' in raw.replace(" ", "")


def test_nested_dicts_flatten_into_folders(logdir: Path) -> None:
    """``{"train": {"loss": 1}}`` is the metric ``train/loss``, in metrics/train/loss.jsonl."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"train": {"loss": 1, "deep": {"x": 2}}, "lr": 0.1})
    assert metric_files(run.dir) == {"train/loss.jsonl", "train/deep/x.jsonl", "lr.jsonl"}
    assert points(run.dir, "train/deep/x.jsonl") == [(0, 2)]


def test_nested_and_flat_spelling_are_the_same_metric(logdir: Path) -> None:
    """``{"train": {"loss": v}}`` and ``{"train/loss": v}`` write the same metric's steps."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"train": {"loss": 1}})
    swanlog.log({"train/loss": 2})
    assert points(run.dir, "train/loss.jsonl") == [(0, 1), (1, 2)]


BAD_VALUES = [
    pytest.param("abc", id="text"),
    pytest.param(None, id="none"),
    pytest.param(["a", "b"], id="list-of-strings"),
    pytest.param([[1, 2], [3]], id="ragged-list"),
    pytest.param({"a": set()}, id="nested-set"),
    pytest.param(1j, id="complex"),
    pytest.param(object(), id="object"),
    pytest.param(np.array(["x", "y"]), id="numpy-array-of-strings"),
    pytest.param(np.array([object()]), id="numpy-object-array"),
    pytest.param(10**400, id="int-too-large-for-a-float"),
]


@pytest.mark.parametrize("bad", BAD_VALUES)
def test_invalid_value_raises_and_writes_nothing_of_the_call(logdir: Path, bad: Any) -> None:
    """An invalid value is a ValueError, and no value of that call reaches disk or takes a step."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"before": 1})
    with pytest.raises(ValueError) as info:
        swanlog.log({"a": 1, "before": 2, "zbad": bad, "z": 3})
    assert isinstance(info.value, InvalidValueError)
    assert "zbad" in str(info.value)
    assert metric_files(run.dir) == {"before.jsonl"}
    assert points(run.dir, "before.jsonl") == [(0, 1)]
    swanlog.log({"a": 1, "before": 2})  # nothing was claimed by the refused call
    assert points(run.dir, "a.jsonl") == [(0, 1)]
    assert points(run.dir, "before.jsonl") == [(0, 1), (1, 2)]


BAD_NAMES = [
    pytest.param("", id="empty"),
    pytest.param("a//b", id="empty-segment"),
    pytest.param("/a", id="absolute"),
    pytest.param("a/", id="trailing-slash"),
    pytest.param("x" * 300, id="segment-too-long"),
    pytest.param("/".join(["abcdefghi"] * 103), id="name-too-long"),
    pytest.param("bad\ud800", id="lone-surrogate"),
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_name_raises_and_writes_nothing_of_the_call(logdir: Path, name: str) -> None:
    """An invalid metric name is a ValueError naming it, and nothing of that call is written."""
    run = swanlog.init(logdir=logdir)
    with pytest.raises(InvalidValueError, match="metric name"):
        swanlog.log({"ok": 1, name: 2})
    assert metric_files(run.dir) == set()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param([("a", 1)], id="list-of-pairs"),
        pytest.param("a", id="string"),
        pytest.param(None, id="none"),
        pytest.param({1: 2.0}, id="int-key"),
        pytest.param({"train": {2: 1.0}}, id="nested-int-key"),
    ],
)
def test_log_of_something_else_than_a_dict_of_names(logdir: Path, data: Any) -> None:
    """log() takes a dict of str -> value; anything else is a ValueError and nothing is written."""
    run = swanlog.init(logdir=logdir)
    with pytest.raises(InvalidValueError):
        swanlog.log(data)
    assert metric_files(run.dir) == set()


@pytest.mark.parametrize(
    "step",
    [
        pytest.param(-1, id="negative"),
        pytest.param(1.5, id="float"),
        pytest.param("3", id="string"),
        pytest.param(True, id="bool"),
    ],
)
def test_invalid_step_raises_and_writes_nothing(logdir: Path, step: Any) -> None:
    """A bad step= is a ValueError naming it; nothing of that call is written or staged."""
    run = swanlog.init(logdir=logdir)
    for commit in (None, False):
        with pytest.raises(InvalidValueError, match="step="):
            swanlog.log({"a": 1}, step=step, commit=commit)
    swanlog.finish()
    assert metric_files(run.dir) == set()


HOSTILE_NAMES = [
    pytest.param("../x", id="dotdot-segment"),
    pytest.param("..", id="dotdot"),
    pytest.param(".", id="dot"),
    pytest.param("a/../../b", id="traversal"),
    pytest.param("训练/损失", id="non-ascii"),
    pytest.param("%", id="percent"),
    pytest.param("50%/x", id="percent-folder"),
    pytest.param("\x00\n\t", id="control-characters"),
    pytest.param('a:b*c?"<>|', id="windows-unsafe"),
    pytest.param("train loss", id="space"),
    pytest.param("\u202eevil", id="rtl-override"),
    pytest.param("x.jsonl/y", id="folder-like-a-file"),
    pytest.param("y" * 240, id="long-segment-that-fits"),
]


def test_hostile_names_stay_inside_metrics_and_do_not_collide(logdir: Path) -> None:
    """Strange valid names each get their own file, all under the run's metrics/ folder."""
    run = swanlog.init(logdir=logdir)
    names = [p.values[0] for p in HOSTILE_NAMES] + ["x", "b"]
    for i, name in enumerate(names):
        swanlog.log({name: i})
    files = metric_files(run.dir)
    assert len(files) == len(names)
    for rel in files:
        full = (run.dir / "metrics" / rel).resolve()
        assert full.is_relative_to((run.dir / "metrics").resolve())
        ((step, value),) = points(run.dir, rel)
        assert step == 0
    assert sorted(points(run.dir, f)[0][1] for f in files) == list(range(len(names)))
    outside = {p.relative_to(logdir).as_posix() for p in logdir.rglob("*") if p.is_file()}
    assert all(p.startswith(run.dir.name + "/") for p in outside), outside
    assert points(run.dir, "训练/损失.jsonl") == [(0, names.index("训练/损失"))]


# -- lifecycle ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: swanlog.log({"a": 1}), id="log"),
        pytest.param(lambda: swanlog.log({"a": 1}, commit=False), id="log-staged"),
        pytest.param(lambda: swanlog.define_metric("a", summary="min"), id="define_metric"),
    ],
)
def test_calls_before_init_raise_a_swanlog_error(call: Any) -> None:
    """log() and define_metric() before init() raise NotInitializedError, a swanlog.Error."""
    assert swanlog.run is None
    with pytest.raises(NotInitializedError) as info:
        call()
    assert isinstance(info.value, swanlog.Error)


def test_finish_without_a_run_is_a_no_op() -> None:
    """swanlog.finish() with no current run does nothing."""
    swanlog.finish()
    assert swanlog.run is None


def test_log_after_finish_raises(logdir: Path) -> None:
    """Once finished, a run refuses log() through both the run and the module."""
    run = swanlog.init(logdir=logdir)
    assert swanlog.run is run
    run.finish()
    assert swanlog.run is None
    with pytest.raises(NotInitializedError):
        run.log({"a": 1})
    with pytest.raises(NotInitializedError):
        swanlog.log({"a": 1})
    run.finish()  # twice is safe


def test_run_json_is_running_then_finished(logdir: Path) -> None:
    """run.json says running while the run is open and finished with exit code 0 after."""
    run = swanlog.init(logdir=logdir, project="p", name="n", tags=["t"], notes="hi")
    meta = read_json(run.dir / "run.json")
    assert meta["status"] == "running" and meta["exit_code"] is None
    assert (meta["project"], meta["name"], meta["tags"], meta["notes"]) == ("p", "n", ["t"], "hi")
    assert meta["id"] == run.id and meta["format"] == 1 and meta["pid"] == os.getpid()
    swanlog.finish()
    meta = read_json(run.dir / "run.json")
    assert meta["status"] == "finished" and meta["exit_code"] == 0
    assert meta["duration"] >= 0


def test_run_folder_is_named_by_time_and_id(logdir: Path) -> None:
    """The run folder is ``run-<UTC time>-<id>`` under the logdir; a generated id is 8 of [a-z0-9]."""
    run = swanlog.init(logdir=logdir)
    assert run.dir.parent == logdir.absolute()
    assert len(run.id) == 8 and all(c.isdigit() or "a" <= c <= "z" for c in run.id)
    prefix, stamp, tail = run.dir.name.split("-", 2)
    assert prefix == "run" and tail == run.id and len(stamp) == 15 and stamp[8] == "_"


def test_logdir_defaults_to_the_environment_variable(logdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without logdir=, init() uses $SWANLOG_DIR."""
    monkeypatch.setenv("SWANLOG_DIR", str(logdir / "from-env"))
    run = swanlog.init()
    assert run.dir.parent == (logdir / "from-env").absolute()


def test_context_manager_finishes_the_run(logdir: Path) -> None:
    """``with swanlog.init() as run:`` marks the run finished on a normal exit."""
    with swanlog.init(logdir=logdir) as run:
        run.log({"a": 1})
    assert swanlog.run is None
    assert read_json(run.dir / "run.json")["status"] == "finished"


def test_context_manager_marks_failed_on_exception(logdir: Path) -> None:
    """An exception leaving the with-block marks the run failed (exit code 1) and still propagates."""
    with pytest.raises(RuntimeError, match="boom"):
        with swanlog.init(logdir=logdir) as run:
            run.log({"a": 1}, commit=False)
            raise RuntimeError("boom")
    meta = read_json(run.dir / "run.json")
    assert meta["status"] == "failed" and meta["exit_code"] == 1
    assert points(run.dir, "a.jsonl") == [(0, 1)]  # staged values are kept even on failure


def test_finish_with_nonzero_exit_code_marks_failed(logdir: Path) -> None:
    """finish(exit_code=n) with n != 0 marks the run failed with that code."""
    run = swanlog.init(logdir=logdir)
    swanlog.finish(exit_code=3)
    meta = read_json(run.dir / "run.json")
    assert meta["status"] == "failed" and meta["exit_code"] == 3


def test_second_init_finishes_the_first_run_with_a_warning(logdir: Path) -> None:
    """init() while a run is current warns and finishes that run first."""
    first = swanlog.init(logdir=logdir)
    with pytest.warns(SwanlogWarning, match=first.id):
        second = swanlog.init(logdir=logdir)
    assert swanlog.run is second
    assert read_json(first.dir / "run.json")["status"] == "finished"


def test_disabled_mode_writes_nothing(logdir: Path) -> None:
    """mode="disabled" makes every call a no-op: no folder or file appears in the logdir."""
    run = swanlog.init(logdir=logdir, mode="disabled", config={"lr": 0.1})
    swanlog.log({"a": 1})
    swanlog.log({"a": 2}, step=0)
    swanlog.log({"b": 1}, commit=False)
    swanlog.define_metric("a", summary="min")
    run.summary["best"] = 1.0
    run.config.update({"bs": 8})
    assert run.config["lr"] == 0.1 and run.summary["best"] == 1.0
    swanlog.finish()
    assert list(logdir.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"mode": "nope"}, "mode=", id="unknown-mode"),
        pytest.param({"id": "has space"}, "id=", id="id-with-space"),
        pytest.param({"id": "x" * 65}, "id=", id="id-too-long"),
        pytest.param({"id": "../x"}, "id=", id="id-traversal"),
        pytest.param({"id": ""}, "id=", id="empty-id"),
        pytest.param({"resume": "sometimes"}, "resume=", id="unknown-resume"),
        pytest.param({"tags": "one"}, "tags=", id="tags-as-string"),
        pytest.param({"tags": [1]}, "tags=", id="tags-not-strings"),
        pytest.param({"project": 3}, "project=", id="project-not-string"),
        pytest.param({"config": [1, 2]}, "config", id="config-list"),
    ],
)
def test_invalid_init_arguments_are_value_errors(logdir: Path, kwargs: dict[str, Any], match: str) -> None:
    """A bad init() argument is a ValueError naming it, and no run folder is created."""
    with pytest.raises(InvalidValueError, match=match):
        swanlog.init(logdir=logdir, **kwargs)
    assert list(logdir.iterdir()) == []
    assert swanlog.run is None


# -- resume in the same process ---------------------------------------------------------------


@pytest.mark.parametrize("cache", ["with-index-cache", "without-index-cache"])
def test_resume_continues_steps_and_keeps_first_write_wins(logdir: Path, cache: str) -> None:
    """A resumed run continues each metric's steps and still refuses steps written before."""
    run = swanlog.init(logdir=logdir, id="resumed", config={"lr": 0.1})
    for i in range(3):
        swanlog.log({"a": i})
    swanlog.log({"b": 10}, step=10)
    swanlog.log({"b": 5}, step=5)  # the largest step is not the last line
    swanlog.finish()
    if cache == "without-index-cache":
        (run.dir / "stepindex.json").unlink(missing_ok=True)

    again = swanlog.init(logdir=logdir, id="resumed", resume="allow", config={"bs": 4})
    assert again.dir == run.dir and again.id == "resumed"
    assert read_json(run.dir / "run.json")["status"] == "running"
    swanlog.log({"a": 3, "b": 11})
    with pytest.warns(SwanlogWarning) as record:
        swanlog.log({"a": -1}, step=1)
        swanlog.log({"b": -5}, step=5)
    assert len(discard_warnings(record)) == 2
    swanlog.finish()
    assert points(run.dir, "a.jsonl") == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert points(run.dir, "b.jsonl") == [(10, 10), (5, 5), (11, 11)]
    assert read_json(run.dir / "config.json") == {"lr": 0.1, "bs": 4}
    assert read_json(run.dir / "run.json")["status"] == "finished"


def test_resume_after_appends_beyond_the_cache(logdir: Path) -> None:
    """Points appended to a file after the index cache was saved are still held on resume."""
    run = swanlog.init(logdir=logdir, id="stale")
    swanlog.log({"a": 0})
    swanlog.finish()
    with open(run.dir / "metrics" / "a.jsonl", "a") as f:  # e.g. a crash after the last snapshot
        f.write('{"step": 1, "value": 1, "ts": 1.0}\n')
    swanlog.init(logdir=logdir, id="stale", resume="must")
    swanlog.log({"a": 2})
    with pytest.warns(SwanlogWarning):
        swanlog.log({"a": -1}, step=1)
    swanlog.finish()
    assert points(run.dir, "a.jsonl") == [(0, 0), (1, 1), (2, 2)]


def _scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The byte counts that resume decodes from metric files to rebuild step indexes, from now on."""
    return record_sizes(monkeypatch, swanlog_format, "iter_step_chunks")


@pytest.mark.parametrize("edit", ["as-copied", "last-step-changed"])
def test_a_copied_run_resumes_from_its_index_cache(
    logdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: str
) -> None:
    """A copy of a run folder (new inodes) resumes from stepindex.json, reading none of the steps
    again; a file that changed after the copy is read whole, and first write wins follows the file."""
    run = swanlog.init(logdir=logdir, id="copied")
    for i in range(3):
        swanlog.log({"a": i, "b": 10 * i})
    swanlog.log({"b": -1}, step=9)
    swanlog.finish()
    copy = tmp_path / "elsewhere" / run.dir.name
    shutil.copytree(run.dir, copy)
    a_file = copy / "metrics" / "a.jsonl"
    if edit == "last-step-changed":  # same size, same first bytes: only the end tells
        data = a_file.read_bytes()
        a_file.write_bytes(data.replace(b'{"step":2,', b'{"step":7,'))
    a_size = a_file.stat().st_size
    scans = _scans(monkeypatch)

    swanlog.init(logdir=copy.parent, id="copied", resume="must")
    with pytest.warns(SwanlogWarning):
        swanlog.log({"b": 5}, step=9)  # held
    swanlog.log({"a": 100})
    swanlog.finish()
    a_steps = [s for s, _ in points(copy, "a.jsonl")]
    if edit == "as-copied":
        assert scans == [0, 0]  # nothing past the cached sizes: no step decoded again
        assert a_steps == [0, 1, 2, 3]
    else:
        assert sorted(scans) == [0, a_size]  # b from the cache, a read whole
        assert a_steps == [0, 1, 7, 8]
    assert points(copy, "b.jsonl") == [(0, 0), (1, 10), (2, 20), (9, -1)]


KILLED_AFTER_A_SNAPSHOT = """
import os, signal, sys, time
import swanlog_core as swanlog
swanlog.init(logdir=sys.argv[1], id="snapped")
for i in range(50):
    swanlog.log({"a": i, "b": -i})
time.sleep(1.2)
swanlog.log({"a": 50, "b": -50})  # the first snapshot is due 1 s after init
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_copy_of_a_killed_run_resumes_from_its_last_snapshot(
    logdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshots taken while logging fingerprint the files through the writer's fds, so a
    copy of a run killed with SIGKILL resumes from stepindex.json too."""
    child = subprocess.run([PYTHON, "-c", KILLED_AFTER_A_SNAPSHOT, str(logdir)], env=python_env(), timeout=60)
    assert child.returncode == -signal.SIGKILL
    (run_dir,) = logdir.iterdir()
    copy = tmp_path / "elsewhere" / run_dir.name
    shutil.copytree(run_dir, copy)
    sizes = sorted(f.stat().st_size for f in (copy / "metrics").iterdir())
    scans = _scans(monkeypatch)
    swanlog.init(logdir=copy.parent, id="snapped", resume="must")
    with pytest.warns(SwanlogWarning):
        swanlog.log({"a": -1, "b": 1}, step=10)  # held
    swanlog.log({"a": 51, "b": -51})
    swanlog.finish()
    assert len(scans) == 2 and all(n < 100 for n in scans), (
        scans,
        sizes,
    )  # at most the line after the snapshot
    assert [s for s, _ in points(copy, "a.jsonl")] == list(range(52))


def test_resume_restores_the_last_value_in_the_summary(logdir: Path) -> None:
    """After resume the summary still holds each metric's value at its largest step."""
    run = swanlog.init(logdir=logdir, id="summ")
    swanlog.log({"a": 1}, step=9)
    swanlog.log({"a": 2}, step=3)
    swanlog.finish()
    again = swanlog.init(logdir=logdir, id="summ", resume=True)
    swanlog.log({"a": 7}, step=4)  # a backfill: the largest step is still 9
    assert again.summary["a"] == 1
    swanlog.finish()
    assert read_json(run.dir / "summary.json")["a"] == 1


def test_existing_id_without_resume_is_an_error(logdir: Path) -> None:
    """init(id=...) of a run that exists, without resume, raises RunExistsError and changes nothing."""
    run = swanlog.init(logdir=logdir, id="taken")
    swanlog.log({"a": 1})
    swanlog.finish()
    before = (run.dir / "run.json").read_bytes()
    with pytest.raises(swanlog.RunExistsError):
        swanlog.init(logdir=logdir, id="taken")
    assert (run.dir / "run.json").read_bytes() == before


def test_resume_must_of_a_missing_run_is_an_error(logdir: Path) -> None:
    """resume="must" of an id that does not exist raises RunNotFoundError and creates nothing."""
    with pytest.raises(swanlog.RunNotFoundError):
        swanlog.init(logdir=logdir, id="ghost", resume="must")
    assert list(logdir.iterdir()) == []


def test_resume_allow_of_a_missing_run_creates_it(logdir: Path) -> None:
    """resume="allow" of an id that does not exist starts a new run with that id."""
    run = swanlog.init(logdir=logdir, id="fresh", resume="allow")
    assert run.id == "fresh" and run.dir.name.endswith("-fresh")


# -- the step rules against a reference model --------------------------------------------------


class StepModel:
    """The step rules of DESIGN.md, in a few lines: metric -> {step: first value}."""

    def __init__(self) -> None:
        self.points: dict[str, dict[int, int]] = {}
        self.discarded: set[str] = set()
        self.staged: dict[str, int] = {}
        self.staged_step: int | None = None

    def write(self, data: dict[str, int], step: int | None) -> None:
        for name, value in data.items():
            held = self.points.setdefault(name, {})
            s = max(held, default=-1) + 1 if step is None else step
            if s in held:
                self.discarded.add(name)
            else:
                held[s] = value

    def log(self, data: dict[str, int], step: int | None, commit: bool | None) -> None:
        if self.staged and None not in (step, self.staged_step) and step != self.staged_step:
            self.commit()  # another step commits what was staged (W&B)
        self.staged.update(data)
        self.staged_step = self.staged_step if step is None else step
        if commit is not False:
            self.commit()

    def commit(self) -> None:
        self.write(self.staged, self.staged_step)
        self.staged, self.staged_step = {}, None


_calls = st.lists(
    st.tuples(
        st.dictionaries(st.sampled_from("abc"), st.just(0), max_size=3),
        st.none() | st.integers(min_value=0, max_value=6),
        st.sampled_from([None, None, True, False]),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(_calls)
def test_step_rules_match_the_reference_model(calls: list[tuple[dict[str, int], int | None, Any]]) -> None:
    """Any sequence of log() calls (steps, no steps, staging) writes exactly what the model predicts."""
    model = StepModel()
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        run = swanlog.init(logdir=tmp)
        try:
            counter = 0
            for data, step, commit in calls:
                data = {k: (counter := counter + 1) for k in data}  # every value distinct
                model.log(data, step, commit)
                swanlog.log(data, step=step, commit=commit)
        finally:
            swanlog.finish()
        model.commit()
        for name in "abc":
            lines = points(run.dir, f"{name}.jsonl")
            steps = [s for s, _ in lines]
            assert len(steps) == len(set(steps)), f"{name}: a step written twice: {lines}"
            assert dict(lines) == model.points.get(name, {}), name
        warned = [str(w.message) for w in record if issubclass(w.category, SwanlogWarning)]
        for name in "abc":
            count = sum(f"metric '{name}'" in m for m in warned)
            assert count == (1 if name in model.discarded else 0), (name, warned)
        assert len(warned) == len(model.discarded)

"""summary.json and define_metric: last value by default, min/max/mean/best/none, user overrides, arrays."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import swanlog_core as swanlog
from swanlog_core import InvalidValueError, SwanlogWarning
from tests.metricfile import read_json


def summary_file(run: swanlog.Run) -> dict[str, Any]:
    """summary.json of a run, parsed strictly (no bare NaN)."""
    return read_json(run.dir / "summary.json")


# -- computed summary ---------------------------------------------------------------------


def test_default_summary_is_the_value_at_the_largest_step(logdir: Path) -> None:
    """Without define_metric a metric's summary is its value at its largest step, not its last call."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"loss": 0.5}, step=10)
    swanlog.log({"loss": 0.9}, step=2)  # a backfill
    assert run.summary["loss"] == 0.5
    swanlog.finish()
    assert summary_file(run) == {"loss": 0.5}


MODES = [
    pytest.param({"summary": "min"}, 1.0, id="min"),
    pytest.param({"summary": "max"}, 3.0, id="max"),
    pytest.param({"summary": "mean"}, 2.0, id="mean"),
    pytest.param({"summary": "best", "objective": "minimize"}, 1.0, id="best-minimize"),
    pytest.param({"summary": "best", "objective": "maximize"}, 3.0, id="best-maximize"),
    pytest.param({"objective": "maximize"}, 3.0, id="objective-alone-means-best"),
    pytest.param({"summary": "last"}, 2.0, id="last"),
    pytest.param({"summary": "none"}, None, id="none"),
]


@pytest.mark.parametrize("when", ["before-logging", "after-logging"])
@pytest.mark.parametrize(("kwargs", "expected"), MODES)
def test_define_metric_summary_modes(logdir: Path, kwargs: dict[str, str], expected: Any, when: str) -> None:
    """define_metric picks the summary (min, max, mean, best, last, none), before or after logging."""
    run = swanlog.init(logdir=logdir)
    if when == "before-logging":
        swanlog.define_metric("acc", **kwargs)
    for v in (3.0, math.nan, 1.0, 2.0):
        swanlog.log({"acc": v})
    if when == "after-logging":
        swanlog.define_metric("acc", **kwargs)
    swanlog.finish()
    summary = summary_file(run)
    if expected is None:
        assert "acc" not in summary
    else:
        assert summary["acc"] == expected  # NaN never wins min/max and is left out of the mean


def test_summary_ignores_values_discarded_by_first_write_wins(logdir: Path) -> None:
    """A value refused because its step is taken never reaches the summary."""
    run = swanlog.init(logdir=logdir)
    swanlog.define_metric("loss", summary="min")
    swanlog.log({"loss": 5.0}, step=0)
    with pytest.warns(SwanlogWarning):
        swanlog.log({"loss": -100.0}, step=0)
    swanlog.finish()
    assert summary_file(run)["loss"] == 5.0


def test_non_finite_last_value_is_a_json_string(logdir: Path) -> None:
    """A NaN or infinite summary value is written as "NaN"/"Infinity", keeping summary.json valid JSON."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"a": math.nan, "b": -math.inf})
    run.summary["c"] = math.inf
    swanlog.finish()
    assert summary_file(run) == {"a": "NaN", "b": "-Infinity", "c": "Infinity"}


def test_glob_definition_applies_to_every_metric_under_the_prefix(logdir: Path) -> None:
    """``define_metric("train/*", ...)`` applies to every metric under train/, and only there."""
    run = swanlog.init(logdir=logdir)
    swanlog.define_metric("train/*", summary="max")
    for v in (1.0, 3.0, 2.0):
        swanlog.log({"train/acc": v, "train/deep/x": v, "val/acc": v, "train": v, "trainer/x": v})
    swanlog.finish()
    assert summary_file(run) == {
        "train/acc": 3.0,
        "train/deep/x": 3.0,
        "val/acc": 2.0,
        "train": 2.0,
        "trainer/x": 2.0,
    }


def test_glob_defined_after_logging_recomputes(logdir: Path) -> None:
    """A glob defined after logging applies to the values already logged under it."""
    run = swanlog.init(logdir=logdir)
    for v in (1.0, 3.0, 2.0):
        swanlog.log({"train/acc": v})
    swanlog.define_metric("train/*", summary="min")
    swanlog.finish()
    assert summary_file(run) == {"train/acc": 1.0}


def test_exact_definition_beats_glob_and_longer_glob_beats_shorter(logdir: Path) -> None:
    """The most specific definition wins: an exact name, then the longest glob prefix."""
    run = swanlog.init(logdir=logdir)
    swanlog.define_metric("*", summary="max")
    swanlog.define_metric("train/*", summary="min")
    swanlog.define_metric("train/mean", summary="mean")
    for v in (1.0, 3.0, 2.0):
        swanlog.log({"train/a": v, "train/mean": v, "other": v})
    swanlog.finish()
    assert summary_file(run) == {"train/a": 1.0, "train/mean": 2.0, "other": 3.0}


def test_definitions_are_saved_in_metrics_json(logdir: Path) -> None:
    """define_metric writes its definitions, step_metric included, to metrics.json at once."""
    run = swanlog.init(logdir=logdir)
    swanlog.define_metric("val/*", step_metric="epoch", summary="max")
    swanlog.define_metric("loss", objective="minimize")
    assert read_json(run.dir / "metrics.json") == {
        "val/*": {"step_metric": "epoch", "summary": "max"},
        "loss": {"summary": "best", "objective": "minimize"},
    }


def test_definitions_survive_resume(logdir: Path) -> None:
    """A resumed run keeps its definitions and recomputes the summary over old and new points."""
    run = swanlog.init(logdir=logdir, id="defs")
    swanlog.define_metric("loss", summary="min")
    swanlog.log({"loss": 2.0})
    swanlog.log({"loss": 1.0})
    swanlog.finish()
    swanlog.init(logdir=logdir, id="defs", resume="allow")
    swanlog.log({"loss": 1.5})
    swanlog.finish()
    assert summary_file(run) == {"loss": 1.0}


@pytest.mark.parametrize("log_after_resume", [False, True], ids=["idle", "logging"])
@pytest.mark.parametrize(("mode", "expected"), [("min", 1.0), ("none", None)], ids=["min", "none"])
def test_definition_made_after_resume_covers_points_logged_before(
    logdir: Path, mode: str, expected: Any, log_after_resume: bool
) -> None:
    """define_metric in a resumed run applies to the points of earlier sessions, as it does within one."""
    run = swanlog.init(logdir=logdir, id="late")
    for v in (3.0, 1.0, 2.0):
        swanlog.log({"loss": v})
    swanlog.finish()
    swanlog.init(logdir=logdir, id="late", resume="allow")
    swanlog.define_metric("loss", summary=mode)
    if log_after_resume:
        swanlog.log({"loss": 2.5})
    swanlog.finish()
    assert summary_file(run).get("loss") == expected


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        pytest.param(("loss",), {"summary": "median"}, "summary=", id="unknown-summary"),
        pytest.param(("loss",), {"objective": "up"}, "objective=", id="unknown-objective"),
        pytest.param(("loss",), {"summary": "best"}, "objective", id="best-without-objective"),
        pytest.param(("a*b",), {"summary": "min"}, "trailing", id="glob-in-the-middle"),
        pytest.param(("a/*/*",), {"summary": "min"}, "trailing", id="two-globs"),
        pytest.param(("",), {"summary": "min"}, "non-empty", id="empty-name"),
        pytest.param((None,), {"summary": "min"}, "non-empty", id="none-name"),
        pytest.param(("a//b",), {"summary": "min"}, "metric name", id="bad-name"),
        pytest.param(("loss",), {"step_metric": "../"}, "metric name", id="bad-step-metric"),
    ],
)
def test_invalid_define_metric_is_a_value_error(
    logdir: Path, args: tuple[Any, ...], kwargs: dict[str, Any], match: str
) -> None:
    """A define_metric call with a bad name, summary, objective or step_metric is a ValueError, not saved."""
    run = swanlog.init(logdir=logdir)
    with pytest.raises(InvalidValueError, match=match):
        swanlog.define_metric(*args, **kwargs)
    assert read_json(run.dir / "metrics.json") == {}


def test_define_metric_after_a_refused_log_call(logdir: Path) -> None:
    """A log() call refused for a bad value does not break a later define_metric of its other keys."""
    run = swanlog.init(logdir=logdir)
    with pytest.raises(ValueError):
        swanlog.log({"a": 1.0, "b": "not a number"})
    swanlog.define_metric("a", summary="min")
    swanlog.log({"a": 2.0})
    swanlog.finish()
    assert summary_file(run) == {"a": 2.0}


def test_summary_is_saved_periodically_while_running(logdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While a run is going, summary.json follows the logged values (every flush interval)."""
    monkeypatch.setattr("swanlog_core._run._FLUSH_EVERY", 0.0)
    run = swanlog.init(logdir=logdir)
    swanlog.log({"a": 1})
    swanlog.log({"a": 2})
    assert summary_file(run) == {"a": 2}


# -- user writes ----------------------------------------------------------------------------


def test_user_summary_overrides_the_computed_value(logdir: Path) -> None:
    """A value set in run.summary wins over the computed one, also after later log() calls."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"acc": 0.5})
    run.summary["acc"] = 0.99
    swanlog.log({"acc": 0.7})
    run.summary.update({"best_epoch": 3}, note="ok")
    assert run.summary["acc"] == 0.99
    assert summary_file(run) == {"acc": 0.99, "best_epoch": 3, "note": "ok"}  # saved at once
    swanlog.finish()
    assert summary_file(run) == {"acc": 0.99, "best_epoch": 3, "note": "ok"}


def test_deleting_a_user_summary_key(logdir: Path) -> None:
    """``del run.summary[k]`` removes a user-set key; the computed value shows again."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"acc": 0.5})
    run.summary["acc"] = 1.0
    run.summary["extra"] = 1
    del run.summary["acc"]
    del run.summary["extra"]
    with pytest.raises(KeyError):
        del run.summary["never-set"]
    swanlog.finish()
    assert summary_file(run) == {"acc": 0.5}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(np.float32(0.5), 0.5, id="numpy-float32"),
        pytest.param(np.int64(3), 3, id="numpy-int64"),
        pytest.param(np.array(2.5), 2.5, id="numpy-0d"),
        pytest.param(np.arange(4), [0, 1, 2, 3], id="small-array-inline"),
        pytest.param({"nested": [1, 2]}, {"nested": [1, 2]}, id="dict"),
        pytest.param("text", "text", id="string"),
        pytest.param(None, None, id="none"),
    ],
)
def test_user_summary_values_become_plain_json(logdir: Path, value: Any, expected: Any) -> None:
    """NumPy scalars and small arrays set in the summary are stored as plain JSON values."""
    run = swanlog.init(logdir=logdir)
    run.summary["k"] = value
    swanlog.finish()
    assert summary_file(run) == {"k": expected}


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("", id="empty"),
        pytest.param(3, id="int"),
        pytest.param("bad\ud800", id="lone-surrogate"),
    ],
)
def test_invalid_summary_key_is_refused_and_harmless(logdir: Path, key: Any) -> None:
    """A summary key that cannot be stored is a ValueError, and the rest of the summary still saves."""
    run = swanlog.init(logdir=logdir)
    run.summary["good"] = 1
    with pytest.raises(ValueError):
        run.summary[key] = 2
    swanlog.log({"a": 1})
    swanlog.finish()
    assert summary_file(run) == {"good": 1, "a": 1}


# -- large arrays -----------------------------------------------------------------------------


def test_large_array_is_stored_beside_the_summary_with_statistics(logdir: Path) -> None:
    """A large array in the summary goes whole to a file; summary.json keeps its path and statistics."""
    values = np.linspace(-3.0, 5.0, 101) ** 2
    run = swanlog.init(logdir=logdir)
    run.summary["weights"] = values
    swanlog.finish()
    entry = summary_file(run)["weights"]
    assert entry["_type"] == "array"
    path = run.dir / entry["path"]
    assert path.parent.is_relative_to(run.dir)
    assert read_json(path) == pytest.approx(values.tolist())
    assert entry["count"] == 101
    assert entry["min"] == pytest.approx(values.min())
    assert entry["max"] == pytest.approx(values.max())
    assert entry["mean"] == pytest.approx(values.mean())
    assert entry["var"] == pytest.approx(values.var())
    for q in (5, 25, 50, 75, 95):
        assert entry[f"p{q}"] == pytest.approx(np.percentile(values, q)), q


def test_large_nested_array_keeps_its_shape_in_the_file(logdir: Path) -> None:
    """A large 2-D array is stored with its shape; the statistics cover every element."""
    values = np.arange(60, dtype=np.float64).reshape(6, 10)
    run = swanlog.init(logdir=logdir)
    run.summary["layer/w"] = values
    swanlog.finish()
    entry = summary_file(run)["layer/w"]
    assert read_json(run.dir / entry["path"]) == values.tolist()
    assert entry["count"] == 60 and entry["min"] == 0 and entry["max"] == 59
    assert entry["mean"] == pytest.approx(29.5)


def test_large_array_with_nan_counts_it_but_keeps_statistics_finite(logdir: Path) -> None:
    """NaN elements count in the array's size and stay out of min, max and mean."""
    values = [float(i) for i in range(40)] + [math.nan]
    run = swanlog.init(logdir=logdir)
    run.summary["a"] = values
    swanlog.finish()
    entry = summary_file(run)["a"]
    assert entry["count"] == 41 and entry["min"] == 0 and entry["max"] == 39
    assert entry["mean"] == pytest.approx(19.5)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("../../escape", id="traversal"),
        pytest.param("/abs", id="absolute-looks"),
        pytest.param("..", id="dotdot"),
        pytest.param("a:b*c", id="windows-unsafe"),
    ],
)
def test_large_array_file_stays_inside_the_run_folder(logdir: Path, key: str) -> None:
    """Whatever the summary key, the array file is written inside the run's folder."""
    run = swanlog.init(logdir=logdir)
    try:
        run.summary[key] = list(range(100))
    except InvalidValueError:
        swanlog.finish()
        assert summary_file(run) == {}
        return
    swanlog.finish()
    entry = summary_file(run)[key]
    path = (run.dir / entry["path"]).resolve()
    assert path.is_relative_to(run.dir.resolve()) and path.is_file()
    files = [p for p in logdir.rglob("*") if p.is_file()]
    assert all(p.is_relative_to(run.dir) for p in files)

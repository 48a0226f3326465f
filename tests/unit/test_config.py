"""run.config and config.json: what init() accepts, how changes are saved, what resume keeps."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import swanlog_core as swanlog
from swanlog_core import InvalidValueError
from tests.metricfile import read_json


def config_file(run: swanlog.Run) -> Any:
    """config.json of a run, parsed strictly."""
    return read_json(run.dir / "config.json")


@dataclasses.dataclass
class TrainConfig:
    lr: float = 0.1
    layers: tuple[int, ...] = (64, 32)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param({"lr": 0.1, "bs": 32}, {"lr": 0.1, "bs": 32}, id="dict"),
        pytest.param(argparse.Namespace(lr=0.1, opt="adam"), {"lr": 0.1, "opt": "adam"}, id="argparse"),
        pytest.param(TrainConfig(), {"lr": 0.1, "layers": [64, 32]}, id="dataclass"),
        pytest.param(None, {}, id="none"),
        pytest.param({"nested": {"a": [1, 2]}}, {"nested": {"a": [1, 2]}}, id="nested"),
    ],
)
def test_config_given_to_init_is_saved(logdir: Path, config: Any, expected: dict[str, Any]) -> None:
    """A dict, argparse Namespace or dataclass given as config is in config.json as soon as init returns."""
    run = swanlog.init(logdir=logdir, config=config)
    assert config_file(run) == expected
    assert run.config.keys() == expected.keys()


@pytest.mark.parametrize(
    "config",
    [
        pytest.param([("lr", 0.1)], id="list"),
        pytest.param("lr=0.1", id="string"),
        pytest.param(3, id="int"),
    ],
)
def test_config_that_is_not_a_mapping_is_a_value_error(logdir: Path, config: Any) -> None:
    """A config that is not a dict, Namespace or dataclass is a ValueError and no run is created."""
    with pytest.raises(InvalidValueError, match="config"):
        swanlog.init(logdir=logdir, config=config)
    assert list(logdir.iterdir()) == []


def test_every_kind_of_change_is_saved_at_once(logdir: Path) -> None:
    """update(), item and attribute assignment, and del each rewrite config.json immediately."""
    run = swanlog.init(logdir=logdir, config={"lr": 0.1})
    run.config.update({"bs": 32}, epochs=3)
    assert config_file(run) == {"lr": 0.1, "bs": 32, "epochs": 3}
    run.config["lr"] = 0.01
    run.config.momentum = 0.9
    assert config_file(run) == {"lr": 0.01, "bs": 32, "epochs": 3, "momentum": 0.9}
    del run.config["epochs"]
    assert config_file(run) == {"lr": 0.01, "bs": 32, "momentum": 0.9}


def test_config_reads_as_a_dict_and_as_attributes(logdir: Path) -> None:
    """``run.config["lr"]`` and ``run.config.lr`` both read a value; a missing one is an AttributeError."""
    run = swanlog.init(logdir=logdir, config={"lr": 0.1})
    assert run.config["lr"] == run.config.lr == 0.1
    assert "lr" in run.config and len(run.config) == 1 and list(run.config) == ["lr"]
    with pytest.raises(AttributeError):
        _ = run.config.missing
    with pytest.raises(KeyError):
        _ = run.config["missing"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(np.float32(0.5), 0.5, id="numpy-float32"),
        pytest.param(np.int64(7), 7, id="numpy-int64"),
        pytest.param(np.arange(3), [0, 1, 2], id="numpy-array"),
        pytest.param((1, 2), [1, 2], id="tuple"),
        pytest.param(Path("/data/x"), "/data/x", id="path"),
        pytest.param(None, None, id="none"),
        pytest.param(True, True, id="bool"),
    ],
)
def test_config_values_become_plain_json(logdir: Path, value: Any, expected: Any) -> None:
    """NumPy values, tuples and paths in the config are stored as plain JSON values."""
    run = swanlog.init(logdir=logdir, config={"k": value})
    assert config_file(run) == {"k": expected}


def test_resume_merges_new_config_over_the_old(logdir: Path) -> None:
    """A resumed run keeps its saved config; keys given again at init replace the old values."""
    run = swanlog.init(logdir=logdir, id="cfg", config={"lr": 0.1, "bs": 32})
    run.config["added"] = True
    swanlog.finish()
    again = swanlog.init(logdir=logdir, id="cfg", resume="allow", config={"lr": 0.01})
    assert dict(again.config) == {"lr": 0.01, "bs": 32, "added": True}
    assert config_file(again) == {"lr": 0.01, "bs": 32, "added": True}


def test_disabled_run_config_lives_in_memory_only(logdir: Path) -> None:
    """In disabled mode run.config works as a dict but nothing is written."""
    run = swanlog.init(logdir=logdir, mode="disabled", config={"lr": 0.1})
    run.config.update({"bs": 2})
    assert dict(run.config) == {"lr": 0.1, "bs": 2}
    assert list(logdir.iterdir()) == []


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"bad\ud800": 1}, id="lone-surrogate-key"),
        pytest.param({"k": "bad\ud800"}, id="lone-surrogate-value"),
        pytest.param({("a", "b"): 1}, id="tuple-key"),
    ],
)
def test_unstorable_config_is_a_value_error_at_init(logdir: Path, config: dict[str, Any]) -> None:
    """A config that cannot be written as JSON is refused by init() with a ValueError, leaving no run."""
    with pytest.raises(ValueError):
        swanlog.init(logdir=logdir, config=config)
    assert swanlog.run is None
    assert list(logdir.iterdir()) == []  # no half-made run folder left behind


def test_unstorable_config_update_is_refused_and_harmless(logdir: Path) -> None:
    """A config update that cannot be written is a ValueError and does not break later saves."""
    run = swanlog.init(logdir=logdir, config={"lr": 0.1})
    with pytest.raises(ValueError):
        run.config.update({"bad\ud800": 1})
    run.config["bs"] = 4
    assert config_file(run) == {"lr": 0.1, "bs": 4}

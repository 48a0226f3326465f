"""Media in log(): payloads stored once under media/, step rules and first write wins, refused
values with nothing written, hostile names, disabled mode, and reading media back.

Metric lines are read with ``tests.metricfile`` (json module only), never with swanlog.
"""

from __future__ import annotations

import io
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import swanlog_core as swanlog
from swanlog_core import InvalidValueError, SwanlogWarning, reader
from swanlog_core.export import export_run
from tests.metricfile import metric_files, points, read_json

IMG = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
OTHER_IMG = IMG[::-1].copy()


def media_files(run_dir: Path) -> list[str]:
    """Relative posix paths of every file under the run's media/ folder, sorted."""
    base = run_dir / "media"
    return sorted(p.relative_to(run_dir).as_posix() for p in base.rglob("*") if p.is_file())


def value_at(run_dir: Path, rel: str, step: int) -> Any:
    return dict(points(run_dir, rel))[step]


# -- stored once ---------------------------------------------------------------------------


def test_same_image_at_several_steps_is_stored_once(logdir: Path) -> None:
    """The same pixels logged at several steps of a metric make one payload file that every line names."""
    run = swanlog.init(logdir=logdir)
    for _ in range(3):
        swanlog.log({"samples": swanlog.Image(IMG)})
    swanlog.log({"samples": swanlog.Image(OTHER_IMG)})
    swanlog.finish()
    lines = points(run.dir, "samples.jsonl")
    assert [s for s, _ in lines] == [0, 1, 2, 3]
    paths = [v["path"] for _, v in lines]
    assert len(set(paths[:3])) == 1 and paths[3] != paths[0]
    assert media_files(run.dir) == sorted(set(paths))
    assert all(p.startswith("media/samples/") for p in paths)


def test_same_image_in_two_metrics_is_stored_once_on_disk(logdir: Path) -> None:
    """The same pixels in two metrics share one copy on disk (a hard link in each metric's folder)."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"train/img": swanlog.Image(IMG), "val/img": swanlog.Image(IMG)})
    swanlog.finish()
    a, b = value_at(run.dir, "train/img.jsonl", 0), value_at(run.dir, "val/img.jsonl", 0)
    assert a["sha256"] == b["sha256"] and a["path"] != b["path"]
    sa, sb = os.stat(run.dir / a["path"]), os.stat(run.dir / b["path"])
    assert (sa.st_ino, sa.st_dev) == (sb.st_ino, sb.st_dev)
    assert sa.st_nlink == 2


def test_payload_is_written_atomically_with_no_temp_file_left(logdir: Path) -> None:
    """Only the named payload files are in media/ after logging: no temp files remain."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"a": swanlog.Image(IMG), "b": swanlog.Table(columns=["x"], data=[[1]])})
    swanlog.finish()
    names = [Path(p).name for p in media_files(run.dir)]
    assert len(names) == 2 and not any(n.startswith(".") for n in names)


# -- step rules ----------------------------------------------------------------------------


def test_media_follow_the_step_rules_of_numbers(logdir: Path) -> None:
    """A media metric takes its own next step, or the call's step=, like a number."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"loss": 1.0, "img": swanlog.Image(IMG)})
    swanlog.log({"img": swanlog.Image(IMG)})
    swanlog.log({"img": swanlog.Text("x"), "loss": 0.5}, step=10)
    assert [s for s, _ in points(run.dir, "img.jsonl")] == [0, 1, 10]
    assert [s for s, _ in points(run.dir, "loss.jsonl")] == [0, 10]


def test_first_write_wins_for_media_with_one_warning(logdir: Path) -> None:
    """A second media value at a held (metric, step) is discarded, its payload not stored, warned once."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"img": swanlog.Image(IMG)}, step=0)
    with pytest.warns(SwanlogWarning) as record:
        for _ in range(3):
            swanlog.log({"img": swanlog.Image(OTHER_IMG)}, step=0)
    swanlog.finish()
    assert len([w for w in record if issubclass(w.category, SwanlogWarning)]) == 1
    ((step, value),) = points(run.dir, "img.jsonl")
    assert step == 0 and media_files(run.dir) == [value["path"]]


def test_staged_media_are_written_with_the_committing_call(logdir: Path) -> None:
    """``log({img}, commit=False)`` then ``log({loss})`` writes the image at the step of the commit."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({"img": swanlog.Image(IMG)}, step=3, commit=False)
    assert not (run.dir / "media").exists()  # encoded now, stored when committed
    swanlog.log({"loss": 1.0})
    swanlog.finish()
    value = value_at(run.dir, "img.jsonl", 3)
    assert media_files(run.dir) == [value["path"]]


def test_resume_keeps_first_write_wins_for_media(logdir: Path) -> None:
    """After resume a media metric continues its steps and refuses a step it holds."""
    run = swanlog.init(logdir=logdir, id="media1")
    swanlog.log({"img": swanlog.Image(IMG), "h": [1, 2, 3]})
    swanlog.finish()
    swanlog.init(logdir=logdir, id="media1", resume="must")
    swanlog.log({"img": swanlog.Image(OTHER_IMG)})
    with pytest.warns(SwanlogWarning):
        swanlog.log({"img": swanlog.Image(OTHER_IMG)}, step=0)
    swanlog.finish()
    assert [s for s, _ in points(run.dir, "img.jsonl")] == [0, 1]
    assert value_at(run.dir, "img.jsonl", 0)["sha256"] != value_at(run.dir, "img.jsonl", 1)["sha256"]


def test_summary_holds_the_last_description_and_reducers_skip_media(logdir: Path) -> None:
    """A media metric's summary is its last description; a min/max/mean summary ignores media values."""
    run = swanlog.init(logdir=logdir, id="summ")
    swanlog.define_metric("mixed", summary="min")
    swanlog.log({"img": swanlog.Image(IMG), "mixed": 3.0})
    swanlog.log({"mixed": [1.0, 2.0]})  # a histogram in a metric with a min summary
    swanlog.log({"mixed": 2.0})
    swanlog.finish()
    summary = read_json(run.dir / "summary.json")
    assert summary["img"] == value_at(run.dir, "img.jsonl", 0)
    assert summary["mixed"] == 2.0
    swanlog.init(logdir=logdir, id="summ", resume="must")  # reducers rebuilt from files with media
    swanlog.finish()
    assert read_json(run.dir / "summary.json")["mixed"] == 2.0


# -- refused values --------------------------------------------------------------------------


def _missing(tmp: Path) -> Any:
    return tmp / "no-such-file.png"


BAD_MEDIA: list[Any] = [
    pytest.param(lambda t: swanlog.Image(np.zeros((2, 3, 4, 5))), r"shape \(2, 3, 4, 5\)", id="image-4d"),
    pytest.param(lambda t: swanlog.Image(np.zeros((5, 6, 2))), "channel", id="image-two-channels"),
    pytest.param(lambda t: swanlog.Image(np.full((2, 2), np.nan)), "NaN", id="image-nan"),
    pytest.param(lambda t: swanlog.Image(np.full((2, 2), 1.5)), r"\[0, 1\]", id="image-float-above-1"),
    pytest.param(lambda t: swanlog.Image(np.full((2, 2), 300)), "0..255", id="image-int-above-255"),
    pytest.param(lambda t: swanlog.Image(np.zeros((0, 4), np.uint8)), "empty", id="image-empty"),
    pytest.param(lambda t: swanlog.Image(np.array([["a"]])), "dtype", id="image-strings"),
    pytest.param(lambda t: swanlog.Image(_missing(t)), "does not exist", id="image-missing-path"),
    pytest.param(lambda t: swanlog.Image(str(t)), "folder", id="image-path-is-a-folder"),
    pytest.param(lambda t: swanlog.Image(t / "notes.txt"), "not an image", id="image-file-not-an-image"),
    pytest.param(lambda t: swanlog.Image(IMG, caption=3), "caption", id="caption-not-a-string"),
    pytest.param(lambda t: swanlog.Audio(np.zeros(10)), "sample_rate", id="audio-no-sample-rate"),
    pytest.param(lambda t: swanlog.Audio(np.zeros(10), sample_rate=0), "sample_rate", id="audio-rate-0"),
    pytest.param(
        lambda t: swanlog.Audio(np.zeros(10), sample_rate=-8000), "sample_rate", id="audio-rate-negative"
    ),
    pytest.param(
        lambda t: swanlog.Audio(np.zeros(10), sample_rate=44100.0), "sample_rate", id="audio-rate-float"
    ),
    pytest.param(
        lambda t: swanlog.Audio(np.zeros(10), sample_rate=True), "sample_rate", id="audio-rate-bool"
    ),
    pytest.param(lambda t: swanlog.Audio(np.array([0.1, np.nan]), sample_rate=8000), "NaN", id="audio-nan"),
    pytest.param(
        lambda t: swanlog.Audio(np.array([0.5, 1.5]), sample_rate=8000), r"\[-1, 1\]", id="audio-loud"
    ),
    pytest.param(lambda t: swanlog.Audio(np.zeros((2, 2, 2)), sample_rate=8000), "shape", id="audio-3d"),
    pytest.param(lambda t: swanlog.Audio(np.zeros(0), sample_rate=8000), "shape", id="audio-empty"),
    pytest.param(lambda t: swanlog.Audio(np.zeros(4, np.int32), sample_rate=8000), "int32", id="audio-int32"),
    pytest.param(lambda t: swanlog.Audio(t / "a.wav"), "does not exist", id="audio-missing-path"),
    pytest.param(lambda t: swanlog.Audio(t / "notes.txt"), "is not one of", id="audio-unknown-file-type"),
    pytest.param(lambda t: swanlog.Video(np.zeros((2, 3, 3), np.uint8), fps=0), "fps", id="video-fps-0"),
    pytest.param(lambda t: swanlog.Video(np.zeros((3, 3), np.uint8)), "shape", id="video-2d"),
    pytest.param(
        lambda t: swanlog.Video(np.zeros((2, 5, 6, 2), np.uint8)), "channel", id="video-two-channels"
    ),
    pytest.param(lambda t: swanlog.Video(t / "v.mp4"), "does not exist", id="video-missing-path"),
    pytest.param(lambda t: swanlog.Video(t / "notes.txt"), "is not one of", id="video-unknown-file-type"),
    pytest.param(lambda t: swanlog.Text(3), "str", id="text-not-a-string"),
    pytest.param(lambda t: swanlog.Text("bad\ud800"), "surrogate", id="text-lone-surrogate"),
    pytest.param(lambda t: swanlog.Text("x" * (1 << 20 + 1)), "at most", id="text-too-long"),
    pytest.param(lambda t: swanlog.Html(b"<p>"), "str or a path", id="html-bytes"),
    pytest.param(lambda t: swanlog.Histogram([1, 2], num_bins=0), "num_bins", id="histogram-0-bins"),
    pytest.param(
        lambda t: swanlog.Histogram([1, 2], num_bins=10_000), "num_bins", id="histogram-too-many-bins"
    ),
    pytest.param(lambda t: swanlog.Histogram(["a"]), "real numbers", id="histogram-strings"),
    pytest.param(
        lambda t: swanlog.Histogram(np_histogram=([1, 2], [0, 1])), "one more", id="np-histogram-edges"
    ),
    pytest.param(lambda t: [swanlog.Image(IMG), swanlog.Image(IMG)], "list of media", id="list-of-images"),
    pytest.param(lambda t: swanlog.Table(columns=["a", "b"], data=[[1, 2], [3]]), "row 1", id="table-ragged"),
    pytest.param(lambda t: swanlog.Table(columns=["a"], data=[[object()]]), "row 0", id="table-bad-cell"),
    pytest.param(lambda t: swanlog.Table(data=[[1]]), "columns", id="table-no-columns"),
    pytest.param(lambda t: swanlog.Table(columns=[1], data=[[1]]), "column name", id="table-column-not-str"),
    pytest.param(lambda t: swanlog.Table(columns=["a"], data=5), "list of rows", id="table-data-not-rows"),
]


@pytest.mark.parametrize(("make", "reason"), BAD_MEDIA)
@pytest.mark.parametrize("commit", [None, False], ids=["committed", "staged"])
def test_bad_media_value_is_a_value_error_naming_the_key_and_writes_nothing(
    logdir: Path, tmp_path: Path, make: Callable[[Path], Any], reason: str, commit: Any
) -> None:
    """A bad media value is a ValueError naming the key and why; no line or payload of the call is written."""
    (tmp_path / "notes.txt").write_text("not an image")
    run = swanlog.init(logdir=logdir)
    swanlog.log({"before": 1})
    with pytest.raises(ValueError, match=reason) as info:
        swanlog.log({"a": 1, "img": swanlog.Image(IMG), "zbad": make(tmp_path), "z": 3}, commit=commit)
    assert isinstance(info.value, InvalidValueError)
    assert "'zbad'" in str(info.value)
    swanlog.finish()
    assert metric_files(run.dir) == {"before.jsonl"}
    assert not (run.dir / "media").exists()


def test_missing_pillow_is_an_import_error_naming_the_extra(
    logdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Pillow, logging an image is a MissingExtraError (an ImportError) naming ``swanlog[media]``;
    nothing is written."""
    monkeypatch.setitem(sys.modules, "PIL.Image", None)  # what an absent package looks like to import
    run = swanlog.init(logdir=logdir)
    with pytest.raises(swanlog.MissingExtraError, match=r"pip install 'swanlog\[media\]'") as info:
        swanlog.log({"loss": 1.0, "img": swanlog.Image(IMG)})
    assert isinstance(info.value, ImportError)
    assert "'img'" in str(info.value) and "Pillow" in str(info.value)
    swanlog.finish()
    assert metric_files(run.dir) == set()


# -- names ------------------------------------------------------------------------------------

HOSTILE_NAMES = [
    pytest.param("../x", id="dotdot-segment"),
    pytest.param("..", id="dotdot"),
    pytest.param("a/../../b", id="traversal"),
    pytest.param("%2e%2e/x", id="encoded-dotdot"),
    pytest.param("\x00\n\t", id="control-characters"),
    pytest.param('a:b*c?"<>|', id="windows-unsafe"),
    pytest.param("训练/图像", id="non-ascii"),
    pytest.param("x.jsonl/y", id="folder-like-a-file"),
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_metric_name_keeps_its_payload_inside_media(logdir: Path, name: str) -> None:
    """A metric named to escape the run folder still gets its payload under the run's media/."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({name: swanlog.Image(IMG)})
    swanlog.finish()
    ((rel,),) = [list(metric_files(run.dir))]
    value = value_at(run.dir, rel, 0)
    target = (run.dir / value["path"]).resolve()
    assert target.is_relative_to((run.dir / "media").resolve()) and target.is_file()
    assert media_files(run.dir) == [value["path"]]
    assert value["path"] == "media/" + rel[: -len(".jsonl")] + f"/{value['sha256']}.png"
    outside = [p for p in logdir.rglob("*") if p.is_file() and not p.is_relative_to(run.dir)]
    assert outside == []


# -- disabled mode ------------------------------------------------------------------------------


def test_disabled_mode_neither_encodes_nor_writes_media(logdir: Path) -> None:
    """With mode="disabled", logging media (even an invalid one) does nothing: no encoding, no file."""
    swanlog.init(logdir=logdir, mode="disabled")
    swanlog.log({"img": swanlog.Image(np.full((2, 2), np.nan)), "h": [1, 2], "t": swanlog.Text("x")})
    swanlog.log({"img": swanlog.Image(IMG)}, commit=False)
    swanlog.finish()
    assert list(logdir.iterdir()) == []


# -- reading back ------------------------------------------------------------------------------


def _media_run(logdir: Path) -> Path:
    run = swanlog.init(logdir=logdir)
    swanlog.log({"img": swanlog.Image(IMG, caption='a "quoted", caption'), "loss": 0.5})
    swanlog.log({"img": swanlog.Text("x"), "loss": math.nan})
    swanlog.finish()
    return run.dir


def test_reader_returns_media_points(logdir: Path) -> None:
    """``reader`` gives a media point's value as its description dict, alongside numbers."""
    run_dir = _media_run(logdir)
    h = reader.open_run(run_dir).history("img")
    assert (h.corrupt, h.torn) == (0, 0)
    assert [p.value for p in h.points] == [v for _, v in points(run_dir, "img.jsonl")]
    assert h.points[0].value["_type"] == "image" and h.points[1].value == {"_type": "text", "text": "x"}


def test_export_writes_media_descriptions(logdir: Path) -> None:
    """``export`` writes a media value as its dict in jsonl and as its JSON text in the csv value column."""
    import csv

    run_dir = _media_run(logdir)
    expected = [v for _, v in points(run_dir, "img.jsonl")]
    out = io.BytesIO()
    assert export_run(reader.open_run(run_dir), "jsonl", out, ["img"]) == []
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["value"] for r in rows] == expected and {r["metric"] for r in rows} == {"img"}
    out = io.BytesIO()
    export_run(reader.open_run(run_dir), "csv", out, ["img", "loss"])
    table = list(csv.DictReader(io.StringIO(out.getvalue().decode("utf-8"))))
    assert [json.loads(r["value"]) for r in table if r["metric"] == "img"] == expected
    assert [r["value"] for r in table if r["metric"] == "loss"] == ["0.5", "NaN"]


def test_payload_write_error_leaves_no_line_and_frees_the_step(
    logdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk error storing a payload raises OSError naming the metric; no line of the call is written."""
    import errno

    from swanlog_core.media._store import PayloadStore

    def full(self: PayloadStore, rel: str, prepared: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    run = swanlog.init(logdir=logdir)
    with monkeypatch.context() as m:
        m.setattr(PayloadStore, "put", full)
        with pytest.raises(OSError, match="'img'"):
            swanlog.log({"loss": 1.0, "img": swanlog.Image(IMG)})
    assert metric_files(run.dir) == set()
    swanlog.log({"loss": 1.0, "img": swanlog.Image(IMG)})
    swanlog.finish()
    assert [s for s, _ in points(run.dir, "img.jsonl")] == [0]
    assert [s for s, _ in points(run.dir, "loss.jsonl")] == [0]

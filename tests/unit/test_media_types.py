"""Each media type round-trips: what log() stores decodes (with Pillow, wave, json) to what was given.

Metric lines are read with ``tests.metricfile`` (json module only); payload files are
decoded with Pillow, the standard library's ``wave`` and ``json``, never with swanlog.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

import swanlog_core as swanlog
from tests.metricfile import points


def logged(run_dir: Path, metric: str, step: int = 0) -> dict[str, Any]:
    """The media description at ``step`` of ``metric``, read from its metric file."""
    found = dict(points(run_dir, f"{metric}.jsonl"))
    value = found[step]
    assert isinstance(value, dict), value
    return value


def payload(run_dir: Path, value: dict[str, Any]) -> bytes:
    """The payload file a description names, checked against its sha256, size and path."""
    path = run_dir / value["path"]
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == value["sha256"]
    assert len(data) == value["size"]
    assert value["path"] == f"media/{Path(value['path']).parent.relative_to('media').as_posix()}/" + (
        f"{value['sha256']}.{value['format']}"
    )
    return data


def log_one(logdir: Path, value: Any, metric: str = "m") -> tuple[Path, dict[str, Any]]:
    """Log ``value`` as ``metric`` at step 0 of a fresh run; return the run folder and its description."""
    run = swanlog.init(logdir=logdir)
    swanlog.log({metric: value})
    swanlog.finish()
    return run.dir, logged(run.dir, metric)


def decode_png(data: bytes) -> np.ndarray:
    with PILImage.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        return np.asarray(im)


# -- Image --------------------------------------------------------------------------------

_rng = np.random.default_rng(7)
_U8_HWC = _rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
_U8_HWC4 = _rng.integers(0, 256, (5, 7, 4), dtype=np.uint8)
_U8_HW = _rng.integers(0, 256, (5, 7), dtype=np.uint8)
_F_HWC = _rng.random((5, 7, 3))
_F_HW = _rng.random((5, 7)).astype(np.float32)


def _to_u8(x: np.ndarray) -> np.ndarray:
    """The documented float conversion: times 255, rounded to the nearest integer."""
    return np.rint(x.astype(np.float64) * 255).astype(np.uint8)


IMAGES = [
    pytest.param(_U8_HW, _U8_HW, id="uint8-HW"),
    pytest.param(_U8_HWC, _U8_HWC, id="uint8-HWC-rgb"),
    pytest.param(_U8_HWC4, _U8_HWC4, id="uint8-HWC-rgba"),
    pytest.param(_U8_HW[..., None], _U8_HW, id="uint8-HWC-one-channel"),
    pytest.param(_U8_HWC.transpose(2, 0, 1), _U8_HWC, id="uint8-CHW"),
    pytest.param(_U8_HW[None], _U8_HW, id="uint8-1HW"),
    pytest.param(_F_HW, _to_u8(_F_HW), id="float32-HW"),
    pytest.param(_F_HWC, _to_u8(_F_HWC), id="float64-HWC"),
    pytest.param(_F_HWC.transpose(2, 0, 1), _to_u8(_F_HWC), id="float64-CHW"),
    pytest.param(
        np.array([[0.0, 1.0], [0.5, 0.25]]), np.array([[0, 255], [128, 64]], np.uint8), id="float-edges"
    ),
    pytest.param(_U8_HW.astype(np.int64), _U8_HW, id="int64-in-0-255"),
    pytest.param(np.array([[True, False]]), np.array([[255, 0]], np.uint8), id="bool"),
]


@pytest.mark.parametrize(("data", "pixels"), IMAGES)
def test_image_array_round_trips_as_png(logdir: Path, data: np.ndarray, pixels: np.ndarray) -> None:
    """An image array is stored as a PNG whose pixels are the array's (floats times 255, rounded)."""
    run_dir, value = log_one(logdir, swanlog.Image(data, caption="a cat"))
    assert value["_type"] == "image" and value["format"] == "png" and value["caption"] == "a cat"
    assert (value["width"], value["height"]) == (pixels.shape[1], pixels.shape[0])
    np.testing.assert_array_equal(decode_png(payload(run_dir, value)), pixels)


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "CMYK", "I"])
def test_pil_image_round_trips(logdir: Path, mode: str) -> None:
    """A PIL image is stored as a PNG with the same pixels (modes PNG lacks are converted to RGB)."""
    im = PILImage.fromarray(_U8_HWC).convert(mode)
    run_dir, value = log_one(logdir, swanlog.Image(im))
    expected = np.asarray(im if mode in ("RGB", "L", "RGBA") else im.convert("RGB"))
    np.testing.assert_array_equal(decode_png(payload(run_dir, value)), expected)
    assert "caption" not in value


@pytest.mark.parametrize(("fmt", "ext"), [("PNG", "png"), ("JPEG", "jpg"), ("GIF", "gif")])
def test_image_file_is_stored_as_it_is(logdir: Path, tmp_path: Path, fmt: str, ext: str) -> None:
    """An image given by path is stored byte for byte, with its format and size read by Pillow."""
    path = tmp_path / f"picture.{ext}"
    PILImage.fromarray(_U8_HWC).save(path, format=fmt)
    run_dir, value = log_one(logdir, swanlog.Image(str(path)))
    assert payload(run_dir, value) == path.read_bytes()
    assert (value["format"], value["width"], value["height"]) == (ext, 7, 5)
    _, value2 = log_one(logdir, swanlog.Image(path))  # a Path works as well as a str
    assert value2["sha256"] == value["sha256"]


# -- Audio --------------------------------------------------------------------------------


def decode_wav(data: bytes) -> tuple[int, int, np.ndarray]:
    with wave.open(io.BytesIO(data), "rb") as w:
        assert w.getsampwidth() == 2
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return w.getframerate(), w.getnchannels(), frames.reshape(-1, w.getnchannels())


def test_float_audio_round_trips_as_16_bit_wav(logdir: Path) -> None:
    """Float samples in [-1, 1] are stored as 16-bit PCM WAV holding round(x * 32767)."""
    samples = np.sin(np.linspace(0, 60, 4000)) * np.linspace(0, 1, 4000)
    samples[:2] = [-1.0, 1.0]
    run_dir, value = log_one(logdir, swanlog.Audio(samples, sample_rate=8000, caption="tone"))
    rate, channels, frames = decode_wav(payload(run_dir, value))
    assert (rate, channels) == (8000, 1)
    np.testing.assert_array_equal(frames[:, 0], np.rint(samples * 32767).astype(np.int16))
    assert value["format"] == "wav" and value["caption"] == "tone"
    assert (value["sample_rate"], value["channels"], value["frames"]) == (8000, 1, 4000)
    assert value["duration"] == 0.5


def test_int16_stereo_audio_round_trips_exactly(logdir: Path) -> None:
    """int16 samples of shape (frames, channels) are stored unchanged, channels interleaved."""
    samples = np.random.default_rng(1).integers(-32768, 32768, (1000, 2)).astype(np.int16)
    run_dir, value = log_one(logdir, swanlog.Audio(samples, sample_rate=np.int64(22050)))
    rate, channels, frames = decode_wav(payload(run_dir, value))
    assert (rate, channels) == (22050, 2)
    np.testing.assert_array_equal(frames, samples)


def test_audio_files_are_stored_as_they_are(logdir: Path, tmp_path: Path) -> None:
    """An audio file is stored byte for byte; a WAV file's rate, channels and frames are read from it."""
    wav = tmp_path / "clip.WAV"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x01\x00" * 1600)
    run_dir, value = log_one(logdir, swanlog.Audio(wav))
    assert payload(run_dir, value) == wav.read_bytes()
    assert (value["format"], value["sample_rate"], value["channels"], value["frames"]) == (
        "wav",
        16000,
        1,
        1600,
    )
    mp3 = tmp_path / "clip.mp3"
    mp3.write_bytes(b"ID3 not really decoded")
    run_dir, value = log_one(logdir, swanlog.Audio(str(mp3)))
    assert payload(run_dir, value) == mp3.read_bytes() and value["format"] == "mp3"
    assert "sample_rate" not in value


# -- Video --------------------------------------------------------------------------------


def decode_gif(data: bytes) -> np.ndarray:
    with PILImage.open(io.BytesIO(data)) as im:
        assert im.format == "GIF"
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB")))
        return np.stack(frames)


_PALETTE = np.random.default_rng(3).integers(0, 256, (40, 3), dtype=np.uint8)
_FRAMES = _PALETTE[np.random.default_rng(4).integers(0, 40, (6, 9, 11))]  # T,H,W,3; 40 colours


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        pytest.param(_FRAMES, _FRAMES, id="THWC-uint8"),
        pytest.param(_FRAMES.transpose(0, 3, 1, 2), _FRAMES, id="TCHW-uint8"),
        pytest.param(_FRAMES[..., 0], np.repeat(_FRAMES[..., :1], 3, axis=3), id="THW-grey"),
        pytest.param(_FRAMES / 255.0, _FRAMES, id="THWC-float"),
    ],
)
def test_video_frames_round_trip_as_gif(logdir: Path, frames: np.ndarray, expected: np.ndarray) -> None:
    """Frames are stored as an animated GIF whose frames decode to the same pixels (few colours)."""
    run_dir, value = log_one(logdir, swanlog.Video(frames, fps=10, caption="rollout"))
    np.testing.assert_array_equal(decode_gif(payload(run_dir, value)), expected)
    assert value["format"] == "gif" and value["caption"] == "rollout"
    assert (value["frames"], value["width"], value["height"], value["fps"]) == (6, 11, 9, 10)
    with PILImage.open(run_dir / value["path"]) as im:
        assert im.info["duration"] == 100  # ms per frame at 10 fps


def test_video_file_is_stored_as_it_is(logdir: Path, tmp_path: Path) -> None:
    """A video file (mp4, webm, gif, ogg) is stored byte for byte, without ffmpeg."""
    mp4 = tmp_path / "clip.mp4"
    mp4.write_bytes(b"\x00\x00\x00\x18ftypmp42 pretend video")
    run_dir, value = log_one(logdir, swanlog.Video(mp4))
    assert payload(run_dir, value) == mp4.read_bytes()
    assert value["format"] == "mp4" and value["_type"] == "video"


# -- Text, Html ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("hello", id="ascii"),
        pytest.param('line 1\nline "2"\t\\ end', id="newlines-quotes-backslash"),
        pytest.param("训练样本 🚀", id="non-ascii"),
        pytest.param("", id="empty"),
    ],
)
def test_text_is_held_inline_in_the_line(logdir: Path, text: str) -> None:
    """Text is stored in the metric line itself, equal to what was logged, with no payload file."""
    run_dir, value = log_one(logdir, swanlog.Text(text, caption="sample"))
    assert value == {"_type": "text", "text": text, "caption": "sample"}
    assert not (run_dir / "media").exists()


def test_html_round_trips_from_a_string_and_a_path(logdir: Path, tmp_path: Path) -> None:
    """HTML is stored as a UTF-8 .html file, from a str or from the Path of a file."""
    html = "<h1>Résumé</h1><p>ok</p>"
    run_dir, value = log_one(logdir, swanlog.Html(html))
    assert payload(run_dir, value).decode("utf-8") == html and value["format"] == "html"
    page = tmp_path / "page.html"
    page.write_text(html, encoding="utf-8")
    _, value2 = log_one(logdir, swanlog.Html(page))
    assert value2["sha256"] == value["sha256"]


# -- Histogram ----------------------------------------------------------------------------


def test_histogram_bins_and_counts_are_numpy_histograms(logdir: Path) -> None:
    """A Histogram holds numpy.histogram's edges and counts inline, for the bin count asked."""
    data = np.random.default_rng(5).normal(size=1000)
    run_dir, value = log_one(logdir, swanlog.Histogram(data, num_bins=20, caption="weights"))
    counts, edges = np.histogram(data, bins=20)
    assert value == {
        "_type": "histogram",
        "bins": edges.tolist(),
        "counts": counts.tolist(),
        "caption": "weights",
    }


def test_histogram_leaves_out_and_counts_non_finite_values(logdir: Path) -> None:
    """NaN and infinities are not binned; their number is kept as nonfinite."""
    data = [1.0, 2.0, math.nan, 3.0, math.inf, -math.inf]
    _, value = log_one(logdir, swanlog.Histogram(data, num_bins=4))
    counts, edges = np.histogram([1.0, 2.0, 3.0], bins=4)
    assert (value["bins"], value["counts"], value["nonfinite"]) == (edges.tolist(), counts.tolist(), 3)


def test_histogram_from_np_histogram(logdir: Path) -> None:
    """``Histogram(np_histogram=numpy.histogram(x))`` stores those counts and edges as they are."""
    counts, edges = np.histogram(np.arange(100), bins=7)
    _, value = log_one(logdir, swanlog.Histogram(np_histogram=(counts, edges)))
    assert (value["bins"], value["counts"]) == (edges.tolist(), counts.tolist())


@pytest.mark.parametrize(
    "data",
    [
        pytest.param([0.1, 0.5, 0.5, 0.9], id="list"),
        pytest.param((1, 2, 3), id="tuple"),
        pytest.param(np.arange(12).reshape(3, 4), id="2d-array"),
        pytest.param(np.float32([1.5, 2.5]), id="float32-array"),
    ],
)
def test_plain_sequence_logged_as_a_value_becomes_a_histogram(logdir: Path, data: Any) -> None:
    """A list, tuple or array of numbers given to log() is a 64-bin histogram of its values."""
    _, value = log_one(logdir, data)
    counts, edges = np.histogram(np.asarray(data, dtype=np.float64).ravel(), bins=64)
    assert value == {"_type": "histogram", "bins": edges.tolist(), "counts": counts.tolist()}


# -- Table --------------------------------------------------------------------------------


def test_table_cells_round_trip(logdir: Path) -> None:
    """A table's columns and cells are stored as JSON; NumPy scalars become numbers, NaN "NaN"."""
    rows = [
        [1, "a", 0.5, True, None],
        [np.int64(2), 'b\n"c"', np.float32(0.25), np.bool_(False), math.nan],
    ]
    run_dir, value = log_one(logdir, swanlog.Table(columns=["i", "s", "f", "b", "n"], data=rows))
    stored = json.loads(payload(run_dir, value))
    assert stored == {
        "columns": ["i", "s", "f", "b", "n"],
        "data": [[1, "a", 0.5, True, None], [2, 'b\n"c"', 0.25, False, "NaN"]],
    }
    assert (value["format"], value["columns"], value["rows"]) == ("json", ["i", "s", "f", "b", "n"], 2)


def test_table_from_a_pandas_dataframe(logdir: Path) -> None:
    """A DataFrame is stored with its column names as text, its cells as plain values, pandas.NA as null."""
    import pandas as pd  # the test extra has it; imported here to keep collection fast

    frame = pd.DataFrame(
        {
            "epoch": [1, 2],
            "acc": [0.5, 0.75],
            "name": ["x", "y"],
            "count": pd.array([7, None], dtype="Int64"),
            "when": pd.to_datetime(["2026-01-02", "2026-01-03"]),
            3: [True, False],
        }
    )
    run_dir, value = log_one(logdir, swanlog.Table(dataframe=frame))
    stored = json.loads(payload(run_dir, value))
    assert stored["columns"] == ["epoch", "acc", "name", "count", "when", "3"]
    assert stored["data"] == [
        [1, 0.5, "x", 7, "2026-01-02T00:00:00", True],
        [2, 0.75, "y", None, "2026-01-03T00:00:00", False],
    ]
    _, value2 = log_one(logdir, swanlog.Table(data=frame))  # a DataFrame as data= works too
    assert value2["sha256"] == value["sha256"]

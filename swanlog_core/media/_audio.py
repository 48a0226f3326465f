"""Audio: NumPy samples with a sample rate, encoded as 16-bit PCM WAV, or an audio file.

Samples are an array of shape (frames,) for mono or (frames, channels). int16 samples
are written as they are; float samples must lie in [-1, 1] and become
``round(x * 32767)``. The standard library's ``wave`` writes the file. A file
(wav, mp3, ogg, flac, m4a, webm) is stored as it is; a WAV file's rate, channels and
frames are read from it.
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any

from ..errors import InvalidValueError
from ._base import Media, Prepared, as_array, read_file

__all__ = ["Audio"]

_FILE_TYPES = frozenset({"wav", "mp3", "ogg", "oga", "flac", "m4a", "webm"})
_MAX_RATE = 1_000_000  # Hz; far above any audio format, and within WAV's 32-bit field
_MAX_CHANNELS = 64


def _wav_fields(raw: bytes) -> dict[str, Any] | None:
    """sample_rate, channels, frames and duration of a PCM WAV file, or None if wave cannot read it."""
    import wave  # here, not at import: only logging audio needs it

    try:
        with wave.open(io.BytesIO(raw), "rb") as w:
            rate, channels, frames = w.getframerate(), w.getnchannels(), w.getnframes()
    except (wave.Error, EOFError):
        return None
    return {
        "sample_rate": rate,
        "channels": channels,
        "frames": frames,
        "duration": frames / rate if rate else 0.0,
    }


class Audio(Media):
    """Sound: NumPy samples (frames,) or (frames, channels), int16 or float in [-1, 1], with
    their sample rate; or the path of an audio file.

    Args:
        data: the samples, or a path (str or PathLike).
        sample_rate: samples per second per channel (required for samples).
        caption: a short text shown with the sound.

    Logging samples needs NumPy (``pip install 'swanlog[media]'``).
    """

    kind = "audio"

    def __init__(self, data: Any, sample_rate: int | None = None, caption: str | None = None) -> None:
        super().__init__(caption)
        self.data = data
        self.sample_rate = sample_rate

    def _prepare(self, key: str) -> Prepared:
        if isinstance(self.data, (str, os.PathLike)):
            path, raw = read_file(key, self.data, "audio")
            ext = path.suffix[1:].lower()
            if ext not in _FILE_TYPES:
                raise InvalidValueError(
                    f"metric {key!r}: audio file {str(path)!r} is not one of {', '.join(sorted(_FILE_TYPES))}"
                )
            fields = _wav_fields(raw) if ext == "wav" else None
            return self._finish(key, fields or {}, raw, ext)
        rate = self.sample_rate
        if type(rate) is not int and not (hasattr(rate, "__index__") and not isinstance(rate, bool)):
            raise InvalidValueError(f"metric {key!r}: sample_rate={rate!r} must be a positive int (Hz)")
        rate = rate.__index__()
        if not 0 < rate <= _MAX_RATE:
            raise InvalidValueError(
                f"metric {key!r}: sample_rate={rate} must be between 1 and {_MAX_RATE} Hz"
            )
        samples = _to_int16(key, as_array(key, self.data, "audio"))
        frames = samples.shape[0]
        channels = 1 if samples.ndim == 1 else samples.shape[1]
        import wave

        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(channels)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(samples.astype("<i2").tobytes())  # C order: frames interleaved
        fields = {"sample_rate": rate, "channels": channels, "frames": frames, "duration": frames / rate}
        return self._finish(key, fields, buf.getvalue(), "wav")


def _to_int16(key: str, arr: Any) -> Any:
    np = sys.modules["numpy"]
    if (
        arr.ndim not in (1, 2)
        or arr.shape[0] == 0
        or (arr.ndim == 2 and not 0 < arr.shape[1] <= _MAX_CHANNELS)
    ):
        raise InvalidValueError(
            f"metric {key!r}: audio of shape {arr.shape} is not (frames,) or (frames, channels) with "
            f"1-{_MAX_CHANNELS} channels and at least one frame (transpose a (channels, frames) array)"
        )
    if arr.dtype == np.int16:
        return np.ascontiguousarray(arr)
    if arr.dtype.kind != "f":
        raise InvalidValueError(f"metric {key!r}: audio samples of dtype {arr.dtype} are not int16 or float")
    if not np.isfinite(arr).all():
        raise InvalidValueError(f"metric {key!r}: audio samples hold NaN or infinite values")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -1.0 or hi > 1.0:
        raise InvalidValueError(
            f"metric {key!r}: float audio samples must lie in [-1, 1]; they span [{lo:g}, {hi:g}]"
        )
    return np.ascontiguousarray(np.rint(arr.astype(np.float64) * 32767.0).astype(np.int16))

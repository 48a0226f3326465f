"""Video: frames (a NumPy array) encoded as an animated GIF with Pillow, or a video file.

Frames are (T, H, W), (T, H, W, C) or (T, C, H, W) with C in 1, 3 or 4, converted to
uint8 as Image converts pixels; an alpha channel is dropped (GIF has none worth the
name). GIF holds at most 256 colours per frame: frames with more are quantised.
Pillow merges consecutive identical frames into one longer frame. A file (mp4, webm,
gif, ogg) is stored as it is, without ffmpeg.
"""

from __future__ import annotations

import io
import math
import os
import sys
from typing import Any

from ..errors import InvalidValueError
from ._base import Media, Prepared, as_array, read_file, require
from ._image import to_pixels

__all__ = ["Video"]

_FILE_TYPES = frozenset({"mp4", "webm", "gif", "ogg", "ogv"})
_MAX_FPS = 100  # a GIF frame lasts a whole number of hundredths of a second


class Video(Media):
    """A short video: frames (T, H, W[, C]) or (T, C, H, W), uint8 or float in [0, 1],
    encoded as an animated GIF; or the path of a video file (mp4, webm, gif, ogg).

    Args:
        data: the frames, or a path (str or PathLike).
        fps: frames per second of the GIF, more than 0 and at most 100.
        caption: a short text shown with the video.

    Logging frames needs Pillow and NumPy (``pip install 'swanlog[media]'``).
    """

    kind = "video"

    def __init__(self, data: Any, fps: float = 4, caption: str | None = None) -> None:
        super().__init__(caption)
        self.data = data
        self.fps = fps

    def _prepare(self, key: str) -> Prepared:
        if isinstance(self.data, (str, os.PathLike)):
            path, raw = read_file(key, self.data, "video")
            ext = path.suffix[1:].lower()
            if ext not in _FILE_TYPES:
                raise InvalidValueError(
                    f"metric {key!r}: video file {str(path)!r} is not one of {', '.join(sorted(_FILE_TYPES))}"
                )
            return self._finish(key, {}, raw, ext)
        fps = self.fps
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= _MAX_FPS:
            raise InvalidValueError(
                f"metric {key!r}: fps={fps!r} must be a number above 0 and at most {_MAX_FPS}"
            )
        pil = require(key, "PIL.Image", "swanlog.Video")
        arr = as_array(key, self.data, "video frames")
        if arr.ndim == 4:
            if arr.shape[-1] not in (1, 3, 4) and arr.shape[1] in (1, 3, 4):
                arr = arr.transpose(0, 2, 3, 1)  # TCHW -> THWC
            if arr.shape[-1] not in (1, 3, 4):
                raise InvalidValueError(
                    f"metric {key!r}: video frames of shape {arr.shape} have no channel axis of 1, 3 or 4"
                )
            arr = arr[..., 0] if arr.shape[-1] == 1 else arr[..., :3]
        elif arr.ndim != 3:
            raise InvalidValueError(
                f"metric {key!r}: video frames of shape {arr.shape} are not "
                "(T, H, W), (T, H, W, C) or (T, C, H, W)"
            )
        pixels = sys.modules["numpy"].ascontiguousarray(to_pixels(key, arr, "video frames"))
        frames = [pil.fromarray(f) for f in pixels]
        duration = max(10, int(math.floor(1000.0 / fps / 10.0 + 0.5)) * 10)  # ms, in GIF's 10 ms steps
        buf = io.BytesIO()
        frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=duration, loop=0)
        height, width = pixels.shape[1], pixels.shape[2]
        fields = {"frames": len(frames), "width": width, "height": height, "fps": fps}
        return self._finish(key, fields, buf.getvalue(), "gif")

"""Image: a NumPy array (HW, HWC, CHW), a PIL image or an image file, stored as a file.

Arrays and PIL images are encoded as PNG (lossless); a file is stored as it is, after
Pillow has recognised it as an image. Pixel values: uint8 as they are, floats in [0, 1]
times 255 rounded to the nearest integer, other integers when they lie in 0..255,
bools as 0 and 255.
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any

from ..errors import InvalidValueError
from ._base import Media, Prepared, as_array, read_file, require

__all__ = ["Image", "to_pixels"]

_EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "TIFF": "tiff"}  # Pillow's format -> file extension
_PNG_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I;16"})  # what Pillow saves as PNG


def to_pixels(key: str, arr: Any, what: str) -> Any:
    """``arr`` as uint8 pixels, converted as the module docstring says, or refused naming ``key``."""
    np = sys.modules["numpy"]  # as_array imported it
    if arr.size == 0:
        raise InvalidValueError(f"metric {key!r}: {what} of shape {arr.shape} is empty")
    kind = arr.dtype.kind
    if kind == "u" and arr.dtype.itemsize == 1:
        return arr
    if kind == "b":
        return arr.astype(np.uint8) * np.uint8(255)
    if kind == "f":
        if not np.isfinite(arr).all():
            raise InvalidValueError(f"metric {key!r}: {what} holds NaN or infinite values")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            raise InvalidValueError(
                f"metric {key!r}: float {what} must lie in [0, 1]; its values span [{lo:g}, {hi:g}] "
                "(scale it, or pass uint8)"
            )
        return np.rint(arr.astype(np.float64) * 255.0).astype(np.uint8)
    if kind in "iu":
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise InvalidValueError(
                f"metric {key!r}: integer {what} must lie in 0..255; its values span {lo}..{hi}"
            )
        return arr.astype(np.uint8)
    raise InvalidValueError(f"metric {key!r}: {what} of dtype {arr.dtype} is not uint8, float, int or bool")


def channels_last(key: str, arr: Any, what: str) -> Any:
    """An HW, HWC or CHW array as HW (grey) or HWC with 3 (RGB) or 4 (RGBA) channels."""
    if arr.ndim == 3:
        if arr.shape[-1] not in (1, 3, 4) and arr.shape[0] in (1, 3, 4):
            arr = arr.transpose(1, 2, 0)  # CHW, as PyTorch gives it
        if arr.shape[-1] == 1:
            arr = arr[..., 0]
        elif arr.shape[-1] not in (3, 4):
            raise InvalidValueError(
                f"metric {key!r}: {what} of shape {arr.shape} has no channel axis of 1, 3 or 4 "
                "(expected HW, HWC or CHW)"
            )
    elif arr.ndim != 2:
        raise InvalidValueError(f"metric {key!r}: {what} of shape {arr.shape} is not HW, HWC or CHW")
    return arr


def _encode_png(key: str, pil_image: Any) -> bytes:
    buf = io.BytesIO()
    try:
        pil_image.save(buf, format="PNG")
    except (OSError, ValueError) as exc:  # a mode or size PNG cannot hold
        raise InvalidValueError(f"metric {key!r}: the image cannot be encoded as PNG ({exc})") from None
    return buf.getvalue()


class Image(Media):
    """An image: a NumPy array or tensor (HW, HWC or CHW; uint8, or float in [0, 1]), a PIL
    image, or the path of an image file.

    Args:
        data: the pixels, a ``PIL.Image.Image``, or a path (str or PathLike).
        caption: a short text shown with the image.

    Logging one needs Pillow and NumPy (``pip install 'swanlog[media]'``).
    """

    kind = "image"

    def __init__(self, data: Any, caption: str | None = None) -> None:
        super().__init__(caption)
        self.data = data

    def _prepare(self, key: str) -> Prepared:
        pil = require(key, "PIL.Image", "swanlog.Image")
        data = self.data
        if isinstance(data, (str, os.PathLike)):
            path, raw = read_file(key, data, "image")
            try:
                with pil.open(io.BytesIO(raw)) as im:
                    fmt, (width, height) = im.format, im.size
            except (OSError, SyntaxError, ValueError) as exc:  # UnidentifiedImageError is an OSError
                raise InvalidValueError(
                    f"metric {key!r}: {str(path)!r} is not an image Pillow can read ({exc})"
                ) from None
            ext = _EXTENSIONS.get(fmt, str(fmt).lower())
            return self._finish(key, {"width": width, "height": height}, raw, ext)
        if isinstance(data, pil.Image):
            im = data if data.mode in _PNG_MODES else data.convert("RGBA" if "A" in data.mode else "RGB")
        else:
            arr = channels_last(key, as_array(key, data, "image"), "image")
            im = pil.fromarray(sys.modules["numpy"].ascontiguousarray(to_pixels(key, arr, "image")))
        width, height = im.size
        if width == 0 or height == 0:
            raise InvalidValueError(f"metric {key!r}: image of size {width}x{height} is empty")
        return self._finish(key, {"width": width, "height": height}, _encode_png(key, im), "png")

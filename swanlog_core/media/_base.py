"""What every media type shares: the Media base class and the Prepared value it becomes.

A media object only holds what the user gave it; nothing is imported, checked or
encoded until ``log()`` prepares it for a metric (so ``mode="disabled"`` costs nothing
and every error names the metric). Preparing gives a ``Prepared``: the description
fields of the metric line and, for the kinds stored as files, the payload bytes.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path
from typing import Any, ClassVar

import orjson

from ..errors import InvalidValueError, MissingExtraError

__all__ = ["EXTRA", "Media", "Prepared", "as_array", "check_caption", "read_file", "require"]

EXTRA = "pip install 'swanlog[media]'"
_MAX_CAPTION = 4096  # characters: a caption is a label, not a document


class Prepared:
    """A media value checked and encoded for one metric, ready for the writer.

    ``fields`` are the line's description fields after ``_type`` (and after path,
    sha256, size and format when there is a payload); ``payload`` is None for the kinds
    held inline in the line.
    """

    __slots__ = ("kind", "fields", "payload", "ext", "digest")

    def __init__(
        self, kind: str, fields: dict[str, Any], payload: bytes | None = None, ext: str = ""
    ) -> None:
        self.kind = kind
        self.fields = fields
        self.payload = payload
        self.ext = ext
        self.digest = hashlib.sha256(payload).hexdigest() if payload is not None else ""

    def __repr__(self) -> str:
        return f"<Prepared {self.kind} {self.digest[:12] or 'inline'}>"


class Media:
    """Base class of the media values ``log()`` accepts: Image, Audio, Video, Text, Html,
    Histogram and Table."""

    kind: ClassVar[str] = ""

    def __init__(self, caption: str | None = None) -> None:
        self.caption = caption

    def _prepare(self, key: str) -> Prepared:
        """Check and encode this value for metric ``key``; raise InvalidValueError naming it."""
        raise NotImplementedError

    def _finish(
        self, key: str, fields: dict[str, Any], payload: bytes | None = None, ext: str = ""
    ) -> Prepared:
        """Add the caption, and prove the description encodes as JSON before any write."""
        caption = check_caption(key, self.caption)
        if caption is not None:
            fields["caption"] = caption
        try:
            orjson.dumps(fields)
        except orjson.JSONEncodeError as exc:
            raise InvalidValueError(
                f"metric {key!r}: this {self.kind} cannot be stored as JSON ({exc})"
            ) from None
        return Prepared(self.kind, fields, payload, ext)

    def __repr__(self) -> str:
        caption = f" caption={self.caption!r}" if self.caption is not None else ""
        return f"<swanlog {type(self).__name__}{caption}>"


def check_caption(key: str, caption: Any) -> str | None:
    """The caption as a str (or None), refused when it is not text or is too long."""
    if caption is None:
        return None
    if not isinstance(caption, str):
        raise InvalidValueError(f"metric {key!r}: caption must be a str, not {type(caption).__name__}")
    if len(caption) > _MAX_CAPTION:
        raise InvalidValueError(
            f"metric {key!r}: caption is {len(caption)} characters, at most {_MAX_CAPTION}"
        )
    return caption


def require(key: str, module: str, what: str) -> Any:
    """Import an optional dependency, or raise MissingExtraError saying which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = {"PIL": "Pillow"}.get(module.split(".")[0], module)
        raise MissingExtraError(f"metric {key!r}: {what} needs {package}; install it with {EXTRA}") from exc


def as_array(key: str, data: Any, what: str) -> Any:
    """``data`` as a NumPy array (PyTorch tensors detached and moved to the CPU first)."""
    np = require(key, "numpy", what)
    if hasattr(data, "detach") and callable(data.detach):  # a PyTorch tensor
        data = data.detach()
        if hasattr(data, "cpu"):
            data = data.cpu()
    try:
        return np.asarray(data)
    except (ValueError, TypeError) as exc:  # ragged nesting, unconvertible objects
        raise InvalidValueError(f"metric {key!r}: {what} cannot be read as an array ({exc})") from None


def read_file(key: str, path: Any, what: str) -> tuple[Path, bytes]:
    """The bytes of the file a media value names, or InvalidValueError saying why not."""
    p = Path(os.fspath(path))
    try:
        return p, p.read_bytes()
    except FileNotFoundError:
        raise InvalidValueError(f"metric {key!r}: {what} file {str(p)!r} does not exist") from None
    except IsADirectoryError:
        raise InvalidValueError(f"metric {key!r}: {what} path {str(p)!r} is a folder, not a file") from None
    except OSError as exc:
        raise InvalidValueError(
            f"metric {key!r}: cannot read {what} file {str(p)!r} ({exc.strerror})"
        ) from None

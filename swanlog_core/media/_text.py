"""Text: a string held inline in the metric line (no payload file)."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidValueError
from ._base import Media, Prepared

__all__ = ["MAX_TEXT_BYTES", "Text"]

MAX_TEXT_BYTES = 1 << 20  # UTF-8 bytes: a metric line stays small enough to sync in a batch


class Text(Media):
    """A piece of text (a generated sample, a prompt), stored inline in the metric line.

    Args:
        text: the text; at most 1 MiB once UTF-8 encoded.
        caption: a short text shown with it.
    """

    kind = "text"

    def __init__(self, text: Any, caption: str | None = None) -> None:
        super().__init__(caption)
        self.text = text

    def _prepare(self, key: str) -> Prepared:
        text = self.text
        if not isinstance(text, str):
            raise InvalidValueError(f"metric {key!r}: Text takes a str, not {type(text).__name__}")
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidValueError(
                f"metric {key!r}: the text is not valid Unicode (a lone surrogate)"
            ) from None
        if size > MAX_TEXT_BYTES:
            raise InvalidValueError(
                f"metric {key!r}: the text is {size} bytes, at most {MAX_TEXT_BYTES} (use Html for documents)"
            )
        return self._finish(key, {"text": text})

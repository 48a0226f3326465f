"""Html: an HTML document, stored as a ``.html`` payload file."""

from __future__ import annotations

import os
from typing import Any

from ..errors import InvalidValueError
from ._base import Media, Prepared, read_file

__all__ = ["Html"]


class Html(Media):
    """An HTML document: a str of HTML, or the path (PathLike) of an .html file.

    Args:
        data: the HTML text (str), or a ``pathlib.Path`` to a file holding it.
        caption: a short text shown with it.
    """

    kind = "html"

    def __init__(self, data: Any, caption: str | None = None) -> None:
        super().__init__(caption)
        self.data = data

    def _prepare(self, key: str) -> Prepared:
        data = self.data
        if isinstance(data, os.PathLike):
            _, raw = read_file(key, data, "HTML")
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidValueError(
                    f"metric {key!r}: HTML file {os.fspath(data)!r} is not UTF-8"
                ) from None
        elif isinstance(data, str):
            try:
                raw = data.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidValueError(
                    f"metric {key!r}: the HTML is not valid Unicode (a lone surrogate)"
                ) from None
        else:
            raise InvalidValueError(f"metric {key!r}: Html takes a str or a path, not {type(data).__name__}")
        return self._finish(key, {}, raw, "html")

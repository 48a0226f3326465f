"""Table: named columns and rows of plain cells, stored as a ``.json`` payload file.

The payload is ``{"columns": [...], "data": [[row], ...]}``. Cells are strings,
numbers, booleans or null; NumPy scalars become plain numbers, dates and times their
ISO 8601 text, pandas' missing values null, and non-finite floats the strings "NaN",
"Infinity" and "-Infinity" as in metric lines.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any, Iterable

import orjson

from ..errors import InvalidValueError
from ._base import Media, Prepared

__all__ = ["Table"]

_PLAIN = (str, int, bool, type(None))
_MISSING = frozenset({"NAType", "NaTType"})  # pandas.NA, pandas.NaT


def _cell(key: str, row: int, column: str, v: Any) -> Any:
    t = type(v)
    if t is float:
        return v if math.isfinite(v) else ("NaN" if v != v else ("Infinity" if v > 0 else "-Infinity"))
    if t in _PLAIN:
        return v
    if t.__name__ in _MISSING:
        return None
    if isinstance(v, (_dt.date, _dt.time)):  # datetime and pandas.Timestamp too
        return v.isoformat()
    if getattr(v, "ndim", None) == 0 and hasattr(v, "item"):  # NumPy scalar, 0-d tensor
        return _cell(key, row, column, v.item())
    if isinstance(v, str):  # subclasses: str enums and the like
        return str(v)
    if isinstance(v, float):
        return _cell(key, row, column, float(v))
    if isinstance(v, int):  # IntEnum and the like
        return int(v)
    raise InvalidValueError(
        f"metric {key!r}: table cell in row {row}, column {column!r} is a {t.__name__}; "
        "cells must be str, int, float, bool or None"
    )


def _is_dataframe(data: Any) -> bool:
    return hasattr(data, "columns") and hasattr(data, "itertuples")


class Table(Media):
    """A table: ``Table(columns=[...], data=[[...], ...])`` or ``Table(dataframe=df)``.

    Args:
        columns: the column names.
        data: the rows, each a sequence with one cell per column (or a pandas DataFrame).
        dataframe: a pandas DataFrame, instead of columns and data.
        caption: a short text shown with it.
    """

    kind = "table"

    def __init__(
        self,
        columns: Iterable[str] | None = None,
        data: Any = None,
        dataframe: Any = None,
        caption: str | None = None,
    ) -> None:
        super().__init__(caption)
        self.columns = columns
        self.data = data
        self.dataframe = dataframe

    def _prepare(self, key: str) -> Prepared:
        frame = self.dataframe if self.dataframe is not None else self.data
        if _is_dataframe(frame):
            columns = [str(c) for c in frame.columns]
            rows: Iterable[Any] = frame.itertuples(index=False, name=None)
        else:
            if self.columns is None or isinstance(self.columns, str):
                raise InvalidValueError(f"metric {key!r}: Table needs columns=[names] (or dataframe=)")
            columns = list(self.columns)
            for c in columns:
                if not isinstance(c, str):
                    raise InvalidValueError(f"metric {key!r}: column name {c!r} is not a str")
            rows = [] if self.data is None else self.data
        width = len(columns)
        out = []
        try:
            for i, row in enumerate(rows):
                if isinstance(row, (str, bytes)):
                    raise InvalidValueError(
                        f"metric {key!r}: table row {i} is a {type(row).__name__}, not a row"
                    )
                cells = list(row)
                if len(cells) != width:
                    raise InvalidValueError(
                        f"metric {key!r}: table row {i} has {len(cells)} cells for {width} columns"
                    )
                out.append([_cell(key, i, columns[j], v) for j, v in enumerate(cells)])
        except TypeError:
            raise InvalidValueError(f"metric {key!r}: table data must be a list of rows") from None
        try:
            payload = orjson.dumps({"columns": columns, "data": out}, option=orjson.OPT_APPEND_NEWLINE)
        except orjson.JSONEncodeError as exc:
            raise InvalidValueError(f"metric {key!r}: the table cannot be stored as JSON ({exc})") from None
        return self._finish(key, {"columns": columns, "rows": len(out)}, payload, "json")

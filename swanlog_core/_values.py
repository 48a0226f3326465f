"""User values -> numbers a point line can hold.

The hot path in ``_writer`` handles ``float`` and ``int`` itself; everything else comes
here (``to_value``): bool, NumPy and PyTorch 0-d scalars (duck-typed, so neither is
imported), numeric strings, and other real numbers. NaN and infinities are kept. Media
objects, and lists, tuples and arrays of numbers (as histograms), become ``Prepared``
media values.
"""

from __future__ import annotations

import numbers
from typing import Any, Mapping

from .errors import InvalidValueError
from .media import Histogram, Media
from .media._base import Prepared

__all__ = ["flatten", "to_number", "to_step", "to_value", "INT64_MIN", "INT64_MAX"]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # JSON readers (orjson, jq) hold int64 exactly


def to_value(key: str, value: Any) -> float | int | Prepared:
    """Convert one logged value to a number, or a media value to its ``Prepared`` form.

    A media object is checked and encoded here; a list or tuple, or an array or tensor
    of one or more dimensions, is logged as ``Histogram(value)``.
    """
    if isinstance(value, Media):
        return value._prepare(key)
    t = type(value)
    if t is Prepared:  # staged by commit=False, prepared then
        return value
    if t is list or t is tuple or (getattr(value, "ndim", 0) or 0) >= 1:
        return Histogram(value)._prepare(key)
    return to_number(key, value)


def to_number(key: str, value: Any) -> float | int:
    """Convert one logged value to an int or float, or raise naming the key and why."""
    t = type(value)
    if t is bool:
        return int(value)
    if t is int:
        return value if INT64_MIN <= value <= INT64_MAX else _to_float(key, value)
    if t is float:
        return value
    if t is str:
        try:
            return float(value)
        except ValueError:
            raise InvalidValueError(f"metric {key!r}: the string {value[:50]!r} is not a number") from None
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        # NumPy scalars and 0-d arrays, PyTorch/JAX 0-d tensors: .item() gives a Python number
        item = value.item()
        if type(item) in (bool, int, float):
            return to_number(key, item)
        raise InvalidValueError(
            f"metric {key!r}: a 0-d value of type {type(item).__name__} is not a real number"
        )
    if isinstance(value, numbers.Real):  # Fraction, Decimal-likes, numpy bool
        return _to_float(key, value)
    if getattr(value, "ndim", None) is not None:
        shape = tuple(getattr(value, "shape", ()))
        raise InvalidValueError(
            f"metric {key!r}: an array of shape {shape} is not a scalar; log value.item() or one element"
        )
    raise InvalidValueError(
        f"metric {key!r}: values of type {t.__name__} cannot be logged (use a number, a "
        "numeric string, or a 0-d NumPy/PyTorch scalar)"
    )


def _to_float(key: str, value: Any) -> float:
    try:
        return float(value)
    except OverflowError:
        raise InvalidValueError(
            f"metric {key!r}: a {type(value).__name__} too large for a float (beyond 1.8e308)"
        ) from None


def to_step(step: Any) -> int:
    """Validate an explicit ``step=``: a non-negative integer (NumPy ints included)."""
    if type(step) is int and 0 <= step <= INT64_MAX:
        return step
    if isinstance(step, bool) or isinstance(step, float):
        raise InvalidValueError(f"step={step!r}: must be a non-negative int")
    try:
        n = step.__index__()
    except (AttributeError, TypeError):
        raise InvalidValueError(f"step={step!r}: must be a non-negative int") from None
    if n < 0 or n > INT64_MAX:
        raise InvalidValueError(f"step={step!r}: must be a non-negative int64")
    return n


def flatten(data: Mapping[Any, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"loss": 1}}`` -> ``{"train/loss": 1}``; keys must be strings."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise InvalidValueError(f"metric name {key!r}: must be a str, not {type(key).__name__}")
        name = prefix + key
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "/"))
        else:
            out[name] = value
    return out

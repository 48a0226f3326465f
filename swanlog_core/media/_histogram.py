"""Histogram: bin edges and counts held inline in the metric line (no payload file).

Values are binned with ``numpy.histogram(values, bins=num_bins)``: equal-width bins
between the smallest and largest finite value. NaN and infinities are not binned;
their number is kept as ``nonfinite``. A plain list, tuple or array of numbers given
to ``log()`` becomes ``Histogram(value)``.
"""

from __future__ import annotations

import sys
from typing import Any

from ..errors import InvalidValueError
from ._base import Media, Prepared, as_array

__all__ = ["DEFAULT_BINS", "MAX_BINS", "Histogram"]

DEFAULT_BINS = 64
MAX_BINS = 512


def _describe(value: Any, arr: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is None:
        shape = arr.shape
    return f"a {type(value).__name__} of shape {tuple(shape)}"


class Histogram(Media):
    """The distribution of many numbers (weights, gradients, predictions), as bins and counts.

    Args:
        sequence: numbers of any shape (list, tuple, NumPy array, tensor); flattened.
        num_bins: the number of equal-width bins, 1 to 512.
        np_histogram: instead of ``sequence``, a ``(counts, bin_edges)`` pair as
            ``numpy.histogram`` returns it.
        caption: a short text shown with it.

    Logging one needs NumPy (``pip install 'swanlog[media]'``).
    """

    kind = "histogram"

    def __init__(
        self,
        sequence: Any = None,
        num_bins: int = DEFAULT_BINS,
        np_histogram: Any = None,
        caption: str | None = None,
    ) -> None:
        super().__init__(caption)
        self.sequence = sequence
        self.num_bins = num_bins
        self.np_histogram = np_histogram

    def _prepare(self, key: str) -> Prepared:
        if self.np_histogram is not None:
            return self._from_np_histogram(key)
        bins = self.num_bins
        if type(bins) is not int or not 1 <= bins <= MAX_BINS:
            raise InvalidValueError(f"metric {key!r}: num_bins={bins!r} must be an int from 1 to {MAX_BINS}")
        value = self.sequence
        if value is None:
            raise InvalidValueError(f"metric {key!r}: Histogram needs a sequence of numbers or np_histogram")
        arr = as_array(key, value, "the histogram's values")
        np = sys.modules["numpy"]
        if arr.dtype.kind not in "biuf":
            if arr.dtype.kind == "O" and any(isinstance(v, Media) for v in arr.ravel()):
                raise InvalidValueError(
                    f"metric {key!r}: a list of media values cannot be logged as one value; "
                    "log each under its own key"
                )
            raise InvalidValueError(
                f"metric {key!r}: {_describe(value, arr)} (dtype {arr.dtype}) is not an array of real numbers"
            )
        if arr.size == 0:
            raise InvalidValueError(
                f"metric {key!r}: {_describe(value, arr)} is empty; a histogram needs values"
            )
        arr = arr.ravel()
        if arr.dtype.kind == "b":
            arr = arr.astype(np.int8)
        nonfinite = 0
        if arr.dtype.kind == "f":
            finite = np.isfinite(arr)
            nonfinite = int(arr.size - np.count_nonzero(finite))
            if nonfinite:
                arr = arr[finite]
                if arr.size == 0:
                    raise InvalidValueError(f"metric {key!r}: the histogram's values are all NaN or infinite")
        counts, edges = np.histogram(arr, bins=bins)
        fields: dict[str, Any] = {"bins": edges.tolist(), "counts": counts.tolist()}
        if nonfinite:
            fields["nonfinite"] = nonfinite
        return self._finish(key, fields)

    def _from_np_histogram(self, key: str) -> Prepared:
        try:
            counts, edges = self.np_histogram
        except (TypeError, ValueError):
            raise InvalidValueError(
                f"metric {key!r}: np_histogram must be a (counts, bin_edges) pair"
            ) from None
        counts = as_array(key, counts, "np_histogram counts")
        edges = as_array(key, edges, "np_histogram bin edges")
        np = sys.modules["numpy"]
        n = counts.size
        if (
            counts.ndim != 1
            or edges.ndim != 1
            or not 1 <= n <= MAX_BINS
            or edges.size != n + 1
            or counts.dtype.kind not in "iuf"
            or edges.dtype.kind not in "iuf"
        ):
            raise InvalidValueError(
                f"metric {key!r}: np_histogram needs 1 to {MAX_BINS} numeric counts and one more bin edge "
                f"(got shapes {counts.shape} and {edges.shape})"
            )
        if not (np.isfinite(edges).all() and np.isfinite(counts).all()):
            raise InvalidValueError(f"metric {key!r}: np_histogram holds NaN or infinite values")
        if (np.diff(edges) < 0).any() or (counts < 0).any():
            raise InvalidValueError(f"metric {key!r}: np_histogram edges must increase and counts be >= 0")
        return self._finish(key, {"bins": edges.astype(np.float64).tolist(), "counts": counts.tolist()})

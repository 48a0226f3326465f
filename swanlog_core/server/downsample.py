"""Downsampling a metric for a chart: which points to keep so that the line keeps its shape.

``pick(values, max_points)`` is the whole algorithm, a pure function over a metric's
values in step order; the stores call it on the cheapest column they can read
(``ReadStore.downsample_points``) and fetch only the rows it picks.

The points are split by position into ``B = max_points // 2`` buckets of equal count
(position ``i`` of ``n`` is in bucket ``i * B // n``; sizes differ by at most one). From
each bucket it keeps:

- the point with the smallest finite number and the one with the largest (the first of
  equal values; once when they are the same point), so spikes survive;
- the first point of each non-finite value ("NaN", "Infinity", "-Infinity"), so a
  divergence stays visible;
- the first point whose value is not a number at all (a media description);

and it always keeps the very last point of the series. With only finite numbers it keeps
at most ``2 * B + 1 <= max_points + 1`` points; each point that is not a finite number
can add at most one more (and at most four per bucket).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

__all__ = ["MAX_POINTS", "MIN_POINTS", "all_finite", "pick"]

MIN_POINTS = 2  # the smallest max_points: one bucket, its extremes and the last point
MAX_POINTS = 20_000

_NUMBER = frozenset((int, float))
_NONFINITE = frozenset(("NaN", "Infinity", "-Infinity"))


def all_finite(values: Sequence[Any]) -> bool:
    """True when every value is an int or a finite float, decided at C speed."""
    if not set(map(type, values)) <= _NUMBER:
        return False
    try:
        return math.isfinite(math.fsum(values))  # a NaN or an infinity makes the sum non-finite
    except ValueError:  # both infinities
        return False
    except OverflowError:  # finite values whose sum overflows, or an int too large for a float
        return all(type(v) is int or math.isfinite(v) for v in values)


def _marker(value: Any) -> str | None:
    """The bucket-level identity of a value that is not a finite number: its non-finite
    spelling, or None for anything that is not a number (media)."""
    if type(value) is float:
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if type(value) is str and value in _NONFINITE:
        return value
    return None


def _mixed_bucket(values: Sequence[Any], start: int, end: int) -> list[int]:
    """The picks of one bucket holding some value that is not a finite number (slow path)."""
    lo_i = hi_i = -1
    lo = hi = 0.0
    firsts: dict[str | None, int] = {}
    for i in range(start, end):
        v = values[i]
        t = type(v)
        if t is int or (t is float and v - v == 0):  # v - v is NaN for NaN and the infinities
            if lo_i < 0 or v < lo:
                lo, lo_i = v, i
            if hi_i < 0 or v > hi:
                hi, hi_i = v, i
        else:
            firsts.setdefault(_marker(v), i)
    picks = set(firsts.values())
    if lo_i >= 0:
        picks.update((lo_i, hi_i))
    return sorted(picks)


def pick(values: Sequence[Any], max_points: int) -> list[int]:
    """The positions of the points to keep, ascending (see the module docstring).

    Args:
        values: a metric's values in step order: numbers (finite or not), the spellings
            "NaN", "Infinity", "-Infinity", or anything else (a media description).
        max_points: about how many points to keep, at least 2.

    Returns:
        Every position when there are at most ``max_points`` values; else the picked ones.

    Raises:
        ValueError: ``max_points`` is below 2.
    """
    if max_points < MIN_POINTS:
        raise ValueError(f"max_points must be at least {MIN_POINTS}, not {max_points}")
    n = len(values)
    if n <= max_points:
        return list(range(n))
    buckets = max_points // 2
    # Bucket k holds positions ceil(k*n/B) .. ceil((k+1)*n/B) - 1, i.e. i*B//n == k.
    bounds = [-(-k * n // buckets) for k in range(buckets + 1)]
    fast = all_finite(values)
    out: list[int] = []
    for k in range(buckets):
        start, end = bounds[k], bounds[k + 1]
        chunk = values[start:end]
        if fast or all_finite(chunk):
            lo = start + chunk.index(min(chunk))
            hi = start + chunk.index(max(chunk))
            if lo == hi:
                out.append(lo)
            else:
                out += (lo, hi) if lo < hi else (hi, lo)
        else:
            out += _mixed_bucket(values, start, end)
    if out[-1] != n - 1:
        out.append(n - 1)
    return out

"""The run summary: one plain value per key, computed from metrics unless the user sets it.

Per metric the summary holds the value at its largest step, or what ``define_metric``
asked for: min, max, mean, best (min or max by objective), or nothing ("none").
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator, Mapping, MutableMapping

from . import _format
from ._names import name_to_path
from .errors import InvalidValueError

__all__ = ["SUMMARY_MODES", "Summary", "make_reducer"]

SUMMARY_MODES = ("min", "max", "mean", "best", "last", "none")
_ARRAY_INLINE = 32  # arrays up to this many elements stay in summary.json itself


class _Min:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: Any = None

    def add(self, v: float) -> None:
        # NaN never wins; a media description (a dict) is not a number and is skipped
        if v == v and type(v) is not dict and (self.value is None or v < self.value):
            self.value = v


class _Max(_Min):
    __slots__ = ()

    def add(self, v: float) -> None:
        if v == v and type(v) is not dict and (self.value is None or v > self.value):
            self.value = v


class _Mean:
    __slots__ = ("total", "count")

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0

    def add(self, v: float) -> None:
        if v == v and type(v) is not dict:
            self.total += v
            self.count += 1

    @property
    def value(self) -> Any:
        return self.total / self.count if self.count else None


class _Nothing:
    """Summary mode "none": the metric has no summary entry."""

    __slots__ = ()
    value = None

    def add(self, v: float) -> None:
        pass


def make_reducer(summary: str | None, objective: str | None) -> Any:
    """The reducer for a define_metric summary mode; None means "last" (the default)."""
    if summary in (None, "last"):
        return None
    if summary == "best":
        return _Max() if objective == "maximize" else _Min()
    return {"min": _Min, "max": _Max, "mean": _Mean, "none": _Nothing}[summary]()


def _stats(values: list[float]) -> dict[str, Any]:
    finite = sorted(v for v in values if math.isfinite(v))
    if not finite:
        return {"count": len(values)}
    n = len(finite)
    mean = sum(finite) / n

    def pct(q: float) -> float:
        pos = (n - 1) * q
        lo = int(pos)
        hi = min(lo + 1, n - 1)
        return finite[lo] + (finite[hi] - finite[lo]) * (pos - lo)

    return {
        "count": len(values),
        "min": finite[0],
        "max": finite[-1],
        "mean": mean,
        "var": sum((v - mean) ** 2 for v in finite) / n,
        "p5": pct(0.05),
        "p25": pct(0.25),
        "p50": pct(0.5),
        "p75": pct(0.75),
        "p95": pct(0.95),
    }


def _flat_numbers(value: Any) -> list[float] | None:
    if isinstance(value, (list, tuple)):
        out: list[float] = []
        for v in value:
            sub = _flat_numbers(v)
            if sub is None:
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    out.append(float(v))
                else:
                    return None
            else:
                out.extend(sub)
        return out
    return None


class Summary(MutableMapping[str, Any]):
    """``run.summary``: computed per metric, overridden by what the user sets."""

    def __init__(self, run_dir: Any, computed: Callable[[], dict[str, Any]], base: Mapping[str, Any]) -> None:
        self._dir = run_dir
        self._computed = computed
        self._base = dict(base)  # summary.json as found at resume
        self._user: dict[str, Any] = {}
        self.on_change: Callable[[], None] = lambda: None

    def as_dict(self) -> dict[str, Any]:
        """The summary as it is written to summary.json."""
        out = {**self._base, **self._computed(), **self._user}
        return {
            k: _format.encode_value(v) if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in out.items()
        }

    def _plain(self, key: str, value: Any) -> Any:
        # Arrays and tensors: small ones inline, large ones whole in a file beside
        # summary.json with their statistics here.
        if hasattr(value, "tolist") and getattr(value, "ndim", 0) != 0:
            value = value.tolist()
        elif hasattr(value, "item") and getattr(value, "ndim", None) == 0:
            value = value.item()
        numbers = _flat_numbers(value)
        if numbers is None or len(numbers) <= _ARRAY_INLINE or self._dir is None:
            return value
        rel = f"summary/{name_to_path(key)[: -len('.jsonl')]}.json"
        path = self._dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        _format.atomic_write_json(path, value)
        return {"_type": "array", "path": rel, **_stats(numbers)}

    def forget_saved(self, key: str) -> None:
        """Drop the value a resumed run's summary.json held for ``key`` (now computed here)."""
        self._base.pop(key, None)

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, other: Any = (), /, **kwargs: Any) -> None:  # type: ignore[override]
        """Set several keys with one rewrite of summary.json."""
        items = dict(other, **kwargs)
        for key in items:
            if not isinstance(key, str) or not key:
                raise InvalidValueError(f"summary key {key!r}: must be a non-empty str")
        plain = {k: self._plain(k, v) for k, v in items.items()}
        try:
            _format.dumps_json(plain)  # refuse here what summary.json could not hold
        except InvalidValueError as exc:
            raise InvalidValueError(f"summary: {exc}") from exc
        self._user.update(plain)
        self.on_change()

    def __getitem__(self, key: str) -> Any:
        if key in self._user:
            return self._user[key]
        computed = self._computed()
        if key in computed:
            return computed[key]
        return self._base[key]

    def __delitem__(self, key: str) -> None:
        if key not in self._user and key not in self._base:
            raise KeyError(key)
        self._user.pop(key, None)
        self._base.pop(key, None)
        self.on_change()

    def __iter__(self) -> Iterator[str]:
        return iter({**self._base, **self._computed(), **self._user})

    def __len__(self) -> int:
        return len({**self._base, **self._computed(), **self._user})

    def __repr__(self) -> str:
        return f"Summary({self.as_dict()!r})"

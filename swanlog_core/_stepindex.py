"""The first-write-wins index: which steps of one metric hold a value.

Steps are kept as sorted, disjoint arithmetic progressions (first, last, stride), so
the usual runs (0, 1, 2, ... or 0, 10, 20, ...) cost three ints however long they get,
and a step above the largest is accepted in O(1). A write to an earlier free step splits
or extends a progression, found by bisection.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Iterable

__all__ = ["StepIndex"]


class StepIndex:
    """The set of steps a metric holds, compressed as arithmetic progressions."""

    __slots__ = ("firsts", "lasts", "strides", "max", "stride")

    def __init__(self) -> None:
        # Parallel lists, sorted by first; ranges never overlap. stride 0 = one step.
        self.firsts: list[int] = []
        self.lasts: list[int] = []
        self.strides: list[int] = []
        # The last progression's end and stride live in these two attributes, so the
        # writer can extend it inline (``if step - max == stride: max = step``);
        # lasts[-1] is brought up to date by _sync() before any other use.
        self.max = -1  # largest step held; -1 when empty, so max + 1 is the next auto step
        self.stride = 0

    def _sync(self) -> None:
        if self.lasts:
            self.lasts[-1] = self.max

    @classmethod
    def from_steps(cls, steps: list[int]) -> StepIndex:
        """Build the index of the given steps (any order, duplicates allowed)."""
        return cls.from_step_chunks((steps,))

    @classmethod
    def from_step_chunks(cls, chunks: Iterable[list[int]]) -> StepIndex:
        """Build the index of the steps of a file read chunk by chunk (any order, duplicates allowed).

        The usual file (0, 1, 2, ... or any increasing progression) is checked and added a
        chunk at a time while the chunk is fresh in the CPU cache; at the first chunk that
        does not continue the index that way, every step is sorted instead.
        """
        index = cls()
        chunks = iter(chunks)
        for steps in chunks:
            if not index._extend_progression(steps):
                rest = [*index, *steps]
                for more in chunks:
                    rest += more
                index = cls()
                for step in sorted(set(rest)):
                    index.append(step)
                break
        return index

    def extend(self, steps: list[int]) -> None:
        """Record the steps not held yet among ``steps`` (any order, duplicates allowed)."""
        if not self._extend_progression(steps):
            for step in steps:
                if step not in self:
                    self.add(step)

    def _extend_progression(self, steps: list[int]) -> bool:
        """Append ``steps`` if they are an increasing progression above every step held.

        Returns False, with nothing changed, for any other list. The check builds the
        expected list in C; appending the first three steps leaves the last progression
        with the list's stride, so the rest is one assignment.
        """
        n = len(steps)
        if not n:
            return True
        first, last = steps[0], steps[-1]
        if first <= self.max:
            return False
        if n > 1:
            stride = steps[1] - first
            if stride <= 0 or last != first + (n - 1) * stride:
                return False
            if steps != list(range(first, last + 1, stride)):
                return False
        for step in steps[:3]:
            self.append(step)
        self.max = last
        return True

    def append(self, step: int) -> None:
        """Record a step larger than every step held."""
        if not self.strides:
            self._append_segment(step, step, 0)
        elif self.stride == 0:
            self.stride = self.strides[-1] = step - self.max
            self.max = step
        elif step == self.max + self.stride:
            self.max = step
        else:
            self._append_segment(step, step, 0)

    def _append_segment(self, first: int, last: int, stride: int) -> None:
        self._sync()
        self.firsts.append(first)
        self.lasts.append(last)
        self.strides.append(stride)
        self.max = last
        self.stride = stride

    def __contains__(self, step: int) -> bool:
        if step > self.max:
            return False
        self._sync()
        i = bisect_right(self.firsts, step) - 1
        if i < 0 or step > self.lasts[i]:
            return False
        stride = self.strides[i]
        return step == self.firsts[i] if stride == 0 else (step - self.firsts[i]) % stride == 0

    def add(self, step: int) -> None:
        """Record a step that is not held yet, at any position."""
        if step > self.max:
            self.append(step)
            return
        self._insert(step)
        self.max, self.stride = self.lasts[-1], self.strides[-1]

    def _insert(self, step: int) -> None:
        self._sync()
        firsts, lasts, strides = self.firsts, self.lasts, self.strides
        i = bisect_right(firsts, step) - 1
        if i >= 0 and step < lasts[i]:
            # Inside progression i, between two of its steps: split it around the new one.
            first, last, stride = firsts[i], lasts[i], strides[i]
            k = (step - first) // stride
            left_last, right_first = first + k * stride, first + (k + 1) * stride
            firsts[i : i + 1] = [first, step, right_first]
            lasts[i : i + 1] = [left_last, step, last]
            strides[i : i + 1] = [
                stride if left_last > first else 0,
                0,
                stride if last > right_first else 0,
            ]
            return
        # Between progression i (or the start) and progression i + 1: extend one or insert.
        if i >= 0 and (strides[i] == 0 or step == lasts[i] + strides[i]):
            strides[i] = step - lasts[i]
            lasts[i] = step
            return
        j = i + 1
        if j < len(firsts) and (strides[j] == 0 or step == firsts[j] - strides[j]):
            strides[j] = firsts[j] - step if strides[j] == 0 else strides[j]
            firsts[j] = step
            return
        firsts.insert(j, step)
        lasts.insert(j, step)
        strides.insert(j, 0)

    def __len__(self) -> int:
        self._sync()
        return sum(
            1 if d == 0 else (b - a) // d + 1 for a, b, d in zip(self.firsts, self.lasts, self.strides)
        )

    def __iter__(self) -> Iterable[int]:
        self._sync()
        for a, b, d in zip(self.firsts, self.lasts, self.strides):
            yield from (range(a, b + 1, d) if d else (a,))

    def to_json(self) -> list[list[int]]:
        """The progressions as [[first, last, stride], ...] for the index cache."""
        self._sync()
        return [list(t) for t in zip(self.firsts, self.lasts, self.strides)]

    @classmethod
    def from_json(cls, segments: list[list[int]]) -> StepIndex:
        """Inverse of to_json; raises ValueError on a malformed cache."""
        index = cls()
        prev = -1
        for seg in segments:
            first, last, stride = (int(x) for x in seg)
            if first <= prev or last < first or stride < 0 or (stride == 0) != (first == last):
                raise ValueError("malformed step index segment")
            if stride and (last - first) % stride:
                raise ValueError("malformed step index segment")
            index._append_segment(first, last, stride)
            prev = last
        return index

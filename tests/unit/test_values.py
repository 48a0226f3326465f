"""User values -> numbers a metric line holds: what is accepted, what it becomes, what is refused."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from swanlog_core import InvalidValueError
from swanlog_core._values import flatten, to_number, to_step, to_value
from swanlog_core.media._base import Prepared


class FakeTensor:
    """A stand-in for a 0-d PyTorch tensor (torch is not installed): ``ndim`` and ``item()`` only."""

    ndim = 0

    def __init__(self, value: Any) -> None:
        self._value = value

    def item(self) -> Any:
        return self._value


class FakeTensor1d:
    """A stand-in for a 1-d PyTorch tensor: ``ndim``, ``shape`` and no scalar ``item()``."""

    ndim = 1
    shape = (3,)


ACCEPTED = [
    pytest.param(3, 3, id="int"),
    pytest.param(-7, -7, id="negative-int"),
    pytest.param(0.25, 0.25, id="float"),
    pytest.param(True, 1, id="bool-true"),
    pytest.param(False, 0, id="bool-false"),
    pytest.param("0.5", 0.5, id="numeric-string"),
    pytest.param(" 1e-3 ", 1e-3, id="numeric-string-with-spaces"),
    pytest.param("-inf", -math.inf, id="string-minus-inf"),
    pytest.param("nan", math.nan, id="string-nan"),
    pytest.param(math.nan, math.nan, id="nan"),
    pytest.param(math.inf, math.inf, id="inf"),
    pytest.param(-math.inf, -math.inf, id="minus-inf"),
    pytest.param(2**63 - 1, 2**63 - 1, id="int64-max-stays-int"),
    pytest.param(-(2**63), -(2**63), id="int64-min-stays-int"),
    pytest.param(2**70, float(2**70), id="huge-int-becomes-float"),
    pytest.param(-(2**70), -float(2**70), id="huge-negative-int-becomes-float"),
    pytest.param(np.float32(0.5), 0.5, id="numpy-float32"),
    pytest.param(np.float64(0.1), 0.1, id="numpy-float64"),
    pytest.param(np.float16(2.0), 2.0, id="numpy-float16"),
    pytest.param(np.int64(42), 42, id="numpy-int64"),
    pytest.param(np.uint8(255), 255, id="numpy-uint8"),
    pytest.param(np.bool_(True), 1, id="numpy-bool"),
    pytest.param(np.array(2.5), 2.5, id="numpy-0d-array"),
    pytest.param(np.array(7, dtype=np.int32), 7, id="numpy-0d-int-array"),
    pytest.param(np.float64("nan"), math.nan, id="numpy-nan"),
    pytest.param(Fraction(1, 4), 0.25, id="fraction"),
    pytest.param(FakeTensor(0.75), 0.75, id="fake-torch-0d-float"),
    pytest.param(FakeTensor(True), 1, id="fake-torch-0d-bool"),
]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@pytest.mark.parametrize(("value", "expected"), ACCEPTED)
def test_accepted_value_becomes_a_plain_number(value: Any, expected: Any) -> None:
    """Every supported value type becomes a plain int or float, bools 0/1, big ints floats."""
    got = to_value("m", value)
    assert _same(got, expected), (got, expected)
    assert _same(to_number("m", value), expected)


@pytest.mark.parametrize(
    ("value", "values"),
    [
        pytest.param([1, 2, 2.5], [1, 2, 2.5], id="list"),
        pytest.param((3,), [3], id="tuple"),
        pytest.param([True, False, True], [1, 0, 1], id="list-of-bools"),
        pytest.param(np.array([1.0, 2.0]), [1.0, 2.0], id="numpy-array-2"),
        pytest.param(np.arange(6).reshape(2, 3), list(range(6)), id="numpy-array-2x3-flattened"),
        pytest.param(np.array([1, 2], dtype=np.uint8), [1, 2], id="numpy-uint8-array"),
    ],
)
def test_sequence_or_array_of_numbers_becomes_a_histogram(value: Any, values: list[float]) -> None:
    """A list, tuple or array of numbers is logged as a histogram of its values (numpy.histogram, 64 bins)."""
    got = to_value("w", value)
    assert isinstance(got, Prepared) and got.kind == "histogram" and got.payload is None
    counts, edges = np.histogram(np.asarray(values, dtype=float), bins=64)
    assert got.fields == {"bins": edges.tolist(), "counts": counts.tolist()}


@pytest.mark.parametrize(
    "value",
    [
        pytest.param([1, 2], id="list"),
        pytest.param(np.array([1.0, 2.0]), id="numpy-array"),
        pytest.param(FakeTensor1d(), id="fake-torch-1d"),
    ],
)
def test_to_number_still_refuses_sequences(value: Any) -> None:
    """The scalar conversion alone refuses sequences; only to_value turns them into histograms."""
    with pytest.raises(InvalidValueError, match="'m'"):
        to_number("m", value)


TOO_LARGE = r"(?i)too large|overflow|out of range"

REFUSED = [
    pytest.param("abc", "not a number", id="text"),
    pytest.param("", "not a number", id="empty-string"),
    pytest.param(None, "NoneType", id="none"),
    pytest.param({1, 2}, "set", id="set"),
    pytest.param(b"1.0", "bytes", id="bytes"),
    pytest.param(1 + 2j, "complex", id="complex"),
    pytest.param(object(), "object", id="object"),
    pytest.param(np.array(1 + 1j), "complex", id="numpy-0d-complex"),
    pytest.param(np.complex64(1), "complex", id="numpy-complex-scalar"),
    pytest.param(np.datetime64("2026-01-01"), "date", id="numpy-datetime"),
    pytest.param(FakeTensor("x"), "str", id="fake-torch-0d-non-number"),
    pytest.param(FakeTensor1d(), r"shape \(3,\)", id="fake-torch-1d-without-data"),
    pytest.param(10**400, TOO_LARGE, id="int-too-large-for-a-float"),
    pytest.param(Fraction(10**400, 3), TOO_LARGE, id="fraction-too-large-for-a-float"),
    # sequences and arrays are histograms, but only of real numbers
    pytest.param(["a", "b"], "not an array of real numbers", id="list-of-strings"),
    pytest.param([1, None], "not an array of real numbers", id="list-with-none"),
    pytest.param([[1, 2], [3]], "cannot be read as an array", id="ragged-list"),
    pytest.param([], "empty", id="empty-list"),
    pytest.param((), "empty", id="empty-tuple"),
    pytest.param([1 + 2j], "not an array of real numbers", id="list-of-complex"),
    pytest.param(np.array(["a", "b"]), "not an array of real numbers", id="numpy-array-of-strings"),
    pytest.param(np.array([object(), 1]), "not an array of real numbers", id="numpy-object-array"),
    pytest.param(np.zeros((0, 3)), "empty", id="numpy-empty-array"),
    pytest.param(np.array(["2026-01-01"], dtype="datetime64[D]"), "not an array", id="numpy-datetime-array"),
    pytest.param([math.nan, math.inf], "all NaN or infinite", id="list-of-only-non-finite"),
]


@pytest.mark.parametrize(("value", "reason"), REFUSED)
def test_refused_value_is_a_value_error_naming_key_and_reason(value: Any, reason: str) -> None:
    """A value neither a real scalar nor a sequence of real numbers is a ValueError naming metric and why."""
    with pytest.raises(ValueError, match=reason) as info:
        to_value("train/loss", value)
    assert isinstance(info.value, InvalidValueError)
    assert "'train/loss'" in str(info.value)


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        pytest.param(0, 0, id="zero"),
        pytest.param(12, 12, id="int"),
        pytest.param(2**63 - 1, 2**63 - 1, id="int64-max"),
        pytest.param(np.int64(5), 5, id="numpy-int64"),
        pytest.param(np.uint32(5), 5, id="numpy-uint32"),
    ],
)
def test_valid_step(step: Any, expected: int) -> None:
    """An explicit step is a non-negative integer, NumPy integers included."""
    got = to_step(step)
    assert got == expected and type(got) is int


@pytest.mark.parametrize(
    "step",
    [
        pytest.param(-1, id="negative"),
        pytest.param(2**63, id="over-int64"),
        pytest.param(1.0, id="float"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(True, id="bool"),
        pytest.param("3", id="string"),
        pytest.param(None, id="none-here"),
        pytest.param(np.float64(3.0), id="numpy-float"),
        pytest.param(np.int64(-2), id="numpy-negative"),
        pytest.param([3], id="list"),
    ],
)
def test_invalid_step(step: Any) -> None:
    """A step that is negative, fractional, boolean or not a number is a ValueError naming it."""
    with pytest.raises(ValueError, match="step=") as info:
        to_step(step)
    assert isinstance(info.value, InvalidValueError)


def test_flatten_nested_dicts_with_slashes() -> None:
    """Nested dicts become "/"-joined metric names, at any depth."""
    nested = {"train": {"loss": 1, "acc": {"top1": 0.5}}, "lr": 0.1}
    assert flatten(nested) == {"train/loss": 1, "train/acc/top1": 0.5, "lr": 0.1}


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({1: 2.0}, id="int-key"),
        pytest.param({"train": {None: 1}}, id="nested-none-key"),
        pytest.param({("a", "b"): 1}, id="tuple-key"),
    ],
)
def test_flatten_refuses_non_string_keys(data: dict[Any, Any]) -> None:
    """A metric name that is not a string is a ValueError, at any nesting depth."""
    with pytest.raises(InvalidValueError, match="must be a str"):
        flatten(data)

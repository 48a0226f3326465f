"""Downsampling for charts: ``downsample.pick`` against a reference model, and every store against pick."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swanlog_core.server import Store, open_store
from swanlog_core.server.downsample import MAX_POINTS, pick
from swanlog_core.server.logdir import LogdirStore
from swanlog_core.server.records import decode_value, parse_batch
from tests.runfolder import line, make_run

NONFINITE = ("NaN", "Infinity", "-Infinity")


def kind(v: Any) -> str:
    """What a value counts as: a number, one of the non-finite spellings, or media."""
    if type(v) is float and not math.isfinite(v):
        return "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")
    if type(v) in (int, float):
        return "number"
    return v if v in NONFINITE else "media"


def reference(values: list[Any], max_points: int) -> list[int]:
    """The algorithm as the docs state it, written plainly (one bucket of position i: i*B//n)."""
    n, b = len(values), max_points // 2
    if n <= max_points:
        return list(range(n))
    keep = {n - 1}
    for k in range(b):
        bucket = [i for i in range(n) if i * b // n == k]
        numbers = [i for i in bucket if type(values[i]) in (int, float) and math.isfinite(values[i])]
        if numbers:
            keep.add(min(numbers, key=lambda i: (values[i], i)))
            keep.add(min(numbers, key=lambda i: (-values[i], i)))
        firsts: dict[Any, int] = {}
        for i in bucket:
            if i not in numbers:
                firsts.setdefault(kind(values[i]), i)
        keep.update(firsts.values())
    return sorted(keep)


FINITE = st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
VALUE = (
    FINITE
    | st.sampled_from(NONFINITE)
    | st.sampled_from([math.nan, math.inf, -math.inf])
    | st.just({"_type": "image", "path": "media/x.png"})
)
MAX = st.integers(2, 60)


@settings(max_examples=300)
@given(values=st.lists(VALUE, max_size=400), max_points=MAX)
def test_pick_matches_the_reference_model(values: list[Any], max_points: int) -> None:
    """pick keeps exactly the points the plainly written algorithm keeps, for any mix of values."""
    assert pick(values, max_points) == reference(values, max_points)


@settings(max_examples=200)
@given(values=st.lists(VALUE, min_size=1, max_size=400), max_points=MAX)
def test_picks_are_an_ordered_subset_ending_with_the_last_point(values: list[Any], max_points: int) -> None:
    """The picks are distinct positions in step order, and the last point is always one of them."""
    kept = pick(values, max_points)
    assert kept == sorted(set(kept)) and set(kept) <= set(range(len(values)))
    assert kept[-1] == len(values) - 1


@settings(max_examples=200)
@given(values=st.lists(FINITE, min_size=1, max_size=400), max_points=MAX)
def test_finite_series_keep_each_buckets_extremes_within_the_bound(
    values: list[Any], max_points: int
) -> None:
    """With only finite numbers at most max_points + 1 points are kept, and each bucket's min and max are."""
    kept = pick(values, max_points)
    n = len(values)
    assert len(kept) <= max_points + 1
    if n <= max_points:
        assert kept == list(range(n))
        return
    b = max_points // 2
    for k in range(b):
        bucket = [values[i] for i in range(n) if i * b // n == k]
        chosen = [values[i] for i in kept if i * b // n == k]
        assert min(bucket) in chosen and max(bucket) in chosen


@settings(max_examples=200)
@given(values=st.lists(VALUE, min_size=1, max_size=400), max_points=MAX)
def test_markers_survive_and_the_size_stays_bounded(values: list[Any], max_points: int) -> None:
    """Each bucket keeps its first NaN, Infinity, -Infinity and media point; each adds at most one point."""
    kept = pick(values, max_points)
    n = len(values)
    others = sum(1 for v in values if kind(v) != "number")
    assert len(kept) <= max_points + 1 + others and len(kept) <= 3 * max_points + 1
    if n <= max_points:
        return
    b = max_points // 2
    for k in range(b):
        bucket = [i for i in range(n) if i * b // n == k]
        kinds = {kind(values[i]) for i in bucket} - {"number"}
        assert kinds <= {kind(values[i]) for i in kept if i in bucket}


def test_a_spike_survives_a_thousandfold_reduction() -> None:
    """One outlier among 100,000 smooth points is kept, as are the first and last points' buckets."""
    values = [math.sin(i / 1000) for i in range(100_000)]
    values[54_321] = 50.0
    values[77_777] = -50.0
    kept = pick(values, 200)
    assert 54_321 in kept and 77_777 in kept and kept[-1] == 99_999 and len(kept) <= 201


@pytest.mark.parametrize(
    ("values", "max_points", "expected"),
    [
        pytest.param([3, 1, 2], 3, [0, 1, 2], id="under-the-limit-all"),
        pytest.param([3, 1, 2], 2, [0, 1, 2], id="one-bucket-min-max-last"),
        pytest.param([5, 5, 5, 5, 5], 2, [0, 4], id="flat-first-of-equals-and-last"),
        pytest.param(["NaN"] * 6, 2, [0, 5], id="all-nan"),
        pytest.param([1, "NaN", 2, "NaN", "Infinity", 0], 2, [1, 2, 4, 5], id="markers-once-each"),
        pytest.param([{"_type": "text"}] * 8, 4, [0, 4, 7], id="media-first-per-bucket"),
        pytest.param([math.nan, 1.0, math.inf, 2.0, 0.5], 2, [0, 2, 3, 4], id="float-nonfinite"),
        pytest.param([2**80, 1, -(2**80), 3], 2, [0, 2, 3], id="huge-integers"),
        pytest.param([1e308, 1e308, -1.0, 0.0], 2, [0, 2, 3], id="sum-overflows"),
        pytest.param([0, math.inf, -math.inf], 2, [0, 1, 2], id="both-infinities"),
        pytest.param([], 2, [], id="empty"),
    ],
)
def test_pick_table(values: list[Any], max_points: int, expected: list[int]) -> None:
    """Small series keep exactly the documented points."""
    assert pick(values, max_points) == expected


def test_max_points_below_two_is_refused() -> None:
    """A max_points below 2 is a ValueError (the app answers 400 before that)."""
    with pytest.raises(ValueError, match="at least 2"):
        pick([1, 2, 3], 1)


# -- the stores ------------------------------------------------------------------------------

SERIES = {
    "smooth": [math.sin(i / 40) for i in range(3000)],
    "ints": [(i * 7919) % 1000 - 500 for i in range(2500)],
    "mixed": [
        "NaN"
        if i % 97 == 0
        else "Infinity"
        if i % 211 == 0
        else {"_type": "text", "n": i}
        if i % 301 == 0
        else i
        for i in range(2000)
    ],
    "all-nan": ["NaN"] * 1500,
}


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A database store holding one run with every series of SERIES (steps 0, 2, 4...)."""
    s = open_store(db_url)
    s.put_run("r", {"project": "p"})
    body = b"".join(
        orjson.dumps({"metric": name, "step": 2 * i, "value": v, "ts": float(i)}) + b"\n"
        for name, values in SERIES.items()
        for i, v in enumerate(values)
    )
    s.insert_points("r", parse_batch(body, 100_000, 1024))
    yield s
    s.close()


def expected(name: str, after_step: int, max_points: int) -> tuple[int, list[tuple[int, Any, float]]]:
    """What every store must answer: pick over the points after after_step."""
    points = [(2 * i, v, float(i)) for i, v in enumerate(SERIES[name]) if 2 * i > after_step]
    return len(points), [points[i] for i in pick([v for _, v, _ in points], max_points)]


CASES = [(name, after, most) for name in SERIES for after in (-1, 101) for most in (2, 300, 5000)]


def test_database_stores_answer_what_pick_picks(store: Store) -> None:
    """SQLite and PostgreSQL return pick's points as their exact rows, and the count after after_step."""
    for name, after, most in CASES:
        found = store.downsample_points("r", name, after, most)
        assert found is not None
        total, rows = found
        got = [(s, decode_value(v, e), t) for s, v, e, t in rows]
        assert (total, got) == expected(name, after, most), (name, after, most)
    assert store.downsample_points("r", "nope", -1, 10) is None
    assert store.downsample_points("ghost", "smooth", -1, 10) is None
    assert store.downsample_points("r", "smooth", 10**9, MAX_POINTS) == (0, [])


def test_the_logdir_store_answers_what_pick_picks(logdir: Path) -> None:
    """The logdir store (swanlog watch) returns the same points as pick from its cached columns."""
    metrics = {
        name: b"".join(line(2 * i, v, float(i)) for i, v in enumerate(values))
        for name, values in SERIES.items()
    }
    make_run(logdir, "r", metrics=metrics)
    store = LogdirStore(logdir)
    try:
        for name, after, most in CASES:
            found = store.downsample_points("r", name, after, most)
            assert found is not None
            total, rows = found
            assert (total, [(s, v, t) for s, v, _, t in rows]) == expected(name, after, most), (
                name,
                after,
                most,
            )
        assert store.downsample_points("r", "nope", -1, 10) is None
    finally:
        store.close()

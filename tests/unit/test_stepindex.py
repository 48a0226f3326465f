"""StepIndex: the set of steps a metric holds, which first-write-wins relies on."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swanlog_core._stepindex import StepIndex

steps = st.integers(min_value=0, max_value=60)


def assert_same_set(index: StepIndex, expected: set[int], probe: range) -> None:
    """The index answers exactly like a Python set, through every way it can be read."""
    assert list(index) == sorted(expected)
    assert len(index) == len(expected)
    assert index.max == max(expected, default=-1)
    for s in probe:
        assert (s in index) == (s in expected), s


@settings(max_examples=100, deadline=None)
@given(st.lists(steps, max_size=40))
def test_add_in_any_order_behaves_like_a_set(sequence: list[int]) -> None:
    """Steps written in any order (backfills, gaps, strides) are held exactly, never merged or lost."""
    index, model = StepIndex(), set()
    for s in sequence:
        assert (s in index) == (s in model)
        if s not in model:
            index.add(s)
            model.add(s)
    assert_same_set(index, model, range(-1, 70))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=7), max_size=40))
def test_append_in_increasing_order_behaves_like_a_set(gaps: list[int]) -> None:
    """The fast path for ever-larger steps holds exactly the steps given, whatever the stride changes."""
    index, model, s = StepIndex(), set(), -1
    for gap in gaps:
        s += gap
        index.append(s)
        model.add(s)
    assert_same_set(index, model, range(-1, s + 3))


@settings(max_examples=100, deadline=None)
@given(st.lists(steps, max_size=40))
def test_inline_extension_protocol_behaves_like_a_set(sequence: list[int]) -> None:
    """The writer's inline claim of a step (``max = step`` when the stride fits) keeps the set exact."""
    index, model = StepIndex(), set()
    for s in sequence:
        if s in model:
            assert s in index
            continue
        gap = s - index.max  # the documented protocol MetricWriter.append follows
        if gap > 0 and gap == index.stride:
            index.max = s
        elif gap > 0:
            index.append(s)
        else:
            assert s not in index
            index.add(s)
        model.add(s)
    assert_same_set(index, model, range(-1, 70))
    assert_same_set(StepIndex.from_json(index.to_json()), model, range(-1, 70))


@settings(max_examples=60, deadline=None)
@given(st.lists(steps, max_size=40), st.lists(steps, max_size=10))
def test_json_cache_round_trip(sequence: list[int], later: list[int]) -> None:
    """An index saved to the resume cache and loaded back holds the same steps and still takes new ones."""
    index, model = StepIndex(), set()
    for s in sequence:
        if s not in model:
            index.add(s)
            model.add(s)
    loaded = StepIndex.from_json(index.to_json())
    assert_same_set(loaded, model, range(-1, 70))
    for s in later:
        if s not in model:
            loaded.add(s)
            model.add(s)
    assert_same_set(loaded, model, range(-1, 70))


@settings(max_examples=100, deadline=None)
@given(st.lists(steps, max_size=40))
def test_from_steps_matches_the_set_of_steps_in_a_file(file_steps: list[int]) -> None:
    """Rebuilding the index from a file's steps (any order, duplicates) gives exactly that set."""
    assert_same_set(StepIndex.from_steps(file_steps), set(file_steps), range(-1, 70))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(steps, max_size=8), max_size=6))
def test_from_step_chunks_matches_the_steps_of_every_chunk(chunks: list[list[int]]) -> None:
    """Rebuilding the index chunk by chunk gives the set of all their steps, and the same
    progressions as rebuilding it from one list of them."""
    flat = [s for chunk in chunks for s in chunk]
    index = StepIndex.from_step_chunks(chunks)
    assert_same_set(index, set(flat), range(-1, 70))
    assert index.to_json() == StepIndex.from_steps(flat).to_json()


@settings(max_examples=150, deadline=None)
@given(st.lists(steps, max_size=30), st.lists(st.lists(steps, max_size=8), max_size=5))
def test_extend_adds_exactly_the_new_steps(held: list[int], chunks: list[list[int]]) -> None:
    """Steps appended to a file after the cached index are added to it, whatever their order."""
    index = StepIndex.from_steps(held)
    for chunk in chunks:
        index.extend(chunk)
    assert_same_set(index, set(held).union(*chunks), range(-1, 70))


@pytest.mark.parametrize(
    ("chunks", "segments"),
    [
        pytest.param([[0, 1, 2], [3, 4], [5]], [[0, 5, 1]], id="dense-across-chunks"),
        pytest.param([[0, 10, 20, 30], [40, 50]], [[0, 50, 10]], id="strided-across-chunks"),
        pytest.param([[0, 1, 2], [3, 13, 23]], [[0, 3, 1], [13, 23, 10]], id="stride-changes"),
        pytest.param([[0, 1, 2], [4, 3, 5]], [[0, 5, 1]], id="out-of-order-chunk"),
        pytest.param([[0, 1, 2, 3], [3, 4]], [[0, 4, 1]], id="duplicate-across-chunks"),
        pytest.param([[0, 2, 3, 4]], [[0, 2, 2], [3, 4, 1]], id="not-a-progression"),
    ],
)
def test_from_step_chunks_progressions(chunks: list[list[int]], segments: list[list[int]]) -> None:
    """A file whose chunks continue one progression costs one segment; any other falls back exactly."""
    assert StepIndex.from_step_chunks(chunks).to_json() == segments


@pytest.mark.parametrize(
    "sequence",
    [
        pytest.param(list(range(10_000)), id="dense"),
        pytest.param(list(range(0, 100_000, 10)), id="strided"),
    ],
)
def test_regular_steps_stay_compact(sequence: list[int]) -> None:
    """A long regular run of steps costs one progression, so a long training run stays cheap."""
    index = StepIndex()
    for s in sequence:
        index.append(s)
    assert len(index.to_json()) == 1
    assert len(index) == len(sequence)
    assert StepIndex.from_steps(sequence).to_json() == index.to_json()


@pytest.mark.parametrize(
    "segments",
    [
        pytest.param([[5, 1, 1]], id="last-before-first"),
        pytest.param([[0, 4, 2], [3, 3, 0]], id="overlapping"),
        pytest.param([[0, 5, 2]], id="stride-does-not-reach-last"),
        pytest.param([[0, 4, 0]], id="zero-stride-range"),
        pytest.param([[0, 0, 1]], id="stride-on-single-step"),
        pytest.param([[0, 4, -2]], id="negative-stride"),
        pytest.param([["a", 1, 1]], id="not-a-number"),
        pytest.param([[1, 2]], id="short-segment"),
    ],
)
def test_malformed_cache_is_rejected(segments: list[list[object]]) -> None:
    """A corrupt resume cache is refused (so the writer rescans the file) instead of trusted."""
    with pytest.raises(ValueError):
        StepIndex.from_json(segments)  # type: ignore[arg-type]


def test_empty_index() -> None:
    """A metric with no points holds no step and its next automatic step is 0."""
    index = StepIndex()
    assert list(index) == [] and len(index) == 0
    assert 0 not in index
    assert index.max + 1 == 0
    assert StepIndex.from_steps([]).to_json() == []

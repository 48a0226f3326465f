"""The records parser: the ingest hot path's checks, line numbers and value encoding."""

from __future__ import annotations

import orjson
import pytest

from swanlog_core.server.errors import BadRequestError, PayloadTooLargeError
from swanlog_core.server.records import decode_value, parse_batch


def body(*lines: object) -> bytes:
    """NDJSON of ``lines`` (bytes are taken as they are)."""
    return b"".join((x if isinstance(x, bytes) else orjson.dumps(x)) + b"\n" for x in lines)


def pt(step: object = 0, value: object = 1.0, metric: object = "m", ts: object = 1.0) -> dict[str, object]:
    """One record."""
    return {"metric": metric, "step": step, "value": value, "ts": ts}


def parse(data: bytes):  # type: ignore[no-untyped-def]
    """parse_batch with the default limits."""
    return parse_batch(data, 100_000, 1024)


def test_numbers_need_no_extra_column() -> None:
    """A batch of plain numbers keeps its columns as sent, with no extra column at all."""
    batch = parse(body(pt(0, 1.5, "a"), pt(3, 2, "b", 7)))
    assert list(batch.metrics) == ["a", "b"] and list(batch.steps) == [0, 3]
    assert list(batch.values) == [1.5, 2] and batch.extras is None and list(batch.ts) == [1.0, 7]
    assert batch.names == {"a", "b"} and len(batch) == 2


def test_nonfinite_and_media_values_go_to_the_extra_column() -> None:
    """NaN/Infinity strings and media objects are stored as NULL value plus their text, and decode back."""
    media = {"_type": "image", "path": "media/x.png"}
    batch = parse(body(pt(0, "NaN"), pt(1, "-Infinity"), pt(2, media), pt(3, 0.5)))
    assert list(batch.values) == [None, None, None, 0.5]
    assert batch.extras is not None
    decoded = [decode_value(v, e) for v, e in zip(batch.values, batch.extras)]
    assert decoded == ["NaN", "-Infinity", media, 0.5]


def test_integers_beyond_64_bits_become_floats() -> None:
    """An integer value too large for a 64-bit column is kept as a float of the same magnitude."""
    batch = parse(body(pt(0, 2**64 - 1), pt(1, -(2**63))))
    assert list(batch.values) == [float(2**64 - 1), -(2**63)]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(body(pt()), id="trailing-newline"),
        pytest.param(body(pt())[:-1], id="no-trailing-newline"),
        pytest.param(b' { "metric" : "m" , "step" : 0 , "value" : 1 , "ts" : 1 } \n', id="spaces"),
        pytest.param(body({**pt(), "extra": "ignored"}), id="unknown-field"),
    ],
)
def test_accepted_line_forms(data: bytes) -> None:
    """Optional trailing newline, JSON whitespace and unknown fields are all fine."""
    assert len(parse(data)) == 1


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        pytest.param(body(pt(), pt(), b"{"), BadRequestError, "line 3: invalid JSON", id="torn-third-line"),
        pytest.param(body(pt()) + b"\n", BadRequestError, "line 2", id="blank-line"),
        pytest.param(b"\n", BadRequestError, "the batch is empty", id="only-newline"),
        pytest.param(body(pt(), b"1, 2"), BadRequestError, "line 2", id="two-values-on-a-line"),
        pytest.param(body(pt(), b"[]"), BadRequestError, "line 2: expected a JSON object", id="array"),
        pytest.param(body(pt(), b'"x"'), BadRequestError, "line 2: expected a JSON object", id="string"),
        pytest.param(body(pt(step=-1)), BadRequestError, '"step"', id="negative-step"),
        pytest.param(body(pt(step=None)), BadRequestError, '"step"', id="null-step"),
        pytest.param(body(pt(step=2**63)), BadRequestError, '"step"', id="step-2^63"),
        pytest.param(body(pt(), pt(ts=None)), BadRequestError, 'line 2: "ts"', id="null-ts"),
        pytest.param(body(pt(value="nan")), BadRequestError, '"value"', id="lowercase-nan"),
        pytest.param(body(pt(value={})), BadRequestError, '"value"', id="object-without-type"),
        pytest.param(body(pt(metric={"a": 1})), BadRequestError, '"metric"', id="object-metric"),
        pytest.param(body(pt(metric="x" * 1025)), PayloadTooLargeError, "1025 UTF-8 bytes", id="long-metric"),
        pytest.param(
            body(pt(metric="é" * 513)), PayloadTooLargeError, "1026 UTF-8 bytes", id="long-in-bytes"
        ),
        pytest.param(body(*[pt(i) for i in range(4)]), PayloadTooLargeError, "4 records", id="too-many"),
    ],
)
def test_refused_batches_name_the_line_and_reason(data: bytes, error: type, message: str) -> None:
    """A bad batch raises the right error class, and its message names the first bad line and the problem."""
    with pytest.raises(error) as info:
        parse_batch(data, 3, 1024)
    assert message in str(info.value)


def test_metric_name_of_exactly_the_limit_is_fine() -> None:
    """A metric name of exactly 1024 UTF-8 bytes is accepted."""
    assert len(parse(body(pt(metric="é" * 512)))) == 1

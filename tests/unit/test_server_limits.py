"""Bounded body decoding: gzip inflates in steps and stops at the limit; encodings are checked."""

from __future__ import annotations

import gzip
import time
import tracemalloc

import pytest

from swanlog_core.server.errors import BadRequestError, PayloadTooLargeError, UnsupportedMediaError
from swanlog_core.server.limits import gunzip, is_gzip

MiB = 1 << 20


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, False), ("", False), ("identity", False), ("gzip", True), (" GZIP ", True), ("x-gzip", True)],
)
def test_accepted_encodings(header: str | None, expected: bool) -> None:
    """No encoding, identity and gzip (any case) are accepted."""
    assert is_gzip(header) is expected


@pytest.mark.parametrize("header", ["br", "deflate", "zstd", "gzip, gzip", "compress"])
def test_other_encodings_are_415(header: str) -> None:
    """Any other Content-Encoding is refused with a 415 naming it."""
    with pytest.raises(UnsupportedMediaError, match=repr(header)):
        is_gzip(header)


def test_gunzip_round_trips_one_and_several_members() -> None:
    """A gzip body, and several gzip members back to back, inflate to their concatenation."""
    assert gunzip(gzip.compress(b"hello"), 100, "body") == b"hello"
    assert gunzip(gzip.compress(b"ab") + gzip.compress(b"cd"), 100, "body") == b"abcd"


def test_gunzip_allows_exactly_the_limit() -> None:
    """A body that inflates to exactly the limit is accepted; one byte more is a 413."""
    data = gzip.compress(bytes(3 * MiB))
    assert len(gunzip(data, 3 * MiB, "body")) == 3 * MiB
    with pytest.raises(PayloadTooLargeError, match="after decompression"):
        gunzip(data, 3 * MiB - 1, "body")


def test_gunzip_stops_a_bomb_early_with_bounded_memory() -> None:
    """A 256 MiB bomb against an 8 MiB limit fails fast, allocating about the limit, never the bomb."""
    bomb = gzip.compress(bytes(256 * MiB), 1)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(PayloadTooLargeError):
            gunzip(bomb, 8 * MiB, "body")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 1
    assert peak < 16 * MiB


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"plain text", "not valid gzip", id="not-gzip"),
        pytest.param(gzip.compress(b"x" * 1000)[:20], "truncated", id="truncated"),
        pytest.param(b"", "truncated", id="empty"),
        pytest.param(gzip.compress(b"ok") + b"junk", "not valid gzip", id="trailing-junk"),
    ],
)
def test_broken_gzip_is_400(data: bytes, message: str) -> None:
    """Data that is not gzip, or is cut short, is a 400 saying so."""
    with pytest.raises(BadRequestError, match=message):
        gunzip(data, MiB, "body")

"""Reading request bodies within their limits: size before and after decompression.

A gzip body is inflated in bounded chunks and refused the moment its output passes
the limit, so a small "gzip bomb" costs at most one limit of memory and a fraction of
a second, never its full inflated size.
"""

from __future__ import annotations

import zlib
from typing import AsyncIterator

from .errors import BadRequestError, PayloadTooLargeError, UnsupportedMediaError

__all__ = ["accepts_gzip", "gunzip", "is_gzip", "read_body"]

_CHUNK = 1 << 20  # inflate at most this much per step
_GZIP = 16 + zlib.MAX_WBITS  # wbits for a gzip header and trailer


def _mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB" if n >= 1 << 20 else f"{n} bytes"


def is_gzip(content_encoding: str | None) -> bool:
    """Whether a body with this Content-Encoding is gzip; raise 415 for anything but gzip/identity."""
    enc = (content_encoding or "").strip().lower()
    if enc in ("", "identity"):
        return False
    if enc in ("gzip", "x-gzip"):
        return True
    raise UnsupportedMediaError(f"Content-Encoding {content_encoding!r} is not supported (use gzip or none)")


async def read_body(stream: AsyncIterator[bytes], content_length: str | None, limit: int, what: str) -> bytes:
    """The raw body, refused with 413 as soon as it (or its Content-Length) passes ``limit``."""
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise BadRequestError(f"Content-Length {content_length!r} is not a number") from None
        if declared > limit:
            raise PayloadTooLargeError(f"{what} is larger than the limit of {_mib(limit)}")
    chunks: list[bytes] = []
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > limit:
            raise PayloadTooLargeError(f"{what} is larger than the limit of {_mib(limit)}")
        chunks.append(chunk)
    return b"".join(chunks)


def gunzip(data: bytes, limit: int, what: str) -> bytes:
    """Inflate a gzip body (one or more members) in bounded steps; 413 past ``limit`` bytes."""
    out: list[bytes] = []
    total = 0
    rest = data
    try:
        while True:
            inflater = zlib.decompressobj(_GZIP)
            pending = rest
            while not inflater.eof:
                chunk = inflater.decompress(pending, _CHUNK)
                pending = inflater.unconsumed_tail
                total += len(chunk)
                if total > limit:
                    raise PayloadTooLargeError(
                        f"{what} is larger than the limit of {_mib(limit)} after decompression"
                    )
                out.append(chunk)
                if not chunk and not pending:
                    raise BadRequestError(f"{what} is a truncated gzip stream")
            rest = inflater.unused_data
            if not rest:
                break
    except zlib.error as exc:
        raise BadRequestError(f"{what} is not valid gzip: {exc}") from None
    return b"".join(out)


def accepts_gzip(header: str | None) -> bool:
    """True when an Accept-Encoding header accepts gzip (``gzip`` or ``*`` with q above 0)."""
    if not header:
        return False
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        q = params.strip().lower()
        if q.startswith("q="):
            try:
                return float(q[2:]) > 0
            except ValueError:
                return False
        return True
    return False

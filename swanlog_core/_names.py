"""Metric name <-> path of its file, relative to a run's ``metrics/`` folder.

The mapping is readable (``train/loss`` -> ``train/loss.jsonl``, letters of any script
kept), reversible, and can never leave ``metrics/``:

- "/" separates folders; every segment is non-empty;
- "%" and every character unsafe in file names or shells is percent-encoded as UTF-8
  bytes (``%2F`` style, upper-case hex), so decoding is unambiguous;
- a segment starting with "." is encoded (so "." and ".." cannot occur, nor hidden
  files), and a folder segment ending in ".jsonl" has that dot encoded, so metric
  ``x`` and metric ``x.jsonl/y`` never share a path.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote

from .errors import InvalidValueError

__all__ = ["MAX_NAME_BYTES", "SUFFIX", "name_to_path", "path_to_name"]

SUFFIX = ".jsonl"
MAX_NAME_BYTES = 1024  # a whole metric name, UTF-8; the server holds the same bound
_MAX_SEGMENT_BYTES = 255  # NAME_MAX of ext4, xfs, Lustre, NFS

# ASCII that stays as it is; everything else in ASCII is encoded.
_SAFE_ASCII = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.+,=@")
# Unicode categories that are invisible, unassigned or break lines: encoded.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def _quote_char(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8"))


def _encode_segment(segment: str) -> str:
    out = []
    for ch in segment:
        if ch in _SAFE_ASCII:
            out.append(ch)
        elif ch < "\x80" or unicodedata.category(ch) in _UNSAFE_CATEGORIES:
            out.append(_quote_char(ch))
        else:
            out.append(ch)
    if out and out[0] == ".":
        out[0] = "%2E"
    return "".join(out)


def name_to_path(name: str) -> str:
    """Map a metric name to its file's path relative to ``metrics/``.

    Raises:
        InvalidValueError: the name is not a string, is empty, has an empty segment,
            is not valid Unicode, or is too long for the file system.
    """
    if not isinstance(name, str):
        raise InvalidValueError(f"metric name {name!r}: must be a str, not {type(name).__name__}")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidValueError(f"metric name {name!r}: not valid Unicode") from None
    if size > MAX_NAME_BYTES:
        raise InvalidValueError(
            f"metric name {name[:40]!r}...: {size} bytes long, the limit is {MAX_NAME_BYTES}"
        )
    segments = name.split("/")
    parts = []
    for i, segment in enumerate(segments):
        if not segment:
            what = "is empty" if not name else "has an empty segment (leading, trailing or doubled '/')"
            raise InvalidValueError(f"metric name {name!r}: {what}")
        encoded = _encode_segment(segment)
        last = i == len(segments) - 1
        if last:
            encoded += SUFFIX
        elif encoded.endswith(SUFFIX):
            encoded = encoded[: -len(SUFFIX)] + "%2E" + SUFFIX[1:]
        if len(encoded.encode("utf-8")) > _MAX_SEGMENT_BYTES:
            raise InvalidValueError(
                f"metric name {name[:40]!r}: segment {segment[:40]!r} is too long for a "
                f"file name ({_MAX_SEGMENT_BYTES} bytes once encoded)"
            )
        parts.append(encoded)
    return "/".join(parts)


def path_to_name(path: str) -> str | None:
    """Map a path relative to ``metrics/`` back to its metric name.

    Returns None for a path that is not a metric file (wrong suffix, hidden, empty).
    """
    if not path.endswith(SUFFIX):
        return None
    segments = path[: -len(SUFFIX)].split("/")
    if any(not s or s.startswith(".") for s in segments):
        return None
    try:
        name = "/".join(unquote(s, errors="strict") for s in segments)
        # Only the one spelling swanlog writes counts: "%2f", "%41" or "%2F" inside a
        # segment would make two files claim one metric.
        return name if name_to_path(name) == path else None
    except (UnicodeDecodeError, InvalidValueError):
        return None

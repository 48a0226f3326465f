"""Finding runs, and turning the new complete lines of a metric file into server records.

The hot path is ``to_records``: a metric file's lines ``{"step":..}`` become record lines
``{"metric":"name","step":..}`` with one ``bytes.replace`` over the whole chunk, after
the chunk was checked at C speed (the writer's line shape, one orjson parse, column
type checks). Only a chunk that fails those checks is handled line by line, where a
corrupt line is skipped and counted and the lines after it still go.
"""

from __future__ import annotations

import os
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from .._format import RUN_JSON, has_writer_shape, parse_run_dir_name

__all__ = ["MAX_STEP", "Chunk", "Records", "find_run_dirs", "metric_prefix", "read_chunk", "to_records"]

MAX_STEP = (1 << 63) - 1  # the server stores steps as 64-bit integers
_NONFINITE = frozenset(("NaN", "Infinity", "-Infinity"))
_NUMBER = frozenset((int, float))
_STEP_KEY = b'{"step":'
_VALUE_KEY = b',"value":'
_TS_KEY = b',"ts":'
_STEPS = itemgetter("step")
_VALUES = itemgetter("value")
_TS = itemgetter("ts")
_NL_TO_COMMA = bytes.maketrans(b"\n", b",")


def find_run_dirs(paths: list[Path]) -> list[Path]:
    """The run folders named by ``paths`` (run folders or logdirs), each once, in path order.

    A path that is a run folder (named ``run-<time>-<id>`` or holding run.json) is taken
    as it is; any other folder is a logdir whose run folders are listed. Missing paths
    hold no runs.
    """
    found: dict[Path, None] = {}
    for path in paths:
        path = path.absolute()
        if not path.is_dir():
            continue
        if parse_run_dir_name(path.name) or (path / RUN_JSON).is_file():
            found[path] = None
            continue
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for e in entries:
            if parse_run_dir_name(e.name) and e.is_dir():
                found[Path(e.path)] = None
    return list(found)


def metric_prefix(name: str) -> bytes:
    """What replaces ``{"step":`` at the start of each line of metric ``name``."""
    return b'{"metric":' + orjson.dumps(name) + b',"step":'


class Chunk(NamedTuple):
    """New bytes of a metric file past its cursor, as far as they can be judged now."""

    start: int  # file offset the chunk begins at (0 when the file was read again from 0)
    body: bytes  # complete lines, no NUL: ready for to_records
    skip: int  # bytes after ``body`` to step over: a NUL line judged corrupt (0 or its length)
    end: int  # file offset after body and skip: the cursor's next offset once acknowledged
    inode: int
    head: bytes  # the file's first bytes (up to HEAD_BYTES), for the cursor's fingerprint
    reset: bool  # the file no longer matched its cursor: read again from 0
    nul: bool  # a line holding NUL bytes stops the chunk and is waited on
    more: bool  # the file has more bytes past ``end`` (read again)
    pending: int  # bytes past ``end`` that could not be sent yet (torn or NUL tail)


def read_chunk(
    path: Path, offset: int, matches: Any, max_bytes: int, head_bytes: int, skip_nul: bool
) -> Chunk | None:
    """Read the complete lines of ``path`` after ``offset``, at most about ``max_bytes`` of them.

    Args:
        path: the metric file.
        offset: the cursor's offset.
        matches: ``matches(inode, size, head) -> bool``: whether the file is still the one
            the offset belongs to; when not, the file is read again from 0.
        max_bytes: read at most this much (a longer line is read whole, to be skipped).
        head_bytes: how many first bytes fingerprint a file.
        skip_nul: whether a complete line holding NUL bytes with complete lines after it
            may be judged corrupt now (the writer is gone, or it has stayed that way).

    Returns:
        None when the file is gone.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        st = os.fstat(fd)
        head = os.pread(fd, head_bytes, 0)
        reset = not matches(st.st_ino, st.st_size, head)
        start = 0 if reset else offset
        available = st.st_size - start
        if available <= 0:
            return Chunk(start, b"", 0, start, st.st_ino, head, reset, False, False, 0)
        data = os.pread(fd, min(available, max_bytes), start)
        end = data.rfind(b"\n") + 1
        while not end and len(data) < available:
            # One line longer than max_bytes: read until its newline (it will be corrupt).
            data += os.pread(fd, min(available - len(data), max_bytes), start + len(data))
            end = data.rfind(b"\n") + 1
    finally:
        os.close(fd)
    body = data[:end]
    more = len(data) < available  # stopped at max_bytes: the next read goes on
    nul = body.find(b"\x00")
    skip = 0
    if nul >= 0:
        line_start = body.rfind(b"\n", 0, nul) + 1
        if line_start:
            body = body[:line_start]  # send what precedes the NUL line; judge it next read
            more = True
        else:
            line_end = body.find(b"\n", nul) + 1
            if skip_nul and line_end < len(body):
                skip = line_end  # complete lines follow: a NUL line that will not heal
                body = b""
                more = True
            else:
                return Chunk(start, b"", 0, start, st.st_ino, head, reset, True, False, available)
    stop = start + len(body) + skip
    pending = 0 if more else available - (stop - start)
    return Chunk(start, body, skip, stop, st.st_ino, head, reset, False, more, pending)


class Records(NamedTuple):
    """Record lines for the server made from a chunk of metric lines."""

    body: bytes  # NDJSON, one record per line
    count: int
    corrupt: int  # complete lines that are not a valid point: skipped, never sent


def to_records(name: str, prefix: bytes, body: bytes) -> Records:
    """Turn complete metric lines of metric ``name`` into record lines for the server.

    Args:
        name: the metric name.
        prefix: ``metric_prefix(name)``, computed once per metric.
        body: complete lines (ending in "\\n"), no NUL bytes.
    """
    if not body:
        return Records(b"", 0, 0)
    lines = body.count(b"\n")
    if _writer_lines_valid(body, lines):
        return Records(body.replace(_STEP_KEY, prefix), lines, 0)
    return _to_records_slow(name, body)


def _writer_lines_valid(body: bytes, lines: int) -> bool:
    """Whether every line has the writer's shape and holds a point the server accepts."""
    nonfinite = has_writer_shape(body)
    # The skeleton check lets a digit slip into a key ("st1ep"): counting the exact keys
    # rules that out, as one key of each per line is all the skeleton allows.
    if (
        nonfinite is None
        or not body.count(_STEP_KEY) == body.count(_VALUE_KEY) == body.count(_TS_KEY) == lines
    ):
        return False
    buf = bytearray(b"[")
    buf += body.translate(_NL_TO_COMMA)
    buf[-1] = ord("]")
    try:
        objs = orjson.loads(buf)  # proves the numbers well formed ("1.2.3" passes the skeleton)
        steps = list(map(_STEPS, objs))
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return False
    if set(map(type, steps)) != {int} or min(steps) < 0 or max(steps) > MAX_STEP:
        return False  # a sign, a fraction or an exponent in a step
    if nonfinite:  # the skeleton also lets through "N1aN" as a value and "NaN" as a ts
        if not set(map(type, map(_TS, objs))) <= _NUMBER:
            return False
        if not {v for v in map(_VALUES, objs) if type(v) is str} <= _NONFINITE:
            return False
    return True


def _valid(obj: Any) -> bool:
    """Whether one decoded line is a point the server accepts (the reader's rules)."""
    if type(obj) is not dict:
        return False
    step, value, ts = obj.get("step"), obj.get("value"), obj.get("ts")
    if type(step) is not int or not 0 <= step <= MAX_STEP or type(ts) not in _NUMBER:
        return False
    t = type(value)
    return t in _NUMBER or (t is str and value in _NONFINITE) or (t is dict and "_type" in value)


def _to_records_slow(name: str, body: bytes) -> Records:
    out = []
    corrupt = 0
    for line in body.split(b"\n")[:-1]:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            obj = None
        if _valid(obj):
            out.append(
                orjson.dumps({"metric": name, "step": obj["step"], "value": obj["value"], "ts": obj["ts"]})
            )
        else:
            corrupt += 1
    if not out:
        return Records(b"", 0, corrupt)
    out.append(b"")
    return Records(b"\n".join(out), len(out) - 1, corrupt)

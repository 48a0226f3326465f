"""The files of one run as the writer sees them: per-metric append, the run lock, the index cache.

``MetricWriter.append`` is the hot path of ``log()``: one dict lookup, one type test,
one orjson call and one ``os.write`` per value. Everything that can be decided once per
metric (its path, its fd, its summary reducer) is decided when the metric is first seen.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import resource
import time
import warnings
from pathlib import Path
from typing import Any, BinaryIO, Callable, Mapping

import orjson

from . import _format
from ._names import name_to_path
from ._stepindex import StepIndex
from ._values import INT64_MAX, INT64_MIN, flatten, to_value
from .errors import RunLockedError, SwanlogWarning
from .media._base import Prepared
from .media._store import PayloadStore, payload_path

__all__ = ["Metric", "MetricWriter", "RunLock"]

_NL = orjson.OPT_APPEND_NEWLINE
_HEAD = 64  # bytes of a metric file that fingerprint it in the index cache (its first, and
# its last before the cached size: a copy of the run folder, with new inodes, still matches)
_LOCK_WAIT = 0.5  # seconds: a reader probing the lock holds it for microseconds


class RunLock:
    """The OS lock (flock on ``run.lock``) that makes one process the run's only writer."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / _format.LOCK_FILE
        self._fd = -1

    def acquire(self) -> None:
        """Take the lock, or raise RunLockedError if a live writer holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + _LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise RunLockedError(
                        f"run {self.path.parent.name} is being written by another process; "
                        "one process writes a run at a time"
                    ) from None
                time.sleep(0.01)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Drop the lock. Unlock first: a forked child still holding a copy of the fd
        would otherwise keep the flock alive after this process closes its own."""
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1

    def forget(self) -> None:
        """In a forked child: close the inherited fd without unlocking the parent's lock."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class Metric:
    """Write-side state of one metric, created on first use and kept for the run."""

    __slots__ = ("name", "path", "fd", "index", "last", "reducer", "warned", "head")

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self.fd = -1  # opened on first write, closed when the fd cache is full
        self.index = StepIndex()
        self.last: Any = None  # value at the largest step: the default summary
        self.reducer: Any = None  # summary reducer when define_metric asked for min/max/mean
        self.warned = False  # first-write-wins warns once per metric
        self.head: str | None = None  # fingerprint of the file's first bytes, once known


def _fd_cache_size() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1024
    return min(1024, max(16, soft // 4))  # leave most descriptors to the training script


def _fingerprint(head: bytes) -> str:
    return hashlib.blake2b(head, digest_size=8).hexdigest()


def _cache_matches(entry: dict[str, Any], f: BinaryIO, head: bytes, st: os.stat_result) -> bool:
    """True when ``f`` is the file a stepindex.json entry describes, perhaps grown since.

    The same first bytes and at least the cached size; then the same inode, or, for a copy of
    the run folder (cp -r, rsync, a tarball: new inodes), the same bytes before the cached size.
    """
    size, head_len = entry.get("size"), entry.get("head_len")
    if type(size) is not int or not 0 <= size <= st.st_size or type(head_len) is not int:
        return False
    if entry.get("head") != _fingerprint(head[:head_len]):
        return False
    return entry.get("ino") == st.st_ino or entry.get("tail") == _tail_fingerprint(f.fileno(), size)


def _tail_fingerprint(fd: int, size: int) -> str:
    """The fingerprint of the last ``_HEAD`` bytes before ``size`` (fewer in a shorter file)."""
    n = min(_HEAD, size)
    return _fingerprint(os.pread(fd, n, size - n))


class MetricWriter:
    """Appends points to a run's metric files, enforcing first write wins per (metric, step)."""

    def __init__(self, run_dir: Path, reducer_for: Callable[[str], Any]) -> None:
        self.metrics_dir = run_dir / _format.METRICS_DIR
        self.cache_path = run_dir / _format.STEPINDEX_JSON
        self.payloads = PayloadStore(run_dir)
        self.metrics: dict[str, Metric] = {}
        self._reducer_for = reducer_for
        self._open: dict[str, Metric] = {}  # metrics holding an fd, oldest first
        self._fd_cap = _fd_cache_size()
        self._cache = self._read_cache()
        self.dirty = False  # points written since the last index snapshot
        # The batch of an append() in progress. A signal handler or KeyboardInterrupt may
        # stop append() between claiming a step and writing it, or between writing it and
        # updating the summary state; whoever comes next rereads those metrics' files.
        self.pending: list | None = None

    # -- the hot path --------------------------------------------------------------

    def append(self, data: Mapping[str, Any], step: int | None, ts: float) -> list[tuple[str, int]] | None:
        """Write one call's values; returns (name, step) of discarded values not warned of yet.

        Every value is converted and every new name validated before the first byte is
        written, so an invalid call raises with nothing of it on disk.
        """
        metrics = self.metrics
        batch = []
        media = None  # (name, payload path, Prepared) of the call's media values with a file
        for name, value in data.items():
            t = type(value)
            if t is float:
                num = value
                enc = value if value - value == 0 else _format.encode_value(value)
            elif t is int and INT64_MIN <= value <= INT64_MAX:
                num = enc = value
            elif isinstance(value, Mapping):
                return self.append(flatten(data), step, ts)
            else:
                num = to_value(name, value)
                if type(num) is Prepared:
                    if media is None:
                        media = []
                    num = enc = self._describe(name, num, media)
                else:
                    enc = num if num - num == 0 else _format.encode_value(num)
            m = metrics.get(name)
            if m is None:
                m = self.metric(name)
            index = m.index
            batch.append((m, index.max + 1 if step is None else step, num, enc))
        if media:
            self._store_payloads(media, step)

        if self.pending is not None:
            self.recover()
        discarded = None
        dumps = orjson.dumps
        self.pending = batch
        for m, s, num, enc in batch:
            # The step is claimed before the bytes are written: an exception in between
            # (KeyboardInterrupt, a signal handler) may lose a value whose log() never
            # returned, but can never let a step be written twice.
            index = m.index
            gap = s - index.max
            newest = gap > 0
            if newest:
                if gap == index.stride:
                    index.max = s  # extends the last progression: the common case, inline
                else:
                    index.append(s)
            elif s in index:
                if not m.warned:
                    m.warned = True
                    discarded = (discarded or []) + [(m.name, s)]
                continue
            else:
                index.add(s)
            line = dumps({"step": s, "value": enc, "ts": ts}, option=_NL)
            try:
                fd = m.fd if m.fd >= 0 else self._open_fd(m)
                n = os.write(fd, line)
                if n != len(line):
                    self._finish_short_write(fd, line, n)
            except OSError as exc:
                # Nothing of this point is on disk: give the step back by rereading the file.
                m.index = StepIndex.from_step_chunks(_format.iter_step_chunks(m.path.read_bytes()))
                raise OSError(exc.errno, f"{exc.strerror}: writing metric {m.name!r} to {m.path}") from exc
            if newest:
                m.last = num
            if m.reducer is not None:
                m.reducer.add(num)
        self.pending = None
        self.dirty = True
        return discarded

    def _describe(self, name: str, prepared: Prepared, media: list) -> dict[str, Any]:
        """The metric line's value for a media value; a payload is queued in ``media``."""
        if prepared.payload is None:
            return {"_type": prepared.kind, **prepared.fields}
        rel = payload_path(name, prepared)
        media.append((name, rel, prepared))
        return {
            "_type": prepared.kind,
            "path": rel,
            "sha256": prepared.digest,
            "size": len(prepared.payload),
            "format": prepared.ext,
            **prepared.fields,
        }

    def _store_payloads(self, media: list, step: int | None) -> None:
        """Write the payload files of a call whose every value is valid, before any of its lines.

        A payload whose (metric, step) is held already is not written: its line will be
        discarded by first write wins. A failure leaves no line of the call written, at
        worst payload files that no line names.
        """
        for name, rel, prepared in media:
            if step is not None and step in self.metrics[name].index:
                continue
            try:
                self.payloads.put(rel, prepared)
            except OSError as exc:
                raise OSError(
                    exc.errno, f"{exc.strerror}: writing media of metric {name!r} to {rel}"
                ) from exc

    def recover(self) -> None:
        """Rebuild from their files the metrics of an append() that was interrupted."""
        batch, self.pending = self.pending or [], None
        for m in {id(b[0]): b[0] for b in batch}.values():
            try:
                data = m.path.read_bytes()
            except FileNotFoundError:
                data = b""
            m.index = StepIndex.from_step_chunks(_format.iter_step_chunks(data))
            m.last = self._value_at(m, data)
            m.reducer = self._reducer_for(m.name)
            if m.reducer is not None:
                for point in _format.scan_points(data).points:
                    m.reducer.add(point.value)
        self.dirty = True

    def _finish_short_write(self, fd: int, line: bytes, n: int) -> None:
        # A short write leaves a torn line. Try the rest once (it may work, e.g. after a
        # signal); if the disk really is full, cut the torn bytes off before raising, so
        # the file ends with a complete line and the step stays free.
        try:
            rest = os.write(fd, line[n:])
            if n + rest == len(line):
                return
            n += rest
            err: OSError = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as exc:
            err = exc
        os.ftruncate(fd, os.lseek(fd, 0, os.SEEK_END) - n)
        raise err

    def _open_fd(self, m: Metric) -> int:
        if len(self._open) >= self._fd_cap:
            # Close the older half; a metric logged every step is reopened once.
            for name in list(self._open)[: self._fd_cap // 2]:
                old = self._open.pop(name)
                os.close(old.fd)
                old.fd = -1
        # Read-write (writes still append) so that a snapshot can fingerprint the file's end.
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        try:
            fd = os.open(m.path, flags, 0o644)
        except FileNotFoundError:
            m.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(m.path, flags, 0o644)
        m.fd = fd
        self._open[m.name] = m
        return fd

    # -- metrics -------------------------------------------------------------------

    def metric(self, name: str) -> Metric:
        """The state of metric ``name``, created (and, on resume, loaded) on first use.

        Raises:
            InvalidValueError: the name cannot be a metric name.
        """
        m = self.metrics.get(name)
        if m is not None:
            return m
        m = Metric(name, self.metrics_dir / name_to_path(name))
        self._load(m)
        m.reducer = self._reducer_for(name)
        if m.reducer is not None and m.index.max >= 0:
            for point in _format.scan_points(m.path.read_bytes()).points:
                m.reducer.add(point.value)
        self.metrics[name] = m
        return m

    def _load(self, m: Metric) -> None:
        """Rebuild a resumed metric's index from its file (and the index cache)."""
        try:
            st = os.stat(m.path)
        except FileNotFoundError:
            return
        start, index = 0, None
        entry = self._cache.get(m.name)
        with open(m.path, "rb") as f:
            head = f.read(_HEAD)
            if entry is not None and _cache_matches(entry, f, head, st):
                try:
                    index = StepIndex.from_json(entry["segments"])
                    start = entry["size"]
                except (KeyError, TypeError, ValueError):
                    index = None
            f.seek(start)
            tail = f.read()
        end = tail.rfind(b"\n") + 1
        if end < len(tail):
            # A torn last line (a kill during the write, power loss, a disk that
            # filled): never a returned point. Cut it so the next line does not glue onto it.
            os.truncate(m.path, start + end)
            warnings.warn(
                f"metric {m.name!r}: removed an incomplete last line ({len(tail) - end} bytes) from {m.path}",
                SwanlogWarning,
                stacklevel=4,
            )
            tail = tail[:end]
        chunks = _format.iter_step_chunks(tail)
        if index is None:
            index = StepIndex.from_step_chunks(chunks)
        else:
            for steps in chunks:
                index.extend(steps)
        m.index = index
        if len(head) >= _HEAD:
            m.head = _fingerprint(head)
        m.last = self._value_at(m, tail)

    @staticmethod
    def _value_at(m: Metric, tail: bytes) -> Any:
        """The value at the metric's largest step, read from the end of its file."""
        if m.index.max < 0:
            return None
        if not tail:
            with open(m.path, "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - 4096))
                tail = f.read()
        last_line = tail[tail.rfind(b"\n", 0, len(tail) - 1) + 1 :]
        point = _format.scan_points(last_line).points
        if point and point[0].step == m.index.max:
            return point[0].value
        data = m.path.read_bytes()  # written out of order: the first line holding the step wins
        steps, values, _, _ = _format.scan_columns(data[: data.rfind(b"\n") + 1])
        return next((v for s, v in zip(steps, values) if s == m.index.max), None)

    # -- the index cache -----------------------------------------------------------

    def _read_cache(self) -> dict[str, Any]:
        try:
            doc = _format.read_json(self.cache_path)
            return doc["metrics"] if doc.get("format") == _format.FORMAT_VERSION else {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}  # a cache: anything wrong with it only costs a full scan

    def save_cache(self, final: bool = True) -> None:
        """Snapshot every index so the next resume reads only what was appended since.

        The end of each file is fingerprinted too, which lets a copy of the run folder use the
        cache: through the writer's own fd, or, when ``final`` (at finish), by opening the
        file. The snapshots taken while logging skip the metrics whose fd was closed (over
        the fd cap): an open per metric costs ~0.2 s for 10,000 metrics.
        """
        entries = dict(self._cache)
        for name, m in self.metrics.items():
            try:
                st = os.stat(m.path)
            except FileNotFoundError:
                entries.pop(name, None)
                continue
            old = entries.get(name) or {}
            if (old.get("ino"), old.get("size")) == (st.st_ino, st.st_size) and "tail" in old:
                continue  # nothing appended since the last snapshot: the same steps
            head, tail = b"", None
            if m.fd >= 0 and os.fstat(m.fd).st_ino == st.st_ino:
                tail = _tail_fingerprint(m.fd, st.st_size)
            if m.head is None or (final and tail is None):
                with open(m.path, "rb") as f:
                    if m.head is None:
                        head = f.read(_HEAD)
                    if final and tail is None:
                        tail = _tail_fingerprint(f.fileno(), st.st_size)
            if len(head) >= _HEAD:
                m.head = _fingerprint(head)
            entry = {
                "size": st.st_size,
                "ino": st.st_ino,
                "head_len": _HEAD if m.head else len(head),
                "head": m.head or _fingerprint(head),
                "segments": m.index.to_json(),
            }
            if tail is not None:
                entry["tail"] = tail
            entries[name] = entry
        _format.atomic_write_json(
            self.cache_path, {"format": _format.FORMAT_VERSION, "metrics": entries}, durable=False
        )
        self._cache = entries
        self.dirty = False

    def close(self) -> None:
        """Settle an interrupted append, then close every metric fd."""
        if self.pending is not None:
            self.recover()
        for m in self._open.values():
            os.close(m.fd)
            m.fd = -1
        self._open.clear()

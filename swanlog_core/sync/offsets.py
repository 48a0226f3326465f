"""Durable sync state of one run towards one server: per-file offsets and what was pushed.

Where it lives (documented in docs/sync.md)::

    <run dir>/sync/<server key>.json     the state (atomic rewrite: temp, fsync, rename)
    <run dir>/sync/<server key>.lock     flock held by the one sync process pushing the run

``<server key>`` is the first 16 hex digits of the SHA-256 of the normalised server URL,
so one run can be synced to several servers. When the run folder is not writable (a
shared or read-only logdir) the same files go to
``$XDG_STATE_HOME/swanlog/sync/<server key>/<run id>-<folder hash>.*`` (default
``~/.local/state``).

A metric file's offset is the byte just after the last line the server acknowledged.
It is stored with the file's inode and a hash of its first bytes (up to 64): a file
truncated, replaced or recreated (even on a reused inode) no longer matches and is read
again from 0, which the server's first-write-wins makes harmless. Losing or corrupting
the state file costs bandwidth, never data: everything is sent again and the server
reports it as duplicates.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from .._format import atomic_write_bytes

__all__ = ["HEAD_BYTES", "Cursor", "OffsetStore", "head_hash", "server_key"]

HEAD_BYTES = 64  # bytes at the start of a file that fingerprint it
STATE_FORMAT = 1


def server_key(server: str) -> str:
    """The 16 hex digits naming a server in state file names (scheme and host lower-cased)."""
    parts = urlsplit(server.strip())
    normal = f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"
    return hashlib.sha256(normal.encode()).hexdigest()[:16]


def head_hash(head: bytes) -> str:
    """Fingerprint of a file's first bytes."""
    return hashlib.blake2b(head, digest_size=12).hexdigest()


class Cursor:
    """How far one metric file has been acknowledged, and how to tell it is the same file."""

    __slots__ = ("offset", "inode", "head_len", "head", "nul_since", "nul_at")

    def __init__(self, offset: int = 0, inode: int = -1, head_len: int = 0, head: str = "") -> None:
        self.offset = offset
        self.inode = inode
        self.head_len = head_len  # how many first bytes ``head`` hashes: min(offset, HEAD_BYTES)
        self.head = head
        self.nul_since = 0.0  # monotonic time a NUL line was first seen at ``nul_at``; 0 when none
        self.nul_at = -1

    def matches(self, inode: int, size: int, head: bytes) -> bool:
        """Whether a file with this inode, size and first bytes is the one the offset belongs to."""
        if self.offset == 0:
            return True
        return (
            inode == self.inode
            and size >= self.offset
            and len(head) >= self.head_len
            and head_hash(head[: self.head_len]) == self.head
        )

    def advance(self, offset: int, inode: int, head: bytes) -> None:
        """Record that everything before ``offset`` of the file (inode, first bytes) is acknowledged."""
        self.offset = offset
        self.inode = inode
        self.head_len = min(offset, HEAD_BYTES, len(head))
        self.head = head_hash(head[: self.head_len])

    def as_json(self) -> list[Any]:
        return [self.offset, self.inode, self.head_len, self.head]


def _state_home() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "swanlog" / "sync"


class OffsetStore:
    """The sync state of one run for one server, loaded once and saved by atomic rewrite.

    Args:
        run_dir: the run folder.
        run_id: the run's id (names the fallback file).
        server: the server URL.
    """

    def __init__(self, run_dir: Path, run_id: str, server: str) -> None:
        key = server_key(server)
        self.server = server
        self.run_id = run_id
        self.dir = run_dir / "sync"
        self.path = self.dir / f"{key}.json"
        try:
            self.dir.mkdir(exist_ok=True)
            if not os.access(self.dir, os.W_OK):
                raise PermissionError(errno.EACCES, "not writable", str(self.dir))
        except OSError:
            # Not writable (read-only mount, someone else's logdir) or "sync" is taken by
            # a file: keep the state in the user's state dir instead.
            folder = hashlib.sha256(str(run_dir.absolute()).encode()).hexdigest()[:12]
            self.dir = _state_home() / key
            self.dir.mkdir(parents=True, exist_ok=True)
            self.path = self.dir / f"{run_id}-{folder}.json"
        self.lock_path = self.path.with_suffix(".lock")
        self.cursors: dict[str, Cursor] = {}
        self.run_doc = ""  # hash of the last run document the server acknowledged
        self.files: dict[str, list[int]] = {}  # path -> [size, mtime_ns] last pushed
        self.problem: str | None = None  # why a state file found could not be used
        self._lock_fd = -1
        self._load()

    def _load(self) -> None:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, orjson.JSONDecodeError) as exc:
            self.problem = f"{self.path} is unreadable ({exc}); sending everything again"
            return
        try:
            if data.get("format") != STATE_FORMAT or data.get("run_id") != self.run_id:
                self.problem = f"{self.path} belongs to another run or format; sending everything again"
                return
            cursors = {
                rel: Cursor(int(o), int(i), int(n), str(h)) for rel, (o, i, n, h) in data["metrics"].items()
            }
            files = {p: [int(s), int(m)] for p, (s, m) in data.get("files", {}).items()}
            run_doc = str(data.get("run_doc") or "")
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            self.problem = f"{self.path} is malformed ({exc!r}); sending everything again"
            return
        self.cursors, self.files, self.run_doc = cursors, files, run_doc

    def cursor(self, rel: str) -> Cursor:
        """The cursor of the metric file at ``rel`` (under metrics/), created at 0 if new."""
        c = self.cursors.get(rel)
        if c is None:
            c = self.cursors[rel] = Cursor()
        return c

    def save(self) -> None:
        """Write the state durably: a crash leaves the old state or the new, never half of one."""
        doc = {
            "format": STATE_FORMAT,
            "server": self.server,
            "run_id": self.run_id,
            "run_doc": self.run_doc,
            "metrics": {rel: c.as_json() for rel, c in self.cursors.items() if c.offset},
            "files": self.files,
        }
        atomic_write_bytes(self.path, orjson.dumps(doc))

    def try_lock(self) -> bool:
        """Take the per-run sync lock without waiting; False when another sync process holds it."""
        if self._lock_fd >= 0:
            return True
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def unlock(self) -> None:
        """Release the per-run sync lock (also released by the OS if this process dies)."""
        if self._lock_fd >= 0:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = -1

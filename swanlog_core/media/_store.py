"""Payload files under a run's ``media/`` folder: content-addressed, written once, atomically.

A payload of metric ``name`` lives at ``media/<name's path without .jsonl>/<sha256>.<ext>``
(the metric part from ``name_to_path``, so a name can never point outside ``media/``).
The same bytes logged again to the same metric find their file and write nothing; logged
to another metric in the same session, they are hard-linked (one copy on disk), or
copied where the filesystem has no hard links.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .._format import atomic_write_bytes
from .._names import SUFFIX, name_to_path
from ._base import Prepared

__all__ = ["MEDIA_DIR", "PayloadStore", "payload_path"]

MEDIA_DIR = "media"


def payload_path(name: str, prepared: Prepared) -> str:
    """Path of a payload relative to the run folder (posix): ``media/<metric>/<sha256>.<ext>``."""
    return f"{MEDIA_DIR}/{name_to_path(name)[: -len(SUFFIX)]}/{prepared.digest}.{prepared.ext}"


def _holds(path: Path, size: int) -> bool:
    """Whether ``path`` is a regular file of ``size`` bytes (a payload already written)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size == size


class PayloadStore:
    """Writes a run's payload files; remembers which file holds which content this session."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._known: dict[str, Path] = {}  # "<sha256>.<ext>" -> a file written this session

    def put(self, rel: str, prepared: Prepared) -> None:
        """Make ``rel`` hold the payload, unless it already does.

        Raises:
            OSError: the file could not be written (its message names the path).
        """
        path = self.run_dir / rel
        data = prepared.payload or b""
        # Same name, same size: the same content (the name is its SHA-256). The size test
        # catches a file that a power loss left empty, which is then written again.
        if _holds(path, len(data)):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        key = path.name
        other = self._known.get(key)
        if other is not None and _holds(other, len(data)):
            try:
                os.link(other, path)  # one copy on disk for the same content in two metrics
                return
            except FileExistsError:
                if _holds(path, len(data)):
                    return
            except OSError:
                pass  # no hard links here (EPERM, EXDEV, EMLINK...): write a copy
        # Temp file and rename: a reader (or sync) never sees a half-written payload.
        # No fsync, as for metric lines: a power loss may lose it, and the size test
        # above rewrites a payload that came back empty.
        atomic_write_bytes(path, data, durable=False)
        self._known[key] = path

"""Follow a live run: the points its metric files gain, poll after poll, complete lines only.

This is what ``swanlog tail -f`` runs::

    follower = Follower(open_run("k3j9"))
    while True:
        for name, history in follower.poll():   # the first poll returns every point so far
            ...
        time.sleep(0.2)
"""

from __future__ import annotations

import os
from pathlib import Path

from ._format import METRICS_DIR, iter_metric_files
from ._names import path_to_name
from .reader import History, RunView, parse_points

__all__ = ["Follower"]


class _Cursor:
    """How far one metric file has been read: complete lines only."""

    __slots__ = ("offset", "inode")

    def __init__(self) -> None:
        self.offset = 0
        self.inode = -1


class Follower:
    """New points of a run's metrics, poll after poll, as a live run appends them.

    The first ``poll()`` returns every point so far; each later one returns the points
    of lines completed since. A torn last line is left for a later poll, when its
    newline has arrived; a file that shrank or was replaced is read again from its start.

    Args:
        run: the run to follow.
        names: the metrics to follow (they may not exist yet); None follows every
            metric, including ones that appear later.
    """

    def __init__(self, run: RunView, names: list[str] | None = None) -> None:
        self.run = run
        self._paths = None if names is None else {n: run.metric_path(n) for n in names}
        self._cursors: dict[str, _Cursor] = {}

    def _files(self) -> list[tuple[str, Path]]:
        if self._paths is not None:
            return list(self._paths.items())
        files = []
        for rel, path in iter_metric_files(self.run.dir / METRICS_DIR):
            try:
                name = path_to_name(rel)
            except UnicodeDecodeError:
                continue
            if name is not None:
                files.append((name, path))
        return sorted(files)

    def poll(self) -> list[tuple[str, History]]:
        """(metric name, its new points) for each metric with new complete lines, by name.

        ``History.torn`` is always 0 here: a torn tail is simply not read yet.
        """
        found = []
        for name, path in self._files():
            cursor = self._cursors.setdefault(name, _Cursor())
            try:
                with open(path, "rb") as f:
                    st = os.fstat(f.fileno())
                    if st.st_ino != cursor.inode or st.st_size < cursor.offset:
                        cursor.offset, cursor.inode = 0, st.st_ino  # new, truncated or replaced
                    f.seek(cursor.offset)
                    data = f.read()
            except FileNotFoundError:
                continue
            end = data.rfind(b"\n") + 1
            if not end:
                continue
            cursor.offset += end
            history = parse_points(data[:end])
            if len(history) or history.corrupt:
                found.append((name, history))
        return found

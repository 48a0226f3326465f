"""File events as hints for ``--watch``, and the only module that imports watchdog.

``start_watcher`` is the one place that chooses inotify (watchdog's native observer)
or polling (``--poll``, for NFS and Lustre, or when inotify cannot be used); nothing
downstream knows which. inotify fails at one of two moments: creating the observer
(watchdog >= 7 opens the inotify instance there: EMFILE, ``max_user_instances``) or
watching a root (ENOSPC, ``max_user_watches``; EMFILE with older watchdog). Either way
the watcher goes on with the polling observer and warns, naming the limit to raise.

Events only mark a run as worth a look and wake the sync loop: the loop also rescans
every run on a timer, so a lost event (an inotify queue overflow, an observer that
died) delays sync by one rescan at most and never stops it.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from .._format import parse_run_dir_name

__all__ = ["Watcher", "start_watcher"]

POLL_SECONDS = 0.5  # how often the polling observer compares directory snapshots
_EVENTS = [DirCreatedEvent, FileClosedEvent, FileCreatedEvent, FileModifiedEvent, FileMovedEvent]
_LIMITS = {errno.ENOSPC: "max_user_watches", errno.EMFILE: "max_user_instances"}  # under fs.inotify


def _polling_instead(exc: OSError) -> str:
    """The warning for inotify refusing to work: what failed, what happens now, how to avoid it."""
    text = f"file events: inotify failed ({exc}); polling every {POLL_SECONDS:g}s instead"
    limit = _LIMITS.get(exc.errno or 0)
    if limit is not None:
        try:
            with open(f"/proc/sys/fs/inotify/{limit}") as f:
                more = str(2 * int(f.read()))
        except (OSError, ValueError):
            more = "<more>"
        text += f". To use inotify, raise the limit: sudo sysctl fs.inotify.{limit}={more}; or pass --poll"
    return text


class _ProblemLog(logging.Handler):
    """Turns watchdog's log records (an inotify queue overflow, say) into problems, each once.

    Without it they would go to stderr through logging's last resort, once per overflow.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.problems = problems
        self.seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().split(";")[0]
        if text not in self.seen:
            self.seen.add(text)
            self.problems.append(f"file events: {text}; the rescan catches up")


class Watcher(FileSystemEventHandler):
    """Collects the run folders that had file events, and wakes whoever waits on ``wake``.

    Args:
        roots: logdirs or run folders to watch.
        wake: set on every event.
        poll: True for polling, False for inotify.
    """

    def __init__(self, roots: list[Path], wake: threading.Event, poll: bool) -> None:
        super().__init__()
        self.wake = wake
        self.poll = poll
        self.problems: list[str] = []  # what went wrong with events; sync goes on by rescans
        self._roots = [str(r.absolute()) for r in roots]
        self._watched: set[str] = set()
        self._dirty: set[Path] = set()
        self._lock = threading.Lock()
        self._observer: BaseObserver = PollingObserver(timeout=POLL_SECONDS) if poll else Observer()
        self._observer.daemon = True
        self._log: logging.Handler | None = None

    # -- the observer thread's side: cheap, never raises ---------------------------------

    def dispatch(self, event: FileSystemEvent) -> None:
        """Note the run folder an event happened in (never raises: a handler error would stop events)."""
        path = event.dest_path or event.src_path
        run_dir = self._run_dir(os.fsdecode(path))
        if run_dir is not None:
            with self._lock:
                self._dirty.add(run_dir)
        self.wake.set()

    def _run_dir(self, path: str) -> Path | None:
        for root in self._roots:
            if path == root or path.startswith(root + os.sep):
                if parse_run_dir_name(os.path.basename(root)):
                    rest = path[len(root) + 1 :].split(os.sep, 1)
                    if rest[0] == "sync":
                        return None  # our own state files
                    return Path(root)
                rest = path[len(root) + 1 :].split(os.sep, 2)
                if not parse_run_dir_name(rest[0]):
                    return None
                if len(rest) > 1 and rest[1] == "sync":
                    return None
                return Path(root) / rest[0]
        return None

    # -- the sync loop's side --------------------------------------------------------------

    def take(self) -> set[Path]:
        """The run folders with events since the last call."""
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        return dirty

    def check(self) -> None:
        """Watch roots that exist now and were not watched yet; note an observer that died."""
        if not self._observer.is_alive():
            if "observer" not in self._watched:
                self._watched.add("observer")
                self.problems.append("the file event observer stopped; going on with rescans only")
            return
        for root in self._roots:
            if root in self._watched or not os.path.isdir(root):
                continue
            try:
                self._observer.schedule(self, root, recursive=True, event_filter=_EVENTS)
            except OSError as exc:  # ENOSPC: the inotify watch limit; EMFILE: too many instances
                if not self.poll:
                    self._poll_instead(exc)
                    return
                self.problems.append(f"cannot watch {root} for events ({exc}); going on with rescans only")
            self._watched.add(root)

    def _poll_instead(self, exc: OSError) -> None:
        """inotify refused a watch: replace its observer by the polling one, for every root."""
        self.problems.append(_polling_instead(exc))
        inotify = self._observer
        inotify.stop()
        inotify.join(timeout=10)
        self.poll = True
        self._observer = PollingObserver(timeout=POLL_SECONDS)
        self._observer.daemon = True
        self._observer.start()
        self._watched.clear()
        self.check()

    def start(self) -> None:
        """Start the observer thread and watch the roots that exist."""
        self._log = _ProblemLog(self.problems)
        logger = logging.getLogger("watchdog")
        logger.addHandler(self._log)
        logger.propagate = False
        self._observer.start()
        self.check()

    def stop(self) -> None:
        """Stop the observer thread and wait for it."""
        self._observer.stop()
        if self._observer.is_alive():
            self._observer.join(timeout=10)
        logger = logging.getLogger("watchdog")
        if self._log is not None:
            logger.removeHandler(self._log)
        logger.propagate = True


def start_watcher(roots: list[Path], wake: threading.Event, poll: bool) -> Watcher:
    """Start watching ``roots``: inotify unless ``poll``, polling otherwise or when inotify fails."""
    try:
        watcher = Watcher(roots, wake, poll)
    except OSError as exc:  # no inotify instance (EMFILE on inotify_init): poll instead
        watcher = Watcher(roots, wake, poll=True)
        watcher.problems.append(_polling_instead(exc))
    watcher.start()  # a watch inotify refuses (ENOSPC) switches to polling in check()
    return watcher

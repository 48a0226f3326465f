"""``Syncer``: push the runs under some paths to a server, once or for as long as asked.

One-shot (``watch=False``): each run is pushed in turn (a second pass when its status
changed meanwhile), then ``run()`` returns a ``SyncReport``. Requests that keep failing
for ``timeout`` seconds end the sync; what is unsent is in the report.

Watch (``watch=True``): file events (``watch.py``) mark runs to look at at once, and a
rescan every ``rescan`` seconds looks at every run that is not final yet and finds new
runs, so that a lost event delays sync by one rescan, never more. Retries never give
up. ``stop()`` (from a signal handler) ends the loop after the batch in flight.

``until_finished`` (the child of ``init(mode="online")``) is watch mode that returns
once every run is final (finished, failed, or crashed: the writer is gone) and pushed.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import CorruptRunError, InvalidValueError
from .client import Client
from .errors import ServerRejectedError, ServerUnavailableError, SyncInterrupted
from .runsync import FINAL, Limits, RunSync, Totals
from .scan import find_run_dirs

__all__ = ["SyncReport", "Syncer"]

RESCAN_SECONDS = 2.0  # watch: how often every unfinished run is looked at without an event
DONE_RESCAN_SECONDS = 30.0  # watch: how often a final, pushed run is looked at again


@dataclass
class SyncReport:
    """What a sync did, and what it left undone."""

    runs: int = 0  # runs found
    points: int = 0  # records the server acknowledged
    accepted: int = 0  # of which new to the server
    duplicates: int = 0  # of which the server had already
    corrupt: int = 0  # complete lines skipped: not a valid point
    bytes: int = 0  # metric-file bytes acknowledged
    wire: int = 0  # request body bytes (gzipped records)
    files: int = 0  # console and media files pushed
    retries: int = 0
    seconds: float = 0.0
    failed: dict[str, str] = field(default_factory=dict)  # run id -> why it stopped
    unsent: dict[str, int] = field(default_factory=dict)  # run id -> metric bytes not acknowledged
    waiting: dict[str, int] = field(default_factory=dict)  # run id -> bytes of incomplete last lines
    # Of those, the runs whose writer has stopped (finished, failed, crashed): a torn line that
    # a kill, power loss or full disk left, which only a resume (or verify --repair) removes.
    torn: dict[str, int] = field(default_factory=dict)
    busy: list[str] = field(default_factory=list)  # runs another sync process was pushing
    problems: list[str] = field(default_factory=list)  # warnings that did not stop anything
    error: str | None = None  # what ended the whole sync early (wrong key, server gone)
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        """True when every complete line found was acknowledged and nothing was refused."""
        return not (self.failed or self.unsent or self.busy or self.error or self.interrupted)


class Syncer:
    """Push the runs under ``paths`` to a swanlog server.

    Args:
        paths: logdirs or run folders.
        server: the server's URL, e.g. ``http://127.0.0.1:5092``.
        api_key: the API key.
        watch: keep going until ``stop()``; retries never give up.
        poll: in watch mode, poll the file system instead of inotify (NFS, Lustre).
        timeout: one-shot: seconds of failing retries before giving up.
        until_finished: watch mode that returns once every run is final and pushed.
        limits: batch bounds.
        on_progress: called (in the syncing thread) after each batch and pass.
        on_message: called with a line of text for retries and problems.
        transport: an httpx transport for tests.

    Raises:
        InvalidValueError: the server URL is not http:// or https://.
    """

    def __init__(
        self,
        paths: list[Path],
        server: str,
        api_key: str | None,
        *,
        watch: bool = False,
        poll: bool = False,
        timeout: float = 600.0,
        until_finished: bool = False,
        limits: Limits | None = None,
        on_progress: Callable[[SyncReport], None] | None = None,
        on_message: Callable[[str], None] | None = None,
        transport: object = None,
        rescan: float = RESCAN_SECONDS,
    ) -> None:
        if not server.startswith(("http://", "https://")):
            raise InvalidValueError(f"server URL {server!r}: expected http://HOST:PORT or https://...")
        self.paths = [Path(p).absolute() for p in paths]
        self.server = server.rstrip("/")
        self.watch = watch or until_finished
        self.poll = poll
        self.timeout = timeout
        self.until_finished = until_finished
        self.limits = limits or Limits()
        self.on_progress = on_progress
        self.on_message = on_message
        self.rescan = rescan
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._wake = threading.Event()
        self._totals = Totals()
        self._runs: dict[Path, RunSync] = {}
        self._failed: dict[str, str] = {}
        self._seen_problems = 0
        self._started = time.monotonic()
        self.watcher: object = None  # watch mode: the file event watcher, once started
        # One thread sends a batch while this one prepares the next (see RunSync._submit).
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="swanlog-sync-send")
        self.client = Client(
            self.server,
            api_key,
            give_up_after=None if self.watch else timeout,
            stop=self._stop,
            on_retry=self._message,
            transport=transport,  # type: ignore[arg-type]
        )

    # -- control ----------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the sync to end (safe from a signal handler or another thread).

        One-shot: after the batch in flight. Watch: after the pass in progress and one
        last pass that sends what is complete, without retrying; a second call ends it
        after the batch in flight.
        """
        if self._stop.is_set() or not self.watch:
            self._abort.set()
        self._stop.set()  # also ends a wait before a retry at once
        self._wake.set()

    def _message(self, text: str) -> None:
        if self.on_message is not None:
            self.on_message(text)

    def _flush_problems(self) -> None:
        problems = self._totals.problems
        while self._seen_problems < len(problems):
            self._message(problems[self._seen_problems])
            self._seen_problems += 1

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.report())

    # -- running ----------------------------------------------------------------------

    def run(self) -> SyncReport:
        """Sync until done (one-shot), or until ``stop()`` (watch); the report.

        Raises:
            InvalidValueError: no path exists.
        """
        error: str | None = None
        interrupted = False
        try:
            if self.watch:
                self._run_watch()
            else:
                self._run_once()
        except ServerUnavailableError as exc:
            error = str(exc)
        except ServerRejectedError as exc:  # 401: the key is wrong for every run
            error = str(exc)
            if exc.status == 401:
                error += " (check --api-key or SWANLOG_API_KEY)"
        except SyncInterrupted:
            interrupted = True
        finally:
            self._sender.shutdown(wait=True)
            for r in self._runs.values():
                r.close()
            self.client.close()
        if self._stop.is_set() and not self.watch:
            interrupted = True
        report = self.report()
        report.error = error
        report.interrupted = interrupted and not self.watch
        for r in self._runs.values():
            if r.id in report.failed or r.busy:
                continue
            if not r.done or interrupted or error:
                left = r.unsent() - r.waiting
                if left > 0:
                    report.unsent[r.id] = left
        self._flush_problems()
        return report

    def report(self) -> SyncReport:
        """A snapshot of the counters (``unsent`` is filled in by ``run()`` at the end)."""
        t = self._totals
        return SyncReport(
            runs=len(self._runs),
            points=t.points,
            accepted=t.accepted,
            duplicates=t.duplicates,
            corrupt=t.corrupt,
            bytes=t.bytes,
            wire=t.wire,
            files=t.files,
            retries=self.client.retries,
            seconds=time.monotonic() - self._started,
            failed=dict(self._failed),
            waiting={r.id: r.waiting for r in self._runs.values() if r.waiting},
            torn={r.id: r.waiting for r in self._runs.values() if r.waiting and r.status in FINAL},
            busy=[r.id for r in self._runs.values() if r.busy],
            problems=list(t.problems),
        )

    def _run_for(self, run_dir: Path) -> RunSync:
        r = self._runs.get(run_dir)
        if r is None:
            r = self._runs[run_dir] = RunSync(run_dir, self.client, self.server, self._totals, self.limits)
            r.on_batch = self._progress
            r.abort = self._abort
            r.sender = self._sender
        return r

    def _pass(self, r: RunSync, final: bool = False) -> None:
        """One pass over one run; a refusal stops that run only (a 401 stops everything)."""
        if r.stopped:
            return
        try:
            r.sync_pass(final)
        except ServerRejectedError as exc:
            if exc.status == 401 or exc.status == 0:
                raise
            r.stopped = str(exc)
            self._failed[r.id] = str(exc)
            self._message(f"run {r.id} stopped: {exc}")
        except CorruptRunError as exc:
            if r.id not in self._failed:
                self._message(str(exc))
            self._failed[r.id] = str(exc)
        else:
            if r.id in self._failed and not r.stopped:
                del self._failed[r.id]  # a run that was corrupt and is readable now
        finally:
            self._flush_problems()
        self._progress()

    def _find(self) -> list[RunSync]:
        dirs = find_run_dirs(self.paths)
        return [self._run_for(d) for d in dirs]

    def _run_once(self) -> None:
        if not any(p.exists() for p in self.paths):
            raise InvalidValueError("no such logdir or run folder: " + ", ".join(map(str, self.paths)))
        for r in self._find():
            if self._stop.is_set():
                raise SyncInterrupted("stopped")
            self._pass(r, final=True)
            if r.changed and not r.stopped:
                self._pass(r, final=True)  # it ended while it was pushed: its last lines

    def _run_watch(self) -> None:
        from .watch import start_watcher  # watchdog only when watching

        watcher = self.watcher = start_watcher(self.paths, self._wake, self.poll)
        reported = 0
        try:
            next_rescan = 0.0
            last_pass: dict[Path, float] = {}
            while not self._stop.is_set():
                now = time.monotonic()
                self._wake.clear()
                dirty = watcher.take()
                if now >= next_rescan:
                    watcher.check()
                    while reported < len(watcher.problems):
                        self._totals.problems.append(watcher.problems[reported])
                        reported += 1
                    self._flush_problems()
                    runs = self._find()
                    todo = [
                        r
                        for r in runs
                        if not r.done
                        or now - last_pass.get(r.dir, 0.0) >= DONE_RESCAN_SECONDS
                        or r.dir in dirty
                    ]
                    next_rescan = now + self.rescan
                else:
                    todo = [self._run_for(d) for d in sorted(dirty) if d.is_dir()]
                for r in todo:
                    if self._stop.is_set():
                        break
                    if self.until_finished:
                        # Never give up while the script runs; once it ended, as one-shot does.
                        self.client.give_up_after = (
                            self.timeout if r.status in ("finished", "failed", "crashed") else None
                        )
                    self._pass(r)
                    last_pass[r.dir] = time.monotonic()
                if (
                    self.until_finished
                    and self._runs
                    and all(r.done or r.stopped for r in self._runs.values())
                ):
                    return
                self._wake.wait(max(0.0, next_rescan - time.monotonic()))
            # Stopped: one last pass sends what is complete (a failing request is not retried).
            for r in list(self._runs.values()):
                if not r.done and not self._abort.is_set():
                    self._pass(r, final=True)
        finally:
            watcher.stop()

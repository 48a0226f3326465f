"""``sync --watch`` when inotify hits a kernel limit: it polls instead, says which limit to raise, and
new points keep arriving. The limits are simulated (a real one would need root and would starve the
whole machine): the inotify observer ``swanlog_core.sync.watch`` creates is replaced by one that fails
the way watchdog does, with watchdog's own errno and message."""

from __future__ import annotations

import errno
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from swanlog_core.sync import Syncer
from swanlog_core.sync import watch as watch_module
from swanlog_core.sync.watch import start_watcher
from tests.runfolder import LockHolder, line, make_run
from tests.support import wait_until
from tests.unit.test_sync_runs import SERVER, FakeServer


class _WatchLimit(Observer):  # type: ignore[misc, valid-type]
    """inotify with ``fs.inotify.max_user_watches`` used up: inotify_add_watch fails with ENOSPC."""

    def schedule(self, *args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")


class _InstanceLimitOnSchedule(Observer):  # type: ignore[misc, valid-type]
    """watchdog < 7: the inotify instance is opened when a root is scheduled, and fails with EMFILE."""

    def schedule(self, *args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EMFILE, "inotify instance limit reached")


class _InstanceLimitOnCreate:
    """watchdog >= 7: the inotify instance is opened by the observer's constructor, and fails with EMFILE."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EMFILE, "inotify instance limit reached")


LIMITS = [
    pytest.param(_WatchLimit, "max_user_watches", id="watch-limit-ENOSPC-on-schedule"),
    pytest.param(_InstanceLimitOnSchedule, "max_user_instances", id="instance-limit-EMFILE-on-schedule"),
    pytest.param(_InstanceLimitOnCreate, "max_user_instances", id="instance-limit-EMFILE-on-create"),
]


def _assert_clear_warning(message: str, limit: str) -> None:
    """The warning says inotify failed and why, that sync polls now, the sysctl to raise, and --poll."""
    assert message.startswith("file events: inotify failed ("), message
    assert "limit reached" in message and "polling every 0.5s instead" in message, message
    assert f"sudo sysctl fs.inotify.{limit}=" in message and "--poll" in message, message


@pytest.mark.parametrize("observer, limit", LIMITS)
def test_an_inotify_limit_falls_back_to_polling_with_a_clear_warning(
    logdir: Path, monkeypatch: pytest.MonkeyPatch, observer: type, limit: str
) -> None:
    """When inotify hits its watch or instance limit, the watcher polls instead, warns once, sees appends."""
    monkeypatch.setattr(watch_module, "Observer", observer)
    run_dir = make_run(logdir, "aaaa", status="running", metrics={"m": [line(0, 1.0)]})
    wake = threading.Event()
    watcher = start_watcher([logdir], wake, poll=False)
    try:
        assert watcher.poll
        assert isinstance(watcher._observer, PollingObserver)
        (message,) = watcher.problems
        _assert_clear_warning(message, limit)
        watcher.check()  # the next rescan: the root is watched (by polling), nothing new to report
        assert len(watcher.problems) == 1
        watcher.take()
        wake.clear()
        with open(run_dir / "metrics" / "m.jsonl", "ab") as f:
            f.write(line(1, 2.0))
        seen: set[Path] = set()

        def saw_the_append() -> bool:
            seen.update(watcher.take())
            return wake.is_set() and run_dir in seen

        wait_until(saw_the_append, timeout=5)
    finally:
        watcher.stop()


def test_watch_at_the_inotify_watch_limit_still_pushes_new_points_promptly(
    logdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the inotify watch limit, ``sync --watch`` warns and pushes appends without waiting for a rescan."""
    monkeypatch.setattr(watch_module, "Observer", _WatchLimit)
    run_dir = make_run(logdir, "aaaa", status="running", metrics={"m": [line(0, 1.0)]})
    server = FakeServer()
    messages: list[str] = []
    out: list[Any] = []
    with LockHolder(run_dir):
        # A rescan every 60 s: within the 5 s waited below, only file events can wake the sync.
        syncer = Syncer(
            [logdir], SERVER, "key", watch=True, rescan=60.0, on_message=messages.append,
            transport=httpx.MockTransport(server),
        )  # fmt: skip
        thread = threading.Thread(target=lambda: out.append(syncer.run()), name="syncer")
        thread.start()
        try:
            wait_until(lambda: server.steps("aaaa", "m") == [0])
            with open(run_dir / "metrics" / "m.jsonl", "ab") as f:
                f.write(b"".join(line(i, i / 2) for i in range(1, 4)))
            wait_until(lambda: server.steps("aaaa", "m") == [0, 1, 2, 3], timeout=5)
        finally:
            syncer.stop()
            thread.join(timeout=30)
    (report,) = out
    assert report.ok
    (warning,) = [m for m in messages if "inotify" in m]  # what the CLI prints on stderr
    _assert_clear_warning(warning, "max_user_watches")
    assert warning in report.problems

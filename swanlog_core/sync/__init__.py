"""Sync: push the runs of a logdir to a swanlog server, once or live.

    from swanlog_core.sync import Syncer

    report = Syncer([Path("swanlog")], "http://127.0.0.1:5092", api_key).run()
    print(report.points, report.ok)

``swanlog sync`` is the command line of this package, and ``init(mode="online")``
runs it as a child process. See docs/sync.md for offsets, retries and watch mode.
Modules: ``syncer`` (the loop), ``runsync`` (one run), ``offsets`` (durable state),
``scan`` (runs and lines), ``client`` (httpx, the only importer), ``watch`` (watchdog,
the only importer, loaded in watch mode only).
"""

from __future__ import annotations

from .errors import ServerRejectedError, ServerUnavailableError, SyncError, SyncInterrupted
from .runsync import Limits
from .syncer import Syncer, SyncReport

__all__ = [
    "Limits",
    "ServerRejectedError",
    "ServerUnavailableError",
    "SyncError",
    "SyncInterrupted",
    "SyncReport",
    "Syncer",
]

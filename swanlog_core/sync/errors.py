"""The errors sync raises; every one is a ``swanlog_core.errors.Error``.

The tree::

    SyncError                 base class of what sync raises
    ├── ServerRejectedError   the server refused a request with a 4xx other than 429:
    │                         ``status``, the server's message, the run it concerns
    ├── ServerUnavailableError  retries failed for longer than the give-up time
    └── SyncInterrupted       sync was asked to stop while it waited to retry

The syncer translates them per run: a rejection stops that run only (a 401, a wrong
key, stops every run), unavailability ends a one-shot sync with what is still unsent.
"""

from __future__ import annotations

from ..errors import Error

__all__ = ["ServerRejectedError", "ServerUnavailableError", "SyncError", "SyncInterrupted"]


class SyncError(Error):
    """Base class of the errors sync raises."""


class ServerRejectedError(SyncError):
    """The server answered a 4xx other than 429; retrying the same request cannot help."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ServerUnavailableError(SyncError):
    """The server could not be reached (or kept failing) for longer than the give-up time."""


class SyncInterrupted(SyncError):
    """Sync was stopped (SIGINT, SIGTERM) while it waited to retry a request."""

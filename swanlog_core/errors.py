"""Every error and warning swanlog raises.

The tree::

    Error                         base class; catch this to catch anything of ours
    ├── NotInitializedError       log()/define_metric()/finish() before init()
    ├── RunLockedError            another process (or handle) is writing this run
    ├── RunNotFoundError          no run matches an id, prefix or folder
    ├── RunExistsError            init(id=...) of a run that exists, without resume
    ├── InvalidValueError         also a ValueError: bad metric name, value, step,
    │                             define_metric argument or init argument
    ├── CorruptRunError           a run folder whose run.json cannot be read
    └── MissingExtraError         also an ImportError: a media type needs an optional
                                  package (pip install 'swanlog[media]')

    SwanlogWarning                a UserWarning: a value discarded by first-write-wins,
                                  a run finished for you by a second init()
"""

from __future__ import annotations

__all__ = [
    "CorruptRunError",
    "Error",
    "InvalidValueError",
    "MissingExtraError",
    "NotInitializedError",
    "RunExistsError",
    "RunLockedError",
    "RunNotFoundError",
    "SwanlogWarning",
]


class Error(Exception):
    """Base class of every error swanlog raises."""


class NotInitializedError(Error):
    """A call that needs a run came before ``init()`` (or after ``finish()``)."""


class RunLockedError(Error):
    """The run is held by another writer; one process writes a run at a time."""


class RunNotFoundError(Error):
    """No run matches the id, id prefix or folder that was asked for."""


class RunExistsError(Error):
    """``init(id=...)`` named a run that exists, and ``resume`` did not allow it."""


class InvalidValueError(Error, ValueError):
    """An argument or a logged value is not acceptable; the message names it and why."""


class CorruptRunError(Error):
    """A run folder exists but its ``run.json`` is missing or unreadable."""


class MissingExtraError(Error, ImportError):
    """An optional package a feature needs is not installed; the message names the extra."""


class SwanlogWarning(UserWarning):
    """Something was ignored rather than raised, e.g. a value discarded by first-write-wins."""

"""The errors the server turns into HTTP responses.

The tree (every class is a ``swanlog_core.errors.Error``)::

    ApiError                  an HTTP status and a message naming the item and the reason
    ├── BadRequestError       400: malformed input (bad JSON, run id, step, path, query)
    ├── UnauthorizedError     401: no key, an unknown key or a revoked key
    ├── ForbiddenError        403: the key lacks the run's project
    ├── NotFoundError         404: no such run, metric or file
    ├── ConflictError         409: the run exists in another project
    ├── PayloadTooLargeError  413: a body, batch or name over its limit
    └── UnsupportedMediaError 415: a Content-Encoding other than gzip

The app answers each with ``{"error": message}`` and its status; nothing else in the
server chooses a status code.
"""

from __future__ import annotations

from ..errors import Error

__all__ = [
    "ApiError",
    "BadRequestError",
    "ConflictError",
    "ForbiddenError",
    "NotFoundError",
    "PayloadTooLargeError",
    "UnauthorizedError",
    "UnsupportedMediaError",
]


class ApiError(Error):
    """A request the server refuses; ``status`` is the HTTP status it answers with."""

    status = 400


class BadRequestError(ApiError):
    """Malformed input: the message names the field or line and what is wrong."""

    status = 400


class UnauthorizedError(ApiError):
    """No API key, or one the server does not know or has revoked."""

    status = 401


class ForbiddenError(ApiError):
    """The API key is valid but lacks the project the request touches."""

    status = 403


class NotFoundError(ApiError):
    """The run, metric or file does not exist."""

    status = 404


class ConflictError(ApiError):
    """The run id is taken by a run of another project."""

    status = 409


class PayloadTooLargeError(ApiError):
    """A body, batch, name or file over its limit; the message names the limit."""

    status = 413


class UnsupportedMediaError(ApiError):
    """A Content-Encoding the server does not decode."""

    status = 415

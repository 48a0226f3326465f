"""A run as the server sees it: its id, the fields a PUT may set, its files' paths.

``run_fields`` turns a PUT body into column values (documents as JSON text), refusing
what the columns cannot hold; ``run_document`` turns columns back into the API's JSON.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

import orjson

from .errors import BadRequestError, PayloadTooLargeError
from .settings import Settings
from .store import DOC_FIELDS

__all__ = ["STATUSES", "check_file_path", "check_run_id", "run_document", "run_fields"]

STATUSES = ("running", "finished", "failed", "crashed")
_RUN_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_INT64 = (-(1 << 63), (1 << 63) - 1)
_MAX_PATH_BYTES = 1024


def _show(value: Any) -> str:
    return orjson.dumps(value, default=repr).decode()[:100]


def check_run_id(run_id: str) -> str:
    """Raise 400 unless ``run_id`` is 1-64 characters of [A-Za-z0-9_-]."""
    if not _RUN_ID_RE.fullmatch(run_id):
        raise BadRequestError(f"run id {run_id[:100]!r} is not 1-64 characters of A-Z, a-z, 0-9, _ and -")
    return run_id


def check_file_path(path: str) -> str:
    """Raise 400 unless ``path`` is ``console.log`` or a clean relative path under ``media/``."""
    where = f"file path {path[:200]!r}"
    if "\x00" in path or "\\" in path:
        raise BadRequestError(f"{where} contains a NUL or a backslash")
    if len(path.encode("utf-8", "surrogatepass")) > _MAX_PATH_BYTES:
        raise PayloadTooLargeError(f"{where} is longer than {_MAX_PATH_BYTES} bytes")
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise BadRequestError(f'{where} has an empty, "." or ".." segment')
    if path != "console.log" and not (parts[0] == "media" and len(parts) > 1):
        raise BadRequestError(f"{where} is neither console.log nor under media/")
    return path


def _text(body: dict[str, Any], field: str, limit: int | None, nullable: bool = True) -> str | None:
    value = body[field]
    if value is None and nullable:
        return None
    if type(value) is not str:
        raise BadRequestError(f'"{field}" must be a string, not {_show(value)}')
    if "\x00" in value:
        raise BadRequestError(f'"{field}" contains a NUL character')
    if limit is not None and len(value) > limit:
        raise PayloadTooLargeError(f'"{field}" is {len(value)} characters, over the limit of {limit}')
    return value


def _integer(body: dict[str, Any], field: str) -> int | None:
    value = body[field]
    if value is not None and (type(value) is not int or not _INT64[0] <= value <= _INT64[1]):
        raise BadRequestError(f'"{field}" must be a 64-bit integer or null, not {_show(value)}')
    return value


def run_fields(body: Any, settings: Settings) -> dict[str, Any]:
    """Column values for the fields present in a PUT body; unknown fields are ignored.

    Raises:
        BadRequestError: a field of the wrong type or value (the message names it).
        PayloadTooLargeError: a project or name longer than ``settings.max_name_chars``.
    """
    if type(body) is not dict:
        raise BadRequestError(f"the run must be a JSON object, not {type(body).__name__}")
    out: dict[str, Any] = {}
    if "project" in body:
        project = _text(body, "project", settings.max_name_chars, nullable=False)
        if not project:
            raise BadRequestError('"project" must not be empty')
        out["project"] = project
    if "name" in body:
        out["name"] = _text(body, "name", settings.max_name_chars)
    for field in ("notes", "host"):
        if field in body:
            out[field] = _text(body, field, None)
    if "status" in body:
        if body["status"] not in STATUSES:
            allowed = ", ".join(STATUSES)
            raise BadRequestError(f'"status" must be one of {allowed}, not {_show(body["status"])}')
        out["status"] = body["status"]
    for field in ("created", "updated"):
        if field in body:
            stamp = _text(body, field, 64)
            if stamp is not None:
                try:
                    _dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
                except ValueError:
                    raise BadRequestError(f'"{field}" is not an ISO-8601 time: {stamp!r}') from None
            out[field] = stamp
    if "tags" in body:
        tags = body["tags"]
        if tags is None:
            tags = []
        if type(tags) is not list or any(type(t) is not str for t in tags):
            raise BadRequestError(f'"tags" must be a list of strings, not {_show(tags)}')
        out["tags"] = orjson.dumps(tags).decode()
    for field in ("exit_code", "pid"):
        if field in body:
            out[field] = _integer(body, field)
    if "duration" in body:
        duration = body["duration"]
        if duration is not None and type(duration) not in (int, float):
            raise BadRequestError(f'"duration" must be a number of seconds or null, not {_show(duration)}')
        out["duration"] = None if duration is None else float(duration)  # an int may exceed 64 bits
    for field in DOC_FIELDS:
        if field in body:
            doc = body[field]
            if type(doc) is not dict:
                raise BadRequestError(f'"{field}" must be a JSON object, not {_show(doc)}')
            out[field] = orjson.dumps(doc).decode()  # escapes NUL, which PostgreSQL text refuses
    return out


def run_document(row: dict[str, Any]) -> dict[str, Any]:
    """The API's JSON for a stored run: tags as a list, documents as objects."""
    doc = dict(row)
    doc["tags"] = orjson.loads(doc["tags"]) if doc.get("tags") else []
    for field in DOC_FIELDS:
        if field in doc:
            doc[field] = orjson.loads(doc[field]) if doc[field] else {}
    return doc

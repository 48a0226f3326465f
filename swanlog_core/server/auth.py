"""API keys: ``swl_<id>_<secret>``, stored as the id and a SHA-256 of the secret.

The secret is 256 random bits, so a plain SHA-256 is enough (no slow hash needed to
resist guessing) and the comparison is constant-time. Every request looks its key up
in the database: revoking a key takes effect at once in every server process.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import re
import secrets

from ..errors import Error
from .errors import ForbiddenError, UnauthorizedError
from .store import KeyRecord, Store

__all__ = [
    "authenticate",
    "check_project",
    "create_key",
    "key_id_of",
    "new_key",
    "revoke_key",
    "revoked_now",
]

MAX_PROJECT_CHARS = 256

_KEY_RE = re.compile(r"swl_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_ID_RE = re.compile(r"^(?:swl_)?([0-9a-f]{12})(?:_.*)?$")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_key(projects: tuple[str, ...]) -> tuple[str, KeyRecord]:
    """A fresh key: (the full key to show once, the record to store)."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)  # 43 characters, 256 bits
    return f"swl_{key_id}_{secret}", KeyRecord(key_id, _hash(secret), projects, _now(), None)


def key_id_of(text: str) -> str | None:
    """The key id in ``<id>``, ``swl_<id>`` or a whole key; None if it is none of those."""
    m = _ID_RE.match(text.strip())
    return m.group(1) if m else None


def revoked_now() -> str:
    """The time stamp a revocation records."""
    return _now()


def authenticate(store: Store, authorization: str | None) -> KeyRecord:
    """The key of an ``Authorization: Bearer <key>`` header.

    Raises:
        UnauthorizedError: no header, not a Bearer swanlog key, unknown or revoked.
    """
    if not authorization:
        raise UnauthorizedError("an API key is required: send Authorization: Bearer <key>")
    scheme, _, token = authorization.partition(" ")
    m = _KEY_RE.fullmatch(token.strip()) if scheme.lower() == "bearer" else None
    if m is None:
        raise UnauthorizedError("the Authorization header holds no API key (Bearer swl_<id>_<secret>)")
    record = store.get_key(m.group(1))
    if record is None or not hmac.compare_digest(record.secret_hash, _hash(m.group(2))):
        raise UnauthorizedError(f"API key swl_{m.group(1)} is not valid")
    if record.revoked is not None:
        raise UnauthorizedError(f"API key swl_{m.group(1)} was revoked at {record.revoked}")
    return record


def check_project(key: KeyRecord, project: str, what: str) -> None:
    """Raise 403 unless ``key`` may use ``project``; ``what`` names the item for the message."""
    if project not in key.projects:
        raise ForbiddenError(f"API key swl_{key.id} has no access to project {project!r} ({what})")


def create_key(store: Store, projects: list[str] | tuple[str, ...]) -> str:
    """Make and store a key for ``projects``; returns the whole key (shown once, never stored).

    Raises:
        swanlog_core.errors.Error: no project, or an empty or over-long project name.
    """
    wanted = tuple(dict.fromkeys(projects))
    if not wanted:
        raise Error("a key needs at least one project (--project P)")
    for project in wanted:
        if not project or "\x00" in project or len(project) > MAX_PROJECT_CHARS:
            raise Error(f"project {project!r} is not 1-{MAX_PROJECT_CHARS} characters without NUL")
    full, record = new_key(wanted)
    store.add_key(record)
    return full


def revoke_key(store: Store, text: str) -> str:
    """Revoke the key named by ``text`` (its id, ``swl_<id>`` or the whole key); returns the id.

    Raises:
        swanlog_core.errors.Error: ``text`` names no key.
    """
    key_id = key_id_of(text)
    if key_id is None:
        raise Error(f"{text!r} is not an API key id (swl_ and 12 hex digits, as `key list` shows)")
    if not store.revoke_key(key_id, revoked_now()):
        raise Error(f"no API key with id swl_{key_id}")
    return key_id

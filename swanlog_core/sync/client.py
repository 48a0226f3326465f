"""The HTTP side of sync, and the only module that imports httpx: requests, gzip, retries.

Every request is retried on a connection error, a timeout, 429 and 5xx, with
exponential backoff and jitter, honouring Retry-After. The give-up clock counts how
long requests have been failing without a success in between (any success resets
it); past ``give_up_after`` seconds ``ServerUnavailableError`` is raised, and with
``give_up_after=None`` (``--watch``) retries never end. A 4xx other than 429 is
``ServerRejectedError`` with the server's message: the same request cannot succeed.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
import zlib
from typing import Any, Callable
from urllib.parse import quote

import httpx
import orjson

from .. import __version__
from .errors import ServerRejectedError, ServerUnavailableError, SyncInterrupted

__all__ = ["Ack", "Client", "gzip_bytes"]

BACKOFF_FIRST = 0.25  # seconds before the first retry (before jitter)
BACKOFF_MAX = 30.0  # longest wait between two attempts, unless Retry-After asks for more
RETRY_AFTER_MAX = 300.0  # a Retry-After beyond this is taken as this
_GZIP_WBITS = 16 + zlib.MAX_WBITS


def gzip_bytes(data: bytes, level: int = 1) -> bytes:
    """gzip ``data``; level 1 is several times faster than the default and nearly as small here."""
    c = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
    return c.compress(data) + c.flush()


class Ack:
    """What the server said about a records batch."""

    __slots__ = ("accepted", "duplicates", "wire")

    def __init__(self, accepted: int, duplicates: int, wire: int) -> None:
        self.accepted = accepted
        self.duplicates = duplicates
        self.wire = wire  # bytes of the request body sent


def _retry_after(value: str | None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date), None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return min(RETRY_AFTER_MAX, max(0.0, float(value)))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(RETRY_AFTER_MAX, max(0.0, when.timestamp() - time.time()))


def _message(resp: httpx.Response) -> str:
    """The server's error message: ``{"error": ...}``, else the start of the body."""
    try:
        doc = orjson.loads(resp.content)
        if isinstance(doc, dict) and isinstance(doc.get("error"), str):
            return doc["error"]
    except orjson.JSONDecodeError:
        pass
    text = resp.content[:200].decode("utf-8", "replace").strip()
    return text or resp.reason_phrase


class Client:
    """Talks API v1 to one server; thread-safe for one caller at a time.

    Args:
        server: the server's base URL (``http://host:5092``).
        api_key: the API key (sent as ``Authorization: Bearer``).
        give_up_after: seconds of failing retries before ``ServerUnavailableError``;
            None retries for ever. May be changed while the client is in use.
        stop: when set, a wait before a retry ends at once with ``SyncInterrupted``.
        on_retry: called with a one-line description before each wait.
        transport: an httpx transport (tests pass ``httpx.MockTransport``).
        timeout: seconds for one request (connect: at most 10).
    """

    def __init__(
        self,
        server: str,
        api_key: str | None,
        *,
        give_up_after: float | None = 600.0,
        stop: threading.Event | None = None,
        on_retry: Callable[[str], None] | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
    ) -> None:
        headers = {"User-Agent": f"swanlog-sync/{__version__}"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.server = server.rstrip("/")
        self.give_up_after = give_up_after
        self.stop = stop or threading.Event()
        self.on_retry = on_retry
        self.retries = 0  # attempts that failed and were retried, for the summary
        self._failing_since: float | None = None
        self._http = httpx.Client(
            base_url=self.server + "/api/v1",
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # -- API v1 ---------------------------------------------------------------------

    def put_run(self, run_id: str, doc: bytes) -> bool:
        """Create or update run ``run_id`` from its JSON document; True when it was created."""
        resp = self._request(
            "PUT", f"/runs/{run_id}", doc, {"Content-Type": "application/json"}, f"run {run_id}"
        )
        return bool(orjson.loads(resp.content).get("created"))

    def post_records(self, run_id: str, ndjson: bytes, gzipped: bytes | None = None) -> Ack:
        """Send NDJSON records of run ``run_id`` gzipped; the server's counts.

        ``gzipped``: ``ndjson`` already compressed (by the thread that prepared it).
        """
        body = gzip_bytes(ndjson) if gzipped is None else gzipped
        headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
        resp = self._request("POST", f"/runs/{run_id}/records", body, headers, f"run {run_id}")
        doc = orjson.loads(resp.content)
        return Ack(int(doc.get("accepted", 0)), int(doc.get("duplicates", 0)), len(body))

    def put_file(self, run_id: str, path: str, data: bytes) -> None:
        """Store one file of run ``run_id`` (``console.log`` or ``media/...``)."""
        url = f"/runs/{run_id}/files/{quote(path, safe='/')}"
        self._request(
            "PUT", url, data, {"Content-Type": "application/octet-stream"}, f"run {run_id} file {path}"
        )

    def get(self, url: str, params: dict[str, Any] | None = None) -> Any:
        """GET an API v1 path (``/runs/ID``), with retries; the decoded JSON."""
        return orjson.loads(self._request("GET", url, None, {}, url, params=params).content)

    # -- retries --------------------------------------------------------------------

    def _request(
        self,
        method: str,
        url: str,
        content: bytes | None,
        headers: dict[str, str],
        what: str,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        attempt = 0
        while True:
            retry_after = None
            try:
                resp = self._http.request(method, url, content=content, headers=headers, params=params)
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                raise ServerRejectedError(f"server URL {self.server!r}: {exc}", 0) from exc
            except httpx.TransportError as exc:
                problem = (
                    f"{what}: {type(exc).__name__}: {exc}" if str(exc) else f"{what}: {type(exc).__name__}"
                )
            else:
                status = resp.status_code
                if status < 400:
                    self._failing_since = None
                    return resp
                message = _message(resp)
                if status != 429 and status < 500:
                    raise ServerRejectedError(
                        f"{what}: the server refused it (HTTP {status}): {message}", status
                    )
                problem = f"{what}: HTTP {status}: {message}"
                retry_after = _retry_after(resp.headers.get("Retry-After"))
            now = time.monotonic()
            if self._failing_since is None:
                self._failing_since = now
            failing = now - self._failing_since
            limit = self.give_up_after
            if limit is not None and failing >= limit:
                raise ServerUnavailableError(
                    f"gave up after {failing:.0f}s of failing requests; last: {problem}"
                )
            ceiling = min(BACKOFF_MAX, BACKOFF_FIRST * 2**attempt)
            wait = retry_after if retry_after is not None else ceiling / 2 + random.uniform(0, ceiling / 2)
            if limit is not None:
                wait = min(wait, limit - failing)  # one last attempt at the give-up time
            attempt += 1
            self.retries += 1
            if self.on_retry is not None:
                self.on_retry(f"{problem}; retrying in {wait:.1f}s")
            if self.stop.wait(wait):
                raise SyncInterrupted(f"stopped while retrying: {problem}")

"""The sync client's retry rules: what is retried, how long it waits, when it gives up, what it sends."""

from __future__ import annotations

import gzip
import threading
import time
from typing import Callable

import httpx
import pytest

from swanlog_core.sync.client import Client
from swanlog_core.sync.errors import ServerRejectedError, ServerUnavailableError, SyncInterrupted

SERVER = "http://sync.test"


def _client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: object) -> Client:
    return Client(SERVER, "key-1", transport=httpx.MockTransport(handler), **kwargs)  # type: ignore[arg-type]


def _ok_after(failures: list[httpx.Response | Exception]) -> tuple[list[httpx.Request], Callable]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if failures:
            f = failures.pop(0)
            if isinstance(f, Exception):
                raise f
            return f
        return httpx.Response(200, json={"accepted": 2, "duplicates": 1})

    return seen, handler


TRANSIENT = {
    "connect-error": httpx.ConnectError("connection refused"),
    "read-timeout": httpx.ReadTimeout("timed out"),
    "remote-closed": httpx.RemoteProtocolError("server disconnected"),
    "429": httpx.Response(429, json={"error": "slow down"}),
    "500": httpx.Response(500, json={"error": "boom"}),
    "502-html": httpx.Response(502, text="<html>bad gateway</html>"),
    "503": httpx.Response(503, json={"error": "starting"}),
}


@pytest.mark.parametrize("failure", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_transient_failures_are_retried(failure: httpx.Response | Exception) -> None:
    """Connection errors, timeouts, 429 and 5xx are retried until the server answers."""
    seen, handler = _ok_after([failure, failure])
    with_client = _client(handler)
    ack = with_client.post_records("run1", b'{"metric":"m","step":0,"value":1,"ts":1}\n')
    with_client.close()
    assert (ack.accepted, ack.duplicates) == (2, 1)
    assert len(seen) == 3 and with_client.retries == 2


REFUSED = {
    "400": (400, "line 1: bad step"),
    "401": (401, "unknown API key"),
    "403": (403, "the key lacks project p"),
    "409": (409, "run exists in another project"),
    "413": (413, "too large"),
}


@pytest.mark.parametrize("status, message", REFUSED.values(), ids=REFUSED.keys())
def test_other_4xx_are_not_retried_and_carry_the_server_message(status: int, message: str) -> None:
    """A 4xx other than 429 fails at once, naming the run, the status and the server's message."""
    seen, handler = _ok_after([httpx.Response(status, json={"error": message})])
    c = _client(handler)
    with pytest.raises(ServerRejectedError) as info:
        c.put_run("run1", b"{}")
    c.close()
    assert len(seen) == 1
    assert info.value.status == status
    assert "run run1" in str(info.value) and message in str(info.value) and str(status) in str(info.value)


@pytest.mark.parametrize("header", ["1", "DATE"], ids=["seconds", "http-date"])
def test_retry_after_is_honoured(header: str) -> None:
    """A 503 with Retry-After waits as long as the server asked before trying again."""
    if header == "DATE":
        header = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 2))
    times: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        times.append(time.monotonic())
        if len(times) == 1:
            return httpx.Response(503, headers={"Retry-After": header}, json={"error": "busy"})
        return httpx.Response(200, json={"id": "run1", "created": True})

    c = _client(handler)
    assert c.put_run("run1", b"{}") is True
    c.close()
    assert times[1] - times[0] >= 0.9


def test_backoff_grows_with_jitter() -> None:
    """Successive waits grow roughly exponentially and are not all identical."""
    waits: list[float] = []
    c = _client(lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused")), give_up_after=2.0)
    c.on_retry = lambda text: waits.append(float(text.rsplit("retrying in ", 1)[1].rstrip("s")))
    with pytest.raises(ServerUnavailableError):
        c.put_run("run1", b"{}")
    c.close()
    assert len(waits) >= 3
    assert waits[2] > waits[0]


def test_one_shot_gives_up_after_the_timeout() -> None:
    """With a give-up time, a server that never answers ends in ServerUnavailableError naming the problem."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    c = _client(refuse, give_up_after=0.5)
    start = time.monotonic()
    with pytest.raises(ServerUnavailableError, match="connection refused"):
        c.put_run("run1", b"{}")
    c.close()
    assert 0.5 <= time.monotonic() - start < 5


def test_stop_interrupts_a_retry_wait() -> None:
    """Setting the stop event ends a wait between retries at once (Ctrl-C in --watch)."""
    stop = threading.Event()

    def refuse(request: httpx.Request) -> httpx.Response:
        stop.set()
        return httpx.Response(503, headers={"Retry-After": "60"}, json={"error": "busy"})

    c = _client(refuse, give_up_after=None, stop=stop)
    start = time.monotonic()
    with pytest.raises(SyncInterrupted):
        c.put_run("run1", b"{}")
    c.close()
    assert time.monotonic() - start < 5


def test_records_are_sent_gzipped_as_ndjson_with_the_key() -> None:
    """Records go to /api/v1/runs/ID/records as gzip NDJSON with a Bearer key."""
    seen, handler = _ok_after([])
    c = _client(handler)
    body = b'{"metric":"m","step":0,"value":1,"ts":1}\n'
    c.post_records("run1", body)
    c.close()
    (req,) = seen
    assert req.url.path == "/api/v1/runs/run1/records"
    assert req.headers["Authorization"] == "Bearer key-1"
    assert req.headers["Content-Type"] == "application/x-ndjson"
    assert req.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(req.content) == body


def test_file_paths_keep_slashes_and_encode_the_rest() -> None:
    """A media path keeps its folders and percent-encodes other reserved characters."""
    seen, handler = _ok_after([])
    c = _client(handler)
    c.put_file("run1", "media/a b/x#1.png", b"\x89PNG")
    c.close()
    assert seen[0].url.raw_path == b"/api/v1/runs/run1/files/media/a%20b/x%231.png"

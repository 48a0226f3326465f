"""Generated hostile input against a real server: whatever the body, the answer is never a 5xx."""

from __future__ import annotations

import json
import uuid
from typing import Any, Iterator, NamedTuple

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swanlog_core.server import open_store
from swanlog_core.server.auth import create_key
from tests.serverproc import ServerProcess


class Target(NamedTuple):
    """A client with a key of project p, and a run of p."""

    client: httpx.Client
    run: str


@pytest.fixture(scope="module")
def target(shared_server: ServerProcess) -> Iterator[Target]:
    """A key and a run on the module's shared server."""
    store = open_store(shared_server.db_url)
    try:
        key = create_key(store, ["p"])
    finally:
        store.close()
    run = f"fuzz_{uuid.uuid4().hex[:8]}"
    with shared_server.client(key) as c:
        assert c.put(f"/api/v1/runs/{run}", json={"project": "p"}).status_code == 200
        yield Target(c, run)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
FIELD_VALUES = JSON | st.sampled_from(["NaN", "Infinity", "-Infinity", "", "\x00", "a/b", {"_type": "image"}])
RECORD = st.dictionaries(
    st.sampled_from(["metric", "step", "value", "ts", "other"]), FIELD_VALUES, max_size=5
)
RUN_FIELD = st.sampled_from(
    [
        "project",
        "name",
        "tags",
        "notes",
        "status",
        "created",
        "updated",
        "exit_code",
        "duration",
        "host",
        "pid",
    ]
    + ["config", "summary", "metrics", "env"]
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _answer_is_clean(r: httpx.Response, allowed: set[int]) -> None:
    assert r.status_code in allowed, (r.status_code, r.text)
    if r.status_code >= 400:
        assert isinstance(r.json()["error"], str) and r.json()["error"]


@FUZZ
@given(lines=st.lists(RECORD | JSON, min_size=1, max_size=5))
def test_generated_record_batches_never_break_the_server(target: Target, lines: list[Any]) -> None:
    """Any batch of JSON lines gets 200, 400 or 413 with a message, never a server error."""
    body = b"".join(json.dumps(x).encode() + b"\n" for x in lines)  # json: integers of any size
    _answer_is_clean(target.client.post(f"/api/v1/runs/{target.run}/records", content=body), {200, 400, 413})


@FUZZ
@given(body=st.binary(max_size=200))
def test_generated_bytes_never_break_the_server(target: Target, body: bytes) -> None:
    """Arbitrary bytes as a records body or a run body get a 4xx (or 200), never a server error."""
    _answer_is_clean(target.client.post(f"/api/v1/runs/{target.run}/records", content=body), {200, 400, 413})
    _answer_is_clean(target.client.put(f"/api/v1/runs/{target.run}", content=body), {200, 400, 413})


@FUZZ
@given(fields=st.dictionaries(RUN_FIELD, FIELD_VALUES, max_size=4))
def test_generated_run_bodies_never_break_the_server(target: Target, fields: dict[str, Any]) -> None:
    """Any run object gets 200, 400, 403, 409 or 413 with a message, never a server error."""
    r = target.client.put(f"/api/v1/runs/{target.run}", content=json.dumps(fields).encode())
    _answer_is_clean(r, {200, 400, 403, 409, 413})

"""Run ids, file paths and run fields as the server checks them."""

from __future__ import annotations

from typing import Any

import pytest

from swanlog_core.server.errors import BadRequestError, PayloadTooLargeError
from swanlog_core.server.runs import check_file_path, check_run_id, run_document, run_fields
from swanlog_core.server.settings import Settings


@pytest.mark.parametrize("run_id", ["a", "k3j9x0a1", "A-b_9", "x" * 64])
def test_good_run_ids(run_id: str) -> None:
    """1-64 characters of [A-Za-z0-9_-] are run ids."""
    assert check_run_id(run_id) == run_id


@pytest.mark.parametrize("run_id", ["", "x" * 65, "a.b", "a/b", "a b", "é", "a\n"], ids=repr)
def test_bad_run_ids(run_id: str) -> None:
    """Anything else is a 400 naming the id."""
    with pytest.raises(BadRequestError, match="run id"):
        check_run_id(run_id)


@pytest.mark.parametrize("path", ["console.log", "media/x.png", "media/a/b/c.wav", "media/训练/图 1.png"])
def test_good_file_paths(path: str) -> None:
    """console.log and clean relative paths under media/ are accepted."""
    assert check_file_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("../x", id="parent"),
        pytest.param("media/../../x", id="parent-inside"),
        pytest.param("/etc/passwd", id="absolute"),
        pytest.param("media/./x", id="dot"),
        pytest.param("media//x", id="empty-segment"),
        pytest.param("media/", id="trailing-slash"),
        pytest.param("media", id="bare-media"),
        pytest.param("run.json", id="other-file"),
        pytest.param("console.log/x", id="under-console"),
        pytest.param("media\\x", id="backslash"),
        pytest.param("media/a\x00b", id="nul"),
        pytest.param("", id="empty"),
    ],
)
def test_bad_file_paths(path: str) -> None:
    """Traversal, absolute, empty or odd segments and anything outside media/ are a 400."""
    with pytest.raises(BadRequestError, match="file path"):
        check_file_path(path)


def test_long_file_path_is_413() -> None:
    """A file path over 1024 bytes is a 413."""
    with pytest.raises(PayloadTooLargeError):
        check_file_path("media/" + "x" * 1100)


def test_run_fields_keep_only_known_fields_and_encode_documents() -> None:
    """Known fields become columns (documents and tags as JSON text); unknown fields are dropped."""
    fields = run_fields({"project": "p", "tags": None, "config": {"a": 1}, "junk": 1}, Settings())
    assert fields == {"project": "p", "tags": "[]", "config": '{"a":1}'}
    assert run_document({"id": "r", "tags": fields["tags"], "config": fields["config"], "env": None}) == {
        "id": "r",
        "tags": [],
        "config": {"a": 1},
        "env": {},
    }


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param({"exit_code": True}, BadRequestError, id="bool-exit-code"),
        pytest.param({"pid": 2**63}, BadRequestError, id="pid-too-big"),
        pytest.param({"duration": False}, BadRequestError, id="bool-duration"),
        pytest.param({"status": ["running"]}, BadRequestError, id="list-status"),
        pytest.param({"project": None}, BadRequestError, id="null-project"),
        pytest.param({"created": "2026-13-45"}, BadRequestError, id="impossible-date"),
        pytest.param({"host": "h" * 10}, None, id="long-host-is-fine"),
        pytest.param({"name": "n" * 5}, PayloadTooLargeError, id="name-over-small-limit"),
    ],
)
def test_run_field_checks(body: dict[str, Any], error: type | None) -> None:
    """Each field is checked for its type and range; a name over the limit is a 413."""
    settings = Settings(max_name_chars=4)
    if error is None:
        run_fields(body, settings)
    else:
        with pytest.raises(error):
            run_fields(body, settings)

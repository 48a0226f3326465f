"""Fixtures shared by every test: a clean current run, no SWANLOG_* variables, no leaked threads,
a fresh logdir, and child Pythons that are never left running."""

from __future__ import annotations

import os
import subprocess
import textwrap
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.support import PYTHON, python_env


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SWANLOG_") and key != "SWANLOG_TEST_PG_URL":
            monkeypatch.delenv(key)


@pytest.fixture(autouse=True)
def _no_console_capture_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process tests do not tee fds 1 and 2 (pytest captures them there); console capture is
    tested in child processes (tests/e2e/test_console.py). A test may set it back to True."""
    from swanlog_core import _console

    monkeypatch.setattr(_console, "CAPTURE", False)


@pytest.fixture(autouse=True)
def _reset_current_run() -> object:
    yield
    from swanlog_core import _current

    _current.reset()


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> object:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert not leaked, f"test leaked threads: {leaked}"


@pytest.fixture
def logdir(tmp_path: Path) -> Path:
    """A fresh, empty logdir."""
    d = tmp_path / "swanlog"
    d.mkdir()
    return d


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start a script text in a child Python on this checkout without waiting; killed at teardown."""
    children: list[subprocess.Popen] = []

    def start(text: str, *args: object) -> subprocess.Popen:
        script = tmp_path / f"script{len(children)}.py"
        script.write_text(textwrap.dedent(text))
        child = subprocess.Popen(
            [PYTHON, str(script), *map(str, args)],
            env=python_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)
        for stream in (child.stdin, child.stdout, child.stderr):
            stream.close()


# swanlog server fixtures (db_url, pg_url, server, shared_server): see tests/serverproc.py
from tests.serverproc import db_url, pg_url, server, shared_server  # noqa: E402, F401

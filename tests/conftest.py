"""Fixtures shared by every test: a clean current run, no SWANLOG_* variables, no leaked threads."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SWANLOG_") and key != "SWANLOG_TEST_PG_URL":
            monkeypatch.delenv(key)


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

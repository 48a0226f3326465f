"""Helpers for tests: waiting without bare sleeps, and running child Pythons on this checkout."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.02) -> object:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        time.sleep(interval)


def python_env() -> dict[str, str]:
    """Environment for a child Python that imports this checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWANLOG_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def record_sizes(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[int]:
    """Wrap the function ``owner.name(data, ...)`` so that each call appends ``len(data)`` to the
    returned list: how many bytes a reader decoded, for tests that it read only what is new."""
    sizes: list[int] = []
    real = getattr(owner, name)

    def counting(data: bytes, *args: Any, **kwargs: Any) -> Any:
        sizes.append(len(data))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    return sizes

"""A tiny run-folder reader for tests, independent of swanlog_core.

Written against DESIGN.md ("On-disk format, version 1") with the json module only, so
a bug shared by the writer and ``reader.py`` / ``_format`` cannot hide. It is strict
where the reader is tolerant: a writer must never produce a torn or odd line.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
from pathlib import Path
from typing import Any

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _no_bare_constants(token: str) -> Any:
    raise AssertionError(f"bare {token} in a metric line: JSON has no NaN/Infinity, use the string")


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a metric file as a dict, asserting each is a well-formed point line."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), f"{path}: last line is not terminated"
    return parse_lines(data)


def parse_lines(data: bytes) -> list[dict[str, Any]]:
    """Each ``\\n``-terminated line of ``data`` as a dict, asserting each is a well-formed point line."""
    out = []
    for raw in data.split(b"\n")[:-1]:
        obj = json.loads(raw.decode("utf-8"), parse_constant=_no_bare_constants)
        assert isinstance(obj, dict) and set(obj) == {"step", "value", "ts"}, raw
        assert type(obj["step"]) is int and obj["step"] >= 0, raw
        assert type(obj["ts"]) in (int, float), raw
        value = obj["value"]
        if isinstance(value, str):
            assert value in _NONFINITE, raw
            obj["value"] = _NONFINITE[value]
        elif isinstance(value, dict):  # a media description (DESIGN.md "Media")
            assert isinstance(value.get("_type"), str), raw
        else:
            assert type(value) in (int, float), raw
        out.append(obj)
    return out


def points(run_dir: Path, rel: str) -> list[tuple[int, Any]]:
    """(step, value) of each line of ``metrics/<rel>`` in file order; [] if the file is absent."""
    path = run_dir / "metrics" / rel
    if not path.exists():
        return []
    return [(o["step"], o["value"]) for o in read_lines(path)]


def metric_files(run_dir: Path) -> set[str]:
    """Relative posix paths of every file under the run's ``metrics/`` folder."""
    base = run_dir / "metrics"
    found = set()
    for root, _, files in os.walk(base):
        for f in files:
            found.add(Path(root, f).relative_to(base).as_posix())
    return found


def read_json(path: Path) -> Any:
    """A JSON document written by swanlog (run.json, summary.json, ...), strictly parsed."""
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_bare_constants)


def same(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to NaN and keeps int and float apart."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def point_pairs(path: Path) -> list[tuple[int, Any]]:
    """(step, value) of each line of one metric file, in file order (strict, as ``read_lines``)."""
    return [(o["step"], o["value"]) for o in read_lines(path)]


def the_run_dir(logdir: Path, run_id: str) -> Path:
    """The one folder of run ``run_id`` in ``logdir``."""
    (found,) = [p for p in logdir.iterdir() if p.name.startswith("run-") and p.name.endswith(f"-{run_id}")]
    return found


def run_json(run_dir: Path) -> dict[str, Any]:
    """run.json of a run folder, parsed."""
    return read_json(run_dir / "run.json")


def lock_is_free(run_dir: Path) -> bool:
    """True when no process holds the run's writer lock (flock on run.lock)."""
    fd = os.open(run_dir / "run.lock", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)

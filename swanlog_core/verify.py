"""Check a run folder's files, and repair what can be repaired without losing data.

``verify_run`` looks at every metric file (torn tail, corrupt lines, NUL bytes,
duplicate steps) and at run.json, config.json, summary.json and metrics.json.
``repair_run`` cuts torn tails, the bytes after a file's last newline, and nothing
else: a complete line is never removed, and a corrupt line in the middle of a file
stays where it is (it is reported; readers skip it).
"""

from __future__ import annotations

import fcntl
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from ._format import (
    CONFIG_JSON,
    LOCK_FILE,
    METRICS_DIR,
    METRICS_JSON,
    RUN_JSON,
    SUMMARY_JSON,
    iter_metric_files,
    read_json,
)
from ._names import SUFFIX, path_to_name
from .errors import RunLockedError
from .reader import parse_points

__all__ = ["FileCheck", "RunCheck", "repair_run", "verify_run"]

FIRST_FEW = 5  # corrupt line numbers and duplicate steps listed per file
_CHUNK = 4096  # lines parsed together while looking for the corrupt ones
_DOCUMENTS = (RUN_JSON, CONFIG_JSON, SUMMARY_JSON, METRICS_JSON)


@dataclass
class FileCheck:
    """What ``verify_run`` found in one metric file."""

    path: str  # relative to the run folder, e.g. "metrics/train/loss.jsonl"
    metric: str
    points: int = 0
    torn: int = 0  # bytes after the last newline
    corrupt: int = 0  # complete lines that are not a valid point
    corrupt_lines: list[int] = field(default_factory=list)  # the first few, 1-based
    nul_bytes: int = 0
    duplicates: int = 0  # points whose step an earlier line already holds
    repeated_steps: int = 0  # distinct steps held more than once
    duplicate_steps: list[int] = field(default_factory=list)  # the first few of those steps

    def problems(self) -> list[str]:
        """One sentence per problem found, empty when the file is clean."""
        found = []
        if self.torn:
            found.append(f"torn last line: {self.torn} bytes after the last newline")
        if self.corrupt:
            lines = ", ".join(map(str, self.corrupt_lines)) + (
                ", ..." if self.corrupt > len(self.corrupt_lines) else ""
            )
            found.append(f"{self.corrupt} corrupt line{'s' * (self.corrupt != 1)} (line {lines})")
        if self.nul_bytes:
            found.append(f"{self.nul_bytes} NUL byte{'s' * (self.nul_bytes != 1)}")
        if self.duplicates:
            steps = ", ".join(map(str, self.duplicate_steps)) + (
                ", ..." if self.repeated_steps > len(self.duplicate_steps) else ""
            )
            found.append(f"{self.duplicates} duplicate step{'s' * (self.duplicates != 1)} (step {steps})")
        return found


@dataclass
class RunCheck:
    """What ``verify_run`` found in a run folder."""

    run_dir: Path
    documents: dict[str, str | None]  # file name -> problem, None when fine or absent
    files: list[FileCheck]

    def clean(self) -> bool:
        """True when nothing is wrong with any file."""
        return not any(self.documents.values()) and not any(f.problems() for f in self.files)


def _check_document(path: Path) -> str | None:
    try:
        doc = read_json(path)
    except FileNotFoundError:
        return "missing" if path.name == RUN_JSON else None  # the others are optional
    except (OSError, orjson.JSONDecodeError) as exc:
        return f"unreadable ({exc})"
    if not isinstance(doc, dict):
        return "does not hold a JSON object"
    return None


def _corrupt_line_numbers(body: bytes, limit: int) -> list[int]:
    """1-based numbers of the first ``limit`` corrupt lines of ``body`` (complete lines)."""
    lines = body.split(b"\n")[:-1]
    found: list[int] = []
    for start in range(0, len(lines), _CHUNK):
        chunk = lines[start : start + _CHUNK]
        if not parse_points(b"\n".join(chunk) + b"\n").corrupt:
            continue
        for number, line in enumerate(chunk, start + 1):
            if parse_points(line + b"\n").corrupt:
                found.append(number)
                if len(found) == limit:
                    return found
    return found


def _check_metric_file(rel: str, metric: str, path: Path) -> FileCheck:
    check = FileCheck(f"{METRICS_DIR}/{rel}", metric)
    data = path.read_bytes()
    history = parse_points(data)
    check.points, check.corrupt, check.torn = len(history), history.corrupt, history.torn
    check.nul_bytes = data.count(b"\x00")
    if history.corrupt:
        check.corrupt_lines = _corrupt_line_numbers(data[: len(data) - history.torn], FIRST_FEW)
    steps = history.steps
    if len(set(steps)) != len(steps):
        seen: Counter[int] = Counter(steps)
        check.duplicates = sum(n - 1 for n in seen.values())
        repeated = [s for s, n in seen.items() if n > 1]
        check.repeated_steps, check.duplicate_steps = len(repeated), repeated[:FIRST_FEW]
    return check


def verify_run(run_dir: str | os.PathLike[str]) -> RunCheck:
    """Check every file of the run folder ``run_dir``; changes nothing.

    Files under ``metrics/`` whose names are not metric file names (hidden files,
    other suffixes) are not checked: readers ignore them too.
    """
    run_dir = Path(run_dir)
    documents = {name: _check_document(run_dir / name) for name in _DOCUMENTS}
    files = []
    for rel, path in iter_metric_files(run_dir / METRICS_DIR):
        try:
            metric = path_to_name(rel)
        except UnicodeDecodeError:
            continue
        if metric is None:
            continue
        try:
            files.append(_check_metric_file(rel, metric, path))
        except FileNotFoundError:
            continue
    return RunCheck(run_dir, documents, files)


def repair_run(run_dir: str | os.PathLike[str]) -> list[tuple[str, int]]:
    """Cut the torn tail of every metric file; never removes a complete line.

    Holds the run's lock while it works, so no writer can start meanwhile.

    Returns:
        (path relative to the run folder, bytes cut) for each file that was cut.

    Raises:
        RunLockedError: a live process is writing the run.
    """
    run_dir = Path(run_dir)
    fd = os.open(run_dir / LOCK_FILE, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            raise RunLockedError(
                f"run {run_dir.name} is being written by a live process (pid {pid} holds "
                f"{LOCK_FILE}); repair it after that process has ended"
            ) from None
        cut = []
        for rel, path in iter_metric_files(run_dir / METRICS_DIR):
            if not rel.endswith(SUFFIX):
                continue  # not a metric file: not ours to change
            data = path.read_bytes()
            end = data.rfind(b"\n") + 1
            if end < len(data):
                os.truncate(path, end)
                cut.append((f"{METRICS_DIR}/{rel}", len(data) - end))
        return cut
    finally:
        os.close(fd)  # releases our lock

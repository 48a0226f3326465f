"""Run folders for reader and CLI tests, written byte by byte without swanlog_core.

Independent of the writer on purpose: a reader test must not pass because the writer
and the reader share a mistake. Also a child process that holds a run's lock, to play
a live writer that can be SIGKILLed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any, Iterable, Mapping

from tests.support import PYTHON

T0 = 1_795_000_000.0  # 2026-11-18, a round UNIX time for created/updated


def iso(t: float) -> str:
    """UNIX seconds -> the ISO form run.json uses."""
    d = dt.datetime.fromtimestamp(t, dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def line(step: int, value: Any, ts: float = T0) -> bytes:
    """One metric line exactly as the format spells it."""
    return b'{"step":%d,"value":%s,"ts":%s}\n' % (step, json.dumps(value).encode(), repr(ts).encode())


def make_run(
    logdir: Path,
    run_id: str,
    *,
    created: float = T0,
    status: str = "finished",
    metrics: Mapping[str, bytes | Iterable[bytes]] | None = None,
    run_json: bytes | None = None,
    **fields: Any,
) -> Path:
    """Write a run folder; ``metrics`` maps a path under metrics/ (no suffix) to its bytes."""
    stamp = dt.datetime.fromtimestamp(created, dt.timezone.utc).strftime("%Y%m%d_%H%M%S")
    run_dir = logdir / f"run-{stamp}-{run_id}"
    (run_dir / "metrics").mkdir(parents=True)
    meta = {
        "id": run_id,
        "project": "proj",
        "name": run_id,
        "tags": [],
        "notes": None,
        "status": status,
        "created": iso(created),
        "updated": iso(created + 10),
        "exit_code": None if status == "running" else (0 if status == "finished" else 1),
        "duration": 10.0,
        "host": "node1",
        "pid": 4242,
        "format": 1,
        **fields,
    }
    (run_dir / "run.json").write_bytes(run_json if run_json is not None else json.dumps(meta).encode())
    (run_dir / "config.json").write_text(json.dumps({"lr": 0.001}))
    (run_dir / "summary.json").write_text(json.dumps({"loss": 0.5}))
    (run_dir / "metrics.json").write_text("{}")
    (run_dir / "run.lock").write_bytes(b"")
    for name, data in (metrics or {}).items():
        path = run_dir / "metrics" / f"{name}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else b"".join(data))
    return run_dir


_HOLD = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0)
os.write(fd, str(os.getpid()).encode())
print("locked", flush=True)
sys.stdin.read()
"""


class LockHolder:
    """A child process holding the flock on a run's run.lock, like a live writer."""

    def __init__(self, run_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, "-c", _HOLD, str(run_dir / "run.lock")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline() == "locked\n"  # blocks until the lock is held

    def kill(self) -> None:
        """SIGKILL the holder and reap it: the lock is free once this returns."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()

    def __enter__(self) -> LockHolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

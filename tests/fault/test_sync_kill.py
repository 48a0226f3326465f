"""Sync under fire: the sync process SIGKILLed at random moments, the server SIGKILLed mid-sync.
Both end with exactly the files' points on the server (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_sync import assert_exact, sync
from tests.runfolder import make_run
from tests.serverproc import ServerProcess
from tests.support import PYTHON, python_env, wait_until

METRICS, STEPS = 20, 20_000  # 400,000 points: several batches, a few seconds of sync


def _big_run(logdir: Path) -> Path:
    metrics = {
        f"group{k % 3}/m{k:02d}": b"".join(
            b'{"step":%d,"value":%r,"ts":1795000000.5}\n' % (i, (i * 7 + k) / 1000) for i in range(STEPS)
        )
        for k in range(METRICS)
    }
    return make_run(logdir, "bigrun", project="proj", metrics=metrics)


def _acked(run_dir: Path) -> int:
    """Metric bytes the sync state says are acknowledged (0 before the first save)."""
    total = 0
    for state in (run_dir / "sync").glob("*.json"):
        try:
            total += sum(entry[0] for entry in json.loads(state.read_bytes())["metrics"].values())
        except (ValueError, KeyError):
            continue  # caught between write and rename: not possible with rename, but harmless
    return total


def _start_sync(server: ServerProcess, key: str, run_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as f:
        return subprocess.Popen(
            [
                PYTHON,
                "-m",
                "swanlog_cli.main",
                "sync",
                str(run_dir),
                "--server",
                server.url,
                "--api-key",
                key,
            ],
            env=python_env(),
            stdin=subprocess.DEVNULL,
            stdout=f,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.slow
def test_sync_killed_at_random_moments_resumes_exactly(
    server: ServerProcess, logdir: Path, tmp_path: Path
) -> None:
    """A sync SIGKILLed at random moments, then run again, leaves exactly the files' points on the server."""
    run_dir = _big_run(logdir)
    total = sum(p.stat().st_size for p in (run_dir / "metrics").rglob("*.jsonl"))
    key = server.create_key("proj")
    rng = random.Random(1234)
    for _ in range(3):
        target = rng.uniform(0.05, 0.9) * total
        proc = _start_sync(server, key, run_dir, tmp_path / "sync.log")
        try:
            wait_until(
                lambda p=proc, t=target: p.poll() is not None or _acked(run_dir) >= t,
                timeout=120,
                interval=0.005,
            )
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    last = sync(server, key, str(run_dir))
    assert last.returncode == 0, last.stdout + last.stderr
    with server.client(key) as c:
        assert assert_exact(c, run_dir, "bigrun") == METRICS * STEPS
    again = sync(server, key, str(run_dir))
    assert "0 points sent" in again.stdout


@pytest.mark.slow
def test_server_killed_mid_sync_then_restarted_ends_exact(
    server: ServerProcess, logdir: Path, tmp_path: Path
) -> None:
    """When the server is SIGKILLed while sync runs and comes back, sync retries and ends exact."""
    run_dir = _big_run(logdir)
    total = sum(p.stat().st_size for p in (run_dir / "metrics").rglob("*.jsonl"))
    key = server.create_key("proj")
    log = tmp_path / "sync.log"
    proc = _start_sync(server, key, run_dir, log)
    try:
        wait_until(
            lambda: proc.poll() is not None or _acked(run_dir) >= 0.3 * total, timeout=120, interval=0.005
        )
        server.kill()
        server.start()
        assert proc.wait(timeout=300) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert "retrying" in log.read_text() or _acked(run_dir) == total
    with server.client(key) as c:
        assert assert_exact(c, run_dir, "bigrun") == METRICS * STEPS


@pytest.mark.slow
def test_ctrl_c_stops_a_one_shot_sync_cleanly(server: ServerProcess, logdir: Path, tmp_path: Path) -> None:
    """Ctrl-C stops a one-shot sync after the batch in flight (exit 130, unsent named); a rerun ends exact."""
    run_dir = _big_run(logdir)
    total = sum(p.stat().st_size for p in (run_dir / "metrics").rglob("*.jsonl"))
    key = server.create_key("proj")
    log = tmp_path / "sync.log"
    proc = _start_sync(server, key, run_dir, log)
    try:
        wait_until(
            lambda: proc.poll() is not None or _acked(run_dir) >= 0.2 * total, timeout=120, interval=0.005
        )
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    if _acked(run_dir) < total:  # the signal came before the end
        assert code == 130, log.read_text()
        assert "still unsent" in log.read_text() and "interrupted" in log.read_text()
    last = sync(server, key, str(run_dir))
    assert last.returncode == 0, last.stdout + last.stderr
    with server.client(key) as c:
        assert assert_exact(c, run_dir, "bigrun") == METRICS * STEPS

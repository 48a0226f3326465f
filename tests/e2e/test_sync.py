"""``swanlog sync`` and ``init(mode="online")`` against a real ``swanlog server`` (SQLite and PostgreSQL).

What the server holds is compared with the metric files, read by tests/metricfile.py (not by
swanlog_core), through the public HTTP API.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, unquote

import httpx
import pytest

from tests import metricfile
from tests.runfolder import line, make_run
from tests.serverproc import ServerProcess, run_cli
from tests.support import PYTHON, python_env, wait_until

TRAIN = """
import sys, time
import swanlog_core as swanlog
run = swanlog.init(project=sys.argv[1], logdir=sys.argv[2], mode=sys.argv[3], config={"lr": 0.01})
print(run.id, flush=True)
n = int(sys.argv[4])
for i in range(n):
    swanlog.log({"train/loss": 1 / (i + 1), "acc": i, "odd name %?#": float("nan") if i % 7 == 0 else -i})
swanlog.log({"acc": 123456}, step=3)  # discarded by first write wins: never on the server
if sys.argv[5] == "hang":
    print("ready", flush=True)
    sys.stdin.read()
if sys.argv[5] == "kill":
    import os, signal
    os.kill(os.getpid(), signal.SIGKILL)
swanlog.finish()
"""


def metric_name(rel: str) -> str:
    """The metric name of a file path under metrics/ (DESIGN.md: percent-decoding, no .jsonl)."""
    return "/".join(unquote(s) for s in rel[: -len(".jsonl")].split("/"))


def server_points(client: httpx.Client, run_id: str, name: str) -> list[tuple[int, Any]]:
    """Every (step, value) the server holds for one metric, paging by after_step."""
    out: list[tuple[int, Any]] = []
    after = -1
    while True:
        url = f"/api/v1/runs/{run_id}/metrics/{quote(name, safe='/')}"
        resp = client.get(url, params={"after_step": after, "limit": 100_000})
        resp.raise_for_status()
        pts = resp.json()["points"]
        if not pts:
            return out
        out += [(p["step"], p["value"]) for p in pts]
        after = pts[-1]["step"]


def _decoded(value: Any) -> Any:
    return (
        {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}.get(value, value)
        if isinstance(value, str)
        else value
    )


def assert_exact(client: httpx.Client, run_dir: Path, run_id: str) -> int:
    """The server holds exactly the points of every metric file of the run; returns how many."""
    names = {metric_name(rel): rel for rel in metricfile.metric_files(run_dir)}
    assert set(client.get(f"/api/v1/runs/{run_id}/metrics").json()["metrics"]) == set(names)
    total = 0
    for name, rel in names.items():
        want = metricfile.point_pairs(run_dir / "metrics" / rel)
        got = [(s, _decoded(v)) for s, v in server_points(client, run_id, name)]
        assert len(got) == len(want), name
        assert all(
            gs == ws and metricfile.same(float(gv), float(wv)) for (gs, gv), (ws, wv) in zip(got, want)
        ), name
        total += len(want)
    return total


def sync(
    server: ServerProcess, key: str, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``swanlog sync ARGS --server URL --api-key KEY`` to the end."""
    return run_cli("sync", *args, "--server", server.url, "--api-key", key, timeout=timeout)


def train(tmp_path: Path, logdir: Path, project: str, steps: int, how: str = "finish", mode: str = "offline",
          env: dict[str, str] | None = None) -> tuple[str, Path]:  # fmt: skip
    """Run the training script to its end; its run id and run folder."""
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    out = subprocess.run(
        [PYTHON, str(script), project, str(logdir), mode, str(steps), how],
        env={**python_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == (-signal.SIGKILL if how == "kill" else 0), out.stderr
    run_id = out.stdout.split()[0]
    return run_id, metricfile.the_run_dir(logdir, run_id)


def test_sync_is_exact_and_idempotent(server: ServerProcess, logdir: Path, tmp_path: Path) -> None:
    """One sync puts exactly the files' points on the server; a second sends nothing at all."""
    run_id, run_dir = train(tmp_path, logdir, "proj", 3000)
    key = server.create_key("proj")
    first = sync(server, key, str(logdir))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "9,000 points sent (9,000 new, 0 duplicates)" in first.stdout
    with server.client(key) as c:
        assert assert_exact(c, run_dir, run_id) == 9000
        assert dict(server_points(c, run_id, "acc"))[3] == 3  # not the discarded 123456
        run = c.get(f"/api/v1/runs/{run_id}").json()
        assert run["status"] == "finished" and run["config"] == {"lr": 0.01} and run["project"] == "proj"
        assert "acc" in run["summary"]
    second = sync(server, key, str(logdir))
    assert second.returncode == 0 and "0 points sent (0 new, 0 duplicates)" in second.stdout


def test_a_wrong_key_is_a_clear_error(server: ServerProcess, logdir: Path) -> None:
    """A wrong API key ends sync with a non-zero exit and a message saying the key was refused."""
    make_run(logdir, "aaaa", metrics={"m": [line(0, 1.0)]})
    server.create_key("proj")
    out = sync(server, "swl_wrong_key", str(logdir))
    assert out.returncode == 1
    assert "Error:" in out.stderr and "401" in out.stderr


def test_a_crashed_run_syncs_as_crashed_with_all_its_points(
    server: ServerProcess, logdir: Path, tmp_path: Path
) -> None:
    """A training run killed with SIGKILL is synced with status crashed and every point it wrote."""
    run_id, run_dir = train(tmp_path, logdir, "proj", 500, how="kill")
    key = server.create_key("proj")
    out = sync(server, key, str(run_dir))
    assert out.returncode == 0, out.stdout + out.stderr
    with server.client(key) as c:
        assert assert_exact(c, run_dir, run_id) == 1500
        assert c.get(f"/api/v1/runs/{run_id}").json()["status"] == "crashed"


def test_a_crashed_run_with_a_torn_last_line_syncs_every_whole_line(
    server: ServerProcess, logdir: Path, tmp_path: Path
) -> None:
    """A SIGKILL that cuts the line being written (docs/format.md) does not stop the sync of the
    crashed run: every whole line goes, exit 0, and the summary names the torn line as no point."""
    run_id, run_dir = train(tmp_path, logdir, "proj", 500, how="kill")
    metric = next((run_dir / "metrics").rglob("*.jsonl"))
    whole = metric.stat().st_size
    with open(metric, "ab") as f:
        f.write(b'{"step":500,"va')  # what a kill between two pages of one write leaves
    key = server.create_key("proj")
    out = sync(server, key, str(run_dir))
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"run {run_id}: an incomplete last line (15 B) that its writer left when it stopped" in out.stdout
    os.truncate(metric, whole)  # for assert_exact's strict reader: the whole lines are what was there
    with server.client(key) as c:
        assert assert_exact(c, run_dir, run_id) == 1500
        assert c.get(f"/api/v1/runs/{run_id}").json()["status"] == "crashed"


def test_a_refused_run_stops_only_itself(server: ServerProcess, logdir: Path) -> None:
    """A run the key may not write is named with the server's reason; the other runs are synced."""
    okay1 = make_run(logdir, "okay1", project="mine", metrics={"m": [line(i, 1.0) for i in range(10)]})
    make_run(logdir, "theirs", project="other", created=1_795_000_100.0, metrics={"m": [line(0, 1.0)]})
    okay2 = make_run(logdir, "okay2", project="mine", created=1_795_000_200.0, metrics={"m": [line(0, 2.0)]})
    key = server.create_key("mine")
    out = sync(server, key, str(logdir))
    assert out.returncode == 1
    assert "run theirs not synced" in out.stdout and "403" in out.stdout
    with server.client(key) as c:
        assert assert_exact(c, okay1, "okay1") == 10
        assert assert_exact(c, okay2, "okay2") == 1


class _Child:
    """A child process whose stdout and stderr go to files (no pipe to fill up)."""

    def __init__(self, argv: list[str], tmp_path: Path, env: dict[str, str] | None = None) -> None:
        self.out = tmp_path / f"child-{time.monotonic_ns()}.out"
        with open(self.out, "wb") as f:
            self.proc = subprocess.Popen(
                argv,
                env={**python_env(), **(env or {})},
                stdin=subprocess.PIPE,
                stdout=f,
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        assert self.proc.stdin is not None
        self.proc.stdin.close()


@pytest.fixture
def children(tmp_path: Path) -> Any:
    """Start child processes; every one is killed and reaped after the test."""
    started: list[_Child] = []

    def start(argv: list[str], env: dict[str, str] | None = None) -> _Child:
        child = _Child(argv, tmp_path, env)
        started.append(child)
        return child

    yield start
    for child in started:
        child.close()


LIVE = """
import sys
import swanlog_core as swanlog
run = swanlog.init(project="proj", logdir=sys.argv[1], mode=sys.argv[2])
print(run.id, flush=True)
for line in sys.stdin:
    if line.strip() == "quit":
        break
    step = int(line)
    swanlog.log({"loss": step / 10, "acc": step}, step=step)
    print("logged", step, flush=True)
swanlog.finish()
"""


def _steps(client: httpx.Client, run_id: str, name: str) -> list[int]:
    try:
        return [s for s, _ in server_points(client, run_id, name)]
    except httpx.HTTPStatusError:
        return []


@pytest.mark.parametrize("poll", [False, True], ids=["inotify", "poll"])
def test_watch_pushes_new_points_while_the_run_goes(
    server: ServerProcess, logdir: Path, tmp_path: Path, children: Callable[..., _Child], poll: bool
) -> None:
    """``sync --watch`` shows each new point on the server soon after log(), and stops cleanly on SIGINT."""
    key = server.create_key("proj")
    script = tmp_path / "live.py"
    script.write_text(LIVE)
    trainer = children([PYTHON, str(script), str(logdir), "offline"])
    run_id = wait_until(lambda: trainer.text().split("\n", 1)[0] if "\n" in trainer.text() else None)
    watch_args = ["--watch", "--poll"] if poll else ["--watch"]
    watcher = children(
        [
            PYTHON,
            "-m",
            "swanlog_cli.main",
            "sync",
            str(logdir),
            *watch_args,
            "--server",
            server.url,
            "--api-key",
            key,
        ]
    )
    assert trainer.proc.stdin is not None
    with server.client(key) as c:
        for step in range(5):
            trainer.proc.stdin.write(f"{step}\n".encode())
            trainer.proc.stdin.flush()
            wait_until(lambda s=step: s in _steps(c, run_id, "loss"), timeout=20)
        trainer.proc.stdin.write(b"quit\n")
        trainer.proc.stdin.flush()
        assert trainer.proc.wait(timeout=30) == 0
        wait_until(lambda: c.get(f"/api/v1/runs/{run_id}").json().get("status") == "finished", timeout=20)
        watcher.proc.send_signal(signal.SIGINT)
        assert watcher.proc.wait(timeout=30) == 0, watcher.text()
        assert "synced 1 run" in watcher.text()
        assert assert_exact(c, metricfile.the_run_dir(logdir, run_id), run_id) == 10


def test_watch_finds_runs_that_start_later(
    server: ServerProcess, logdir: Path, tmp_path: Path, children: Callable[..., _Child]
) -> None:
    """A run created after ``sync --watch`` started (in a logdir that did not exist yet) is pushed too."""
    key = server.create_key("proj")
    watcher = children(
        [PYTHON, "-m", "swanlog_cli.main", "sync", str(logdir / "later"), "--watch", "--server", server.url,
         "--api-key", key]
    )  # fmt: skip
    run_id, run_dir = train(tmp_path, logdir / "later", "proj", 100)
    with server.client(key) as c:
        wait_until(lambda: len(_steps(c, run_id, "acc")) == 100, timeout=30)
        wait_until(lambda: c.get(f"/api/v1/runs/{run_id}").json().get("status") == "finished", timeout=20)
    watcher.proc.send_signal(signal.SIGTERM)
    assert watcher.proc.wait(timeout=30) == 0, watcher.text()


def test_online_mode_pushes_everything(server: ServerProcess, logdir: Path, tmp_path: Path) -> None:
    """``init(mode="online")`` pushes every point and the final status without any other command."""
    key = server.create_key("proj")
    env = {"SWANLOG_SERVER": server.url, "SWANLOG_API_KEY": key}
    run_id, run_dir = train(tmp_path, logdir, "proj", 2000, mode="online", env=env)
    with server.client(key) as c:
        wait_until(lambda: c.get(f"/api/v1/runs/{run_id}").json().get("status") == "finished", timeout=60)
        wait_until(lambda: "synced 1 run" in (run_dir / "sync" / "online.log").read_text(), timeout=60)
        assert assert_exact(c, run_dir, run_id) == 6000


def test_online_mode_pushes_the_rest_after_a_sigkill(
    server: ServerProcess, logdir: Path, tmp_path: Path
) -> None:
    """A training script SIGKILLed in online mode still has all its points pushed, with status crashed."""
    key = server.create_key("proj")
    env = {"SWANLOG_SERVER": server.url, "SWANLOG_API_KEY": key}
    run_id, run_dir = train(tmp_path, logdir, "proj", 2000, how="kill", mode="online", env=env)
    with server.client(key) as c:
        wait_until(lambda: c.get(f"/api/v1/runs/{run_id}").json().get("status") == "crashed", timeout=60)
        wait_until(lambda: "synced 1 run" in (run_dir / "sync" / "online.log").read_text(), timeout=60)
        assert assert_exact(c, run_dir, run_id) == 6000


def test_online_mode_without_a_server_is_refused_before_any_folder(logdir: Path) -> None:
    """mode="online" with no SWANLOG_SERVER raises a clear error naming it, and creates nothing."""
    code = f"import swanlog_core as s\ns.init(logdir={str(logdir)!r}, mode='online')"
    out = subprocess.run(
        [sys.executable, "-c", code], env=python_env(), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 1 and "SWANLOG_SERVER" in out.stderr and "InvalidValueError" in out.stderr
    assert list(logdir.iterdir()) == []


def test_server_and_key_come_from_the_environment(server: ServerProcess, logdir: Path) -> None:
    """SWANLOG_SERVER and SWANLOG_API_KEY stand in for --server and --api-key; SWANLOG_DIR for PATHS."""
    make_run(logdir, "aaaa", metrics={"m": [line(0, 1.0)]})
    key = server.create_key("proj")
    env = {"SWANLOG_SERVER": server.url, "SWANLOG_API_KEY": key, "SWANLOG_DIR": str(logdir)}
    out = run_cli("sync", env=env)
    assert out.returncode == 0, out.stderr
    assert "1 point sent" in out.stdout


def test_an_unreachable_server_gives_up_after_the_timeout(logdir: Path) -> None:
    """One-shot sync to a server that is down exits non-zero after --timeout, saying what is unsent."""
    make_run(logdir, "aaaa", metrics={"m": [line(0, 1.0)]})
    start = time.monotonic()
    out = run_cli("sync", str(logdir), "--server", "http://127.0.0.1:9", "--api-key", "k", "--timeout", "1")
    assert out.returncode == 1
    assert "gave up" in out.stderr and "still unsent" in out.stdout
    assert time.monotonic() - start < 30


def test_no_server_is_a_usage_error(logdir: Path) -> None:
    """Without --server or SWANLOG_SERVER, sync says what is missing (exit 2, as click does)."""
    out = run_cli("sync", str(logdir))
    assert out.returncode == 2 and "--server" in out.stderr


def test_watch_with_the_server_down_stops_promptly_and_says_what_is_unsent(
    logdir: Path, children: Callable[..., _Child]
) -> None:
    """``sync --watch`` keeps retrying a server that is down, and on SIGTERM exits 1 naming what is unsent."""
    make_run(logdir, "aaaa", metrics={"m": [line(0, 1.0)]})
    watcher = children(
        [PYTHON, "-m", "swanlog_cli.main", "sync", str(logdir), "--watch", "--server", "http://127.0.0.1:9"]
        + ["--api-key", "k"]
    )
    wait_until(lambda: "retrying" in watcher.text(), timeout=30)
    watcher.proc.send_signal(signal.SIGTERM)
    assert watcher.proc.wait(timeout=30) == 1
    assert "still unsent" in watcher.text()


def test_online_mode_keeps_the_training_process_light(server: ServerProcess, logdir: Path) -> None:
    """In mode="online" the training process itself loads neither httpx, watchdog nor the sync package."""
    key = server.create_key("proj")
    code = (
        "import json, sys\nimport swanlog_core as s\n"
        f"run = s.init(project='proj', logdir={str(logdir)!r}, mode='online')\n"
        "s.log({'a': 1}); s.finish()\nprint(json.dumps(sorted(sys.modules)))\n"
    )
    env = {**python_env(), "SWANLOG_SERVER": server.url, "SWANLOG_API_KEY": key}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout.splitlines()[-1])
    heavy = [
        m
        for m in loaded
        if m.split(".")[0] in ("httpx", "watchdog", "click") or m.startswith("swanlog_core.sync")
    ]
    assert heavy == []
    (run_dir,) = logdir.iterdir()
    with server.client(key) as c:
        wait_until(
            lambda: c.get(f"/api/v1/runs/{run_dir.name.rsplit('-', 1)[1]}").json().get("status") == "finished"
        )


MEDIA = """
import sys
import numpy as np
import swanlog_core as swanlog
run = swanlog.init(project="proj", logdir=sys.argv[1])
print(run.id, flush=True)
pixels = (np.arange(8 * 6 * 3) % 256).astype(np.uint8).reshape(8, 6, 3)
swanlog.log({"samples": swanlog.Image(pixels, caption="first"), "weights": [0.5, 1.5, 1.5, 2.5]})
print("console line from the script", flush=True)
swanlog.finish()
"""


def test_an_image_a_histogram_and_the_console_reach_the_server(
    server: ServerProcess, logdir: Path, tmp_path: Path
) -> None:
    """An image's payload, a histogram and console.log are on the server after a sync, byte for byte."""
    script = tmp_path / "media.py"
    script.write_text(MEDIA)
    out = subprocess.run(
        [PYTHON, str(script), str(logdir)], env=python_env(), capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.split()[0]
    run_dir = metricfile.the_run_dir(logdir, run_id)
    key = server.create_key("proj")
    result = sync(server, key, str(logdir))
    assert result.returncode == 0, result.stdout + result.stderr
    with server.client(key) as c:
        (image,) = [json.loads(raw) for raw in (run_dir / "metrics/samples.jsonl").read_bytes().splitlines()]
        (got,) = c.get(f"/api/v1/runs/{run_id}/metrics/samples").json()["points"]
        assert got["value"] == image["value"] and image["value"]["_type"] == "image"
        payload = c.get(f"/api/v1/runs/{run_id}/files/{image['value']['path']}")
        assert payload.status_code == 200
        assert payload.content == (run_dir / image["value"]["path"]).read_bytes()
        (hist,) = c.get(f"/api/v1/runs/{run_id}/metrics/weights").json()["points"]
        assert hist["value"]["_type"] == "histogram" and sum(hist["value"]["counts"]) == 4
        console = c.get(f"/api/v1/runs/{run_id}/files/console.log")
        assert console.status_code == 200
        assert b"console line from the script" in console.content
        assert console.content == (run_dir / "console.log").read_bytes()

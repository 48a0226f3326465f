"""The read-only app over a logdir (what ``swanlog watch`` serves), as a real process on 127.0.0.1.

The parity test syncs the same logdir into a real ``swanlog server`` (SQLite and
PostgreSQL) and asserts that both answer the read endpoints identically.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import httpx
import pytest

from swanlog_core._names import name_to_path
from tests.runfolder import T0, LockHolder, line, make_run
from tests.serverproc import ServerProcess, run_cli, start_logdir_server
from tests.support import PYTHON, python_env, wait_until

TRAIN = """
import sys
import swanlog_core as swanlog
run = swanlog.init(project="vision", logdir=sys.argv[1], config={"lr": 0.01}, tags=["a", "b"])
print(run.id, flush=True)
for i in range(int(sys.argv[2])):
    swanlog.log({"train/loss": 1 / (i + 1), "acc": i, "odd name %?#": float("nan") if i % 7 == 0 else -i})
swanlog.log({"samples": swanlog.Text("hello", caption="first")}, step=0)
swanlog.log({"big": float("inf"), "small": float("-inf")})
print("a line for the console")
swanlog.finish()
"""


def metric_url(run_id: str, name: str) -> str:
    """A metric's URL: "/" kept, reserved characters and "." or ".." segments percent-encoded."""
    segments = [s.replace(".", "%2E") if s in (".", "..") else quote(s, safe="") for s in name.split("/")]
    return f"/api/v1/runs/{run_id}/metrics/{'/'.join(segments)}"


def train(logdir: Path, steps: int) -> str:
    """Run a real training script to its end; its run id."""
    out = subprocess.run(
        [PYTHON, "-c", TRAIN, str(logdir), str(steps)],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split()[0]


@pytest.fixture
def watch(logdir: Path) -> Iterator[ServerProcess]:
    """The read-only app serving the test's logdir; checked for tracebacks and stopped after the test."""
    with start_logdir_server(logdir) as srv:
        yield srv
        srv.assert_no_tracebacks()


def everything(c: httpx.Client) -> dict[str, Any]:
    """What the read endpoints answer: the run list, each run, its metric names, points and console."""
    runs = c.get("/api/v1/runs").json()["runs"]
    out: dict[str, Any] = {"runs": runs}
    for run in runs:
        rid = run["id"]
        names = c.get(f"/api/v1/runs/{rid}/metrics").json()["metrics"]
        r = c.get(f"/api/v1/runs/{rid}/files/console.log")
        out[rid] = {
            "run": c.get(f"/api/v1/runs/{rid}").json(),
            "metrics": names,
            "points": {n: c.get(metric_url(rid, n), params={"limit": 100_000}).json() for n in names},
            "page": {
                n: c.get(metric_url(rid, n), params={"after_step": 2, "limit": 3}).json() for n in names
            },
            "chart": {
                n: c.get(metric_url(rid, n), params={"after_step": 1, "max_points": 40}).json() for n in names
            },
            "console": (r.status_code, r.content),
        }
    return out


def test_watch_answers_what_a_database_server_answers_after_sync(
    watch: ServerProcess, server: ServerProcess, logdir: Path
) -> None:
    """After `swanlog sync`, the database server and the logdir app answer every read alike (charts too)."""
    run_id = train(logdir, 300)
    names = {"..": line(0, 1.0), "a b?c#d%e": line(0, 2.0), "训练/损失": line(0, 3.0) + line(1, 4.0)}
    hostile = {name_to_path(n)[: -len(".jsonl")]: data for n, data in names.items()}
    make_run(
        logdir, "handmade", created=T0, metrics={"m": line(3, 3.0) + line(1, 1.0) + b"junk\n", **hostile}
    )
    make_run(logdir, "deadwriter", created=T0 + 1, status="running", metrics={"x": line(0, 0.5)})
    key = server.create_key("vision", "proj")
    out = run_cli("sync", str(logdir), "--server", server.url, "--api-key", key, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    with server.client(key) as db, watch.client() as files:
        expected, got = everything(db), everything(files)
    assert {r["status"] for r in got["runs"]} == {"finished", "crashed"}
    assert got["handmade"]["metrics"] == ["..", "a b?c#d%e", "m", "训练/损失"]
    trained = got[run_id]["points"]
    assert len(trained["acc"]["points"]) == 300 and trained["odd name %?#"]["points"][0]["value"] == "NaN"
    assert trained["samples"]["points"][0]["value"]["_type"] == "text"
    assert [p["value"] for p in trained["big"]["points"] + trained["small"]["points"]] == [
        "Infinity",
        "-Infinity",
    ]
    assert got[run_id]["console"][0] == 200 and got[run_id]["run"]["config"] == {"lr": 0.01}
    chart = got[run_id]["chart"]["odd name %?#"]
    assert chart["total"] == 298 and chart["downsampled"] and chart["points"][-1]["step"] == 299
    assert got == expected


def test_watch_needs_no_key_and_refuses_writes(watch: ServerProcess, logdir: Path) -> None:
    """Reads need no key; a write is a 405 JSON error and leaves the logdir unchanged."""
    make_run(logdir, "r1", metrics={"loss": line(0, 1.0)})
    before = sorted(str(p) for p in logdir.rglob("*"))
    with watch.client() as c:
        assert c.get("/api/v1/health").json() == {"status": "ok"}
        assert [r["id"] for r in c.get("/api/v1/runs").json()["runs"]] == ["r1"]
        r = c.put("/api/v1/runs/r1", json={"project": "proj", "name": "x"})
        assert r.status_code == 405 and "read-only" in r.json()["error"]
        r = c.post("/api/v1/runs/r1/records", content=b'{"metric":"loss","step":1,"value":1,"ts":1}\n')
        assert r.status_code == 405
        assert c.get("/openapi.json").json()["security"] == []
    assert sorted(str(p) for p in logdir.rglob("*")) == before


def test_file_paths_stay_in_the_run_folder(watch: ServerProcess, logdir: Path) -> None:
    """A file path climbing out of the run folder is a 400, and console.log is served."""
    run_dir = make_run(logdir, "r1")
    (run_dir / "console.log").write_bytes(b"epoch 1\n")
    with watch.client() as c:
        assert c.get("/api/v1/runs/r1/files/console.log").content == b"epoch 1\n"
        for path in ("%2E%2E/run.json", "media/%2E%2E/%2E%2E/r1/run.json", "%2Fetc/passwd"):
            r = c.get(f"/api/v1/runs/r1/files/{path}")
            assert r.status_code == 400 and "file path" in r.json()["error"]


def test_a_live_run_is_running_then_crashed_and_its_points_grow(watch: ServerProcess, logdir: Path) -> None:
    """A live run shows running and new points at the next request; once its writer dies, crashed."""
    run_dir = make_run(logdir, "live", status="running", metrics={"loss": line(0, 1.0)})
    with LockHolder(run_dir) as holder, watch.client() as c:
        assert c.get("/api/v1/runs/live").json()["status"] == "running"
        assert len(c.get("/api/v1/runs/live/metrics/loss").json()["points"]) == 1
        with open(run_dir / "metrics" / "loss.jsonl", "ab") as f:
            f.write(line(1, 0.5))
        pts = c.get("/api/v1/runs/live/metrics/loss", params={"after_step": 0}).json()["points"]
        assert pts == [{"step": 1, "value": 0.5, "ts": T0}]
        holder.kill()
        wait_until(lambda: c.get("/api/v1/runs/live").json()["status"] == "crashed")


def test_a_run_id_in_two_folders_is_a_409_naming_both(watch: ServerProcess, logdir: Path) -> None:
    """Two run folders with one id make the run list and that run a 409 naming both folders."""
    a = make_run(logdir, "twin", created=T0)
    b = make_run(logdir, "twin", created=T0 + 60)
    with watch.client() as c:
        for url in ("/api/v1/runs", "/api/v1/runs/twin"):
            r = c.get(url)
            assert r.status_code == 409 and a.name in r.json()["error"] and b.name in r.json()["error"]

"""The dashboard's server side with real processes: downsampled points, the page and its files,
and ``swanlog watch`` run as a user runs it."""

from __future__ import annotations

import gzip
import math
import os
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any, Iterator

import httpx
import orjson
import pytest

from swanlog_core._names import name_to_path
from swanlog_core.server.dashboard import CSP, STATIC_DIR, plotly_bundle
from swanlog_core.server.downsample import pick
from tests.runfolder import T0, line, make_run
from tests.serverproc import _LISTENING, ServerProcess, run_cli, start_logdir_server
from tests.support import PYTHON, python_env, wait_until

NDJSON = {"Content-Type": "application/x-ndjson"}


def series(n: int) -> list[Any]:
    """A noisy curve with a spike, NaNs, an infinity and a media point among n points."""
    values: list[Any] = [math.sin(i / 50) + (i * 7919 % 101) / 500 for i in range(n)]
    values[n // 3] = 40.0
    for i in range(0, n, n // 7):
        values[i] = "NaN"
    values[n // 2] = "Infinity"
    values[n // 5] = {"_type": "text", "path": "media/t.txt", "caption": "c"}
    return values


@pytest.fixture
def keyed(server: ServerProcess) -> Iterator[tuple[httpx.Client, str]]:
    """A client with a key, and a run holding metric "m" (series(30,000), steps 0, 3, 6...)."""
    key = server.create_key("p")
    run = f"r_{uuid.uuid4().hex[:8]}"
    values = series(30_000)
    body = b"".join(
        orjson.dumps({"metric": "m", "step": 3 * i, "value": v, "ts": T0 + i}) + b"\n"
        for i, v in enumerate(values)
    )
    with server.client(key) as c:
        assert c.put(f"/api/v1/runs/{run}", json={"project": "p"}).status_code == 200
        r = c.post(
            f"/api/v1/runs/{run}/records",
            content=gzip.compress(body),
            headers={**NDJSON, "Content-Encoding": "gzip"},
        )
        assert r.json() == {"accepted": 30_000, "duplicates": 0}
        yield c, run
    server.assert_no_tracebacks()


def test_max_points_downsamples_every_point_after_after_step(keyed: tuple[httpx.Client, str]) -> None:
    """max_points answers pick's points of all after after_step (not limit), with total and downsampled."""
    c, run = keyed
    everything = c.get(f"/api/v1/runs/{run}/metrics/m", params={"limit": 100_000}).json()["points"]
    for after, most in [(-1, 1000), (29_997, 500), (-1, 2), (89_000, 20_000)]:
        r = c.get(
            f"/api/v1/runs/{run}/metrics/m", params={"max_points": most, "after_step": after, "limit": 5}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        tail = [p for p in everything if p["step"] > after]
        want = [tail[i] for i in pick([p["value"] for p in tail], most)]
        assert body == {"metric": "m", "points": want, "total": len(tail), "downsampled": len(tail) > most}
    chart = c.get(f"/api/v1/runs/{run}/metrics/m", params={"max_points": 1000}).json()["points"]
    values = [p["value"] for p in chart]
    assert 40.0 in values and "Infinity" in values and "NaN" in values and chart[-1] == everything[-1]
    # 500 buckets of min and max, the last point, and 8 NaN, an infinity and a media point
    assert any(type(v) is dict for v in values) and len(chart) <= 1000 + 1 + 10
    assert "total" not in c.get(f"/api/v1/runs/{run}/metrics/m", params={"limit": 3}).json()


DOT_NAMES = ["..", ".", "a/./b", "a/../b", "odd %?#&=+ name", "训练/损失"]


def test_points_takes_any_name_in_its_query_where_a_browser_would_drop_dots(server: ServerProcess) -> None:
    """GET .../points?metric=NAME answers as .../metrics/NAME, also for names with "." or ".." segments."""
    key = server.create_key("p")
    run = f"r_{uuid.uuid4().hex[:8]}"
    body = b"".join(
        orjson.dumps({"metric": n, "step": 0, "value": i, "ts": T0}) + b"\n" for i, n in enumerate(DOT_NAMES)
    )
    with server.client(key) as c:
        assert c.put(f"/api/v1/runs/{run}", json={"project": "p"}).status_code == 200
        assert c.post(f"/api/v1/runs/{run}/records", content=body, headers=NDJSON).status_code == 200
        for i, name in enumerate(DOT_NAMES):
            r = c.get(f"/api/v1/runs/{run}/points", params={"metric": name, "max_points": 10})
            assert r.json() == {
                "metric": name,
                "points": [{"step": 0, "value": i, "ts": T0}],
                "total": 1,
                "downsampled": False,
            }
            paged = c.get(f"/api/v1/runs/{run}/points", params={"metric": name, "limit": 5}).json()
            assert paged == {"metric": name, "points": [{"step": 0, "value": i, "ts": T0}]}
        assert c.get(f"/api/v1/runs/{run}/points", params={"metric": "nope"}).status_code == 404
        r = c.get(f"/api/v1/runs/{run}/points")
        assert r.status_code == 400 and "metric" in r.json()["error"]
    assert httpx.get(f"{server.url}/api/v1/runs/{run}/points", params={"metric": ".."}).status_code == 401


def test_watch_points_takes_names_with_dot_segments(logdir: Path) -> None:
    """The read-only app over files answers .../points?metric=NAME for every name the writer can store."""
    make_run(
        logdir,
        "d1",
        metrics={name_to_path(n)[: -len(".jsonl")]: line(0, float(i)) for i, n in enumerate(DOT_NAMES)},
    )
    with start_logdir_server(logdir) as watch, watch.client() as c:
        assert sorted(c.get("/api/v1/runs/d1/metrics").json()["metrics"]) == sorted(DOT_NAMES)
        for i, name in enumerate(DOT_NAMES):
            r = c.get("/api/v1/runs/d1/points", params={"metric": name, "max_points": 10})
            assert r.status_code == 200, r.text
            assert r.json()["points"] == [{"step": 0, "value": float(i), "ts": T0}]
        watch.assert_no_tracebacks()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("1", "max_points=1", id="one"),
        pytest.param("20001", "max_points=20001", id="over-max"),
        pytest.param("-5", "max_points=-5", id="negative"),
        pytest.param("many", "not an integer", id="text"),
        pytest.param("2.5", "not an integer", id="float"),
        pytest.param("", "not an integer", id="empty"),
    ],
)
def test_bad_max_points_is_400_naming_it(keyed: tuple[httpx.Client, str], value: str, message: str) -> None:
    """max_points that is not an integer from 2 to 20,000 is a 400 naming the parameter."""
    c, run = keyed
    r = c.get(f"/api/v1/runs/{run}/metrics/m", params={"max_points": value})
    assert r.status_code == 400 and message in r.json()["error"] and "max_points" in r.json()["error"]


def test_the_server_serves_the_page_and_its_files_without_a_key(server: ServerProcess) -> None:
    """swanlog server answers /, the static files and plotly.js with no key, and the API still wants one."""
    with server.client() as c:
        page = c.get("/")
        assert page.status_code == 200 and page.content == (STATIC_DIR / "index.html").read_bytes()
        assert page.headers["content-security-policy"] == CSP
        assert (
            page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-cache"
        )
        js = c.get("/static/app.js")
        assert js.headers["content-type"].startswith("application/javascript") and js.headers["etag"]
        assert c.get("/static/app.js", headers={"If-None-Match": js.headers["etag"]}).status_code == 304
        assert c.get("/static/app.css").headers["content-type"].startswith("text/css")
        bundle = c.get("/static/plotly.min.js")  # httpx asks for gzip and decodes it
        assert bundle.headers["content-encoding"] == "gzip"
        assert bundle.content == plotly_bundle().read_bytes()  # type: ignore[union-attr]
        assert c.get("/static/..%2Fapp.py").status_code == 404
        assert c.get("/api/v1/runs").status_code == 401


def test_run_files_never_run_as_the_dashboards_origin(server: ServerProcess, logdir: Path) -> None:
    """A logged HTML file is answered with CSP sandbox and nosniff, by the server and by swanlog watch."""
    html = b"<script>fetch('/api/v1/runs')</script>"
    key = server.create_key("p")
    with server.client(key) as c:
        c.put("/api/v1/runs/h1", json={"project": "p"})
        c.put("/api/v1/runs/h1/files/media/page/x.html", content=html)
        r = c.get("/api/v1/runs/h1/files/media/page/x.html")
    run_dir = make_run(logdir, "h2")
    (run_dir / "media" / "page").mkdir(parents=True)
    (run_dir / "media" / "page" / "x.html").write_bytes(html)
    with start_logdir_server(logdir) as watch, watch.client() as c:
        w = c.get("/api/v1/runs/h2/files/media/page/x.html")
    for answer in (r, w):
        assert answer.content == html and answer.headers["content-type"].startswith("text/html")
        assert answer.headers["content-security-policy"] == "sandbox"
        assert answer.headers["x-content-type-options"] == "nosniff"


# -- swanlog watch, the command -----------------------------------------------------------------


def test_swanlog_watch_serves_the_dashboard_and_the_runs(logdir: Path) -> None:
    """`swanlog watch LOGDIR --port 0` prints its URL and where to open it, then serves / and the runs."""
    make_run(logdir, "w1", metrics={"loss": line(0, 1.0) + line(1, "NaN")})
    with start_logdir_server(logdir) as watch, watch.client() as c:
        assert f"open {watch.url}/ in a browser" in watch.output()
        page = c.get("/")
        assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
        assert [r["id"] for r in c.get("/api/v1/runs").json()["runs"]] == ["w1"]
        r = c.get("/api/v1/runs/w1/metrics/loss", params={"max_points": 2})
        assert r.json() == {
            "metric": "loss",
            "points": [{"step": 0, "value": 1.0, "ts": T0}, {"step": 1, "value": "NaN", "ts": T0}],
            "total": 2,
            "downsampled": False,
        }
        assert c.post("/api/v1/runs/w1/records", content=b"{}").status_code == 405
        assert watch.stop() == 0
        watch.assert_no_tracebacks()


def test_swanlog_watch_defaults_to_swanlog_dir_then_dot_swanlog(tmp_path: Path, logdir: Path) -> None:
    """Without LOGDIR, swanlog watch serves $SWANLOG_DIR, else ./swanlog, as swanlog ls does."""
    make_run(logdir, "fromenv")
    cwd = tmp_path / "cwd"
    make_run(cwd / "swanlog", "fromcwd")
    for env, expected in [({"SWANLOG_DIR": str(logdir)}, "fromenv"), ({}, "fromcwd")]:
        proc = subprocess.Popen(
            [PYTHON, "-m", "swanlog_cli.main", "watch", "--port", "0"],
            cwd=cwd,
            env={**python_env(), **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            m = _LISTENING.search(first)
            assert m, first + proc.stdout.read()
            with httpx.Client(base_url=f"{m.group(1)}:{m.group(2)}", timeout=30) as c:
                assert [r["id"] for r in c.get("/api/v1/runs").json()["runs"]] == [expected]
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
            proc.stdout.close()  # type: ignore[union-attr]


def test_swanlog_watch_refuses_a_remote_address_unless_allowed(logdir: Path) -> None:
    """A non-loopback --host is refused (exit 1, naming --allow-remote); with the flag it serves and warns."""
    refused = run_cli("watch", str(logdir), "--host", "0.0.0.0", "--port", "0")
    assert refused.returncode == 1 and "--allow-remote" in refused.stderr and "asks no key" in refused.stderr
    with start_logdir_server(logdir, extra_args=("--host", "0.0.0.0", "--allow-remote")) as watch:
        wait_until(lambda: "anyone who can reach it reads every run" in watch.output())
        with httpx.Client(base_url=f"http://127.0.0.1:{watch.port}", timeout=30) as c:
            assert c.get("/api/v1/health").json() == {"status": "ok"}


def test_watch_help_explains_the_dashboard() -> None:
    """swanlog watch --help says it serves the dashboard read-only, with no key, on loopback by default."""
    out = run_cli("watch", "--help")
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    for words in ("dashboard", "no key", "loopback", "--allow-remote", "$SWANLOG_DIR", "--port"):
        assert words in text, words


def test_swanlog_server_says_where_the_dashboard_is(tmp_path: Path) -> None:
    """swanlog server prints its URL and that the dashboard is there."""
    with ServerProcess(f"sqlite:///{tmp_path / 'server.db'}").start() as srv:
        assert f"dashboard: open {srv.url}/ in a browser" in srv.output()
    assert "dashboard" in run_cli("server", "--help").stdout
    assert os.path.exists(tmp_path / "server.db")

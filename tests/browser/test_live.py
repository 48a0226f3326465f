"""A run that is still training, watched live: new points and new metrics arrive with no reload,
over a logdir (`swanlog watch`) and on a server fed by `swanlog sync --watch`."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.dashboard import chart, css_string, reveal, start_watch
from tests.browser.training import LIVE, start_script
from tests.serverproc import start_server
from tests.support import PYTHON, python_env, wait_until

POINTS = 110  # one every 0.07 s: about 8 s of training
PAUSE = 0.07


def grows_to(page: Page, n: int) -> None:
    """Wait until the live/loss chart plots at least ``n`` points."""
    page.wait_for_function(
        "([sel, n]) => Number(document.querySelector(sel)?.getAttribute('data-points')) >= n",
        arg=['div.chart[data-metric="live/loss"]', n],
        timeout=15_000,
    )


@pytest.mark.slow
def test_a_live_run_grows_in_place_then_shows_finished(page: Page, tmp_path: Path) -> None:
    """While a run logs, its chart gains points without a page reload, a new metric appears,
    the status reads running, and once the script ends it reads finished with every point."""
    logdir = tmp_path / "swanlog"
    child = start_script(LIVE, logdir, POINTS, PAUSE)
    try:
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
        assert run_id, child.stderr.read() if child.stderr else ""
        with start_watch(logdir) as srv:
            page.goto(f"{srv.url}/#/runs/{run_id}")
            status = page.locator(f".run-legend[data-run-id={css_string(run_id)}] .run-status")
            expect(status).to_have_text("running")
            loss = reveal(chart(page, "live/loss"))
            expect(loss).to_have_attribute("data-points", re.compile(r"^\d+$"))
            first = int(loss.get_attribute("data-points") or 0)
            assert first < POINTS - 30, f"the run was nearly over ({first} points) before the page showed it"
            page.evaluate("window.__marker = 1")

            grows_to(page, first + 20)
            assert page.evaluate("window.__marker") == 1, "the page reloaded"
            expect(status).to_have_text("running")
            expect(chart(page, "live/late")).to_have_count(1)  # a metric that began after the page opened

            expect(status).to_have_text("finished", timeout=20_000)
            expect(reveal(chart(page, "live/loss"))).to_have_attribute("data-points", str(POINTS))
            assert page.evaluate("window.__marker") == 1, "the page reloaded"
            assert child.wait(timeout=10) == 0
            srv.assert_no_tracebacks()
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=30)


@pytest.mark.slow
def test_a_live_run_synced_with_watch_grows_on_the_server_dashboard(page: Page, tmp_path: Path) -> None:
    """The team's view: a script logs, `swanlog sync --watch` pushes to a real server, and the
    server's page (key kept for the tab) grows the chart in place, then shows the run finished."""
    logdir = tmp_path / "swanlog"
    logdir.mkdir()
    with start_server(f"sqlite:///{tmp_path / 'server.db'}") as srv:
        key = srv.create_key("live")
        sync = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "swanlog_cli.main",
                "sync",
                str(logdir),
                "--watch",
                "--server",
                srv.url,
                "--api-key",
                key,
            ],
            env=python_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        child = start_script(LIVE, logdir, POINTS, PAUSE)
        try:
            assert child.stdout is not None
            run_id = child.stdout.readline().strip()
            with srv.client(key) as c:
                wait_until(lambda: c.get(f"/api/v1/runs/{run_id}").status_code == 200, timeout=10)
            page.add_init_script(f"sessionStorage.setItem('swanlog.key', {json.dumps(key)})")
            page.goto(f"{srv.url}/#/runs/{run_id}")
            status = page.locator(f".run-legend[data-run-id={css_string(run_id)}] .run-status")
            expect(status).to_have_text("running")
            loss = reveal(chart(page, "live/loss"))
            expect(loss).to_have_attribute("data-points", re.compile(r"^\d+$"))
            first = int(loss.get_attribute("data-points") or 0)
            page.evaluate("window.__marker = 1")
            grows_to(page, first + 20)
            expect(status).to_have_text("finished", timeout=20_000)
            expect(reveal(chart(page, "live/loss"))).to_have_attribute("data-points", str(POINTS))
            assert page.evaluate("window.__marker") == 1, "the page reloaded"
            assert child.wait(timeout=10) == 0
        finally:
            for proc in (child, sync):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
            child.communicate(timeout=30)
            _, err = sync.communicate(timeout=30)
        assert sync.returncode == 0, err
        srv.assert_no_tracebacks()

"""A run that is still training, watched live: new points and new metrics arrive with no reload."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.dashboard import chart, css_string, reveal, start_watch
from tests.browser.training import LIVE, start_script

POINTS = 110  # one every 0.07 s: about 8 s of training
PAUSE = 0.07


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

            page.wait_for_function(
                "([sel, n]) => Number(document.querySelector(sel)?.getAttribute('data-points')) >= n",
                arg=['div.chart[data-metric="live/loss"]', first + 20],
                timeout=15_000,
            )
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

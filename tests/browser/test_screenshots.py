"""Screenshots of the dashboard for the README, taken on every run of the tests (docs/img/)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.dashboard import chart, reveal, row, start_watch
from tests.browser.training import BASELINE, CRASHED, run_script, start_script

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"

# Every scalar chart inside the viewport has been drawn (charts draw lazily, once in view).
VISIBLE_CHARTS_DRAWN = """() => [...document.querySelectorAll("div.chart:not([data-type=histogram])")]
    .filter(el => { const r = el.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight; })
    .every(el => el.hasAttribute("data-points"))"""


def write_project(logdir: Path) -> str:
    """Three finished learning-rate variants and a crashed run; the id of "baseline"."""
    variants = [
        start_script(BASELINE, logdir, name, lr) for name, lr in (("lr-0.03", 0.03), ("lr-0.003", 0.003))
    ]
    crashed = start_script(CRASHED, logdir)
    try:
        baseline = run_script(BASELINE, logdir)
        assert crashed.stdout is not None and crashed.stdout.readline()
        assert crashed.stdout.readline().strip() == "ready"
        crashed.kill()
        assert [child.wait(timeout=60) for child in variants] == [0, 0]
    finally:
        for child in [*variants, crashed]:
            if child.poll() is None:
                child.kill()
            child.communicate(timeout=30)
    return baseline


@pytest.mark.slow
def test_screenshots_of_the_runs_table_and_a_run(page: Page, tmp_path: Path) -> None:
    """The runs table and baseline's run view (1400x900) are saved as docs/img/dashboard-{runs,run}.png."""
    logdir = tmp_path / "swanlog"
    baseline = write_project(logdir)
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    with start_watch(logdir) as srv:
        page.goto(srv.url + "/")
        expect(page.locator("table#runs-table tbody tr[data-run-id]")).to_have_count(4)
        # Bytes written here: screenshot(path=...) writes from a thread that outlives the test.
        (DOCS_IMG / "dashboard-runs.png").write_bytes(page.screenshot())

        row(page, baseline).locator("a.run-name").click()
        expect(page).to_have_url(re.compile(f"#/runs/{baseline}$"))
        for metric in ("train/loss", "train/acc"):
            expect(reveal(chart(page, metric))).to_have_attribute("data-points", "500")
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_function(VISIBLE_CHARTS_DRAWN)
        (DOCS_IMG / "dashboard-run.png").write_bytes(page.screenshot())
    assert (DOCS_IMG / "dashboard-run.png").stat().st_size > 10_000

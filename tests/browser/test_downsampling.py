"""A metric of 100,000 points: the dashboard asks the server for about 2,000 and says it did."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.dashboard import chart, reveal, start_watch
from tests.browser.training import write_big_run

POINTS = 100_000


@pytest.mark.slow
def test_a_100000_point_metric_is_drawn_downsampled(
    page: Page, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The chart of a 100,000-point metric plots at most about 2,100 points and reports the 100,000 held."""
    logdir = tmp_path / "swanlog"
    run_id = write_big_run(logdir, POINTS)
    with start_watch(logdir) as srv:
        start = time.perf_counter()
        page.goto(f"{srv.url}/#/runs/{run_id}")
        big = reveal(chart(page, "big/loss"))
        expect(big).to_have_attribute("data-total", str(POINTS), timeout=30_000)
        elapsed = time.perf_counter() - start
        plotted = int(big.get_attribute("data-points") or 0)
        with capsys.disabled():
            print(
                f"\n[browser] 100,000-point chart: {plotted} points plotted, drawn {elapsed:.2f} s after goto"
            )
        assert 100 <= plotted <= 2_100, plotted
        srv.assert_no_tracebacks()

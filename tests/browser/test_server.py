"""The dashboard of a real ``swanlog server`` on SQLite and on PostgreSQL, filled by
``swanlog sync``: key, runs, charts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageLog
from tests.browser.dashboard import chart, media, reveal, row, wait_loaded
from tests.browser.training import BASELINE, run_script
from tests.serverproc import run_cli, start_server

KEY_SUBMIT = "form#key-form button, form#key-form input[type=submit]"


@pytest.mark.slow
def test_the_server_dashboard_asks_for_the_key_then_shows_synced_runs(
    page: Page, page_log: PageLog, tmp_path: Path, db_url: str
) -> None:
    """The page asks for a key; a wrong one shows #key-error, the right one shows the synced run,
    its 500 points, image and histogram; a reload in the same tab keeps the key (sessionStorage).
    Once per database: SQLite and PostgreSQL."""
    logdir = tmp_path / "swanlog"
    run_id = run_script(BASELINE, logdir)
    with start_server(db_url) as srv:
        key = srv.create_key("vision")
        out = run_cli("sync", str(logdir), "--server", srv.url, "--api-key", key, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        page_log.allow_console(r"status of 401")  # Chromium logs the API's 401 before a key is given

        page.goto(srv.url + "/")
        form = page.locator("form#key-form")
        expect(form).to_be_visible()
        expect(page.locator("#key-error")).not_to_be_visible()
        page.fill("input#key-input", "swl_not_a_key")
        page.locator(KEY_SUBMIT).first.click()
        expect(page.locator("#key-error")).to_be_visible()
        expect(page.locator("#key-error")).not_to_be_empty()
        expect(form).to_be_visible()

        page.fill("input#key-input", key)
        page.locator(KEY_SUBMIT).first.click()
        expect(row(page, run_id)).to_be_visible()
        expect(form).not_to_be_visible()
        assert page.evaluate("sessionStorage.getItem('swanlog.key')") == key
        expect(row(page, run_id).locator(".run-status")).to_have_text("finished")

        page.reload()
        expect(row(page, run_id)).to_be_visible()
        expect(form).not_to_be_visible()

        row(page, run_id).locator("a.run-name").click()
        expect(page).to_have_url(re.compile(f"#/runs/{run_id}$"))
        expect(reveal(chart(page, "train/loss"))).to_have_attribute("data-points", "500")
        expect(reveal(chart(page, "val/loss"))).to_have_attribute("data-points", "50")
        assert wait_loaded(reveal(media(page, "samples", "image")).locator("img")) == 48
        hist = reveal(page.locator('div.chart[data-metric="weights"][data-type="histogram"]'))
        expect(hist.locator("svg, canvas").first).to_be_visible()  # drawn
        expect(page.locator("#run-config")).to_contain_text("resnet")
        srv.assert_no_tracebacks()

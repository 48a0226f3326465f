"""The server goes away while the page is open: the page keeps what it shows, says it is
retrying, and carries on by itself once the server is back."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import PageLog
from tests.browser.dashboard import row, start_watch
from tests.browser.training import write_named_runs


def test_the_runs_table_survives_a_server_restart(page: Page, page_log: PageLog, tmp_path: Path) -> None:
    """Stop `swanlog watch` under an open runs table: the rows stay, #conn-status says the
    refresh failed; a run written meanwhile shows once the server is back, the note gone."""
    logdir = tmp_path / "swanlog"
    first = write_named_runs(logdir, {"before": "loss"})["before"]
    page_log.allow_console(
        r"ERR_CONNECTION_REFUSED|Failed to fetch|net::ERR_"
    )  # the server is down on purpose
    with start_watch(logdir) as srv:
        page.goto(srv.url + "/")
        expect(row(page, first)).to_be_visible()
        srv.stop()
        note = page.locator("#conn-status")
        expect(note).to_be_visible(timeout=15_000)
        expect(note).to_contain_text("retrying")
        expect(row(page, first)).to_be_visible()  # what was shown stays

        later = write_named_runs(logdir, {"after": "loss"})["after"]
        srv.start()
        expect(row(page, later)).to_be_visible(timeout=20_000)
        expect(note).to_be_hidden()
        srv.assert_no_tracebacks()

"""A server holding 1,200 runs: the runs table draws 500 rows and more on demand, keeps the
selection, and polls only for what changed (GET /runs?since=REV), on SQLite and PostgreSQL."""

from __future__ import annotations

import orjson
import pytest
from playwright.sync_api import Page, Response, expect

from swanlog_core.server import open_store
from swanlog_core.server.runs import run_fields
from swanlog_core.server.settings import Settings
from tests.browser.conftest import PageLog
from tests.browser.dashboard import row
from tests.serverproc import start_server

N_RUNS = 1200
KEY_SUBMIT = "form#key-form button, form#key-form input[type=submit]"


def run_id(i: int) -> str:
    return f"r{i:04d}"


@pytest.mark.slow
def test_a_table_of_1200_runs_draws_500_rows_and_polls_only_for_changes(
    page: Page, page_log: PageLog, db_url: str
) -> None:
    """500 rows at first, 500 more per click; a checked run stays checked; a new run and a changed
    summary show within a poll, whose answers hold only the runs that changed."""
    with start_server(db_url) as srv:
        store = open_store(db_url)
        settings = Settings()
        try:
            for i in range(N_RUNS):  # run i is created i minutes into the day: r1199 is the newest
                created = f"2026-11-30T{i // 60:02d}:{i % 60:02d}:00Z"
                body = {
                    "project": "big",
                    "name": f"trial {i}",
                    "status": "finished",
                    "created": created,
                    "summary": {"loss": i / 1000},
                    "config": {"lr": i},
                }
                store.put_run(run_id(i), run_fields(body, settings))
        finally:
            store.close()
        key = srv.create_key("big")
        answers: list[dict] = []

        def keep(response: Response) -> None:
            if "/api/v1/runs?" in response.url and "since=" in response.url:
                answers.append(orjson.loads(response.body()))

        page.on("response", keep)
        page_log.allow_console(r"status of 401")  # Chromium logs the API's 401 before a key is given
        page.goto(srv.url + "/")
        page.fill("input#key-input", key)
        page.locator(KEY_SUBMIT).first.click()

        rows = page.locator("#runs-table tbody tr[data-run-id]")
        expect(rows).to_have_count(500)
        expect(page.locator("#run-count")).to_have_text("500 shown, 1200 of 1200 runs")
        expect(rows.first).to_have_attribute("data-run-id", run_id(N_RUNS - 1))  # newest first
        row(page, run_id(N_RUNS - 2)).locator("input.run-select").check()
        page.click("button#more-runs")
        expect(rows).to_have_count(1000)
        page.click("button#more-runs")
        expect(rows).to_have_count(N_RUNS)
        expect(page.locator("button#more-runs")).to_have_count(0)
        expect(page.locator("#run-count")).to_have_text("1200 of 1200 runs")

        # Filtering narrows the table; the checked run, no longer drawn, stays selected.
        page.fill("#run-filter", "trial 7")
        expect(page.locator("#run-count")).to_have_text(f"111 of {N_RUNS} runs")  # 7, 70-79, 700-799
        expect(page.locator("button#compare-btn")).to_have_text("Open selected")
        page.fill("#run-filter", "")

        with srv.client(key) as api:
            late = {"project": "big", "name": "late run", "created": "2026-12-01T00:00:00Z"}
            assert api.put("/api/v1/runs/late", json=late).status_code == 200
            newest = f"/api/v1/runs/{run_id(N_RUNS - 1)}"
            assert api.put(newest, json={"summary": {"loss": 42}}).status_code == 200
        expect(rows.first).to_have_attribute("data-run-id", "late", timeout=10_000)
        expect(row(page, run_id(N_RUNS - 1)).locator("td[data-column='summary:loss']")).to_have_text("42")
        expect(page.locator("#run-count")).to_have_text(f"500 shown, {N_RUNS + 1} of {N_RUNS + 1} runs")
        expect(row(page, run_id(N_RUNS - 2)).locator("input.run-select")).to_be_checked()

        # Every poll asked for the changes since the last answer, and got only those (PostgreSQL
        # may answer a changed run twice, while another transaction of the cluster is open).
        assert answers, "the page never asked for changes since a revision"
        changed = [{r["id"] for r in a["runs"]} for a in answers]
        expected = {"late", run_id(N_RUNS - 1)}
        assert all(ids <= expected for ids in changed) and set().union(*changed) == expected, changed
        srv.assert_no_tracebacks()

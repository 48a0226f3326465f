"""The dashboard of ``swanlog watch LOGDIR`` in headless Chromium: runs table, run view, compare.

One logdir for the module, written by real training scripts (tests/browser/training.py):
a finished "baseline" (train/loss and train/acc for 500 steps, val/loss for 50 with "epoch"
as its step_metric, five images, five histograms), a run killed with SIGKILL while running,
and a run whose project, name, metric and config value are HTML. One ``swanlog watch``
serves it to every test.
"""

from __future__ import annotations

import platform
import re
import socket
from typing import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageLog
from tests.browser.dashboard import chart, media, reveal, row, run_names, start_watch, wait_loaded
from tests.browser.training import HOSTILE, HOSTILE_CONFIG, HOSTILE_PROJECT, Runs, write_runs
from tests.serverproc import ServerProcess


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """The module's three runs (baseline, crashed, hostile), written once."""
    return write_runs(tmp_path_factory.mktemp("watch") / "swanlog")


@pytest.fixture(scope="module")
def watch(runs: Runs) -> Iterator[ServerProcess]:
    """``swanlog watch`` over the module's logdir; checked for tracebacks at the end."""
    with start_watch(runs.logdir) as srv:
        yield srv
        srv.assert_no_tracebacks()


def open_table(page: Page, watch: ServerProcess) -> None:
    """Open the runs table and wait until it lists the module's three runs."""
    page.goto(watch.url + "/")
    expect(page.locator("table#runs-table tbody tr[data-run-id]")).to_have_count(3)


def open_run(page: Page, watch: ServerProcess, runs: Runs, name: str) -> None:
    """From the runs table, open one run by clicking its name."""
    open_table(page, watch)
    run_id = getattr(runs, name)
    page.locator(f"tr[data-run-id='{run_id}'] a.run-name").click()
    expect(page).to_have_url(re.compile(f"#/runs/{run_id}$"))
    expect(page.locator("#run-view")).to_be_visible()


def injected_elements(page: Page) -> list[str]:
    """Elements that parsing the hostile names as HTML would have made (none, when shown as text)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('img[src="x"], b, script')]
            .filter(e => e.tagName !== "B" || e.textContent === "xss")
            .filter(e => e.tagName !== "SCRIPT" || e.textContent.includes("alert"))
            .map(e => e.outerHTML)"""
    )


def test_the_runs_table_lists_every_run_with_its_status(page: Page, watch: ServerProcess, runs: Runs) -> None:
    """The runs table shows each run's name, project and status: finished, crashed (SIGKILLed), finished."""
    open_table(page, watch)
    expected = {
        runs.baseline: ("baseline", "vision", "finished"),
        runs.crashed: ("crashed-run", "vision", "crashed"),
        runs.hostile: (HOSTILE, HOSTILE_PROJECT, "finished"),
    }
    for run_id, (name, project, status) in expected.items():
        r = row(page, run_id)
        expect(r.locator("a.run-name")).to_have_attribute("href", f"#/runs/{run_id}")
        assert r.locator("a.run-name").text_content() == name
        assert r.locator(".run-project").text_content() == project
        expect(r.locator(".run-status")).to_have_text(status)
        expect(r.locator("input.run-select")).to_have_count(1)
        expect(r.locator(".run-created")).not_to_be_empty()
        expect(r.locator(".run-duration")).to_have_count(1)


def test_the_runs_table_filters_and_sorts(page: Page, watch: ServerProcess, runs: Runs) -> None:
    """The project filter and the text filter narrow the table; a header click sorts, a second reverses."""
    open_table(page, watch)
    rows = page.locator("table#runs-table tbody tr[data-run-id]")
    page.select_option("select#project-filter", "vision")
    expect(rows).to_have_count(2)
    expect(row(page, runs.hostile)).to_have_count(0)
    page.select_option("select#project-filter", HOSTILE_PROJECT)  # an option's value and label, as text
    expect(rows).to_have_count(1)
    expect(row(page, runs.hostile)).to_be_visible()
    page.select_option("select#project-filter", "")
    expect(rows).to_have_count(3)

    page.fill("input#run-filter", "basel")
    expect(rows).to_have_count(1)
    expect(row(page, runs.baseline)).to_be_visible()
    page.fill("input#run-filter", runs.crashed)  # the filter matches ids too
    expect(rows).to_have_count(1)
    expect(row(page, runs.crashed)).to_be_visible()
    page.fill("input#run-filter", "")
    expect(rows).to_have_count(3)

    names = page.locator("table#runs-table tbody tr a.run-name")
    ascending = sorted(run_names(page))  # HTML's "<" sorts before letters in code points and in ICU
    header = page.locator("table#runs-table th[data-sort]").filter(has_text=re.compile(r"^\s*name", re.I))
    header.first.click()
    page.wait_for_function(
        """([sel, up]) => {
            const got = JSON.stringify([...document.querySelectorAll(sel)].map(e => e.textContent));
            return got === JSON.stringify(up) || got === JSON.stringify([...up].reverse()); }""",
        arg=["table#runs-table tbody tr a.run-name", ascending],
    )
    first = run_names(page)
    header.first.click()
    expect(names).to_have_text(first[::-1])


def test_the_column_picker_adds_config_and_summary_columns(
    page: Page, watch: ServerProcess, runs: Runs
) -> None:
    """Ticking config:arch and summary:best_acc in the column picker shows those values per run."""
    open_table(page, watch)
    for column in ("config:arch", "summary:best_acc"):
        box = page.locator(f'#column-picker input[type=checkbox][data-column="{column}"]')
        expect(box).to_have_count(1)
        if not box.is_visible():  # the picker folds its list behind a button
            page.locator("#column-picker button").first.click()
        if not box.is_checked():
            box.check()
    expect(row(page, runs.baseline).locator('td[data-column="config:arch"]')).to_have_text("resnet")
    expect(row(page, runs.crashed).locator('td[data-column="config:arch"]')).to_have_text("vgg")
    expect(row(page, runs.baseline).locator('td[data-column="summary:best_acc"]')).to_have_text("0.93")


def test_a_run_view_shows_sections_charts_media_config_and_summary(
    page: Page, watch: ServerProcess, runs: Runs
) -> None:
    """Opening baseline shows sections train and val, every point, images, histogram, config, summary."""
    open_run(page, watch, runs, "baseline")
    expect(page.locator("#run-title")).to_contain_text("baseline")
    legend = page.locator(f".run-legend[data-run-id='{runs.baseline}']")
    expect(legend.locator(".run-status")).to_have_text("finished")
    for section in ("train", "val"):
        expect(page.locator(f'details.section[data-section="{section}"] > summary')).to_contain_text(section)
    for metric, points in (("train/loss", "500"), ("train/acc", "500"), ("val/loss", "50")):
        c = page.locator(
            f'details.section[data-section="{metric.split("/")[0]}"] div.chart[data-metric="{metric}"]'
        )
        reveal(c)
        expect(c).to_have_attribute("data-points", points)
        expect(c).to_have_attribute("data-total", points)

    panel = reveal(media(page, "samples", "image"))
    img = panel.locator("img")
    assert wait_loaded(img) == 48
    slider = panel.locator("input.media-step")
    first_src = img.get_attribute("src") or ""
    start = slider.input_value()
    slider.focus()
    slider.press("Home" if start != slider.get_attribute("min") else "End")  # the first or last step
    expect(slider).not_to_have_value(start)
    expect(img).not_to_have_attribute("src", first_src)
    assert wait_loaded(img) == 48

    hist = reveal(page.locator('div.chart[data-metric="weights"][data-type="histogram"]'))
    expect(hist.locator("svg, canvas").first).to_be_visible()  # drawn
    expect(hist.locator("select.hist-view")).to_have_value("over")  # five steps: a heat map over them
    expect(hist.locator("g.hm image")).to_have_count(1)
    hist.locator("select.hist-view").select_option("step")  # the bars of one step, with its slider
    expect(hist.locator(".barlayer .point").first).to_be_attached()
    expect(hist.locator("input.media-step")).to_be_visible()

    config = page.locator("#run-config")
    expect(config.locator("tr").filter(has_text="arch")).to_contain_text("resnet")
    expect(config.locator("tr").filter(has_text="lr")).to_contain_text("0.01")
    expect(page.locator("#run-summary tr").filter(has_text="best_acc")).to_contain_text("0.93")
    expect(page.locator("#run-summary")).to_contain_text("train/loss")
    expect(page.locator("#run-console")).to_contain_text("the baseline console line")

    # env.json as text: this machine, this Python; the machine has no GPU to show.
    expect(page.locator("#run-env tr").filter(has_text="python")).to_contain_text(platform.python_version())
    text_of = "trs => trs.map((tr) => [...tr.cells].map((c) => c.textContent))"
    env = dict(page.locator("#run-env tr").evaluate_all(text_of))
    assert env["host"] == socket.gethostname()
    assert f"kernel {platform.release()}" in env["os"]
    assert env["python"].startswith(f"{platform.python_version()}, ")
    assert env["started"].startswith("20") and "earlier sessions" not in env


def test_the_x_axis_smoothing_and_log_scale_keep_every_point(
    page: Page, watch: ServerProcess, runs: Runs
) -> None:
    """Switching the x axis to time, smoothing and log scale redraws without errors, still 500 points."""
    open_run(page, watch, runs, "baseline")
    loss = reveal(chart(page, "train/loss"))
    expect(loss).to_have_attribute("data-points", "500")
    page.select_option("select#x-axis", "time")
    expect(page.locator("select#x-axis")).to_have_value("time")
    expect(loss).to_have_attribute("data-points", "500")
    page.fill("input#smoothing", "0.9")
    expect(loss).to_have_attribute("data-points", "500")
    page.check("input#log-scale")
    expect(loss).to_have_attribute("data-points", "500")
    page.uncheck("input#log-scale")
    page.select_option("select#x-axis", "step_metric")  # val/loss against its step_metric, epoch
    val = reveal(chart(page, "val/loss"))
    expect(val).to_have_attribute("data-points", "50")
    page.select_option("select#x-axis", "step")
    expect(val).to_have_attribute("data-points", "50")
    expect(reveal(chart(page, "train/loss"))).to_have_attribute("data-points", "500")


def test_a_crashed_run_shows_crashed_with_its_points(page: Page, watch: ServerProcess, runs: Runs) -> None:
    """The run killed with SIGKILL (no summary.json yet) shows crashed, every point and its images."""
    open_run(page, watch, runs, "crashed")
    expect(page.locator(f".run-legend[data-run-id='{runs.crashed}'] .run-status")).to_have_text("crashed")
    expect(reveal(chart(page, "train/loss"))).to_have_attribute("data-points", "120")
    expect(reveal(chart(page, "val/loss"))).to_have_attribute("data-points", "12")
    assert wait_loaded(reveal(media(page, "samples", "image")).locator("img")) == 48


def test_hostile_names_render_as_literal_text(
    page: Page, page_log: PageLog, watch: ServerProcess, runs: Runs
) -> None:
    """A run name, metric name and config value made of HTML show as text: no element, no script, no alert."""
    open_table(page, watch)
    assert row(page, runs.hostile).locator("a.run-name").text_content() == HOSTILE
    assert injected_elements(page) == []
    open_run(page, watch, runs, "hostile")
    expect(page.locator("#run-title")).to_contain_text(HOSTILE)
    expect(page.locator(f".run-legend[data-run-id='{runs.hostile}']")).to_contain_text(HOSTILE)
    section = page.locator('details.section[data-section=""]')
    c = reveal(section.locator(f'div.chart[data-metric="{HOSTILE}"]'))
    expect(c).to_have_attribute("data-points", "30")
    assert HOSTILE in (section.text_content() or ""), "the metric's name is not shown as text in its section"
    config = page.locator("#run-config")
    expect(config).to_contain_text(HOSTILE_CONFIG)
    assert config.locator("td").filter(has_text=HOSTILE_CONFIG).count() >= 1

    assert injected_elements(page) == []
    assert not [u for u in page_log.requests if u.rstrip("/").endswith("/x")], page_log.requests
    assert page_log.dialogs == []


def test_compare_overlays_two_runs(page: Page, watch: ServerProcess, runs: Runs) -> None:
    """Ticking two runs and Compare opens one view where each chart holds both runs' points, in run order."""
    open_table(page, watch)
    row(page, runs.baseline).locator("input.run-select").check()
    row(page, runs.crashed).locator("input.run-select").check()
    page.click("button#compare-btn")
    expect(page).to_have_url(re.compile(r"#/runs/[\w-]+,[\w-]+$"))
    order = page.url.rsplit("#/runs/", 1)[1].split(",")
    assert sorted(order) == sorted([runs.baseline, runs.crashed])
    counts = {runs.baseline: (500, 50), runs.crashed: (120, 12)}
    for run_id in order:
        expect(page.locator(f".run-legend[data-run-id='{run_id}']")).to_have_count(1)
    expect(page.locator("#run-title")).to_contain_text("baseline")
    expect(page.locator("#run-title")).to_contain_text("crashed-run")
    for metric, which in (("train/loss", 0), ("train/acc", 0), ("val/loss", 1)):
        want = ",".join(str(counts[r][which]) for r in order)
        expect(reveal(chart(page, metric))).to_have_attribute("data-points", want)
    images = reveal(media(page, "samples", "image")).locator("img")
    expect(images).to_have_count(2)  # one per run
    for i in range(2):
        assert wait_loaded(images.nth(i)) == 48

"""Metric names that a URL mangles unless encoded: each one's chart holds all its points.

A name is a path of segments joined by "/"; a segment may hold "%", "?", "#", "&", other
scripts, or be "." or "..", which a browser's URL parser removes from a path even when they
are percent-encoded. One run per name (so that one failing name cannot hide another).
"""

from __future__ import annotations

from typing import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.dashboard import css_string, reveal, start_watch
from tests.browser.training import AWKWARD, write_named_runs
from tests.serverproc import ServerProcess


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    """``swanlog watch`` over one run per awkward name; the server and test id -> run id."""
    logdir = tmp_path_factory.mktemp("names") / "swanlog"
    run_ids = write_named_runs(logdir, AWKWARD)
    with start_watch(logdir) as srv:
        yield srv, run_ids
        srv.assert_no_tracebacks()


@pytest.mark.parametrize("key", AWKWARD.keys())
def test_a_metric_with_an_awkward_name_charts_every_point(
    page: Page, named: tuple[ServerProcess, dict[str, str]], key: str
) -> None:
    """The chart of a metric named with URL syntax, other scripts or dot segments shows its 30 points."""
    srv, run_ids = named
    name = AWKWARD[key]
    page.goto(f"{srv.url}/#/runs/{run_ids[key]}")  # a link straight to the run
    section = page.locator(f"details.section[data-section={css_string(name.rpartition('/')[0])}]")
    c = reveal(section.locator(f"div.chart[data-metric={css_string(name)}]"))
    expect(c).to_have_attribute("data-points", "30")
    assert name in (section.text_content() or ""), "the metric's name is not shown in its section"

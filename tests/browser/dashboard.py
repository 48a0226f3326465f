"""Driving the dashboard as a user does, through the DOM contract of swanlog_core/server/static/.

``start_watch(logdir)`` starts ``swanlog watch LOGDIR --port 0`` as a real process. The
rest finds the contract's elements (runs table rows, charts, media panels) and brings a
chart into view (charts render lazily, when scrolled into view).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from playwright.sync_api import Locator, Page

from tests.serverproc import ServerProcess
from tests.support import PYTHON, python_env

__all__ = [
    "WatchProcess",
    "chart",
    "css_string",
    "media",
    "reveal",
    "row",
    "run_names",
    "start_watch",
    "wait_loaded",
]


def css_string(text: str) -> str:
    """``text`` as a double-quoted CSS string, for attribute selectors holding user names."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\a ") + '"'


def row(page: Page, run_id: str) -> Locator:
    """The runs table's row of one run."""
    return page.locator(f"table#runs-table tbody tr[data-run-id={css_string(run_id)}]")


def run_names(page: Page) -> list[str]:
    """The run names of the runs table, top to bottom, as text."""
    return page.locator("table#runs-table tbody tr a.run-name").evaluate_all(
        "els => els.map(e => e.textContent)"
    )


def chart(page: Page, metric: str) -> Locator:
    """The chart of one metric (scalar charts and histograms)."""
    return page.locator(f"div.chart[data-metric={css_string(metric)}]")


def media(page: Page, metric: str, kind: str) -> Locator:
    """The media panel of one metric, ``kind`` being image, audio, video, text, html or table."""
    return page.locator(f"div.media[data-metric={css_string(metric)}][data-type={css_string(kind)}]")


def reveal(element: Locator) -> Locator:
    """Open the section holding ``element`` if it is folded, and scroll it into view; returns it."""
    element.wait_for(state="attached")
    section = element.locator("xpath=ancestor::details[1]")
    if section.count() and not section.evaluate("d => d.open"):
        section.locator("summary").first.click()
    element.scroll_into_view_if_needed()
    return element


def wait_loaded(img: Locator) -> int:
    """Wait until ``img`` has loaded a picture; its natural width."""
    img.wait_for(state="attached")
    handle = img.element_handle()
    img.page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=handle)
    return int(img.evaluate("el => el.naturalWidth"))


class WatchProcess(ServerProcess):
    """``swanlog watch LOGDIR --port 0``, the real command, as a :class:`ServerProcess`."""

    def launch(self) -> ServerProcess:
        """Start ``swanlog watch`` without waiting (see ``wait_listening``)."""
        assert self.logdir is not None and (self.proc is None or self.proc.poll() is not None)
        self._start_at = self.log_path.stat().st_size
        argv = [PYTHON, "-m", "swanlog_cli.main", "watch", str(self.logdir), "--port", str(self.port)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                argv, env=python_env(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        return self


def start_watch(logdir: Path) -> ServerProcess:
    """Start ``swanlog watch LOGDIR`` on 127.0.0.1 (its default) and a free port; returns once it listens."""
    return WatchProcess("", 0, logdir=logdir).start()

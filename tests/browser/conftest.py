"""Browser tests: Debian's Chromium, headless, driven by Playwright's sync API.

- ``browser`` (package): one Chromium for all the browser tests, from ``$SWANLOG_TEST_CHROMIUM`` or
  /usr/bin/chromium; a missing executable fails the tests (it does not skip them).
- ``page``: a fresh browser context per test, viewport 1400x900. It fails the test when the
  page throws (``pageerror``), logs a console error, opens a dialog (``alert``), or tries to
  fetch anything from a host other than 127.0.0.1 or localhost (such a request is aborted):
  the dashboard must work offline, on a cluster's login node.
- ``page_log``: what the page did (requests, errors, dialogs); ``allow_console(pattern)``
  accepts console errors the test provokes on purpose (a 401 before the key is typed).

The DOM the tests rely on is the contract between the front end and these tests
(swanlog_core/server/static/); waits are Playwright's auto-waiting ``expect``, never sleeps.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    Playwright,
    Route,
    expect,
    sync_playwright,
)

CHROMIUM_ENV = "SWANLOG_TEST_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TIMEOUT_MS = 10_000  # a failing wait fails in seconds, not minutes
VIEWPORT = {"width": 1400, "height": 900}

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The Chromium executable the tests drive; fails every browser test when it is missing."""
    path = os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(
            f"no Chromium at {path}: install Debian's (`apt-get install chromium`) "
            f"or set {CHROMIUM_ENV} to a Chromium executable",
            pytrace=False,
        )
    return path


# Package scope, not session: Playwright's sync API keeps an asyncio loop running in the main
# thread while it is started, and the tests after this package call asyncio.run() there.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """Playwright's sync API, started for the browser tests and stopped after the last one."""
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    """One headless Chromium for the browser tests (launch() gives it a fresh user data dir)."""
    b = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
    yield b
    b.close()


@dataclass
class PageLog:
    """What a test's page did: the requests it made, the ones refused, errors and dialogs.

    ``requests`` holds what reached the network layer. Chromium announces a fetch that the page's
    Content-Security-Policy refuses as a request too, at times, so the ``request`` event would
    count fetches that never happened; the route sees only the real ones.
    """

    requests: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow_console(self, pattern: str) -> None:
        """Accept console errors matching ``pattern`` (a regex searched in the message)."""
        self.allowed.append(re.compile(pattern))

    def problems(self) -> list[str]:
        """Everything that fails the test: requests leaving the machine, errors, dialogs."""
        out = [f"request to a non-local host (aborted): {u}" for u in self.external]
        out += [f"page error: {e}" for e in self.page_errors]
        out += [
            f"console error: {m}" for m in self.console_errors if not any(p.search(m) for p in self.allowed)
        ]
        out += [f"dialog opened: {d}" for d in self.dialogs]
        return out


@pytest.fixture
def page_log() -> PageLog:
    """The record of what this test's page did (see ``PageLog``)."""
    return PageLog()


@pytest.fixture
def page(browser: Browser, page_log: PageLog) -> Iterator[Page]:
    """A page in a fresh context; fails the test on page or console errors, dialogs, external requests."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)

    def route(r: Route) -> None:
        url = r.request.url
        page_log.requests.append(url)
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS:
            page_log.external.append(url)
            r.abort()
        else:
            r.continue_()

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            page_log.console_errors.append(f"{msg.text} ({msg.location.get('url', '')})")

    def on_dialog(dialog: Dialog) -> None:
        page_log.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    context.route("**/*", route)
    p = context.new_page()
    p.on("pageerror", lambda exc: page_log.page_errors.append(str(exc)))
    p.on("console", on_console)
    p.on("dialog", on_dialog)
    try:
        yield p
    finally:
        context.close()
    problems = page_log.problems()
    if problems:
        pytest.fail("the page misbehaved:\n  " + "\n  ".join(problems), pytrace=False)

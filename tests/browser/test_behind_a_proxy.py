"""The dashboard behind a reverse proxy that serves it under a path prefix, as a team's web
server does (https://host/team/swanlog/ -> swanlog server): every asset and API call of the
page goes through the prefix."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.dashboard import chart, reveal, row, start_watch
from tests.browser.training import BASELINE, run_script

PREFIX = "/team/swanlog/"
HOP_HEADERS = {"connection", "content-encoding", "content-length", "transfer-encoding", "keep-alive"}


class PrefixProxy:
    """Forwards GET PREFIX/x to BACKEND/x; anything outside PREFIX is a 404, and recorded."""

    def __init__(self, backend: str) -> None:
        self.outside: list[str] = []
        client = httpx.Client(base_url=backend, timeout=30)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server name)
                if not self.path.startswith(PREFIX):
                    proxy.outside.append(self.path)
                    self.send_error(404)
                    return
                drop = ("host", "accept-encoding")  # the body goes back as it came: plain
                headers = {k: v for k, v in self.headers.items() if k.lower() not in drop}
                answer = client.get("/" + self.path[len(PREFIX) :], headers=headers)
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in HOP_HEADERS:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{PREFIX}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        self._client = client

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._client.close()


@pytest.fixture
def proxied_watch(tmp_path: Path) -> Iterator[tuple[PrefixProxy, str]]:
    """``swanlog watch`` over one finished run, behind a PrefixProxy; (proxy, run id)."""
    logdir = tmp_path / "swanlog"
    run_id = run_script(BASELINE, logdir)
    with start_watch(logdir) as watch:
        proxy = PrefixProxy(watch.url)
        try:
            yield proxy, run_id
        finally:
            proxy.close()


def test_the_dashboard_works_under_a_path_prefix(page: Page, proxied_watch: tuple[PrefixProxy, str]) -> None:
    """Opened at /team/swanlog/, the page loads its files and data through that prefix only: the
    runs table, a run, its chart with every point."""
    proxy, run_id = proxied_watch
    page.goto(proxy.url)
    expect(row(page, run_id)).to_be_visible()
    row(page, run_id).locator("a.run-name").click()
    expect(reveal(chart(page, "train/loss"))).to_have_attribute("data-points", "500")
    assert proxy.outside == []

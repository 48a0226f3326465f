"""The dashboard's routes in process: the page, its static files, plotly.js, caching and gzip."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from swanlog_core.server import Settings, create_app, open_store
from swanlog_core.server import dashboard as dashboard_module
from swanlog_core.server.dashboard import CSP, STATIC_DIR, dashboard_routes, plotly_bundle
from swanlog_core.server.errors import ApiError
from swanlog_core.server.logdir import LogdirStore

PNG = b"\x89PNG\r\n\x1a\n" + bytes(600)


@dataclass
class Answer:
    """A response as sent: status, headers and the body still encoded."""

    status_code: int
    headers: httpx.Headers
    content: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.content)


def fetch(app: Any, url: str, headers: dict[str, str] | None = None) -> Answer:
    """One GET to an ASGI app in process (Accept-Encoding: identity unless ``headers`` says otherwise)."""

    async def go() -> Answer:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dash") as c:
            request = c.build_request("GET", url, headers={"Accept-Encoding": "identity", **(headers or {})})
            response = await c.send(request, stream=True)
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
            await response.aclose()
            return Answer(response.status_code, response.headers, raw)

    return asyncio.run(go())


@pytest.fixture
def static(tmp_path: Path) -> Path:
    """A static folder of our own: page, script, stylesheet, pictures, a folder, a link and a dotfile."""
    d = tmp_path / "static"
    d.mkdir()
    (d / "index.html").write_text("<!doctype html><title>swanlog</title>" + "<p>x</p>" * 100)
    (d / "app.js").write_text("console.log('hi');\n" * 50)
    (d / "app.css").write_text("body { color: black }\n" * 30)
    (d / "logo.png").write_bytes(PNG)
    (d / "icon.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"></svg>')
    (d / ".secret").write_text("hidden")
    (d / "sub").mkdir()
    (d / "sub" / "x.js").write_text("nested")
    (tmp_path / "outside.txt").write_text("outside")
    os.symlink(tmp_path / "outside.txt", d / "link.txt")
    return d


@pytest.fixture
def app(static: Path) -> Starlette:
    """The dashboard routes over our static folder, with the server's JSON error answers."""

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return JSONResponse({"error": str(exc)}, exc.status)

    return Starlette(routes=dashboard_routes(static), exception_handlers={ApiError: api_error})


def test_the_page_has_its_security_headers_and_is_revalidated(app: Starlette, static: Path) -> None:
    """GET / answers index.html as UTF-8 HTML, no-cache, with the CSP, nosniff and no-referrer."""
    r = fetch(app, "/")
    assert r.status_code == 200 and r.content == (static / "index.html").read_bytes()
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    again = fetch(app, "/", {"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("app.js", "application/javascript"),
        ("app.css", "text/css"),
        ("logo.png", "image/png"),
        ("icon.svg", "image/svg+xml"),
    ],
)
def test_static_files_have_their_types_and_cache_headers(
    app: Starlette, static: Path, name: str, media_type: str
) -> None:
    """Each file answers with its content type, an hour of caching and an ETag."""
    r = fetch(app, f"/static/{name}")
    assert r.status_code == 200 and r.content == (static / name).read_bytes()
    assert r.headers["content-type"].split(";")[0] == media_type
    assert r.headers["cache-control"] == "public, max-age=3600"
    assert r.headers["etag"].startswith('"') and r.headers["x-content-type-options"] == "nosniff"


def test_etag_gives_304_and_a_changed_file_a_new_one(app: Starlette, static: Path) -> None:
    """If-None-Match with the current ETag is a 304; after the file changes it is a 200 with the new bytes."""
    first = fetch(app, "/static/app.js")
    assert fetch(app, "/static/app.js", {"If-None-Match": first.headers["etag"]}).status_code == 304
    assert (
        fetch(app, "/static/app.js", {"If-None-Match": 'W/"other", ' + first.headers["etag"]}).status_code
        == 304
    )
    (static / "app.js").write_text("console.log('new');\n")
    second = fetch(app, "/static/app.js", {"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200 and second.content == b"console.log('new');\n"
    assert second.headers["etag"] != first.headers["etag"]


def test_gzip_is_sent_only_to_clients_that_accept_it(app: Starlette, static: Path) -> None:
    """Accept-Encoding: gzip gets the gzip form (Vary, its own ETag); identity and q=0 get the bytes."""
    plain = fetch(app, "/static/app.js")
    packed = fetch(app, "/static/app.js", {"Accept-Encoding": "br, gzip;q=0.8"})
    assert packed.headers["content-encoding"] == "gzip" and packed.headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(packed.content) == plain.content and len(packed.content) < len(plain.content)
    assert packed.headers["etag"] != plain.headers["etag"]
    assert fetch(app, "/static/app.js", {"If-None-Match": packed.headers["etag"]}).status_code == 304
    refused = fetch(app, "/static/app.js", {"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers and refused.content == plain.content


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("/static/nope.js", id="missing"),
        pytest.param("/static/.secret", id="dotfile"),
        pytest.param("/static/link.txt", id="symlink-out"),
        pytest.param("/static/sub", id="folder"),
        pytest.param("/static/sub/x.js", id="nested"),
        pytest.param("/static/%2E%2E", id="dot-dot"),
        pytest.param("/static/..%2Foutside.txt", id="encoded-slash"),
        pytest.param("/static/", id="empty"),
    ],
)
def test_only_plain_files_of_the_folder_are_served(app: Starlette, url: str) -> None:
    """Missing names, dotfiles, links, folders and anything climbing out are a 404 JSON error."""
    r = fetch(app, url)
    assert r.status_code == 404 and r.content != b"outside"


def test_plotly_comes_from_the_installed_package(app: Starlette) -> None:
    """/static/plotly.min.js is the installed plotly package's bundle, gzipped on request, with an ETag."""
    bundle = plotly_bundle()
    assert bundle is not None and bundle.name == "plotly.min.js"
    r = fetch(app, "/static/plotly.min.js", {"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/javascript")
    assert gzip.decompress(r.content) == bundle.read_bytes()
    assert fetch(app, "/static/plotly.min.js", {"If-None-Match": r.headers["etag"]}).status_code == 304


def test_without_plotly_the_bundle_is_a_404_naming_the_fix(
    app: Starlette, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A plotly package without its bundle (or none) makes plotly.min.js a 404 saying pip install plotly."""
    fake = tmp_path / "site"
    (fake / "plotly").mkdir(parents=True)
    (fake / "plotly" / "__init__.py").write_text("")
    monkeypatch.delitem(sys.modules, "plotly", raising=False)
    monkeypatch.syspath_prepend(str(fake))
    assert plotly_bundle() is None
    r = fetch(app, "/static/plotly.min.js")
    assert r.status_code == 404 and "pip install plotly" in r.json()["error"]
    monkeypatch.setattr(dashboard_module, "plotly_bundle", lambda: None)
    assert fetch(app, "/static/plotly.min.js").status_code == 404


@pytest.fixture
def apps(tmp_path: Path, logdir: Path) -> Iterator[dict[str, Any]]:
    """The keyed app over SQLite and the keyless app over a logdir, with the real static folder."""
    store = open_store(f"sqlite:///{tmp_path / 'server.db'}")
    watch = LogdirStore(logdir)
    try:
        yield {"server": create_app(Settings(), store), "watch": create_app(Settings(auth=False), watch)}
    finally:
        store.close()
        watch.close()


@pytest.mark.parametrize("which", ["server", "watch"])
def test_both_apps_serve_the_page_without_a_key(apps: dict[str, Any], which: str) -> None:
    """The keyed server and the logdir app both answer / and /static/* with no key."""
    app = apps[which]
    page = fetch(app, "/")
    assert page.status_code == 200 and page.content == (STATIC_DIR / "index.html").read_bytes()
    assert page.headers["content-security-policy"] == CSP
    for name in sorted(os.listdir(STATIC_DIR)):
        if (STATIC_DIR / name).is_file() and not name.startswith("."):
            assert fetch(app, f"/static/{name}").status_code == 200, name
    assert fetch(app, "/static/plotly.min.js").status_code == 200
    assert fetch(app, "/api/v1/runs").status_code == (401 if which == "server" else 200)

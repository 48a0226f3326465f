"""The dashboard's routes: the page at ``/``, its files at ``/static/{name}``, and plotly.js.

The page (``static/index.html``, with ``app.js`` and ``app.css`` beside it) speaks only
API v1 and asks the user for a key itself, so these routes ask none. Every asset comes
from this install, never from the internet: ``/static/plotly.min.js`` is the bundle of
the installed ``plotly`` package (found without importing it).

Files are read once and kept in memory with their ETag and, the first time a client
accepts gzip, their gzip form (plotly.min.js is 4.8 MB, 1.5 MB gzipped); a file that
changes on disk (stat: size, mtime, inode) is read again. Only plain files directly in
``static/`` are served: a name is looked up among the folder's entries, never joined
into a path, so no request can climb out of it.

The page gets a Content-Security-Policy that lets it load only itself and its own
scripts: logged HTML and the like are shown by the page in sandboxed frames, and the
files endpoint of API v1 answers them with ``Content-Security-Policy: sandbox``.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .errors import NotFoundError
from .limits import accepts_gzip

__all__ = ["PAGE_HEADERS", "STATIC_DIR", "Assets", "dashboard_routes", "plotly_bundle"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
PLOTLY = "plotly.min.js"
GZIP_LEVEL = 6  # plotly.min.js: 4.8 MB -> 1.5 MB in a quarter of a second, once

# The page loads nothing but itself: inline styles are for plotly's charts; data: and blob:
# URLs show media; frames show logged HTML (from blob: URLs, sandboxed by the page).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; frame-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
PAGE_CACHE = "no-cache"  # always revalidated (the ETag makes that a 304): a new install shows at once
STATIC_CACHE = "public, max-age=3600"

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".mjs": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}


def _media_type(name: str) -> str:
    return _TYPES.get(os.path.splitext(name)[1].lower(), "application/octet-stream")


def plotly_bundle() -> Path | None:
    """The plotly.js bundle of the installed ``plotly`` package, or None when it is not installed."""
    try:
        spec = importlib.util.find_spec("plotly")  # finds the package without running it
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "package_data" / PLOTLY
    return path if path.is_file() else None


@dataclass
class _Asset:
    """One file's bytes as served: its ETag, and its gzip form once a client asked for it."""

    key: tuple[int, int, int]  # (inode, size, mtime_ns) when read
    body: bytes
    etag: str
    media_type: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    gzipped: bytes | None = None

    def gzip_body(self) -> bytes:
        """The gzip form, compressed on first use (once, however many ask at the same time)."""
        with self.lock:
            if self.gzipped is None:
                self.gzipped = gzip.compress(self.body, GZIP_LEVEL, mtime=0)
            return self.gzipped


class Assets:
    """Files read once and kept in memory, read again when they change on disk."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[Path, _Asset] = {}

    def load(self, path: Path) -> _Asset | None:
        """The file at ``path`` (a plain file, not a link), or None when there is none."""
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            asset = self._files.get(path)
        if asset is not None and asset.key == key:
            return asset
        try:
            with open(path, "rb") as f:
                body = f.read()
        except FileNotFoundError:
            return None
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        asset = _Asset(key, body, etag, _media_type(path.name))
        with self._lock:
            self._files[path] = asset
        return asset


def _matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match (weak comparison, as a GET uses) names ``etag`` or is ``*``."""
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags or etag[:-1] + '-gzip"' in tags


async def _answer(request: Request, asset: _Asset, headers: dict[str, str]) -> Response:
    """The asset, or a 304 when the client holds it; gzipped when the client accepts that."""
    gz = accepts_gzip(request.headers.get("accept-encoding")) and len(asset.body) > 256
    # The gzip form is another representation: it gets its own ETag.
    etag = asset.etag[:-1] + '-gzip"' if gz else asset.etag
    headers = {**headers, "ETag": etag, "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff"}
    if _matches(request.headers.get("if-none-match"), asset.etag):
        return Response(status_code=304, headers=headers)
    if gz:
        body = asset.gzipped if asset.gzipped is not None else await run_in_threadpool(asset.gzip_body)
        headers["Content-Encoding"] = "gzip"
    else:
        body = asset.body
    return Response(body, headers=headers, media_type=asset.media_type)


def dashboard_routes(static_dir: Path = STATIC_DIR) -> list[Route]:
    """``GET /`` (the page) and ``GET /static/{name}`` (its files and plotly.js); no key asked.

    Args:
        static_dir: the folder of the page and its files.
    """
    assets = Assets()

    async def page(request: Request) -> Response:
        asset = await run_in_threadpool(assets.load, static_dir / "index.html")
        if asset is None:
            raise NotFoundError(f"the dashboard page is missing from this install ({static_dir}/index.html)")
        return await _answer(request, asset, {**PAGE_HEADERS, "Cache-Control": PAGE_CACHE})

    def find(name: str) -> _Asset | None:
        if name == PLOTLY:
            bundle = plotly_bundle()
            if bundle is None:
                raise NotFoundError(
                    "plotly.js is not installed: the dashboard draws its charts with it; pip install plotly"
                )
            return assets.load(bundle)
        try:
            names = os.listdir(static_dir)
        except (FileNotFoundError, NotADirectoryError):
            return None
        # Looked up among the folder's entries, never joined blindly: no way out of it.
        if name.startswith(".") or name not in names:
            return None
        return assets.load(static_dir / name)

    async def static_file(request: Request) -> Response:
        name = request.path_params["name"]
        asset = await run_in_threadpool(find, name)
        if asset is None:
            raise NotFoundError(f"no dashboard file {name[:100]!r}")
        headers = {"Cache-Control": STATIC_CACHE}
        if asset.media_type.startswith("text/html"):
            headers.update(PAGE_HEADERS)
        return await _answer(request, asset, headers)

    return [
        Route("/", page, methods=["GET"]),
        Route("/static/{name}", static_file, methods=["GET"]),
    ]

"""The swanlog server: API v1 over a SQLite or PostgreSQL database.

    from swanlog_core.server import Settings, create_app, open_store

    store = open_store("sqlite:///server.db")      # or postgresql://...
    app = create_app(Settings(), store)             # an ASGI app; any ASGI server runs it

``swanlog server`` (cli/server.py) does exactly this and runs the app under uvicorn.
``swanlog watch`` (cli/watch.py, ``serve.serve_logdir``) serves the same app read-only,
without keys, over the files of a logdir (``logdir.LogdirStore``). Both serve the
dashboard. Importing this package loads Starlette; ``import swanlog_core`` never does.

Modules: ``app`` (routes and error responses), ``dashboard`` (the page and its static
files), ``auth`` (API keys), ``limits`` (bounded bodies and gzip), ``records`` (the
ingest parser), ``runs`` (run fields, file paths), ``store`` (the Store and ReadStore
protocols, ``open_store``), ``sqlite`` and ``postgres`` (the backends), ``logdir`` (the
read-only store over a logdir), ``downsample`` (points for a chart), ``migrations`` (the
versioned schema), ``pool`` (connections), ``openapi``, ``serve`` (uvicorn),
``settings`` and ``errors``.
"""

from __future__ import annotations

from .app import create_app
from .errors import ApiError
from .settings import Settings
from .store import Store, default_db_url, open_store

__all__ = ["ApiError", "Settings", "Store", "create_app", "default_db_url", "open_store"]

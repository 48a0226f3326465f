"""The HTTP API, version 1: ``create_app(settings, store)`` builds the Starlette app.

Each endpoint checks, in this order: the run id (400), the API key (401), the run and
its project (404, 403), the Content-Encoding (415), the body's size (413), the body
itself (400, 413); only then does it touch the database. Every error is answered as
JSON ``{"error": message}`` by the handlers at the bottom, the one place where an
exception becomes a status code. Database calls block, so they run in worker threads.

The dashboard (``dashboard.py``: ``/`` and ``/static/{name}``) is served by both apps and
asks no key; the page asks the user for one. A run's files are served with
``Content-Security-Policy: sandbox`` so that logged HTML never runs as this origin.

With ``Settings(auth=False)`` the same read handlers run over a ``ReadStore`` with no key
asked, the write endpoints are not routed, and any other method is a 405 saying the
server is read-only: that is ``swanlog watch`` over a logdir (``logdir.LogdirStore``).
"""

from __future__ import annotations

import gzip
import mimetypes
from typing import Any, Callable, cast

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from . import auth, downsample
from .dashboard import dashboard_routes
from .errors import ApiError, BadRequestError, NotFoundError, UnauthorizedError
from .limits import accepts_gzip, gunzip, is_gzip, read_body
from .openapi import openapi_document
from .records import MAX_STEP, decode_value, parse_batch
from .runs import check_file_path, check_run_id, run_document, run_fields
from .settings import Settings
from .store import DOC_FIELDS, KeyRecord, ReadStore, Store

__all__ = ["create_app"]


# A logged file (an Html media, console.log) is the user's content, not ours: opened as a
# page it must not run as this origin (where it could read the API with the page's key).
FILE_HEADERS = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}


# A JSON answer at least this long goes gzipped to a client that accepts it: the run list
# of a team's server, a page of points. Level 1 makes them ~5-10x smaller at ~100 MB/s.
GZIP_JSON_MIN = 64 * 1024
GZIP_JSON_LEVEL = 1


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(obj), status, headers, media_type="application/json")


def _long_json(obj: Any, request: Request) -> Response:
    """A 200 JSON answer, gzipped when long and accepted; built in a worker thread."""
    body = orjson.dumps(obj)
    headers = {"Vary": "Accept-Encoding"}
    if len(body) >= GZIP_JSON_MIN and accepts_gzip(request.headers.get("accept-encoding")):
        body = gzip.compress(body, GZIP_JSON_LEVEL, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return Response(body, headers=headers, media_type="application/json")


def _int_query(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequestError(f"query parameter {name}={text[:50]!r} is not an integer") from None
    if not low <= value <= high:
        raise BadRequestError(f"query parameter {name}={value} is not between {low} and {high}")
    return value


def _documents_query(request: Request) -> tuple[str, ...]:
    """The ``fields`` query of the run list: documents to add to each run (400 for another name)."""
    raw = request.query_params.get("fields")
    if not raw:
        return ()
    names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
    for name in names:
        if name not in DOC_FIELDS:
            raise BadRequestError(f"fields: {name!r} is not one of {', '.join(DOC_FIELDS)}")
    return names


def create_app(settings: Settings, store: ReadStore) -> Starlette:
    """The swanlog server's ASGI app over ``store``, with the request limits of ``settings``.

    ``store`` must be a full ``Store`` unless ``settings.auth`` is False: then the app is
    read-only and asks no key.
    """
    keyed = settings.auth
    # Only the keyed app reaches the key and write methods (the read-only one routes none).
    full = cast(Store, store)

    def key_for_run(authorization: str | None, run_id: str) -> KeyRecord | None:
        """Authenticate, then check the run exists and the key has its project (one worker hop)."""
        key = auth.authenticate(full, authorization) if keyed else None
        project = store.run_project(run_id)
        if project is None:
            raise NotFoundError(f"run {run_id} does not exist")
        if key is not None:
            auth.check_project(key, project, f"run {run_id}")
        return key

    async def body_of(request: Request, limit: int, what: str) -> tuple[bytes, bool]:
        gz = is_gzip(request.headers.get("content-encoding"))
        try:
            raw = await read_body(request.stream(), request.headers.get("content-length"), limit, what)
        except ClientDisconnect:
            # Nobody will read the answer; a 400 keeps it out of the server log as a 500.
            raise BadRequestError(f"the client went away while sending {what}") from None
        return raw, gz

    def inflate(raw: bytes, gz: bool, limit: int, what: str) -> bytes:
        return gunzip(raw, limit, what) if gz else raw

    # -- endpoints --------------------------------------------------------------------------

    async def health(request: Request) -> Response:
        return _json({"status": "ok"})

    async def openapi(request: Request) -> Response:
        return _json(openapi_document(read_only=not keyed))

    async def put_run(request: Request) -> Response:
        run_id = check_run_id(request.path_params["run_id"])
        key = await run_in_threadpool(auth.authenticate, full, request.headers.get("authorization"))
        limit = settings.max_run_json_bytes
        raw, gz = await body_of(request, limit, f"the JSON of run {run_id}")

        def work() -> dict[str, Any]:
            data = inflate(raw, gz, limit, f"the JSON of run {run_id}")
            try:
                body = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                raise BadRequestError(f"the JSON of run {run_id} is not valid JSON: {exc}") from None
            fields = run_fields(body, settings)
            existing = full.run_project(run_id)
            if existing is not None:
                auth.check_project(key, existing, f"run {run_id}")
            elif "project" in fields:
                auth.check_project(key, fields["project"], f"run {run_id}")
            return {"id": run_id, "created": full.put_run(run_id, fields)}

        return _json(await run_in_threadpool(work))

    async def post_records(request: Request) -> Response:
        run_id = check_run_id(request.path_params["run_id"])
        await run_in_threadpool(key_for_run, request.headers.get("authorization"), run_id)
        what = f"the records batch of run {run_id}"
        raw, gz = await body_of(request, settings.max_body_bytes, what)

        def work() -> dict[str, int]:
            body = inflate(raw, gz, settings.max_body_bytes, what)
            batch = parse_batch(body, settings.max_records, settings.max_metric_name_bytes)
            accepted = full.insert_points(run_id, batch)
            return {"accepted": accepted, "duplicates": len(batch) - accepted}

        return _json(await run_in_threadpool(work))

    async def put_file(request: Request) -> Response:
        run_id = check_run_id(request.path_params["run_id"])
        path = check_file_path(request.path_params["path"])
        await run_in_threadpool(key_for_run, request.headers.get("authorization"), run_id)
        what = f"file {path} of run {run_id}"
        raw, gz = await body_of(request, settings.max_file_bytes, what)

        def work() -> dict[str, Any]:
            data = inflate(raw, gz, settings.max_file_bytes, what)
            full.put_file(run_id, path, data)
            return {"path": path, "size": len(data)}

        return _json(await run_in_threadpool(work))

    async def get_file(request: Request) -> Response:
        run_id = check_run_id(request.path_params["run_id"])
        path = check_file_path(request.path_params["path"])

        def work() -> bytes:
            key_for_run(request.headers.get("authorization"), run_id)
            data = store.get_file(run_id, path)
            if data is None:
                raise NotFoundError(f"run {run_id} has no file {path}")
            return data

        data = await run_in_threadpool(work)
        media_type = "text/plain" if path == "console.log" else mimetypes.guess_type(path)[0]
        return Response(data, headers=FILE_HEADERS, media_type=media_type or "application/octet-stream")

    async def list_runs(request: Request) -> Response:
        project = request.query_params.get("project")
        documents = _documents_query(request)
        since = None if "since" not in request.query_params else _int_query(request, "since", 0, 0, MAX_STEP)

        def work() -> Response:
            projects: tuple[str, ...] | None = None if project is None else (project,)
            if keyed:
                key = auth.authenticate(full, request.headers.get("authorization"))
                if project is not None:
                    auth.check_project(key, project, "run list")
                else:
                    projects = key.projects
            rev = store.runs_rev(projects)  # first: a run written after this has rev >= it
            runs = store.list_runs(projects, documents, None if rev is None else since)
            return _long_json({"runs": [run_document(r) for r in runs], "rev": rev}, request)

        return await run_in_threadpool(work)

    async def get_run(request: Request) -> Response:
        run_id = check_run_id(request.path_params["run_id"])

        def work() -> Response:
            key_for_run(request.headers.get("authorization"), run_id)
            row = store.get_run(run_id)
            if row is None:
                raise NotFoundError(f"run {run_id} does not exist")
            return _long_json(run_document(row), request)

        return await run_in_threadpool(work)

    async def metric_names(request: Request) -> Response:
        run_id = check_run_id(request.path_params["run_id"])

        def work() -> dict[str, Any]:
            key_for_run(request.headers.get("authorization"), run_id)
            return {"metrics": store.metric_names(run_id)}

        return _json(await run_in_threadpool(work))

    async def metric_points(request: Request) -> Response:
        run_id = check_run_id(request.path_params["run_id"])
        name = request.path_params.get("name")
        if name is None:  # GET .../points?metric=NAME: any name, "." and ".." segments included
            name = request.query_params.get("metric")
            if not name:
                raise BadRequestError("the metric query parameter is missing: .../points?metric=NAME")
        after = _int_query(request, "after_step", -1, -1, MAX_STEP)
        limit = _int_query(request, "limit", settings.default_points, 1, settings.max_points)
        # With max_points: every point after after_step, downsampled for a chart (limit unused).
        most = _int_query(request, "max_points", 0, downsample.MIN_POINTS, downsample.MAX_POINTS)

        def work() -> Response:
            key_for_run(request.headers.get("authorization"), run_id)
            missing = NotFoundError(f"run {run_id} has no metric {name!r}")
            if "\x00" in name:  # no stored name holds a NUL (PostgreSQL text cannot)
                raise missing
            if most:
                found = store.downsample_points(run_id, name, after, most)
                if found is None:
                    raise missing
                total, rows = found
            else:
                rows = store.metric_points(run_id, name, after, limit)
                if rows is None:
                    raise missing
            points = [{"step": s, "value": decode_value(v, e), "ts": t} for s, v, e, t in rows]
            if most:
                body = {"metric": name, "points": points, "total": total, "downsampled": total > most}
                return _long_json(body, request)
            return _long_json({"metric": name, "points": points}, request)

        return await run_in_threadpool(work)

    # -- errors -----------------------------------------------------------------------------

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, UnauthorizedError) else None
        return _json({"error": str(exc)}, exc.status, headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if not keyed and request.method not in ("GET", "HEAD") and exc.status_code in (404, 405):
            message = f"{request.method} is not allowed: this server is read-only (it serves a logdir)"
            return _json({"error": message}, 405, {"Allow": "GET"})
        if exc.status_code == 404:
            message = f"no endpoint at {request.url.path}; see /openapi.json"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return _json({"error": message}, exc.status_code, exc.headers)

    async def server_error(request: Request, exc: Exception) -> Response:
        return _json({"error": f"internal server error ({type(exc).__name__}); see the server log"}, 500)

    v1 = "/api/v1"
    routes = [
        *dashboard_routes(),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route(f"{v1}/health", health, methods=["GET"]),
        Route(f"{v1}/runs", list_runs, methods=["GET"]),
        Route(f"{v1}/runs/{{run_id}}", get_run, methods=["GET"]),
        Route(f"{v1}/runs/{{run_id}}/files/{{path:path}}", get_file, methods=["GET"]),
        Route(f"{v1}/runs/{{run_id}}/metrics", metric_names, methods=["GET"]),
        Route(f"{v1}/runs/{{run_id}}/metrics/{{name:path}}", metric_points, methods=["GET"]),
        Route(f"{v1}/runs/{{run_id}}/points", metric_points, methods=["GET"]),
    ]
    if keyed:
        routes += [
            Route(f"{v1}/runs/{{run_id}}", put_run, methods=["PUT"]),
            Route(f"{v1}/runs/{{run_id}}/records", post_records, methods=["POST"]),
            Route(f"{v1}/runs/{{run_id}}/files/{{path:path}}", put_file, methods=["PUT"]),
        ]
    handlers: dict[Any, Callable[..., Any]] = {
        ApiError: api_error,
        HTTPException: http_error,
        Exception: server_error,
    }
    return Starlette(routes=routes, exception_handlers=handlers)

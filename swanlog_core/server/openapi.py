"""The OpenAPI 3 document of API v1, written out by hand and served at ``/openapi.json``.

A test checks that every route of the app appears here with its methods, for the keyed
server and for the read-only app (``swanlog watch``), whose document has no write
operations and asks no key.
"""

from __future__ import annotations

from typing import Any

__all__ = ["openapi_document"]


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _ok(description: str, schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {"200": {"description": description, "content": {media: {"schema": schema}}}}


def _responses(ok: dict[str, Any], *codes: str) -> dict[str, Any]:
    reasons = {
        "400": "malformed input; the message names the field or line",
        "401": "no API key, or an unknown or revoked one",
        "403": "the key lacks the run's project",
        "404": "no such run, metric or file",
        "409": "the run exists in another project",
        "413": "over a limit; the message names it",
        "415": "a Content-Encoding other than gzip",
    }
    return {**ok, **{code: _error(reasons[code]) for code in codes}}


_RUN_ID = {
    "name": "run_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
}
_GZIP = {
    "name": "Content-Encoding",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "enum": ["gzip", "identity"]},
}
_REF = "#/components/schemas/"

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "names the item and the reason"}},
    },
    "RunSummary": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "project": {"type": "string"},
            "name": {"type": ["string", "null"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "notes": {"type": ["string", "null"]},
            "status": {
                "type": ["string", "null"],
                "enum": ["running", "finished", "failed", "crashed", None],
            },
            "created": {"type": ["string", "null"], "description": "ISO-8601, as in run.json"},
            "updated": {"type": ["string", "null"]},
            "exit_code": {"type": ["integer", "null"]},
            "duration": {"type": ["number", "null"], "description": "seconds"},
            "host": {"type": ["string", "null"]},
        },
    },
    "Run": {
        "allOf": [
            {"$ref": _REF + "RunSummary"},
            {
                "type": "object",
                "properties": {
                    "pid": {"type": ["integer", "null"]},
                    "config": {"type": "object"},
                    "summary": {"type": "object"},
                    "metrics": {"type": "object", "description": "define_metric definitions"},
                    "env": {"type": "object"},
                },
            },
        ]
    },
    "RunUpdate": {
        "type": "object",
        "description": "Every field is optional; absent fields keep their value, unknown fields are "
        "ignored. project is required when the run does not exist yet.",
        "properties": {
            "project": {"type": "string", "maxLength": 256},
            "name": {"type": ["string", "null"], "maxLength": 256},
            "tags": {"type": "array", "items": {"type": "string"}},
            "notes": {"type": ["string", "null"]},
            "status": {"type": "string", "enum": ["running", "finished", "failed", "crashed"]},
            "created": {"type": "string"},
            "updated": {"type": "string"},
            "exit_code": {"type": ["integer", "null"]},
            "duration": {"type": ["number", "null"]},
            "host": {"type": ["string", "null"]},
            "pid": {"type": ["integer", "null"]},
            "config": {"type": "object"},
            "summary": {"type": "object"},
            "metrics": {"type": "object"},
            "env": {"type": "object"},
        },
    },
    "Value": {
        "description": 'A number, "NaN", "Infinity", "-Infinity", or a media description'
        ' (an object with "_type")',
        "oneOf": [
            {"type": "number"},
            {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]},
            {"type": "object", "required": ["_type"]},
        ],
    },
    "Point": {
        "type": "object",
        "required": ["step", "value", "ts"],
        "properties": {
            "step": {"type": "integer", "minimum": 0},
            "value": {"$ref": _REF + "Value"},
            "ts": {"type": "number", "description": "UNIX seconds"},
        },
    },
    "Record": {
        "type": "object",
        "description": "One line of a records batch (NDJSON).",
        "required": ["metric", "step", "value", "ts"],
        "properties": {
            "metric": {"type": "string", "minLength": 1, "description": "at most 1024 UTF-8 bytes"},
            "step": {"type": "integer", "minimum": 0, "maximum": 9223372036854775807},
            "value": {"$ref": _REF + "Value"},
            "ts": {"type": "number"},
        },
    },
}


def _points_operation(summary: str, name: dict[str, Any]) -> dict[str, Any]:
    """GET of a metric's points; ``name`` is the parameter that names the metric (path or query)."""
    return {
        "summary": summary,
        "parameters": [
            _RUN_ID,
            name,
            {
                "name": "after_step",
                "in": "query",
                "required": False,
                "description": "exclusive; default: from the first point",
                "schema": {"type": "integer", "minimum": -1},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": "points per page; not used with max_points",
                "schema": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 10000},
            },
            {
                "name": "max_points",
                "in": "query",
                "required": False,
                "description": "downsample for a chart: every point after after_step is considered"
                " and about this many are kept (each bucket's extremes, non-finite values and"
                " media, and the last point); the answer adds total and downsampled",
                "schema": {"type": "integer", "minimum": 2, "maximum": 20000},
            },
        ],
        "responses": _responses(
            _ok(
                "points",
                {
                    "type": "object",
                    "required": ["metric", "points"],
                    "properties": {
                        "metric": {"type": "string"},
                        "points": {"type": "array", "items": {"$ref": _REF + "Point"}},
                        "total": {
                            "type": "integer",
                            "description": "with max_points: how many points follow after_step",
                        },
                        "downsampled": {
                            "type": "boolean",
                            "description": "with max_points: true when total is over max_points",
                        },
                    },
                },
            ),
            "400",
            "401",
            "403",
            "404",
        ),
    }


def openapi_document(read_only: bool = False) -> dict[str, Any]:
    """The OpenAPI 3.1 description of every endpoint the server answers.

    Args:
        read_only: describe the read-only app without keys (``Settings(auth=False)``).
    """
    path_param = {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}
    name_param = {
        "name": "name",
        "in": "path",
        "required": True,
        "description": 'the metric name; its "/" stay, other reserved characters are percent-encoded',
        "schema": {"type": "string"},
    }
    metric_query = {
        "name": "metric",
        "in": "query",
        "required": True,
        "description": "the metric name; a browser drops a path segment . or .. even percent-encoded,"
        " so the dashboard names metrics here",
        "schema": {"type": "string", "minLength": 1},
    }
    run_ref = {"$ref": _REF + "Run"}
    paths: dict[str, Any] = {
        "/": {
            "get": {
                "summary": "The dashboard page (no key needed; the page asks for one)",
                "security": [],
                "responses": {
                    **_ok("the page", {"type": "string"}, "text/html"),
                    "304": {"description": "the client's copy (If-None-Match) is current"},
                    "404": _error("the page is missing from this install"),
                },
            }
        },
        "/static/{name}": {
            "get": {
                "summary": "A file of the dashboard, or plotly.min.js from the installed plotly package",
                "security": [],
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    **_ok("the file", {"type": "string", "format": "binary"}, "application/octet-stream"),
                    "304": {"description": "the client's copy (If-None-Match) is current"},
                    "404": _error("no such file (for plotly.min.js: plotly is not installed)"),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": _ok("OpenAPI 3", {"type": "object"}),
            }
        },
        "/api/v1/health": {
            "get": {
                "summary": "Liveness check (no key needed)",
                "security": [],
                "responses": _ok(
                    "the server is up", {"type": "object", "properties": {"status": {"const": "ok"}}}
                ),
            }
        },
        "/api/v1/runs": {
            "get": {
                "summary": "The runs of the key's projects",
                "parameters": [
                    {"name": "project", "in": "query", "required": False, "schema": {"type": "string"}},
                    {
                        "name": "fields",
                        "in": "query",
                        "required": False,
                        "description": "comma-separated documents to add to each run: config, summary, "
                        "metrics, env",
                        "schema": {
                            "type": "string",
                            "pattern": "^(config|summary|metrics|env)(,(config|summary|metrics|env))*$",
                        },
                    },
                    {
                        "name": "since",
                        "in": "query",
                        "required": False,
                        "description": "the rev of an earlier answer: only the runs created or "
                        "updated since that answer",
                        "schema": {"type": "integer", "minimum": 0},
                    },
                ],
                "responses": _responses(
                    _ok(
                        "runs, newest first",
                        {
                            "type": "object",
                            "properties": {
                                "runs": {"type": "array", "items": {"$ref": _REF + "RunSummary"}},
                                "rev": {
                                    "type": ["integer", "null"],
                                    "description": "a watermark to pass back as since; null when the "
                                    "server keeps no revisions (swanlog watch), which lists every run",
                                },
                            },
                        },
                    ),
                    "401",
                    "403",
                ),
            }
        },
        "/api/v1/runs/{run_id}": {
            "put": {
                "summary": "Create or update a run",
                "parameters": [_RUN_ID, _GZIP],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": _REF + "RunUpdate"}}},
                },
                "responses": _responses(
                    _ok(
                        "stored",
                        {
                            "type": "object",
                            "properties": {"id": {"type": "string"}, "created": {"type": "boolean"}},
                        },
                    ),
                    "400",
                    "401",
                    "403",
                    "409",
                    "413",
                    "415",
                ),
            },
            "get": {
                "summary": "A run's fields, config, summary, metric definitions and env",
                "parameters": [_RUN_ID],
                "responses": _responses(_ok("the run", run_ref), "400", "401", "403", "404"),
            },
        },
        "/api/v1/runs/{run_id}/records": {
            "post": {
                "summary": "Add points; the first value per (run, metric, step) wins; all or nothing",
                "parameters": [_RUN_ID, _GZIP],
                "requestBody": {
                    "required": True,
                    "content": {"application/x-ndjson": {"schema": {"$ref": _REF + "Record"}}},
                },
                "responses": _responses(
                    _ok(
                        "stored; duplicates were already stored (or earlier in the batch) and are unchanged",
                        {
                            "type": "object",
                            "properties": {
                                "accepted": {"type": "integer"},
                                "duplicates": {"type": "integer"},
                            },
                        },
                    ),
                    "400",
                    "401",
                    "403",
                    "404",
                    "413",
                    "415",
                ),
            }
        },
        "/api/v1/runs/{run_id}/files/{path}": {
            "put": {
                "summary": "Store console.log or a file under media/",
                "parameters": [_RUN_ID, path_param, _GZIP],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                    },
                },
                "responses": _responses(
                    _ok(
                        "stored",
                        {
                            "type": "object",
                            "properties": {"path": {"type": "string"}, "size": {"type": "integer"}},
                        },
                    ),
                    "400",
                    "401",
                    "403",
                    "404",
                    "413",
                    "415",
                ),
            },
            "get": {
                "summary": "A file's bytes",
                "parameters": [_RUN_ID, path_param],
                "responses": _responses(
                    _ok("the bytes", {"type": "string", "format": "binary"}, "application/octet-stream"),
                    "400",
                    "401",
                    "403",
                    "404",
                ),
            },
        },
        "/api/v1/runs/{run_id}/metrics": {
            "get": {
                "summary": "The run's metric names, sorted",
                "parameters": [_RUN_ID],
                "responses": _responses(
                    _ok(
                        "names",
                        {
                            "type": "object",
                            "properties": {"metrics": {"type": "array", "items": {"type": "string"}}},
                        },
                    ),
                    "400",
                    "401",
                    "403",
                    "404",
                ),
            }
        },
        "/api/v1/runs/{run_id}/metrics/{name}": {
            "get": _points_operation("A page of a metric's points, by step", name_param)
        },
        "/api/v1/runs/{run_id}/points": {
            "get": _points_operation(
                "The same as .../metrics/{name}, with the name in the query (what browsers keep)",
                metric_query,
            )
        },
    }
    description = "API v1 of swanlog, the local-first experiment logger. See docs/http-api.md."
    security: list[dict[str, Any]] = [{"bearer": []}]
    if read_only:
        paths = _read_only(paths)
        description += " Read-only: the runs of a logdir, answered from its files; no key."
        security = []
    return {
        "openapi": "3.1.0",
        "info": {"title": "swanlog server", "version": "1", "description": description},
        "security": security,
        "paths": paths,
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "swl_<id>_<secret>"}
            },
        },
    }


def _read_only(paths: dict[str, Any]) -> dict[str, Any]:
    """``paths`` without write operations, and without the answers about keys (401, 403)."""
    out: dict[str, Any] = {}
    for path, item in paths.items():
        kept = {}
        for method, operation in item.items():
            if method != "get":
                continue
            responses = {c: r for c, r in operation["responses"].items() if c not in ("401", "403")}
            if path.startswith("/api/v1/runs"):
                responses["409"] = _error("the run id names two run folders of the logdir")
            kept[method] = {**operation, "responses": responses}
        if kept:
            out[path] = kept
    return out

"""The OpenAPI document matches the app's routes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest
from starlette.routing import Route

from swanlog_core.server import Settings, create_app, open_store
from swanlog_core.server.openapi import openapi_document


@pytest.fixture
def routes(tmp_path: Path) -> Iterator[list[Route]]:
    """The routes of an app over a fresh SQLite store."""
    store = open_store(f"sqlite:///{tmp_path / 'server.db'}")
    try:
        yield [r for r in create_app(Settings(), store).routes if isinstance(r, Route)]
    finally:
        store.close()


def _openapi_path(starlette_path: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", starlette_path)


def test_every_route_and_method_is_documented(routes: list[Route]) -> None:
    """Each route of the app, with each of its methods, appears in /openapi.json, and nothing else does."""
    doc = openapi_document()
    served = {(_openapi_path(r.path), m.lower()) for r in routes for m in (r.methods or ()) if m != "HEAD"}
    documented = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert served == documented


def test_document_is_json_and_every_reference_resolves() -> None:
    """The document survives a JSON round trip and each $ref names a schema it defines."""
    doc = openapi_document()
    assert orjson.loads(orjson.dumps(doc)) == doc
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/") and ref.split("/")[-1] in doc["components"]["schemas"]


def test_every_path_parameter_is_declared() -> None:
    """Every {parameter} in a documented path is declared as a path parameter of each of its operations."""
    for path, item in openapi_document()["paths"].items():
        names = set(re.findall(r"\{(\w+)\}", path))
        for operation in item.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (path, operation["summary"])

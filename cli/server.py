"""``swanlog server``: run the HTTP API, and manage its API keys (``swanlog server key ...``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from swanlog_core.server import Store

__all__ = ["server"]

DB_HELP = (
    "Database: sqlite:///relative.db, sqlite:////absolute.db or postgresql://... "
    "[default: a SQLite file in $XDG_DATA_HOME (else ~/.local/share)/swanlog/server.db]."
)


def _open(db_url: str | None) -> Store:
    # Imported here, not at the top: the other commands must not pay for Starlette and psycopg.
    from swanlog_core.server import default_db_url, open_store

    return open_store(db_url or default_db_url())


def _db_option(required: bool = False) -> click.Option:
    return click.option("--db", "db_url", default=None, metavar="URL", required=required, help=DB_HELP)


def _announce(url: str) -> None:
    click.echo(f"swanlog server listening on {url}")
    click.echo(f"dashboard: open {url}/ in a browser (it asks for an API key)")


class _ServerGroup(click.Group):
    """``swanlog server`` runs the server; ``swanlog server key ...`` is its one subgroup."""


@click.group(cls=_ServerGroup, invoke_without_command=True)
@_db_option()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=5092, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port."
)
@click.pass_context
def server(ctx: click.Context, db_url: str | None, host: str, port: int) -> None:
    """Run the swanlog server: the dashboard and HTTP API v1 over SQLite or PostgreSQL.

    Prints "swanlog server listening on http://HOST:PORT" once it accepts connections;
    open that URL in a browser for the dashboard (it asks for an API key, see
    `swanlog server key create`). The API is described at /openapi.json. SIGTERM or
    Ctrl-C stops it after the requests in flight.
    """
    if ctx.invoked_subcommand is not None:
        return
    from swanlog_core.server import Settings, create_app
    from swanlog_core.server.serve import bind, serve, url_of

    store = _open(db_url)
    try:
        sock = bind(host, port)
        address = url_of(host, sock)
        try:
            serve(create_app(Settings(), store), sock, lambda: _announce(address))
        finally:
            sock.close()
    finally:
        store.close()


@server.group()
def key() -> None:
    """Create, list and revoke API keys (each key may write to its own projects only)."""


@key.command("create")
@_db_option()
@click.option(
    "--project", "projects", multiple=True, required=True, help="A project the key may use (repeatable)."
)
def key_create(db_url: str | None, projects: tuple[str, ...]) -> None:
    """Create a key; it is printed alone on the last line, and shown only this once."""
    from swanlog_core.server.auth import create_key

    store = _open(db_url)
    try:
        full = create_key(store, projects)
    finally:
        store.close()
    click.echo(
        f"API key for project{'s' * (len(projects) > 1)} {', '.join(projects)} (shown once, store it now):"
    )
    click.echo(full)


@key.command("list")
@_db_option()
def key_list(db_url: str | None) -> None:
    """List the keys: id, projects, created, revoked (never the secret)."""
    store = _open(db_url)
    try:
        keys = store.list_keys()
    finally:
        store.close()
    rows = [["ID", "PROJECTS", "CREATED", "REVOKED"]]
    rows += [[f"swl_{k.id}", ",".join(k.projects), k.created, k.revoked or "-"] for k in keys]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


@key.command("revoke")
@_db_option()
@click.argument("key_id")
def key_revoke(db_url: str | None, key_id: str) -> None:
    """Revoke a key at once, for every server process; KEY_ID is swl_<id> as `key list` shows."""
    from swanlog_core.server.auth import revoke_key

    store = _open(db_url)
    try:
        revoked = revoke_key(store, key_id)
    finally:
        store.close()
    click.echo(f"revoked API key swl_{revoked}")

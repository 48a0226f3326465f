"""``swanlog watch``: the dashboard over a local logdir, read-only, with no key and no database."""

from __future__ import annotations

from pathlib import Path

import click

from swanlog_core._format import resolve_logdir

__all__ = ["watch_command"]


@click.command("watch")
@click.argument("logdir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=5093, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port."
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a --host that is not a loopback address: anyone who can reach it reads every run.",
)
def watch_command(logdir: Path | None, host: str, port: int, allow_remote: bool) -> None:
    """Serve the dashboard over the runs in LOGDIR, live, at the URL it prints.

    Open that URL in a browser: the runs table and charts of every run in LOGDIR (new
    runs and new points show as they are written). It reads the files only: no
    database, no key, nothing is ever written. The read endpoints of HTTP API v1 are
    served too (see /openapi.json).

    LOGDIR defaults to $SWANLOG_DIR, else ./swanlog. Since nothing asks for a key, it
    listens on the loopback address only unless --allow-remote is given.
    Ctrl-C or SIGTERM stops it.
    """
    # Imported here, not at the top: the other commands must not pay for Starlette and uvicorn.
    from swanlog_core.server.serve import serve_logdir

    folder = resolve_logdir(logdir)

    def announce(url: str) -> None:
        click.echo(f"swanlog watch listening on {url}")
        click.echo(f"dashboard of {folder}: open {url}/ in a browser (read-only, no key)")

    serve_logdir(folder, host, port, allow_remote=allow_remote, on_listening=announce)

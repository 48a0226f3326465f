"""Running the app under uvicorn on a socket we bind ourselves.

Binding first lets ``--port 0`` pick a free port and lets the caller announce the real
address only once uvicorn accepts connections on it. SIGTERM and SIGINT shut down
gracefully (uvicorn's handlers): requests in flight finish, then the process exits.

``serve_logdir`` is ``swanlog watch`` (cli/watch.py): the dashboard and the read endpoints
over a logdir, with no key.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import sys
from typing import Any, Callable

import uvicorn

from ..errors import Error

__all__ = ["bind", "is_loopback", "serve", "serve_logdir", "url_of"]

WATCH_PORT = 5093


class _Server(uvicorn.Server):
    """A uvicorn server that calls back once it listens."""

    def __init__(self, config: uvicorn.Config, on_listening: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_listening = on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            self._on_listening()


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one).

    Raises:
        swanlog_core.errors.Error: the address cannot be bound (in use, not local...).
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise Error(f"cannot listen on {host}:{port}: {exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart on the same port at once
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise Error(f"cannot listen on {host}:{port}: {exc}") from exc
    sock.set_inheritable(True)
    return sock


def url_of(host: str, sock: socket.socket) -> str:
    """The http URL of a socket that ``bind`` made on ``host`` (an IPv6 host in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{sock.getsockname()[1]}"


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def serve(app: Any, sock: socket.socket, on_listening: Callable[[], None]) -> None:
    """Serve ``app`` on ``sock`` until SIGTERM or SIGINT; ``on_listening`` runs once it accepts.

    Raises:
        SystemExit: (code 0) after a SIGTERM, once the requests in flight are answered.
        KeyboardInterrupt: likewise after a SIGINT.
    """
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again through the
    # handler that was there before it; this one makes that a clean exit (status 0, the
    # callers' finally blocks run) instead of death by signal.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, server_header=False)
    _Server(config, on_listening).run(sockets=[sock])


def is_loopback(host: str) -> bool:
    """True when every address ``host`` resolves to is a loopback one (127.0.0.0/8, ::1)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def serve_logdir(
    logdir: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = WATCH_PORT,
    *,
    allow_remote: bool = False,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Serve the dashboard and API v1's read endpoints over ``logdir``, with no key, until SIGTERM or SIGINT.

    Anyone who can reach the address reads every run of the logdir: there is no key.
    So the default is loopback only, and another address needs ``allow_remote=True``
    (a warning goes to stderr then).

    Args:
        logdir: the logdir whose runs are served (it may not exist yet).
        host: the address to listen on.
        port: the port; 0 picks a free one.
        allow_remote: allow a ``host`` that is not a loopback address.
        on_listening: called with the URL once connections are accepted; by default
            ``swanlog watch listening on URL`` is printed on stdout.

    Raises:
        swanlog_core.errors.Error: a non-loopback host without ``allow_remote``, a logdir
            that is not a folder, or an address that cannot be bound.
        SystemExit: (code 0) after a SIGTERM.
    """
    from .app import create_app
    from .logdir import LogdirStore
    from .settings import Settings

    if not is_loopback(host):
        if not allow_remote:
            raise Error(
                f"{host} is not a loopback address: swanlog watch asks no key, so anyone who can reach "
                "it reads every run; allow it explicitly (--allow-remote; in Python, allow_remote=True)"
                " to listen there"
            )
        print(
            f"warning: serving {logdir} on {host} with no key: anyone who can reach it reads every run",
            file=sys.stderr,
            flush=True,
        )
    store = LogdirStore(logdir)
    try:
        sock = bind(host, port)
        url = url_of(host, sock)
        announce = on_listening or (lambda u: print(f"swanlog watch listening on {u}", flush=True))
        try:
            serve(create_app(Settings(auth=False), store), sock, lambda: announce(url))
        finally:
            sock.close()
    finally:
        store.close()

"""Running the app under uvicorn on a socket we bind ourselves.

Binding first lets ``--port 0`` pick a free port and lets the caller announce the real
address only once uvicorn accepts connections on it. SIGTERM and SIGINT shut down
gracefully (uvicorn's handlers): requests in flight finish, then the process exits.
"""

from __future__ import annotations

import signal
import socket
from typing import Any, Callable

import uvicorn

from ..errors import Error

__all__ = ["serve"]


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

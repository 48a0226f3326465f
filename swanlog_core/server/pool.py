"""A small bounded pool of database connections, shared by the request threads.

At most ``size`` connections exist; a thread that finds none idle waits for one. A
connection that reports itself broken is closed instead of being handed out again.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Generic, Iterator, TypeVar

__all__ = ["Pool"]

C = TypeVar("C")


class Pool(Generic[C]):
    """Connections made on demand by ``connect``, at most ``size`` at a time."""

    def __init__(
        self,
        connect: Callable[[], C],
        size: int,
        usable: Callable[[C], bool],
        close: Callable[[C], None],
    ) -> None:
        self._connect = connect
        self._usable = usable
        self._close = close
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[C] = []
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[C]:
        """Borrow a connection for the length of the ``with`` block."""
        self._slots.acquire()
        try:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = self._connect()
            try:
                yield conn
            finally:
                with self._lock:
                    keep = not self._closed and self._usable(conn)
                    if keep:
                        self._idle.append(conn)
                if not keep:
                    self._close(conn)
        finally:
            self._slots.release()

    def close(self) -> None:
        """Close the idle connections; those still borrowed close when they come back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            self._close(conn)

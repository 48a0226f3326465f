"""A real ``swanlog server`` in a child process, and the fixtures that start one per test.

    from tests.serverproc import start_server

    with start_server("sqlite:////tmp/x/server.db") as srv:
        key = srv.create_key("proj")            # the real `swanlog server key create`
        httpx.get(srv.url + "/api/v1/health")
        srv.kill(); srv.restart()               # same database, same port

``start_logdir_server(logdir)`` starts ``swanlog watch LOGDIR`` instead (the read-only
app over a logdir): the same :class:`ServerProcess` methods, no database and no keys.

Fixtures (registered for every test through tests/conftest.py):

- ``db_url``: parametrized over ``sqlite`` (a file in tmp_path) and ``postgresql`` (a fresh
  database per test, created from ``$SWANLOG_TEST_PG_URL`` and dropped after; skipped
  when that variable is unset);
- ``pg_url``: the PostgreSQL half alone, for tests that need two servers on one database;
- ``server``: a started :class:`ServerProcess` on ``db_url``, stopped after the test;
- ``shared_server``: one server per test module and database kind (module scope), for
  the many small tests that can share one (each uses its own run ids).
"""

from __future__ import annotations

import functools
import os
import re
import signal
import ssl
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.support import PYTHON, python_env, wait_until

__all__ = [
    "PG_ENV",
    "ServerProcess",
    "db_url",
    "fresh_pg_database",
    "pg_url",
    "run_cli",
    "server",
    "shared_server",
    "start_logdir_server",
    "start_server",
]

PG_ENV = "SWANLOG_TEST_PG_URL"
_LISTENING = re.compile(r"swanlog (?:server|watch) listening on (http://\S+):(\d+)")
START_TIMEOUT = 30.0


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``swanlog ARGS`` (e.g. ``"server", "key", "list", "--db", url``) in a child Python.

    ``env`` adds variables to the child's environment.
    """
    return subprocess.run(
        [PYTHON, "-m", "swanlog_cli.main", *args],
        env={**python_env(), **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@functools.cache
def _plain_http() -> ssl.SSLContext:
    return ssl.create_default_context()


class ServerProcess:
    """A ``swanlog server`` or ``swanlog watch`` child process on 127.0.0.1, logging to ``log_path``."""

    def __init__(
        self, db_url: str, port: int = 0, extra_args: tuple[str, ...] = (), logdir: Path | None = None
    ) -> None:
        self.db_url = db_url
        self.logdir = logdir  # set: `swanlog watch` this logdir (read-only), not a database
        self.port = port
        self.extra_args = extra_args
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self._start_at = 0
        fd, name = tempfile.mkstemp(prefix="swanlog-server-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)

    @property
    def pid(self) -> int:
        """The server process's id."""
        assert self.proc is not None, "server is not running"
        return self.proc.pid

    def output(self) -> str:
        """Everything the server printed so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace")

    def start(self) -> ServerProcess:
        """Start the server and wait until it prints that it accepts connections."""
        return self.launch().wait_listening()

    def launch(self) -> ServerProcess:
        """Start the server process without waiting (see ``wait_listening``)."""
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        self._start_at = self.log_path.stat().st_size
        if self.logdir is None:
            argv = [PYTHON, "-m", "swanlog_cli.main", "server", "--db", self.db_url]
            argv += ["--host", "127.0.0.1", "--port", str(self.port), *self.extra_args]
        else:
            argv = [PYTHON, "-m", "swanlog_cli.main", "watch", str(self.logdir)]
            argv += ["--host", "127.0.0.1", "--port", str(self.port), *self.extra_args]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                argv,
                env=python_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_listening(self, timeout: float = START_TIMEOUT) -> ServerProcess:
        """Wait for the "listening on" line of the last launch; fail if the server exits first."""

        def listening() -> re.Match[str] | None:
            text = self.output()[self._start_at :]
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"swanlog server exited with {self.proc.returncode}:\n{text}")
            return _LISTENING.search(text)

        try:
            m = wait_until(listening, timeout=timeout)
        except AssertionError:
            self.kill()
            raise
        assert isinstance(m, re.Match)
        self.port = int(m.group(2))  # a restart binds the same port
        self.url = f"{m.group(1)}:{self.port}"
        return self

    def client(self, key: str | None = None, **kwargs: object) -> httpx.Client:
        """An httpx client on this server, sending ``key`` as a Bearer token when given."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        kwargs.setdefault("verify", _plain_http())  # a fresh TLS context per client costs ~30 ms
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)  # type: ignore[arg-type]

    def assert_no_tracebacks(self) -> None:
        """Fail if the server logged a traceback (an error it did not turn into a 4xx)."""
        assert "Traceback" not in self.output(), self.output()

    def create_key(self, *projects: str) -> str:
        """A new API key for ``projects``, made by the real ``swanlog server key create``."""
        args = [a for p in projects for a in ("--project", p)]
        result = run_cli("server", "key", "create", "--db", self.db_url, *args)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()[-1]

    def _end(self, sig: int, timeout: float = 30) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=timeout)
        return code

    def stop(self) -> int:
        """Ask the server to shut down (SIGTERM) and wait; returns its exit code."""
        return self._end(signal.SIGTERM)

    def kill(self) -> int:
        """Kill the server with SIGKILL, as a crash would, and wait for it."""
        return self._end(signal.SIGKILL)

    def restart(self) -> ServerProcess:
        """Stop the server if it runs, then start it again on the same database and port."""
        self.stop()
        return self.start()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)


def start_server(db_url: str, *, port: int = 0, extra_args: tuple[str, ...] = ()) -> ServerProcess:
    """Start ``swanlog server --db DB_URL --host 127.0.0.1 --port PORT``; returns once it listens."""
    return ServerProcess(db_url, port, extra_args).start()


def start_logdir_server(logdir: Path, *, port: int = 0, extra_args: tuple[str, ...] = ()) -> ServerProcess:
    """Start ``swanlog watch LOGDIR --host 127.0.0.1 --port PORT``; returns once it listens."""
    return ServerProcess("", port, extra_args, logdir=logdir).start()


# -- PostgreSQL: one fresh database per test ------------------------------------------------


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """Create an empty PostgreSQL database from ``$SWANLOG_TEST_PG_URL``; drop it afterwards.

    Skips the calling test when the variable is unset.
    """
    admin = os.environ.get(PG_ENV)
    if not admin:
        pytest.skip(f"set {PG_ENV}=postgresql://postgres@127.0.0.1:5432/test to run the PostgreSQL tests")
    import psycopg

    name = f"swanlog_t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield _with_database(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database, dropped after the test."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A server database URL: a SQLite file in tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'server.db'}"  # sqlite:// + /absolute/path
    return request.getfixturevalue("pg_url")


@pytest.fixture
def server(db_url: str) -> Iterator[ServerProcess]:
    """A running swanlog server on ``db_url``; stopped after the test."""
    with start_server(db_url) as srv:
        yield srv


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One running server per test module and database kind, for tests that share it (fresh run ids)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('server') / 'server.db'}"
        with start_server(url) as srv:
            yield srv
            srv.assert_no_tracebacks()
    else:
        with fresh_pg_database() as url, start_server(url) as srv:
            yield srv
            srv.assert_no_tracebacks()

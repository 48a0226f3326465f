"""``swanlog server`` and ``swanlog server key ...`` as a user runs them: real processes, real databases."""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

import pytest

from tests.serverproc import ServerProcess, run_cli, start_server

KEY_RE = re.compile(r"^swl_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$")


def test_key_create_prints_the_key_alone_on_the_last_line(db_url: str) -> None:
    """key create prints a new key alone on the last line of stdout, and it works against the server."""
    result = run_cli("server", "key", "create", "--db", db_url, "--project", "p", "--project", "q")
    assert result.returncode == 0, result.stderr
    key = result.stdout.splitlines()[-1]
    assert KEY_RE.match(key)
    with start_server(db_url) as srv, srv.client(key) as c:
        assert c.put("/api/v1/runs/r1", json={"project": "q"}).json() == {"id": "r1", "created": True}


def test_key_list_shows_ids_and_projects_but_never_the_secret(db_url: str) -> None:
    """key list shows each key's id, projects, creation time and revocation, and no secret."""
    first = run_cli("server", "key", "create", "--db", db_url, "--project", "p").stdout.splitlines()[-1]
    second = run_cli("server", "key", "create", "--db", db_url, "--project", "a", "--project", "b")
    second_key = second.stdout.splitlines()[-1]
    result = run_cli("server", "key", "list", "--db", db_url)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["ID", "PROJECTS", "CREATED", "REVOKED"]
    listed = {row.split()[0]: row.split()[1:] for row in rows}
    for key, projects in [(first, "p"), (second_key, "a,b")]:
        key_id = "_".join(key.split("_")[:2])
        assert listed[key_id][0] == projects and listed[key_id][2] == "-"
        assert key.split("_", 2)[2] not in result.stdout


def test_key_revoke_takes_effect_on_a_running_server(server: ServerProcess) -> None:
    """key revoke, run while the server is up, makes the very next request with that key a 401."""
    key = server.create_key("p")
    key_id = "_".join(key.split("_")[:2])
    with server.client(key) as c:
        assert c.put("/api/v1/runs/r1", json={"project": "p"}).status_code == 200
        result = run_cli("server", "key", "revoke", "--db", server.db_url, key_id)
        assert result.returncode == 0 and key_id in result.stdout
        r = c.get("/api/v1/runs/r1")
        assert r.status_code == 401 and "revoked" in r.json()["error"]
    listed = run_cli("server", "key", "list", "--db", server.db_url).stdout
    assert re.search(rf"^{key_id}\s+p\s+\S+\s+\d{{4}}-\d\d-\d\dT", listed, re.M)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["key", "revoke", "swl_0123456789ab"], "Error: no API key with id swl_0123456789ab", id="unknown"
        ),
        pytest.param(["key", "revoke", "nonsense"], "Error: 'nonsense' is not an API key id", id="not-an-id"),
        pytest.param(
            ["key", "create", "--project", ""], "Error: project '' is not 1-256", id="empty-project"
        ),
    ],
)
def test_key_command_errors_exit_1_with_a_message(tmp_path: Path, args: list[str], message: str) -> None:
    """A key command that cannot do its job prints "Error: ..." on stderr and exits 1."""
    db = f"sqlite:///{tmp_path / 'server.db'}"
    result = run_cli("server", *args[:2], "--db", db, *args[2:])
    assert result.returncode == 1 and result.stderr.startswith(message), result.stderr


def test_key_create_needs_a_project(tmp_path: Path) -> None:
    """key create without --project is a usage error naming the option."""
    result = run_cli("server", "key", "create", "--db", f"sqlite:///{tmp_path / 's.db'}")
    assert result.returncode == 2 and "--project" in result.stderr


@pytest.mark.parametrize(
    ("db", "message"),
    [
        pytest.param("mysql://x/y", "is not supported", id="unknown-scheme"),
        pytest.param("sqlite:///", "names no file", id="sqlite-without-file"),
        pytest.param(
            "postgresql://postgres@127.0.0.1:1/nope", "cannot open the PostgreSQL database", id="pg-down"
        ),
    ],
)
def test_bad_database_urls_are_clear_errors(db: str, message: str) -> None:
    """A --db URL the server cannot use is a one-line error and exit code 1, for server and key commands."""
    for args in (["server", "--db", db, "--port", "0"], ["server", "key", "list", "--db", db]):
        result = run_cli(*args)
        assert result.returncode == 1 and message in result.stderr, result.stderr
        assert result.stderr.startswith("Error: ")


def test_default_database_is_in_the_user_data_folder(tmp_path: Path) -> None:
    """Without --db, keys go to $XDG_DATA_HOME/swanlog/server.db."""
    env = {"XDG_DATA_HOME": str(tmp_path / "data")}
    assert run_cli("server", "key", "create", "--project", "p", env=env).returncode == 0
    assert (tmp_path / "data" / "swanlog" / "server.db").is_file()
    assert "p" in run_cli("server", "key", "list", env=env).stdout.splitlines()[1]


def test_relative_sqlite_url_is_relative_to_the_working_folder(tmp_path: Path) -> None:
    """sqlite:///relative.db names a file in the current folder; sqlite:////abs.db an absolute path."""
    assert (
        run_cli(
            "server", "key", "create", "--db", "sqlite:///rel.db", "--project", "p", cwd=tmp_path
        ).returncode
        == 0
    )
    assert (tmp_path / "rel.db").is_file()
    result = run_cli("server", "key", "list", "--db", f"sqlite:///{tmp_path / 'rel.db'}")
    assert len(result.stdout.splitlines()) == 2


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    """Starting the server on a port already in use exits 1 saying it cannot listen there."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_cli("server", "--db", f"sqlite:///{tmp_path / 's.db'}", "--port", str(port))
    assert result.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_server_stops_cleanly_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    """SIGTERM or Ctrl-C stops the server without a traceback."""
    srv = start_server(f"sqlite:///{tmp_path / 's.db'}")
    try:
        assert srv.proc is not None
        srv.proc.send_signal(sig)
        code = srv.proc.wait(timeout=30)
        assert code in (0, 130) and "Traceback" not in srv.output()
    finally:
        srv.kill()
        srv.log_path.unlink()


def test_help_describes_server_and_key_commands() -> None:
    """swanlog server --help and swanlog server key --help list the options and subcommands."""
    out = run_cli("server", "--help").stdout
    assert "--db" in out and "--port" in out and "key" in out
    out = run_cli("server", "key", "--help").stdout
    assert all(word in out for word in ("create", "list", "revoke"))

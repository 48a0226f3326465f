"""The server under faults: SIGKILL mid-ingest, several processes on one database, racing starts."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Callable

import psycopg
import pytest

from tests.serverproc import ServerProcess, run_cli, start_server
from tests.support import wait_until

BATCH = 2000  # points per batch in the writer below

# POSTs batches until the server goes away; after each acknowledged batch, appends its
# number to the ack file (one os.write, which a kill of the server cannot tear).
WRITER = """
import os, sys, httpx
url, key, ack_path = sys.argv[1], sys.argv[2], sys.argv[3]
ack = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
with httpx.Client(base_url=url, headers={"Authorization": "Bearer " + key}, timeout=30) as c:
    k = 0
    while True:
        body = "".join(
            '{"metric":"m%d","step":%d,"value":%d,"ts":1}\\n' % (i % 4, k * BATCH + i, k)
            for i in range(BATCH)
        )
        try:
            r = c.post("/api/v1/runs/r1/records", content=body)
        except httpx.TransportError:
            break
        assert r.json() == {"accepted": BATCH, "duplicates": 0}, r.text
        os.write(ack, b"%d\\n" % k)
        k += 1
""".replace("BATCH", str(BATCH))


def all_points(srv: ServerProcess, key: str) -> dict[str, list[dict]]:
    """Every point of run r1, per metric."""
    with srv.client(key) as c:
        names = c.get("/api/v1/runs/r1/metrics").json()["metrics"]
        return {
            n: c.get(f"/api/v1/runs/r1/metrics/{n}", params={"limit": 100000}).json()["points"] for n in names
        }


def test_acknowledged_batches_survive_sigkill(
    db_url: str, spawn: Callable[..., subprocess.Popen], tmp_path: Path
) -> None:
    """Every batch the server acknowledged is there, whole, after it is SIGKILLed mid-ingest and
    restarted; a batch in flight at the kill is there whole or not at all."""
    srv = start_server(db_url)
    try:
        key = srv.create_key("p")
        with srv.client(key) as c:
            c.put("/api/v1/runs/r1", json={"project": "p"})
        ack = tmp_path / "acks"
        writer = spawn(WRITER, srv.url, key, ack)
        wait_until(lambda: ack.exists() and ack.read_bytes().count(b"\n") >= 5, timeout=30)
        srv.kill()
        writer.wait(timeout=30)
        acked = {int(x) for x in ack.read_text().split()}
        srv.start()
        points = all_points(srv, key)
    finally:
        srv.stop()
        srv.log_path.unlink()
    by_batch: dict[int, int] = {}
    for metric in points.values():
        for p in metric:
            assert p["value"] == p["step"] // BATCH  # first write, never overwritten
            by_batch[p["value"]] = by_batch.get(p["value"], 0) + 1
    assert acked <= set(by_batch)
    assert all(n == BATCH for n in by_batch.values()), "a batch was stored in part"


def test_two_servers_on_one_postgresql_share_everything(pg_url: str) -> None:
    """Two server processes on one PostgreSQL database both serve, see each other's writes, and a
    key revoked through the CLI stops working on both at once."""
    with start_server(pg_url) as one, start_server(pg_url) as two:
        key = one.create_key("p")
        with one.client(key) as a, two.client(key) as b:
            assert a.put("/api/v1/runs/r1", json={"project": "p", "name": "n"}).json()["created"] is True
            assert b.put("/api/v1/runs/r1", json={"notes": "from two"}).json()["created"] is False
            body = (
                b'{"metric":"loss","step":0,"value":1,"ts":1}\n{"metric":"loss","step":1,"value":2,"ts":1}\n'
            )
            assert a.post("/api/v1/runs/r1/records", content=body).json() == {"accepted": 2, "duplicates": 0}
            assert b.post("/api/v1/runs/r1/records", content=body).json() == {"accepted": 0, "duplicates": 2}
            assert b.get("/api/v1/runs/r1").json()["name"] == "n"
            assert a.get("/api/v1/runs/r1").json()["notes"] == "from two"
            assert len(b.get("/api/v1/runs/r1/metrics/loss").json()["points"]) == 2
            assert run_cli("server", "key", "revoke", "--db", pg_url, key).returncode == 0
            assert a.get("/api/v1/runs/r1").status_code == 401
            assert b.get("/api/v1/runs/r1").status_code == 401


@pytest.mark.parametrize("count", [4])
def test_servers_starting_at_once_migrate_once(db_url: str, count: int) -> None:
    """Several servers started at the same moment on one fresh database all come up, and each schema
    version is applied exactly once."""
    servers = [ServerProcess(db_url) for _ in range(count)]
    try:
        for srv in servers:
            srv.launch()
        for srv in servers:
            srv.wait_listening()
        for srv in servers:
            with srv.client() as c:
                assert c.get("/api/v1/health").json() == {"status": "ok"}
    finally:
        for srv in servers:
            srv.stop()
            srv.log_path.unlink()
    versions = _applied_versions(db_url)
    assert versions == sorted(set(versions)) and versions[0] == 1


def _applied_versions(db_url: str) -> list[int]:
    sql = "SELECT version FROM swanlog_migrations ORDER BY version"
    if db_url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(db_url[len("sqlite:///") :]) as conn:
            return [v for (v,) in conn.execute(sql)]
    with psycopg.connect(db_url) as conn:
        return [v for (v,) in conn.execute(sql)]


def test_concurrent_writers_to_one_run_keep_first_write_wins(
    db_url: str, spawn: Callable[..., subprocess.Popen]
) -> None:
    """Several clients racing to write the same points each get them stored once, and the totals
    of accepted points across clients equal the distinct points."""
    script = textwrap.dedent(
        """
        import sys, httpx, json
        url, key, me = sys.argv[1], sys.argv[2], int(sys.argv[3])
        body = "".join('{"metric":"m","step":%d,"value":%d,"ts":1}\\n' % (s, me) for s in range(5000))
        with httpx.Client(base_url=url, headers={"Authorization": "Bearer " + key}, timeout=60) as c:
            r = c.post("/api/v1/runs/r1/records", content=body)
        print(json.dumps(r.json()))
        """
    )
    with start_server(db_url) as srv:
        key = srv.create_key("p")
        with srv.client(key) as c:
            c.put("/api/v1/runs/r1", json={"project": "p"})
        children = [spawn(script, srv.url, key, i) for i in range(4)]
        results = []
        for child in children:
            out, err = child.communicate(timeout=60)
            assert child.returncode == 0, err
            results.append(json.loads(out))
        assert sum(r["accepted"] for r in results) == 5000
        assert all(r["accepted"] + r["duplicates"] == 5000 for r in results)
        with srv.client(key) as c:
            points = c.get("/api/v1/runs/r1/metrics/m", params={"limit": 100000}).json()["points"]
        assert [p["step"] for p in points] == list(range(5000))

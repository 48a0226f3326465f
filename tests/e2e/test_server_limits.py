"""Request limits against a real server: oversize bodies, batches and gzip bombs get a quick 413."""

from __future__ import annotations

import socket
import struct
import time
import uuid
import zlib
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import urlsplit

import orjson
import pytest

from swanlog_core.server import open_store
from swanlog_core.server.auth import create_key
from tests.serverproc import ServerProcess, start_server

MiB = 1 << 20


def gzip_bomb(mib: int) -> bytes:
    """A valid one-member gzip stream of ``mib`` MiB of zeros, about 1 KiB per MiB.

    One compressed MiB, cut at a full flush so that it stands alone, repeated.
    """
    zeros = bytes(MiB)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + segment * mib + deflate.flush() + struct.pack("<II", crc, (mib * MiB) & 0xFFFFFFFF)


def raw_request(
    url: str, method: str, path: str, headers: dict[str, str], body: Iterable[bytes] = ()
) -> tuple[int, dict]:
    """Send a request over a plain socket, ignoring a server that stops reading; returns (status, JSON)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        head = f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        try:
            sock.sendall(head.encode())
            for chunk in body:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and closed: read what it said
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    status = int(data.split(b" ", 2)[1])
    return status, orjson.loads(data.split(b"\r\n\r\n", 1)[1])


def chunked(data: Iterable[bytes]) -> Iterator[bytes]:
    """HTTP/1.1 chunked transfer encoding of ``data``."""
    for piece in data:
        yield b"%x\r\n%s\r\n" % (len(piece), piece)
    yield b"0\r\n\r\n"


@pytest.fixture
def keyed(shared_server: ServerProcess) -> tuple[ServerProcess, str, str]:
    """The shared server, a key of a fresh project, and a run of that project."""
    tag = uuid.uuid4().hex[:10]
    store = open_store(shared_server.db_url)
    try:
        key = create_key(store, [f"p_{tag}"])
    finally:
        store.close()
    with shared_server.client(key) as c:
        assert c.put(f"/api/v1/runs/r_{tag}", json={"project": f"p_{tag}"}).status_code == 200
    return shared_server, key, f"r_{tag}"


def line(step: int) -> bytes:
    """One record line of metric "loss"."""
    return b'{"metric":"loss","step":%d,"value":0.5,"ts":1.0}\n' % step


def test_too_many_records_is_413(keyed: tuple[ServerProcess, str, str]) -> None:
    """A batch of more than 100,000 lines is a 413 naming the limit, and nothing is stored."""
    srv, key, run = keyed
    with srv.client(key) as c:
        r = c.post(f"/api/v1/runs/{run}/records", content=b"".join(line(i) for i in range(100_001)))
        assert r.status_code == 413 and "over the limit of 100000" in r.json()["error"]
        assert c.get(f"/api/v1/runs/{run}/metrics").json() == {"metrics": []}
        r = c.post(f"/api/v1/runs/{run}/records", content=b"".join(line(i) for i in range(100_000)))
        assert r.json() == {"accepted": 100_000, "duplicates": 0}


@pytest.mark.parametrize(
    ("path", "size", "limit"),
    [
        pytest.param("/records", 64 * MiB + 1, "64 MiB", id="records"),
        pytest.param("/files/console.log", 256 * MiB + 1, "256 MiB", id="file"),
        pytest.param("", 16 * MiB + 1, "16 MiB", id="run-json"),
    ],
)
def test_declared_oversize_body_is_413_before_it_is_sent(
    keyed: tuple[ServerProcess, str, str], path: str, size: int, limit: str
) -> None:
    """A Content-Length over the limit is refused with 413 from the headers alone."""
    srv, key, run = keyed
    method = "POST" if path == "/records" else "PUT"
    headers = {"Authorization": f"Bearer {key}", "Content-Length": str(size)}
    status, body = raw_request(srv.url, method, f"/api/v1/runs/{run}{path}", headers)
    assert status == 413 and limit in body["error"]


def test_streamed_oversize_body_is_413(keyed: tuple[ServerProcess, str, str]) -> None:
    """A chunked records body that grows past 64 MiB is cut off with 413, and nothing is stored."""
    srv, key, run = keyed
    piece = b"".join(line(i) for i in range(20000))  # ~1 MiB of valid lines (steps repeat)
    pieces = [piece] * (64 * MiB // len(piece) + 2)
    headers = {"Authorization": f"Bearer {key}", "Transfer-Encoding": "chunked"}
    status, body = raw_request(srv.url, "POST", f"/api/v1/runs/{run}/records", headers, chunked(pieces))
    assert status == 413 and "64 MiB" in body["error"]
    with srv.client(key) as c:
        assert c.get(f"/api/v1/runs/{run}/metrics").json() == {"metrics": []}


def _peak_rss_bytes(pid: int) -> int:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmHWM:"):
            return int(row.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


@pytest.mark.parametrize(
    ("path", "limit"),
    [pytest.param("/records", "64 MiB", id="records"), pytest.param("", "16 MiB", id="run-json")],
)
def test_gzip_bomb_is_413_quickly_with_bounded_memory(tmp_path: Path, path: str, limit: str) -> None:
    """1 GiB of zeros gzipped to ~1 MiB is refused with 413 in well under a second or two, and the
    server's peak memory stays far below the inflated size."""
    bomb = gzip_bomb(1024)
    with start_server(f"sqlite:///{tmp_path / 'server.db'}") as srv:
        key = srv.create_key("p")
        with srv.client(key) as c:
            c.put("/api/v1/runs/r1", json={"project": "p"})
            started = time.monotonic()
            method = "POST" if path else "PUT"
            r = c.request(
                method, f"/api/v1/runs/r1{path}", content=bomb, headers={"Content-Encoding": "gzip"}
            )
            elapsed = time.monotonic() - started
            assert r.status_code == 413 and f"{limit} after decompression" in r.json()["error"]
            assert elapsed < 5
            assert _peak_rss_bytes(srv.pid) < 320 * MiB
            assert c.get("/api/v1/runs/r1/metrics").json() == {"metrics": []}


def test_gzip_file_may_inflate_up_to_its_own_limit(keyed: tuple[ServerProcess, str, str]) -> None:
    """A gzip file body that inflates to 65 MiB is stored: files have their own, larger limit."""
    srv, key, run = keyed
    with srv.client(key) as c:
        r = c.put(
            f"/api/v1/runs/{run}/files/media/big.bin",
            content=gzip_bomb(65),
            headers={"Content-Encoding": "gzip"},
        )
        assert r.json() == {"path": "media/big.bin", "size": 65 * MiB}
        assert c.get(f"/api/v1/runs/{run}/files/media/big.bin").content == bytes(65 * MiB)

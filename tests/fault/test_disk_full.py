"""A full disk: log() raises OSError naming the metric, leaves whole lines only, and recovers.

Two ways to fill a disk: RLIMIT_FSIZE in a child process (works anywhere; SIGXFSZ ignored
so an oversize write fails with EFBIG, after a short write when part of the line fits), and
a real, tiny tmpfs when this machine lets the test mount one (ENOSPC). Files are checked
with a json parser written here, not with swanlog's reader or _format.
"""

from __future__ import annotations

import errno
import json
import math
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest

import swanlog_core as swanlog
from tests.metricfile import lock_is_free, point_pairs, the_run_dir
from tests.support import PYTHON, python_env

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def parse_points(data: bytes) -> list[tuple[int, Any]]:
    """(step, value) of every line of a metric file's bytes; fails on a torn or odd line."""
    assert data == b"" or data.endswith(b"\n"), f"torn last line: {data[-80:]!r}"
    points = []
    for raw in data.split(b"\n")[:-1]:
        obj = json.loads(raw)
        assert isinstance(obj, dict) and set(obj) == {"step", "value", "ts"}, raw
        value = obj["value"]
        points.append((obj["step"], _NONFINITE[value] if isinstance(value, str) else value))
    return points


# -- RLIMIT_FSIZE, in a child -----------------------------------------------------------------

# Logs five points, caps file size at the loss file's size + headroom, logs into the cap
# twice, lifts the cap and logs on. Reports each outcome and the file's bytes as JSON.
FILL = """
import json, os, resource, signal, sys
import swanlog_core as swanlog

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the cap fails with EFBIG instead
logdir, headroom = sys.argv[1], int(sys.argv[2])
run = swanlog.init(logdir=logdir, id="full0001")
for i in range(5):
    swanlog.log({"loss": i / 2, "acc": i})
path = run.dir / "metrics" / "loss.jsonl"
report = {"before": path.read_bytes().decode(), "attempts": []}
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size + headroom, hard))
for value in (7.5, 8.5):
    try:
        swanlog.log({"loss": value})
        report["attempts"].append({"error": None})
    except OSError as exc:
        report["attempts"].append({"error": type(exc).__name__, "errno": exc.errno, "message": str(exc)})
    report.setdefault("after_failures", path.read_bytes().decode())
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
swanlog.log({"loss": 9.5})
swanlog.log({"loss": 10.5, "acc": 10})
swanlog.finish()
print(json.dumps(report))
"""


@pytest.mark.parametrize(
    "headroom",
    [pytest.param(0, id="no-byte-fits"), pytest.param(20, id="part-of-the-line-fits")],
)
def test_file_size_limit_raises_naming_the_metric_and_leaves_whole_lines(
    tmp_path: Path, headroom: int
) -> None:
    """When a metric file cannot grow, log() raises OSError naming the metric, no torn bytes stay, and logging
    resumes at the same step once it can."""
    logdir = tmp_path / "swanlog"
    script = tmp_path / "fill.py"
    script.write_text(textwrap.dedent(FILL))
    result = subprocess.run(
        [PYTHON, str(script), str(logdir), str(headroom)],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)

    for attempt in report["attempts"]:
        assert attempt["error"] == "OSError" and attempt["errno"] == errno.EFBIG, attempt
        assert "'loss'" in attempt["message"], attempt
    # After the failures the file is exactly what it was: whole lines, nothing torn.
    assert report["after_failures"] == report["before"]
    assert parse_points(report["before"].encode()) == [(i, i / 2) for i in range(5)]

    run_dir = the_run_dir(logdir, "full0001")
    assert point_pairs(run_dir / "metrics" / "loss.jsonl") == [(i, i / 2) for i in range(5)] + [
        (5, 9.5),
        (6, 10.5),
    ]
    assert point_pairs(run_dir / "metrics" / "acc.jsonl") == [(i, i) for i in range(5)] + [(5, 10)]
    meta = json.loads((run_dir / "run.json").read_text())
    assert (meta["status"], meta["exit_code"]) == ("finished", 0)


# -- a real full filesystem (tmpfs), when mounting one is allowed --------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs mounted for this test (needs root; skipped where mounting is not allowed)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mnt
    finally:
        from swanlog_core import _current

        _current.reset()  # the run's fds must be closed before the unmount
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def fill(path: Path) -> None:
    """Write ``path`` until the filesystem has no byte left (ENOSPC)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for chunk in (b"\0" * 65536, b"\0" * 4096, b"\0"):
            while True:
                try:
                    os.write(fd, chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)


def log_until_full(metric: str, limit: int = 500) -> tuple[int, OSError]:
    """log() points to ``metric`` until one raises; (points written, the error)."""
    for i in range(limit):
        try:
            swanlog.log({metric: i})
        except OSError as exc:
            return i, exc
    raise AssertionError(f"{limit} points fit on a full disk")


def test_full_filesystem_raises_naming_the_metric_and_recovers_without_a_glued_line(small_disk: Path) -> None:
    """On a full disk log() raises ENOSPC naming the metric, the file keeps whole lines, and once space is
    freed logging goes on at the next step."""
    run = swanlog.init(logdir=small_disk / "swanlog", id="full0002")
    filler = small_disk / "filler"
    fill(filler)
    written, exc = log_until_full("train/loss")
    assert exc.errno == errno.ENOSPC and "'train/loss'" in str(exc)
    path = run.dir / "metrics" / "train" / "loss.jsonl"
    assert point_pairs(path) == [(i, i) for i in range(written)]
    with pytest.raises(OSError, match="train/loss"):
        swanlog.log({"train/loss": -1})
    assert point_pairs(path) == [(i, i) for i in range(written)]

    filler.unlink()
    swanlog.log({"train/loss": 1000})
    swanlog.log({"train/loss": 1001}, step=written + 5)
    swanlog.finish()
    assert point_pairs(path) == [(i, i) for i in range(written)] + [(written, 1000), (written + 5, 1001)]
    meta = json.loads((run.dir / "run.json").read_text())
    assert (meta["status"], meta["exit_code"]) == ("finished", 0)


def test_finish_on_a_full_disk_raises_releases_the_run_and_leaves_it_resumable(small_disk: Path) -> None:
    """finish() on a full disk raises OSError but releases the lock and leaves no half-written file; the run
    can be continued and finished later."""
    logdir = small_disk / "swanlog"
    run = swanlog.init(logdir=logdir, id="full0003")
    swanlog.log({"loss": 0.5})
    filler = small_disk / "filler"
    fill(filler)
    with pytest.raises(OSError):
        swanlog.finish()
    assert swanlog.run is None
    assert lock_is_free(run.dir)
    assert not [p.name for p in run.dir.iterdir() if p.name.endswith(".tmp")]
    meta = json.loads((run.dir / "run.json").read_text())  # still the complete old version
    assert meta["status"] == "running"
    assert point_pairs(run.dir / "metrics" / "loss.jsonl") == [(0, 0.5)]

    filler.unlink()
    swanlog.init(logdir=logdir, id="full0003", resume="must")
    swanlog.log({"loss": 0.25})
    swanlog.finish()
    assert point_pairs(run.dir / "metrics" / "loss.jsonl") == [(0, 0.5), (1, 0.25)]
    meta = json.loads((run.dir / "run.json").read_text())
    assert (meta["status"], meta["exit_code"]) == ("finished", 0)

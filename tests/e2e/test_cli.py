"""The swanlog command line, run as a real process: ls, show, tail, export, verify."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.runfolder import T0, LockHolder, line, make_run
from tests.support import PYTHON, python_env, wait_until

GOOD = line(0, 0.5, 1.25) + line(1, 0.25, 1.5) + line(2, "NaN", 2.0)


def swanlog(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``swanlog ARGS`` in a child Python on this checkout."""
    return subprocess.run(
        [PYTHON, "-m", "swanlog_cli.main", *args],
        env=python_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def swanlog_popen(*args: str, **kwargs: object) -> subprocess.Popen:
    """Start ``swanlog ARGS`` without waiting for it."""
    return subprocess.Popen([PYTHON, "-m", "swanlog_cli.main", *args], env=python_env(), **kwargs)


@pytest.fixture
def run_dir(logdir: Path) -> Path:
    """A finished run 'k3j9x0a1' with metrics train/loss and acc."""
    return make_run(
        logdir,
        "k3j9x0a1",
        name="demo",
        metrics={"train/loss": GOOD, "acc": line(0, 1, 1.0) + line(1, 2, 2.0)},
    )


# -- ls, show, errors -----------------------------------------------------------------


def test_ls_prints_an_aligned_table_with_crashed_runs(logdir: Path, run_dir: Path) -> None:
    """swanlog ls shows id, name, project, status (crashed included), created, duration and metric count."""
    make_run(logdir, "dead0001", created=T0 + 60, status="running", duration=3720.0)
    make_run(logdir, "late0002", created=T0 + 120)
    result = swanlog("ls", str(logdir))
    assert result.returncode == 0, result.stderr
    header, first, second, third = result.stdout.splitlines()
    assert header.split() == ["ID", "NAME", "PROJECT", "STATUS", "CREATED", "DURATION", "METRICS"]
    assert first.split()[:4] == ["k3j9x0a1", "demo", "proj", "finished"] and first.split()[-2:] == [
        "10s",
        "2",
    ]
    assert second.split()[:4] == ["dead0001", "dead0001", "proj", "crashed"] and second.split()[-2] == "1h02m"
    assert third.startswith("late0002")
    assert header.index("STATUS") == first.index("finished") == second.index("crashed")


def test_ls_filters_by_project_and_status(logdir: Path, run_dir: Path) -> None:
    """--project and --status narrow the list (each repeatable); no match says so on stderr."""
    make_run(logdir, "dead0001", project="other", created=T0 + 60, status="running")
    make_run(logdir, "late0002", project="other", created=T0 + 120)

    def ids(*args: str) -> list[str]:
        return [r["id"] for r in json.loads(swanlog("ls", str(logdir), "--json", *args).stdout)]

    assert ids("--project", "other") == ["dead0001", "late0002"]
    assert ids("--status", "crashed") == ["dead0001"]
    assert ids("--project", "other", "--status", "finished") == ["late0002"]
    assert ids("--project", "proj", "--project", "other", "--status", "finished") == ["k3j9x0a1", "late0002"]
    empty = swanlog("ls", str(logdir), "--project", "nope")
    assert empty.returncode == 0 and empty.stdout == "" and "no runs matching the filters" in empty.stderr
    bad = swanlog("ls", str(logdir), "--status", "sleeping")
    assert bad.returncode == 2 and "sleeping" in bad.stderr


def test_ls_json_and_the_default_logdir(logdir: Path, run_dir: Path) -> None:
    """swanlog ls --json prints the runs as JSON, from ./swanlog when no LOGDIR is given."""
    result = swanlog("ls", "--json", cwd=logdir.parent)
    assert result.returncode == 0, result.stderr
    [run] = json.loads(result.stdout)
    assert (run["id"], run["status"], run["metrics"], run["duration"]) == ("k3j9x0a1", "finished", 2, 10.0)


def test_show_prints_fields_config_summary_and_metric_counts(logdir: Path, run_dir: Path) -> None:
    """swanlog show RUN prints the run's fields, config, summary and each metric's point count."""
    result = swanlog("show", "k3j", "--logdir", str(logdir))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ["id        k3j9x0a1", "status    finished (exit code 0)", "lr  0.001", "loss  0.5"]:
        assert expected in out
    assert out.splitlines()[-2:] == ["  acc         2 points", "  train/loss  3 points"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["show", "nope"], "Error: no run with id or id prefix 'nope'", id="unknown-run"),
        pytest.param(
            ["tail", "k3j", "nope"], "Error: run k3j9x0a1 has no metric 'nope'", id="unknown-metric"
        ),
        pytest.param(
            ["export", "k3j", "--metric", "x"], "Error: run k3j9x0a1 has no metric 'x'", id="export-metric"
        ),
    ],
)
def test_errors_print_one_line_on_stderr_and_exit_1(
    logdir: Path, run_dir: Path, args: list[str], message: str
) -> None:
    """A swanlog error prints "Error: <message>" on stderr, nothing on stdout, and exits 1."""
    result = swanlog(*args, "--logdir", str(logdir))
    assert result.returncode == 1
    assert result.stderr.startswith(message) and len(result.stderr.splitlines()) == 1
    assert result.stdout == ""


@pytest.mark.parametrize(
    "command", [[], ["ls"], ["show"], ["tail"], ["export"], ["verify"], ["sync"], ["server"]]
)
def test_every_command_has_help(command: list[str]) -> None:
    """--help works for the group and for each command."""
    result = swanlog(*command, "--help")
    assert result.returncode == 0 and "Usage: swanlog" in result.stdout


def test_group_help_lists_every_command() -> None:
    """swanlog --help lists every command, including those whose modules load only when they run."""
    listed = swanlog("--help").stdout.split("Commands:")[1].split()
    assert {"export", "ls", "server", "show", "sync", "tail", "verify"} <= set(listed)


def test_export_loads_neither_the_sync_client_nor_the_server(logdir: Path, run_dir: Path) -> None:
    """Running swanlog export imports no sync or server module, nor httpx, watchdog, Starlette or uvicorn."""
    code = (
        "import sys\n"
        "from swanlog_cli.main import cli\n"
        "cli(sys.argv[1:], standalone_mode=False)\n"
        "heavy = ('httpx', 'watchdog', 'starlette', 'uvicorn', 'swanlog_core.sync', 'swanlog_core.server',"
        " 'swanlog_cli.sync', 'swanlog_cli.server')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [PYTHON, "-c", code, "export", "k3j9x0a1", "--logdir", str(logdir)],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("metric,step,value,ts\n")
    assert result.stderr.strip() == "[]"


def test_version() -> None:
    """swanlog --version prints the version."""
    result = swanlog("--version")
    assert result.returncode == 0 and result.stdout.startswith("swanlog ")


# -- export ---------------------------------------------------------------------------


def test_export_csv_writes_every_point_in_long_format(logdir: Path, run_dir: Path) -> None:
    """swanlog export --format csv prints a metric,step,value,ts header and one row per point."""
    result = swanlog("export", "k3j9x0a1", "--format", "csv", "--logdir", str(logdir))
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "metric,step,value,ts\n"
        "acc,0,1,1.0\nacc,1,2,2.0\n"
        "train/loss,0,0.5,1.25\ntrain/loss,1,0.25,1.5\ntrain/loss,2,NaN,2.0\n"
    )
    assert result.stderr == ""


def test_export_jsonl_to_a_file_counts_skipped_lines_on_stderr(logdir: Path) -> None:
    """export --format jsonl -o FILE writes one object per point and reports skipped lines, exit 0."""
    make_run(
        logdir, "bad", metrics={"m": line(0, 1, 1.0) + b"garbage\n" + line(1, "Infinity", 2.0) + b'{"st'}
    )
    out = logdir.parent / "out.jsonl"
    result = swanlog("export", "bad", "--format", "jsonl", "-o", str(out), "--logdir", str(logdir))
    assert result.returncode == 0
    assert out.read_text().splitlines() == [
        '{"metric":"m","step":0,"value":1,"ts":1.0}',
        '{"metric":"m","step":1,"value":"Infinity","ts":2.0}',
    ]
    assert result.stderr.splitlines() == [
        "skipped 1 corrupt line in m",
        "skipped an incomplete last line (4 bytes) in m",
    ]
    assert [p.name for p in out.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_export_into_a_closed_pipe_exits_quietly(logdir: Path) -> None:
    """`swanlog export RUN | head -1` ends export with exit code 0 and nothing on stderr."""
    make_run(logdir, "big", metrics={"m": b"".join(line(i, 0.5) for i in range(200_000))})
    proc = swanlog_popen(
        "export", "big", "--logdir", str(logdir), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == b"metric,step,value,ts\n"
    proc.stdout.close()  # what head does once it has its lines
    assert proc.wait(timeout=60) == 0
    assert proc.stderr.read() == b""
    proc.stderr.close()


# -- verify ---------------------------------------------------------------------------


def test_verify_reports_then_repairs_a_torn_tail_without_losing_lines(logdir: Path) -> None:
    """verify exits 1 naming a torn tail; --repair cuts it, keeps every complete line, exits 0."""
    run_dir = make_run(logdir, "torn", metrics={"m": GOOD + b'{"step":3,"val'})
    result = swanlog("verify", "torn", "--logdir", str(logdir))
    assert result.returncode == 1
    assert "metrics/m.jsonl: torn last line: 14 bytes after the last newline" in result.stdout
    result = swanlog("verify", "torn", "--repair", "--logdir", str(logdir))
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines() == [
        "metrics/m.jsonl: cut a torn last line (14 bytes)",
        "run torn: 1 metric files, 3 points, no problems",
    ]
    assert (run_dir / "metrics" / "m.jsonl").read_bytes() == GOOD


def test_verify_repair_is_refused_on_a_live_run(logdir: Path) -> None:
    """swanlog verify --repair on a run whose writer is alive fails with a clear error and changes nothing."""
    torn = GOOD + b'{"step":3'
    run_dir = make_run(logdir, "live", status="running", metrics={"m": torn})
    with LockHolder(run_dir):
        result = swanlog("verify", "live", "--repair", "--logdir", str(logdir))
    assert result.returncode == 1
    assert result.stderr.startswith("Error: run run-") and "live process" in result.stderr
    assert (run_dir / "metrics" / "m.jsonl").read_bytes() == torn


def test_verify_leaves_corrupt_lines_and_keeps_failing(logdir: Path) -> None:
    """A corrupt mid-file line is reported by number, never removed, and verify --repair still exits 1."""
    data = line(0, 1) + b"oops\n" + line(1, 2)
    run_dir = make_run(logdir, "c", metrics={"m": data})
    result = swanlog("verify", "c", "--repair", "--logdir", str(logdir))
    assert result.returncode == 1
    assert "metrics/m.jsonl: 1 corrupt line (line 2)" in result.stdout
    assert (run_dir / "metrics" / "m.jsonl").read_bytes() == data


# -- tail -----------------------------------------------------------------------------


def test_tail_prints_the_last_n_points(logdir: Path, run_dir: Path) -> None:
    """swanlog tail RUN METRIC -n 2 prints the metric's last two points, tab-separated."""
    result = swanlog("tail", "k3j9x0a1", "train/loss", "-n", "2", "--logdir", str(logdir))
    assert result.returncode == 0, result.stderr
    rows = [ln.split("\t")[:3] for ln in result.stdout.splitlines()]
    assert rows == [["train/loss", "1", "0.25"], ["train/loss", "2", "NaN"]]


def test_tail_of_every_metric(logdir: Path, run_dir: Path) -> None:
    """swanlog tail RUN without METRIC prints the last points of every metric, by name."""
    result = swanlog("tail", "k3j9x0a1", "-n", "1", "--logdir", str(logdir))
    assert [ln.split("\t")[:3] for ln in result.stdout.splitlines()] == [
        ["acc", "1", "2"],
        ["train/loss", "2", "NaN"],
    ]


def test_tail_follow_prints_lines_as_they_complete_and_stops_on_ctrl_c(logdir: Path, tmp_path: Path) -> None:
    """swanlog tail -f prints a line appended later, never half a line, and exits 0 on Ctrl-C."""
    run_dir = make_run(logdir, "live", status="running", metrics={"m": line(0, 1)})
    path = run_dir / "metrics" / "m.jsonl"
    out_path = tmp_path / "tail.out"
    with open(out_path, "wb") as out:
        proc = swanlog_popen(
            "tail", "live", "m", "-f", "--logdir", str(logdir), stdout=out, stderr=subprocess.PIPE
        )
    try:
        wait_until(lambda: out_path.read_text().startswith("m\t0\t1\t"))
        with open(path, "ab") as f:
            f.write(line(1, 2) + b'{"step":2,"va')
            f.flush()
            wait_until(lambda: len(out_path.read_text().splitlines()) == 2)
            f.write(b'lue":3,"ts":1}\n')
        wait_until(lambda: len(out_path.read_text().splitlines()) == 3)
        assert [ln.split("\t")[:3] for ln in out_path.read_text().splitlines()] == [
            ["m", "0", "1"],
            ["m", "1", "2"],
            ["m", "2", "3"],
        ]
    finally:
        proc.send_signal(signal.SIGINT)
        returncode = proc.wait(timeout=30)
    assert proc.stderr is not None
    assert returncode == 0 and proc.stderr.read() == b""
    proc.stderr.close()


def test_tail_follow_waits_for_a_metric_that_does_not_exist_yet(logdir: Path, tmp_path: Path) -> None:
    """swanlog tail -f METRIC on a metric not logged yet prints its points once it appears."""
    run_dir = make_run(logdir, "live", status="running")
    out_path = tmp_path / "tail.out"
    with open(out_path, "wb") as out:
        proc = swanlog_popen(
            "tail", "live", "val/acc", "-f", "--max-seconds", "30", "--logdir", str(logdir), stdout=out
        )
    try:
        (run_dir / "metrics" / "val").mkdir()
        (run_dir / "metrics" / "val" / "acc.jsonl").write_bytes(line(4, 0.9))
        wait_until(lambda: out_path.read_text().startswith("val/acc\t4\t0.9\t"))
    finally:
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 0

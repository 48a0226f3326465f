"""Commands that look at runs: ls, show, tail, export, verify."""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import click
import orjson

from swanlog_core import reader
from swanlog_core._format import encode_value, iso_utc, resolve_logdir
from swanlog_core.errors import CorruptRunError
from swanlog_core.export import FORMATS, export_run

__all__ = ["COMMANDS"]

POLL_SECONDS = 0.2  # how often tail -f looks for new lines

logdir_option = click.option(
    "--logdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where RUN ids are looked up [default: $SWANLOG_DIR, else ./swanlog].",
)
RUN_HELP = "RUN is a run folder, a run id, or a unique prefix of one."


# -- formatting -----------------------------------------------------------------------


def _local_time(t: float, ms: bool = False) -> str:
    text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))
    return text + f".{int(t * 1000) % 1000:03d}" if ms else text


def _duration(seconds: float) -> str:
    """Seconds as a person reads them: 42s, 3m05s, 1h02m, 2d03h."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _value(v: Any) -> str:
    """A point's value as the metric files spell it (NaN, Infinity, a media description's JSON)."""
    if type(v) is float:
        return repr(v) if math.isfinite(v) else encode_value(v)
    if type(v) is int:
        return str(v)
    return orjson.dumps(v).decode()


def _json(v: Any) -> str:
    return orjson.dumps(v, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


def _report_skipped(name: str, corrupt: int, torn: int = 0) -> None:
    if corrupt:
        click.echo(f"skipped {corrupt} corrupt line{'s' * (corrupt != 1)} in {name}", err=True)
    if torn:
        click.echo(f"skipped an incomplete last line ({torn} bytes) in {name}", err=True)


# -- ls, show -------------------------------------------------------------------------


@click.command("ls")
@click.argument("logdir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--project", "projects", multiple=True, metavar="P", help="Only the runs of project P (repeatable).",
)  # fmt: skip
@click.option(
    "--status", "statuses", multiple=True, type=click.Choice(reader.STATUSES),
    help="Only the runs with this status (repeatable): crashed finds the runs whose writer died.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of runs instead of a table.")
def ls_command(
    logdir: Path | None, projects: tuple[str, ...], statuses: tuple[str, ...], as_json: bool
) -> None:
    """List the runs in LOGDIR, oldest first.

    LOGDIR defaults to $SWANLOG_DIR, else ./swanlog.
    """
    runs = [
        run
        for run in reader.find_runs(logdir)
        if (not projects or run.project in projects) and (not statuses or run.status in statuses)
    ]
    if as_json:
        click.echo(_json([_run_record(run) for run in runs]))
        return
    if not runs:
        which = " matching the filters" if projects or statuses else ""
        click.echo(f"no runs{which} in {resolve_logdir(logdir)}", err=True)
        return
    rows = [["ID", "NAME", "PROJECT", "STATUS", "CREATED", "DURATION", "METRICS"]]
    for run in runs:
        rows.append(
            [
                run.id,
                run.name,
                run.project or "-",
                run.status,
                _local_time(run.created),
                _duration(run.duration),
                str(len(run.metric_names())),
            ]
        )
    click.echo(_table(rows))


def _run_record(run: reader.RunView) -> dict[str, Any]:
    return {
        "id": run.id,
        "name": run.name,
        "project": run.project,
        "status": run.status,
        "created": iso_utc(run.created),
        "updated": iso_utc(run.updated),
        "duration": round(run.duration, 3),
        "exit_code": run.exit_code,
        "tags": run.tags,
        "notes": run.notes,
        "host": run.host,
        "pid": run.pid,
        "metrics": len(run.metric_names()),
        "dir": str(run.dir),
        "problem": run.problem,
    }


def _document_lines(title: str, read: Callable[[], dict[str, Any]]) -> list[str]:
    try:
        doc = read()
    except CorruptRunError as exc:
        return [f"{title}: {exc}"]
    if not doc:
        return [f"{title}: (empty)"]
    width = max(len(str(k)) for k in doc)
    return [f"{title}:"] + [f"  {str(k).ljust(width)}  {_json(v)}" for k, v in doc.items()]


@click.command("show", epilog=RUN_HELP)
@click.argument("run")
@logdir_option
def show_command(run: str, logdir: Path | None) -> None:
    """Show a run's fields, config, summary and metrics."""
    view = reader.open_run(run, logdir)
    status = view.status
    if view.exit_code is not None:
        status += f" (exit code {view.exit_code})"
    if view.problem:
        status += f": {view.problem}"
    fields = [
        ["id", view.id],
        ["name", view.name],
        ["project", view.project or "-"],
        ["status", status],
        ["created", _local_time(view.created)],
        ["updated", _local_time(view.updated)],
        ["duration", _duration(view.duration)],
        ["host", f"{view.host or '-'} (pid {view.pid})" if view.pid else view.host or "-"],
        ["tags", ", ".join(view.tags) or "-"],
        ["notes", view.notes or "-"],
        ["dir", str(view.dir)],
    ]
    lines = [_table(fields), ""]
    lines += _document_lines("config", lambda: view.config)
    lines += _document_lines("summary", lambda: view.summary)
    lines += _document_lines("metric definitions", lambda: view.metric_definitions)
    names = view.metric_names()
    lines.append(f"metrics: {len(names)}")
    rows = []
    for name in names:
        h = view.history(name)
        notes = [f"{h.corrupt} corrupt lines skipped"] if h.corrupt else []
        notes += [f"incomplete last line ({h.torn} bytes)"] if h.torn else []
        rows.append([f"  {name}", f"{len(h)} points", ", ".join(notes)])
    if rows:
        lines.append(_table(rows))
    click.echo("\n".join(lines))


# -- tail -----------------------------------------------------------------------------


def _print_points(batches: Iterable[tuple[str, reader.History]], last: int | None) -> None:
    out = []
    for name, history in batches:
        start = 0 if last is None else max(0, len(history) - last)
        rows = zip(history.steps[start:], history.values[start:], history.ts[start:])
        out += [f"{name}\t{step}\t{_value(value)}\t{_local_time(ts, ms=True)}\n" for step, value, ts in rows]
        _report_skipped(name, history.corrupt)
    sys.stdout.write("".join(out))
    sys.stdout.flush()


@click.command("tail", epilog=RUN_HELP + " Each line: metric, step, value, local time, tab-separated.")
@click.argument("run")
@click.argument("metric", required=False)
@click.option(
    "-n",
    "--lines",
    "count",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="How many of the last points to print, per metric.",
)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new points until interrupted (Ctrl-C).")
@click.option("--max-seconds", type=float, default=None, hidden=True)  # tests: stop following after this
@logdir_option
def tail_command(
    run: str, metric: str | None, count: int, follow: bool, max_seconds: float | None, logdir: Path | None
) -> None:
    """Print the last points of METRIC, or of every metric of RUN."""
    from swanlog_core.follow import Follower  # here: the other commands do not need it

    view = reader.open_run(run, logdir)
    if metric is not None and not follow and not view.metric_path(metric).is_file():
        view.history(metric)  # raises MetricNotFoundError, naming the run's metrics
    follower = Follower(view, None if metric is None else [metric])
    _print_points(follower.poll(), count)
    if not follow:
        return
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    try:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            _print_points(follower.poll(), None)
    except KeyboardInterrupt:
        return  # Ctrl-C is how a follow ends: exit 0, no traceback


# -- export, verify -------------------------------------------------------------------


@click.command("export", epilog=RUN_HELP)
@click.argument("run")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="csv",
    show_default=True,
    help="csv: metric,step,value,ts rows; jsonl: one JSON object per point.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of stdout (replaced only once complete).",
)
@click.option("--metric", "metrics", multiple=True, help="Export only this metric (repeatable).")
@logdir_option
def export_command(
    run: str, fmt: str, output: Path | None, metrics: tuple[str, ...], logdir: Path | None
) -> None:
    """Export every point of a run, one row per point."""
    view = reader.open_run(run, logdir)
    selected = list(metrics) or None
    if output is None:
        skipped = export_run(view, fmt, sys.stdout.buffer, selected)
        sys.stdout.buffer.flush()
    else:
        tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                skipped = export_run(view, fmt, f, selected)
            os.replace(tmp, output)
        finally:
            tmp.unlink(missing_ok=True)
    for s in skipped:
        _report_skipped(s.metric, s.corrupt, s.torn)


@click.command("verify", epilog=RUN_HELP + " Exit code 1 when problems remain.")
@click.argument("run")
@click.option(
    "--repair", is_flag=True, help="Cut torn last lines (never a complete line); refused while a writer runs."
)
@logdir_option
@click.pass_context
def verify_command(ctx: click.Context, run: str, repair: bool, logdir: Path | None) -> None:
    """Check a run's files; --repair cuts torn last lines.

    Reports torn last lines, corrupt lines, NUL bytes and duplicate steps in metric
    files, and unreadable run.json, config.json, summary.json or metrics.json.
    """
    from swanlog_core.verify import repair_run, verify_run  # here: the other commands do not need it

    view = reader.open_run(run, logdir)
    if repair:
        for path, size in repair_run(view.dir):
            click.echo(f"{path}: cut a torn last line ({size} bytes)")
    check = verify_run(view.dir)
    problems = 0
    for name, problem in check.documents.items():
        if problem:
            problems += 1
            click.echo(f"{name}: {problem}")
    points = 0
    for f in check.files:
        points += f.points
        for problem in f.problems():
            problems += 1
            click.echo(f"{f.path}: {problem}")
    summary = f"run {view.id}: {len(check.files)} metric files, {points} points"
    if problems:
        click.echo(f"{summary}, {problems} problem{'s' * (problems != 1)}")
        ctx.exit(1)
    click.echo(f"{summary}, no problems")


COMMANDS = [ls_command, show_command, tail_command, export_command, verify_command]

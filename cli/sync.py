"""``swanlog sync``: push runs to a swanlog server, once or live (``--watch``)."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import click

from swanlog_core._format import resolve_logdir
from swanlog_core.errors import Error
from swanlog_core.sync import Syncer, SyncReport

__all__ = ["sync_command"]

PLAIN_EVERY = 10.0  # seconds between progress lines when stderr is not a terminal
LIVE_EVERY = 0.2  # seconds between redraws of the live line on a terminal


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _line(r: SyncReport) -> str:
    rate = r.points / r.seconds if r.seconds > 0 else 0.0
    return f"{r.runs} run{'s' * (r.runs != 1)}, {r.points:,} points, {_size(r.bytes)}, {rate:,.0f} points/s"


class _Progress:
    """A live line on a terminal, a plain line now and then otherwise; never on stdout."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.every = LIVE_EVERY if self.tty else PLAIN_EVERY
        self.shown_at = time.monotonic()
        self.live = False

    def update(self, report: SyncReport) -> None:
        now = time.monotonic()
        if now - self.shown_at < self.every:
            return
        self.shown_at = now
        if self.tty:
            self.stream.write("\r\x1b[K" + _line(report))
            self.live = True
        else:
            self.stream.write(_line(report) + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        self.clear()
        self.stream.write(text + "\n")
        self.stream.flush()

    def clear(self) -> None:
        if self.live:
            self.stream.write("\r\x1b[K")
            self.live = False


def _summary(r: SyncReport) -> list[str]:
    rate = r.points / r.seconds if r.seconds > 0 else 0.0
    lines = [
        f"synced {r.runs} run{'s' * (r.runs != 1)}: {r.points:,} point{'s' * (r.points != 1)} sent "
        f"({r.accepted:,} new, {r.duplicates:,} duplicates), {_size(r.bytes)} of metric lines "
        f"({_size(r.wire)} sent), {r.files} file{'s' * (r.files != 1)}, {r.seconds:.1f}s "
        f"({rate:,.0f} points/s)"
    ]
    if r.corrupt:
        lines.append(f"skipped {r.corrupt:,} corrupt line{'s' * (r.corrupt != 1)} (not sent)")
    for run_id, n in sorted(r.waiting.items()):
        if run_id in r.torn:
            lines.append(
                f"run {run_id}: an incomplete last line ({_size(n)}) that its writer left when it stopped: "
                "not a point, not sent (resuming the run or `swanlog verify --repair` cuts it)"
            )
        else:
            lines.append(f"run {run_id}: waiting for an incomplete last line ({_size(n)}), not sent yet")
    for run_id in r.busy:
        lines.append(f"run {run_id}: skipped, another swanlog sync is pushing it to this server")
    for run_id, why in sorted(r.failed.items()):
        lines.append(f"run {run_id} not synced: {why}")
    for run_id, n in sorted(r.unsent.items()):
        lines.append(f"run {run_id}: {_size(n)} of metric lines still unsent")
    return lines


@click.command("sync")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--server", envvar="SWANLOG_SERVER", metavar="URL", required=True,
    help="The swanlog server, e.g. http://127.0.0.1:5092 [env: SWANLOG_SERVER].",
)  # fmt: skip
@click.option(
    "--api-key", envvar="SWANLOG_API_KEY", metavar="KEY", default=None,
    help="An API key for the runs' projects [env: SWANLOG_API_KEY].",
)  # fmt: skip
@click.option("--watch", is_flag=True, help="Keep pushing new points until Ctrl-C or SIGTERM.")
@click.option("--poll", is_flag=True, help="With --watch: poll instead of file events (NFS, Lustre).")
@click.option(
    "--timeout", type=click.FloatRange(min=0), default=600.0, show_default=True,
    help="Give up after this many seconds of failing requests (not with --watch).",
)  # fmt: skip
@click.option(
    "--until-finished", is_flag=True, hidden=True, help="Watch until every run is final (online mode)."
)
@click.pass_context
def sync_command(
    ctx: click.Context,
    paths: tuple[Path, ...],
    server: str,
    api_key: str | None,
    watch: bool,
    poll: bool,
    timeout: float,
    until_finished: bool,
) -> None:
    """Push runs to a swanlog server: new points of every metric, run fields, console, media.

    PATHS are logdirs or run folders [default: $SWANLOG_DIR, else ./swanlog]. Only what
    the server has not acknowledged is sent; a killed sync resumes where it stopped.
    Exits 0 only when every complete line was acknowledged.
    """
    targets = list(paths) or [resolve_logdir(None)]
    progress = _Progress(sys.stderr)
    syncer = Syncer(
        targets,
        server,
        api_key,
        watch=watch,
        poll=poll,
        timeout=timeout,
        until_finished=until_finished,
        on_progress=progress.update,
        on_message=progress.message,
    )
    stops = {"n": 0}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stops["n"] += 1
        if stops["n"] > 1:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        syncer.stop()

    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, on_signal)
    try:
        report = syncer.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        progress.clear()
    for line in _summary(report):
        click.echo(line)
    if report.error:
        raise Error(report.error)
    if report.interrupted:
        click.echo("interrupted: run swanlog sync again to send the rest", err=True)
        ctx.exit(130)
    if not report.ok:
        ctx.exit(1)

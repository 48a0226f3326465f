"""The ``swanlog`` click group, and the one place where errors become exit codes.

- a swanlog ``Error`` prints ``Error: <message>`` on stderr and exits 1;
- a closed stdout (``swanlog export RUN | head``) exits 0 quietly;
- Ctrl-C exits 130 quietly.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from swanlog_core import __version__
from swanlog_core.errors import Error

__all__ = ["cli", "main"]

# Each command's module is imported only when that command runs (or --help lists it):
# ``swanlog export`` must not pay for httpx (sync) or Starlette (server) at start-up.
LAZY_COMMANDS = {
    "ls": "runs:ls_command",
    "show": "runs:show_command",
    "tail": "runs:tail_command",
    "export": "runs:export_command",
    "verify": "runs:verify_command",
    "server": "server:server",
    "sync": "sync:sync_command",
    "watch": "watch:watch_command",
}


def _silence_stdout() -> None:
    # The reader went away: point fd 1 at /dev/null so that the interpreter's final
    # flush of what is still buffered cannot fail with a second BrokenPipeError.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class SwanlogGroup(click.Group):
    """A click group that loads its commands lazily and translates errors, broken pipes and Ctrl-C."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, eager and lazy, sorted."""
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, importing its module on first use."""
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS:
            module, attribute = LAZY_COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(f".{module}", __package__), attribute)
            self.add_command(command, cmd_name)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; see the module docstring for what becomes which exit code."""
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # inside the try: a broken pipe may only show up here
            return result
        except Error as exc:
            raise click.ClickException(str(exc)) from exc
        except BrokenPipeError:
            _silence_stdout()
            ctx.exit(0)
        except KeyboardInterrupt:
            ctx.exit(130)


@click.group(cls=SwanlogGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="swanlog", message="%(prog)s %(version)s")
def cli() -> None:
    """swanlog: local-first experiment logging. Look at the runs in a logdir.

    See them in a browser with `swanlog watch` (a logdir) or `swanlog server` (synced runs).
    """


def main() -> None:
    """Entry point of the ``swanlog`` console script."""
    cli(prog_name="swanlog")


if __name__ == "__main__":
    main()

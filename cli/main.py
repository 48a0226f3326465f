"""The ``swanlog`` click group, and the one place where errors become exit codes.

- a swanlog ``Error`` prints ``Error: <message>`` on stderr and exits 1;
- a closed stdout (``swanlog export RUN | head``) exits 0 quietly;
- Ctrl-C exits 130 quietly.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from swanlog_core import __version__
from swanlog_core.errors import Error

from . import runs

__all__ = ["cli", "main"]


def _silence_stdout() -> None:
    # The reader went away: point fd 1 at /dev/null so that the interpreter's final
    # flush of what is still buffered cannot fail with a second BrokenPipeError.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class SwanlogGroup(click.Group):
    """A click group that translates swanlog errors, broken pipes and Ctrl-C."""

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
    """swanlog: local-first experiment logging. Look at the runs in a logdir."""


for _command in runs.COMMANDS:
    cli.add_command(_command)


def main() -> None:
    """Entry point of the ``swanlog`` console script."""
    cli(prog_name="swanlog")


if __name__ == "__main__":
    main()

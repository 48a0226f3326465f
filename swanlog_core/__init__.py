"""swanlog: log training metrics to plain JSONL files, one per metric, and sync them later.

import swanlog_core as swanlog

run = swanlog.init(project="mnist", config={"lr": 1e-3})
for step in range(100):
    swanlog.log({"train/loss": 1 / (step + 1)})
swanlog.finish()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Mapping

from . import _current
from .errors import (
    CorruptRunError,
    Error,
    InvalidValueError,
    MissingExtraError,
    NotInitializedError,
    RunExistsError,
    RunLockedError,
    RunNotFoundError,
    SwanlogWarning,
)

if TYPE_CHECKING:
    from ._run import Config, Run
    from .media import Audio, Histogram, Html, Image, Table, Text, Video

# The training API is loaded on first use, so that `import swanlog_core` (which every
# `swanlog` command does, for its errors and version) stays cheap.
_LAZY = {
    "Config": "._run",
    "Run": "._run",
    **dict.fromkeys(("Audio", "Histogram", "Html", "Image", "Table", "Text", "Video"), ".media"),
}

__version__ = "0.1.0"

__all__ = [
    "Audio",
    "Config",
    "CorruptRunError",
    "Error",
    "Histogram",
    "Html",
    "Image",
    "InvalidValueError",
    "MissingExtraError",
    "NotInitializedError",
    "Run",
    "RunExistsError",
    "RunLockedError",
    "RunNotFoundError",
    "SwanlogWarning",
    "Table",
    "Text",
    "Video",
    "__version__",
    "define_metric",
    "finish",
    "init",
    "log",
    "run",
]


def init(
    project: str | None = None,
    name: str | None = None,
    config: Any = None,
    logdir: Any = None,
    mode: str = "offline",
    id: str | None = None,
    resume: Any = None,
    tags: Any = None,
    notes: str | None = None,
    env: Any = True,
    console: bool = True,
) -> Run:
    """Start a run (or resume one) and make it current.

    Args:
        project: project name; default: the current directory's name.
        name: display name; default: the run id.
        config: a dict (or argparse Namespace, or dataclass) saved to config.json.
        logdir: where run folders go; default: ``$SWANLOG_DIR``, else ``./swanlog``.
        mode: "offline" (files only), "online" (files, and a sync process beside the
            script pushing them to $SWANLOG_SERVER with $SWANLOG_API_KEY) or
            "disabled" (every call a no-op).
        id: 1-64 characters of [A-Za-z0-9_-]; default: 8 random [a-z0-9].
        resume: None/"never": an existing id is an error; "allow"/True: continue it if
            it exists; "must": it has to exist.
        tags: a list of strings.
        notes: free text.
        env: record where and how the run ran in env.json (system, GPUs, Python,
            packages, git, command line; never environment variables). False: no
            env.json; a dict such as ``{"git": False, "packages": False}`` leaves parts
            out (parts: system, gpu, python, packages, git, command).
        console: copy stdout and stderr, as the terminal shows them, to console.log
            (the terminal is unchanged). False: no console.log, fds 1 and 2 untouched.

    Returns:
        The Run, also usable as a context manager that finishes it.

    Raises:
        InvalidValueError: a bad argument. RunExistsError, RunNotFoundError: see resume.
        RunLockedError: another process is writing that run.
    """
    from ._run import start_run

    run = start_run(project, name, config, logdir, mode, id, resume, tags, notes, env=env, console=console)
    _current.set_current(run)
    return run


def log(
    data: Mapping[str, Any], step: int | None = None, commit: bool | None = None, sync: bool | None = None
) -> None:
    """Log values to the current run; see ``Run.log``.

    Raises:
        NotInitializedError: before ``init()``.
        InvalidValueError: a bad name, value or step; nothing of the call is written.
    """
    _current.get()._log(data, step, commit)


def define_metric(
    name: str, step_metric: str | None = None, summary: str | None = None, objective: str | None = None
) -> None:
    """Define how a metric of the current run is summarised and plotted; see ``Run.define_metric``."""
    _current.get().define_metric(name, step_metric, summary, objective)


def finish(exit_code: int = 0) -> None:
    """Finish the current run (no-op when there is none)."""
    run = _current._run
    if run is not None:
        run.finish(exit_code)


def __getattr__(name: str) -> Any:
    if name == "run":  # swanlog.run: the current run or None, like wandb.run
        return _current._run
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value  # looked up once
        return value
    raise AttributeError(f"module 'swanlog_core' has no attribute {name!r}")

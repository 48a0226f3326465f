"""The one piece of global state: the current run, and the process hooks that finish it.

While a run is current, swanlog finishes it for you when the process ends:
normal exit -> finished; an uncaught exception or ``sys.exit(n)`` with n != 0 -> failed;
SIGTERM (only when the script left SIGTERM at its default) -> failed with exit code 143,
then the process dies of SIGTERM as it would have. A forked child never writes the run.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from .errors import NotInitializedError

if TYPE_CHECKING:
    from ._run import Run

__all__ = ["clear", "get", "reset", "set_current"]

_run: Run | None = None
_exit_code: int | None = None  # what the hooks learnt about how the process is ending
_installed = False
_saved: dict[str, Any] = {}


def get() -> Run:
    """The current run, or NotInitializedError."""
    run = _run
    if run is None:
        raise NotInitializedError("no run: call swanlog.init() before log()")
    return run


def set_current(run: Run) -> None:
    """Make ``run`` current (finishing any previous one) and install the exit hooks."""
    global _run, _exit_code
    if _run is not None and _run is not run:
        import warnings

        from .errors import SwanlogWarning

        warnings.warn(f"init() finished the previous run {_run.id} first", SwanlogWarning, stacklevel=3)
        _run.finish()
    _run = run
    _exit_code = None
    if not run._disabled:
        _install()


def clear(run: Run) -> None:
    """Forget ``run`` if it is current (called by Run.finish)."""
    global _run
    if _run is run:
        _run = None
        _uninstall()


def reset() -> None:
    """Finish any current run and remove the hooks; for tests."""
    global _run
    run = _run
    if run is not None:
        run.finish()
    _run = None
    _uninstall()


def _finish_at_exit() -> None:
    run = _run
    if run is not None and run._pid == os.getpid():
        run.finish(exit_code=_exit_code or 0)


def _excepthook(exc_type: Any, exc: Any, tb: Any) -> None:
    global _exit_code
    _exit_code = 130 if issubclass(exc_type, KeyboardInterrupt) else 1
    _saved["excepthook"](exc_type, exc, tb)


def _exit(code: Any = None) -> None:
    global _exit_code
    _exit_code = 0 if code is None else code if isinstance(code, int) else 1
    _saved["exit"](code)


def _on_sigterm(signum: int, frame: Any) -> None:
    run = _run
    try:
        if run is not None and run._pid == os.getpid():
            run.finish(exit_code=128 + signum)
    finally:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)  # die of the signal, as the script would have


def _install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(_finish_at_exit)
    _saved["excepthook"] = sys.excepthook
    sys.excepthook = _excepthook
    _saved["exit"] = sys.exit
    sys.exit = _exit
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
            _saved["sigterm"] = True


def _uninstall() -> None:
    global _installed
    if not _installed:
        return
    _installed = False
    atexit.unregister(_finish_at_exit)
    if sys.excepthook is _excepthook:
        sys.excepthook = _saved["excepthook"]
    if sys.exit is _exit:
        sys.exit = _saved["exit"]
    if _saved.pop("sigterm", False) and threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _saved.clear()


def _after_fork_in_child() -> None:
    # The child inherits the run object but not the right to write it: the parent
    # holds the lock and the step index. Close it in the child so it neither logs nor
    # finishes; log() there says why.
    if _run is not None:
        _run._closed = True
        if _run._run_lock is not None:
            _run._run_lock.forget()


os.register_at_fork(after_in_child=_after_fork_in_child)

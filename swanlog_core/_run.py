"""Run: the handle ``init()`` returns. Config, summary, staging (commit=False), lifecycle."""

from __future__ import annotations

import os
import re
import secrets
import socket
import string
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Iterator, Mapping, MutableMapping

from . import _console, _current, _env, _format
from ._names import name_to_path, path_to_name
from ._summary import SUMMARY_MODES, Summary, make_reducer
from ._values import flatten, to_step, to_value
from ._writer import MetricWriter, RunLock
from .errors import (
    CorruptRunError,
    Error,
    InvalidValueError,
    NotInitializedError,
    RunExistsError,
    RunNotFoundError,
    SwanlogWarning,
)

__all__ = ["Config", "Run", "start_run"]

_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ID_ALPHABET = string.ascii_lowercase + string.digits
# Seconds between summary/index snapshots while logging: 1 s after init, then doubling up to
# 10 s, so that a run killed in its first seconds still leaves a summary.
_FIRST_FLUSH = 1.0
_FLUSH_EVERY = 10.0
_MODES = ("offline", "online", "disabled")
_OBJECTIVES = ("minimize", "maximize")
_RUN_FIELDS = (
    "id",
    "project",
    "name",
    "tags",
    "notes",
    "status",
    "created",
    "updated",
    "exit_code",
    "duration",
    "host",
    "pid",
    "format",
)


class Config(MutableMapping[str, Any]):
    """``run.config``: a dict saved to config.json on every change (also ``config.lr``)."""

    def __init__(self, path: Path | None, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_data", dict(data))

    def _save(self, data: dict[str, Any]) -> None:
        # Encode first: a config JSON cannot hold is refused with the old one kept.
        try:
            encoded = _format.dumps_json(data)
        except InvalidValueError as exc:
            raise InvalidValueError(f"config: {exc}") from exc
        if self._path is not None:
            _format.atomic_write_bytes(self._path, encoded)
        object.__setattr__(self, "_data", data)

    def update(self, other: Any = (), /, **kwargs: Any) -> None:  # type: ignore[override]
        """Set several keys with one rewrite of config.json.

        Raises:
            InvalidValueError: a key or value JSON cannot hold; the config is unchanged.
        """
        self._save({**self._data, **_as_dict(other), **kwargs})

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __delitem__(self, key: str) -> None:
        data = dict(self._data)
        del data[key]
        self._save(data)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Config({self._data!r})"


def _as_dict(config: Any) -> dict[str, Any]:
    """Accept a mapping, an argparse Namespace or a dataclass instance as config."""
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return dict(config)
    if hasattr(config, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(config)
    if hasattr(config, "__dict__"):
        return dict(vars(config))
    raise InvalidValueError(f"config: expected a dict, not {type(config).__name__}")


def _glob_prefix(pattern: str) -> str | None:
    """``train/*`` -> ``train/``; None for an exact name."""
    if "*" not in pattern:
        return None
    if pattern.count("*") > 1 or not pattern.endswith("*"):
        raise InvalidValueError(f"define_metric name {pattern!r}: only a trailing '*' is supported")
    return pattern[:-1]


class Run:
    """One run: created by ``swanlog.init()``; log to it, set its config and summary, finish it."""

    def __init__(
        self,
        run_dir: Path,
        meta: dict[str, Any],
        config: Mapping[str, Any],
        summary: Mapping[str, Any],
        definitions: Mapping[str, Any],
        disabled: bool = False,
    ) -> None:
        self.dir = run_dir
        self._meta = meta
        self._disabled = disabled
        self._closed = False
        self._exit_code = 0
        self._lock = threading.RLock()  # reentrant: a SIGTERM handler may finish mid-log
        self._staged: dict[str, Any] = {}
        self._staged_step: int | None = None
        self._definitions: dict[str, dict[str, Any]] = dict(definitions)
        self._started = time.time()
        self._pid = os.getpid()
        self._flush_every = min(_FIRST_FLUSH, _FLUSH_EVERY)
        self._flush_at = self._started + self._flush_every
        self.config = Config(None if disabled else run_dir / _format.CONFIG_JSON, config)
        self._writer = MetricWriter(run_dir, self._reducer_for)
        self.summary = Summary(None if disabled else run_dir, self._computed_summary, summary)
        if not disabled:
            self.summary.on_change = self._save_summary
        self._run_lock: RunLock | None = None
        self._env: _env.EnvRecorder | None = None  # env.json, completed in the background
        self._console: _console.ConsoleTee | None = None  # console.log tee of fds 1 and 2

    # -- identity ------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The run id (1-64 of [A-Za-z0-9_-])."""
        return self._meta["id"]

    @property
    def name(self) -> str:
        """The run's display name."""
        return self._meta["name"]

    @property
    def project(self) -> str:
        """The project the run belongs to."""
        return self._meta["project"]

    @property
    def tags(self) -> list[str]:
        """Tags given at init."""
        return list(self._meta["tags"])

    @property
    def notes(self) -> str | None:
        """Notes given at init."""
        return self._meta["notes"]

    def __repr__(self) -> str:
        return f"<swanlog Run {self.id} {self.name!r} in {self.dir}>"

    # -- logging -------------------------------------------------------------------

    def log(
        self,
        data: Mapping[str, Any],
        step: int | None = None,
        commit: bool | None = None,
        sync: bool | None = None,
    ) -> None:
        """Log values: each metric at its own next step, or every key at ``step``.

        Args:
            data: metric name -> value (nested dicts flatten with "/").
            step: a non-negative int; without it each metric takes its next step.
            commit: False stages the values; the next committing call writes them.
            sync: accepted and ignored (deprecated in W&B).

        Raises:
            InvalidValueError: a bad name, value or step; nothing of the call is written.
            NotInitializedError: the run is finished.
        """
        self._log(data, step, commit)

    def _log(self, data: Mapping[str, Any], step: Any, commit: bool | None, stacklevel: int = 3) -> None:
        if self._disabled:
            return
        if self._closed:
            if self._pid != os.getpid():
                raise Error(
                    f"run {self.id} is written by process {self._pid}; a forked child cannot log to it"
                )
            raise NotInitializedError(f"run {self.id} is finished; call swanlog.init() to start another")
        if type(data) is not dict and not isinstance(data, Mapping):
            raise InvalidValueError(f"log() takes a dict of metric name -> value, not {type(data).__name__}")
        if step is not None:
            step = to_step(step)
        lock = self._lock
        lock.acquire()  # acquire()/release() rather than ``with``: half the cost (~0.2 us a call)
        try:
            if commit is False:
                self._stage(data, step, stacklevel + 1)
                return
            ts = time.time()
            if self._staged or self._staged_step is not None:
                discarded = self._commit(data, step, ts, stacklevel + 1)
            else:
                discarded = self._writer.append(data, step, ts)
            if discarded:
                self._warn_discarded(discarded, stacklevel + 1)
            if ts >= self._flush_at:
                try:
                    self._flush(durable=False)
                except OSError as exc:
                    # The points of this call are written; a summary that could not be
                    # saved now is retried at the next flush and at finish.
                    warnings.warn(
                        f"could not update {self.dir / _format.SUMMARY_JSON}: {exc}",
                        SwanlogWarning,
                        stacklevel=stacklevel,
                    )
        finally:
            lock.release()

    def _warn_discarded(self, discarded: list[tuple[str, int]], stacklevel: int) -> None:
        for name, step in discarded:
            warnings.warn(
                f"metric {name!r} already has a value at step {step}; the new value is discarded "
                "(first write wins; warned once per metric)",
                SwanlogWarning,
                stacklevel=stacklevel,
            )

    def _stage(self, data: Mapping[str, Any], step: int | None, stacklevel: int) -> None:
        flat = flatten(data)
        for name, value in flat.items():  # validate now, so the error names the right call
            name_to_path(name)
            flat[name] = to_value(name, value)  # media are encoded now: errors name this call
        if self._staged and None not in (step, self._staged_step) and step != self._staged_step:
            self._write_staged(stacklevel + 1)  # another step commits what was staged first (W&B)
        self._staged.update(flat)
        if step is not None:
            self._staged_step = step

    def _commit(self, data: Mapping[str, Any], step: int | None, ts: float, stacklevel: int) -> list:
        """Write what is staged together with ``data``; a refused call keeps what was staged."""
        if self._staged and None not in (step, self._staged_step) and step != self._staged_step:
            self._write_staged(stacklevel + 1)
            return self._writer.append(data, step, ts)
        merged = {**self._staged, **flatten(data)}
        step = self._staged_step if step is None else step
        discarded = self._writer.append(merged, step, ts)  # ValueError: nothing written
        self._staged, self._staged_step = {}, None
        return discarded

    def _write_staged(self, stacklevel: int) -> None:
        """Write what is staged at its step. ``stacklevel`` 1 is this function (as for warn)."""
        staged, step = self._staged, self._staged_step
        self._staged, self._staged_step = {}, None
        if staged:
            discarded = self._writer.append(staged, step, time.time())
            if discarded:
                self._warn_discarded(discarded, stacklevel + 1)

    # -- define_metric and summary ---------------------------------------------------

    def define_metric(
        self,
        name: str,
        step_metric: str | None = None,
        summary: str | None = None,
        objective: str | None = None,
    ) -> None:
        """Say how a metric (or every metric under a ``prefix/*`` glob) is summarised and plotted.

        Args:
            name: a metric name, or a glob with a string prefix such as ``"train/*"``.
            step_metric: the metric to use as its x axis in the dashboard.
            summary: "min", "max", "mean", "best", "last" (default) or "none".
            objective: "minimize" or "maximize"; what "best" means.

        Raises:
            InvalidValueError: an unknown summary or objective, or a bad name.
        """
        if not isinstance(name, str) or not name:
            raise InvalidValueError(f"define_metric name {name!r}: must be a non-empty str")
        prefix = _glob_prefix(name)
        if prefix is None:
            name_to_path(name)
        if summary is not None and summary not in SUMMARY_MODES:
            raise InvalidValueError(
                f"define_metric({name!r}): summary={summary!r}, expected one of {', '.join(SUMMARY_MODES)}"
            )
        if objective is not None and objective not in _OBJECTIVES:
            raise InvalidValueError(
                f"define_metric({name!r}): objective={objective!r}, expected 'minimize' or 'maximize'"
            )
        if summary == "best" and objective is None:
            raise InvalidValueError(
                f"define_metric({name!r}): summary='best' needs objective='minimize' or 'maximize'"
            )
        if summary is None and objective is not None:
            summary = "best"
        if step_metric is not None:
            name_to_path(step_metric)
        if self._disabled:
            return
        definition = {"step_metric": step_metric, "summary": summary, "objective": objective}
        with self._lock:
            self._definitions[name] = {k: v for k, v in definition.items() if v is not None}
            _format.atomic_write_json(self.dir / _format.METRICS_JSON, self._definitions)
            for metric_name in self._names_on_disk(name, prefix):
                self._writer.metric(metric_name)  # a resumed run's metric not logged yet this session
            for metric_name, m in self._writer.metrics.items():
                if metric_name == name or (prefix is not None and metric_name.startswith(prefix)):
                    m.reducer = self._reducer_for(metric_name)
                    if m.reducer is not None and m.index.max >= 0:
                        for point in _format.scan_points(m.path.read_bytes()).points:
                            m.reducer.add(point.value)
                    self.summary.forget_saved(metric_name)  # computed afresh from now on

    def _names_on_disk(self, name: str, prefix: str | None) -> list[str]:
        metrics_dir = self.dir / _format.METRICS_DIR
        if prefix is None:
            return [name] if (metrics_dir / name_to_path(name)).is_file() else []
        names = (path_to_name(rel) for rel, _ in _format.iter_metric_files(metrics_dir))
        return [n for n in names if n is not None and n.startswith(prefix)]

    def _definition(self, name: str) -> dict[str, Any]:
        exact = self._definitions.get(name)
        if exact is not None:
            return exact
        best, best_len = {}, -1
        for pattern, definition in self._definitions.items():
            if pattern.endswith("*") and name.startswith(pattern[:-1]) and len(pattern) > best_len:
                best, best_len = definition, len(pattern)
        return best

    def _reducer_for(self, name: str) -> Any:
        d = self._definition(name)
        return make_reducer(d.get("summary"), d.get("objective"))

    def _computed_summary(self) -> dict[str, Any]:
        out = {}
        for name, m in self._writer.metrics.items():
            if m.reducer is None:
                if m.index.max >= 0:
                    out[name] = m.last
            elif m.reducer.value is not None:
                out[name] = m.reducer.value
        return out

    def _save_summary(self, durable: bool = True) -> None:
        with self._lock:
            _format.atomic_write_json(
                self.dir / _format.SUMMARY_JSON, self.summary.as_dict(), durable=durable
            )

    def _flush(self, durable: bool = True) -> None:
        self._flush_every = min(2 * self._flush_every, _FLUSH_EVERY)
        self._flush_at = time.time() + self._flush_every
        self._save_summary(durable)
        if self._writer.dirty:
            self._writer.save_cache(final=durable)

    # -- lifecycle -------------------------------------------------------------------

    def finish(self, exit_code: int = 0) -> None:
        """Write what is staged, make every file final, release the run. Safe to call twice.

        Each step is tried even if an earlier one fails (a full disk, say), the lock is
        always released, and the first error is raised at the end.

        Args:
            exit_code: 0 marks the run finished; anything else marks it failed.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._exit_code = int(exit_code)
            if self._disabled:
                _current.clear(self)
                return
            first_error: BaseException | None = None
            steps = (
                lambda: self._write_staged(4),
                self._writer.close,
                self._flush,
                self._write_final_meta,
                self._finish_env,
                self._stop_console,  # last: what the steps above print is in console.log
            )
            for step in steps:
                try:
                    step()
                except Exception as exc:  # noqa: BLE001 - kept and raised below
                    first_error = first_error or exc
            if self._run_lock is not None:
                self._run_lock.release()
            _current.clear(self)
            if first_error is not None:
                raise first_error

    def _finish_env(self) -> None:
        if self._env is not None:
            self._env.finish(time.time() - self._started)

    def _stop_console(self) -> None:
        if self._console is not None:
            self._console.stop()

    def _write_final_meta(self) -> None:
        now = time.time()
        self._meta.update(
            status="finished" if self._exit_code == 0 else "failed",
            exit_code=self._exit_code,
            updated=_format.iso_utc(now),
            duration=round(self._meta.get("duration", 0.0) + now - self._started, 3),
        )
        _format.atomic_write_json(self.dir / _format.RUN_JSON, self._meta)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        code = 0
        if exc_type is not None:
            code = 130 if issubclass(exc_type, KeyboardInterrupt) else 1
        self.finish(exit_code=code)


# -- init ------------------------------------------------------------------------------


def _new_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def _find_run_dir(logdir: Path, run_id: str) -> Path | None:
    found = [p for p in logdir.glob(f"run-*-{run_id}") if _format.parse_run_dir_name(p.name) == run_id]
    if len(found) > 1:
        raise CorruptRunError(
            f"run id {run_id!r} has several folders in {logdir}: {', '.join(p.name for p in found)}"
        )
    return found[0] if found else None


def _resume_mode(resume: Any) -> str:
    if resume in (None, False, "never"):
        return "never"
    if resume is True or resume == "allow":
        return "allow"
    if resume == "must":
        return "must"
    raise InvalidValueError(f"resume={resume!r}: expected None, 'never', 'allow', True or 'must'")


def start_run(
    project: str | None,
    name: str | None,
    config: Any,
    logdir: Any,
    mode: str,
    id: str | None,
    resume: Any,
    tags: Any,
    notes: str | None,
    *,
    env: Any = True,
    console: bool = True,
) -> Run:
    """Create or resume a run; the body of ``swanlog.init()``."""
    if mode not in _MODES:
        raise InvalidValueError(f"mode={mode!r}: expected 'offline', 'online' or 'disabled'")
    online = _online_settings() if mode == "online" else None  # before any folder exists
    if id is not None and (not isinstance(id, str) or not _ID_RE.match(id)):
        raise InvalidValueError(f"id={id!r}: must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-'")
    how = _resume_mode(resume)
    env_parts = _env.parse_env_option(env)
    if not isinstance(console, bool):
        raise InvalidValueError(f"console={console!r}: expected True or False")
    if tags is None:
        tags = []
    elif isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
        raise InvalidValueError(f"tags={tags!r}: expected a list of strings")
    for field, value in (("project", project), ("name", name), ("notes", notes)):
        if value is not None and not isinstance(value, str):
            raise InvalidValueError(f"{field}={value!r}: expected a str")
    config_dict = _as_dict(config)
    try:  # refuse what run.json or config.json cannot hold before any folder exists
        _format.dumps_json([project, name, tags, notes])
    except InvalidValueError as exc:
        raise InvalidValueError(f"init(): project, name, tags or notes {exc}") from exc
    try:
        _format.dumps_json(config_dict)
    except InvalidValueError as exc:
        raise InvalidValueError(f"config: {exc}") from exc
    root = _format.resolve_logdir(logdir).absolute()  # the script may chdir later
    now = time.time()
    run_id = id or _new_id()

    if mode == "disabled":
        meta = {
            "id": run_id,
            "project": project or Path.cwd().name,
            "name": name or run_id,
            "tags": list(tags),
            "notes": notes,
        }
        return Run(root / _format.run_dir_name(now, run_id), meta, config_dict, {}, {}, disabled=True)

    existing = _find_run_dir(root, run_id) if id is not None else None
    if existing is None and how == "must":
        raise RunNotFoundError(f"resume='must': no run with id {run_id!r} in {root}")
    if existing is not None and how == "never":
        raise RunExistsError(f"a run with id {run_id!r} exists in {root}; pass resume='allow' to continue it")

    meta: dict[str, Any] = {"id": run_id, "created": _format.iso_utc(now), "duration": 0.0}
    old_config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    fresh = True
    if existing is None:
        run_dir = root / _format.run_dir_name(now, run_id)
        run_dir.mkdir(parents=True, exist_ok=False)
        (run_dir / _format.METRICS_DIR).mkdir()
    else:
        run_dir = existing
        (run_dir / _format.METRICS_DIR).mkdir(exist_ok=True)
        try:
            meta = _format.read_json(run_dir / _format.RUN_JSON)
            if not isinstance(meta, dict):
                raise ValueError("not an object")
            fresh = False
        except FileNotFoundError:
            pass  # a writer killed inside init() before run.json: start the run in its folder
        except (OSError, ValueError) as exc:
            raise CorruptRunError(f"cannot resume {run_dir}: run.json is unreadable ({exc})") from exc
        old_config = _read_optional(run_dir / _format.CONFIG_JSON)
        summary = _read_optional(run_dir / _format.SUMMARY_JSON)
        definitions = _read_optional(run_dir / _format.METRICS_JSON)

    lock = RunLock(run_dir)
    lock.acquire()
    try:
        meta.update(
            project=project or meta.get("project") or Path.cwd().name,
            name=name or meta.get("name") or run_id,
            tags=list(tags) if tags or "tags" not in meta else meta["tags"],
            notes=notes if notes is not None else meta.get("notes"),
            status="running",
            updated=_format.iso_utc(now),
            exit_code=None,
            duration=float(meta.get("duration") or 0.0),
            host=socket.gethostname(),
            pid=os.getpid(),
            format=_format.FORMAT_VERSION,
        )
        meta.setdefault("created", _format.iso_utc(now))
        meta["id"] = run_id
        meta = {k: meta[k] for k in _RUN_FIELDS}
        run = Run(run_dir, meta, {**old_config, **config_dict}, summary, definitions)
        run._run_lock = lock
        _format.atomic_write_json(run_dir / _format.CONFIG_JSON, dict(run.config))
        if fresh:
            _format.atomic_write_json(run_dir / _format.SUMMARY_JSON, {})
            _format.atomic_write_json(run_dir / _format.METRICS_JSON, {})
        _format.atomic_write_json(run_dir / _format.RUN_JSON, meta)
        if env_parts:
            run._env = _env.EnvRecorder(run_dir / _env.ENV_JSON, env_parts, now)
            run._env.start()  # quick parts now; git, GPUs, packages from a thread
        if console:
            run._console = _console.start_console(run_dir / _console.CONSOLE_LOG)
    except BaseException:
        lock.release()
        raise
    if online is not None:
        _start_sync_process(run_dir, *online)
    return run


_SERVER_ENV = "SWANLOG_SERVER"
_KEY_ENV = "SWANLOG_API_KEY"
SYNC_LOG = "sync/online.log"  # the online sync process's output, under the run folder


def _online_settings() -> tuple[str, str]:
    """The server URL and API key of mode="online", read from the environment once, at init."""
    server = os.environ.get(_SERVER_ENV, "").strip()
    if not server:
        raise InvalidValueError(
            f"mode='online' needs the server's URL in the environment variable {_SERVER_ENV} "
            "(e.g. http://127.0.0.1:5092); or log with mode='offline' and run swanlog sync later"
        )
    if not server.startswith(("http://", "https://")):
        raise InvalidValueError(f"{_SERVER_ENV}={server!r}: expected http://HOST:PORT or https://...")
    key = os.environ.get(_KEY_ENV, "").strip()
    if not key:
        raise InvalidValueError(
            f"mode='online' needs an API key in the environment variable {_KEY_ENV} "
            "(swanlog server key create --project P prints one)"
        )
    return server, key


def _start_sync_process(run_dir: Path, server: str, key: str) -> None:
    """Start ``swanlog sync RUN_DIR --watch --until-finished`` beside the script.

    In its own session (a Ctrl-C meant for the script does not reach it), with no fd of
    ours but its log file (it must never hold the run lock: a copy of that fd would keep
    the lock alive after the script dies). It pushes while the script runs and, once
    the run is final or its lock is free (the script ended, crashed or was SIGKILLed),
    pushes the rest, sends the final status and exits. posix_spawn rather than
    subprocess: no Popen object whose finalizer would warn about a child still running.
    """
    import sys

    log_path = run_dir / SYNC_LOG
    argv = [sys.executable, "-m", "swanlog_cli.main", "sync", str(run_dir), "--watch", "--until-finished"]
    env = {**os.environ, _SERVER_ENV: server, _KEY_ENV: key}
    try:
        log_path.parent.mkdir(exist_ok=True)
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ]
        os.posix_spawn(sys.executable, argv, env, file_actions=actions, setsid=True)
    except OSError as exc:
        warnings.warn(
            f"mode='online': could not start the sync process ({exc}); the run is written to "
            f"{run_dir} only: push it with `swanlog sync {run_dir}`",
            SwanlogWarning,
            stacklevel=4,
        )


def _read_optional(path: Path) -> dict[str, Any]:
    try:
        doc = _format.read_json(path)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CorruptRunError(f"cannot resume: {path} is unreadable ({exc})") from exc
    if not isinstance(doc, dict):
        raise CorruptRunError(f"cannot resume: {path} does not hold a JSON object")
    return doc

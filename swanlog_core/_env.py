"""env.json: where and how a run ran. System, GPUs, Python, packages, git, command line.

``init()`` must stay fast, so the quick parts (system, Python, command line) are written
at once and the slow ones (git, GPUs, packages) are collected by a background thread that
rewrites env.json when it is done. ``finish()`` waits for that thread briefly, stops what
is left (killing a hung ``git`` or ``nvidia-smi``) and writes the duration; no thread
outlives ``finish()``.

Never recorded: environment variables, and secrets on the way in: a git remote keeps no
``user:token@``, and the command line's values of options whose name says key, token,
secret, password or credential are replaced by ``<redacted>``.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Mapping

from . import _format
from .errors import InvalidValueError

__all__ = [
    "ENV_JSON",
    "PARTS",
    "PREVIOUS_KEPT",
    "Command",
    "EnvRecorder",
    "collect_packages",
    "find_repo",
    "parse_env_option",
    "parse_git_status",
    "parse_nvidia_smi",
    "previous_sessions",
    "read_remote",
    "redact_argv",
    "strip_url_credentials",
]

ENV_JSON = "env.json"
PARTS = ("system", "gpu", "python", "packages", "git", "command")
REDACTED = "<redacted>"
PREVIOUS_KEPT = 20  # earlier sessions of a resumed run that env.json keeps, the latest
_MISSING = object()  # a part whose command finish() had to stop: left out, not guessed
_FINISH_WAIT = 2.0  # seconds finish() lets the slow parts complete before stopping them
_COMMAND_TIMEOUT = 10.0  # one git or nvidia-smi call; finish() kills it sooner if need be

# An option whose name says it holds a secret: --api-key, --wandb_token, db.password=...
_SECRET_NAME = re.compile(r"key|token|secret|passw|pwd|credential|auth(?!or)", re.IGNORECASE)
# scheme://user:password@host/... : everything between "//" and "@" goes.
_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")


def parse_env_option(env: Any) -> frozenset[str]:
    """``init(env=...)`` -> the parts to collect (empty: no env.json).

    Raises:
        InvalidValueError: not a bool or a dict of part name -> bool.
    """
    if env is True:
        return frozenset(PARTS)
    if env is False or env is None:
        return frozenset()
    if isinstance(env, Mapping):
        unknown = [k for k in env if k not in PARTS]
        if unknown:
            raise InvalidValueError(
                f"env={dict(env)!r}: unknown part {unknown[0]!r}, expected {', '.join(PARTS)}"
            )
        bad = [k for k, v in env.items() if not isinstance(v, bool)]
        if bad:
            raise InvalidValueError(f"env={dict(env)!r}: {bad[0]!r} must be True or False")
        return frozenset(p for p in PARTS if env.get(p, True))
    raise InvalidValueError(f"env={env!r}: expected True, False or a dict such as {{'git': False}}")


def strip_url_credentials(text: str) -> str:
    """``https://user:token@host/x`` -> ``https://host/x``; anything else is returned unchanged."""
    return _URL_USERINFO.sub(r"\1", text)


def redact_argv(argv: list[str]) -> list[str]:
    """The command line with secret option values and URL credentials removed.

    ``--api-key=X``, ``--api-key X``, ``db.password=X`` keep their option name and lose
    X; ``argv[0]`` (the program) is kept as it is.
    """
    out = list(argv[:1])
    secret_next = False
    for arg in argv[1:]:
        if secret_next and not arg.startswith("--"):
            out.append(REDACTED)
            secret_next = False
            continue
        secret_next = False
        name, eq, _value = arg.partition("=")
        if eq and _SECRET_NAME.search(name) and "://" not in name:
            out.append(name + "=" + REDACTED)
            continue
        if arg.startswith("-") and not eq and _SECRET_NAME.search(arg):
            secret_next = True
        out.append(strip_url_credentials(arg))
    return out


# -- the quick parts ---------------------------------------------------------------------


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:  # the first processor's block is enough
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
                    return value.strip() or None
                if not line.strip():
                    break
    except OSError:
        pass
    return platform.processor() or None


def _distro() -> str | None:
    try:
        with open("/etc/os-release", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"') or None
    except OSError:
        pass
    if sys.platform == "darwin":
        release = platform.mac_ver()[0]
        return f"macOS {release}" if release else None
    return None


def _memory_total() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def collect_system() -> dict[str, Any]:
    """OS, kernel, hostname, CPU model and count, memory: cheap reads, no process started."""
    u = os.uname()
    try:
        available = len(os.sched_getaffinity(0))  # what a cluster job was given
    except (AttributeError, OSError):
        available = os.cpu_count()
    return {
        "os": u.sysname,
        "distro": _distro(),
        "kernel": u.release,
        "kernel_version": u.version,
        "machine": u.machine,
        "hostname": socket.gethostname(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_available": available,
        "memory_total": _memory_total(),
    }


def collect_python() -> dict[str, Any]:
    """Interpreter version, implementation, executable and prefix (a virtualenv shows here)."""
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "prefix": sys.prefix,
    }


def collect_command() -> dict[str, Any]:
    """The command line (secrets redacted) and the working directory."""
    try:
        cwd = os.getcwd()
    except OSError:  # the directory was deleted under the script
        cwd = None
    full = getattr(sys, "orig_argv", None)  # Python 3.10+: with the interpreter and its flags
    return {
        "argv": redact_argv(list(sys.argv)),
        "python_argv": redact_argv(list(full)) if full else None,
        "cwd": cwd,
    }


# -- the slow parts ----------------------------------------------------------------------


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503: the name pip and PyPI compare


def _read_headers(path: str) -> tuple[str | None, str | None]:
    name = version = None
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break  # the headers end at the first empty line
                if line.startswith("Name:"):
                    name = line[5:].strip()
                elif line.startswith("Version:"):
                    version = line[8:].strip()
    except OSError:
        pass
    return name, version


def collect_packages() -> dict[str, str]:
    """Installed distributions on sys.path, name -> version, from their metadata folders.

    A ``name-version.dist-info`` folder's name says both (the wheel spec); other
    folders' METADATA or PKG-INFO headers are read. The first on sys.path wins, as for
    imports. Names are normalized (PEP 503). No pip process is started.
    """
    found: dict[str, str] = {}
    for entry in list(sys.path):  # a copy: the script may change sys.path meanwhile
        try:
            it = os.scandir(entry or ".")
        except OSError:
            continue
        with it:
            for d in it:
                n = d.name
                if n.endswith(".dist-info"):
                    stem, meta = n[: -len(".dist-info")], "METADATA"
                elif n.endswith(".egg-info"):
                    stem, meta = n[: -len(".egg-info")], "PKG-INFO"
                else:
                    continue
                name, sep, version = stem.partition("-")
                if not sep or "-" in version:  # no version in the name, or an egg's -py3.x
                    header_name, version = _read_headers(os.path.join(d.path, meta) if d.is_dir() else d.path)
                    name = header_name or name
                if name and version:
                    found.setdefault(_normalize(name), version.partition("-")[0])
    return dict(sorted(found.items()))


class Command:
    """A short command (git, nvidia-smi) started at once and read later.

    Started by ``init()`` itself, never by the background thread: a process the script
    forks (a DataLoader worker) while a thread is inside Popen would inherit that
    Popen's pipes and keep it waiting for as long as the worker lives.
    """

    def __init__(self, args: list[str], cwd: str | None = None) -> None:
        env = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"}
        if "HOME" in os.environ:
            env["HOME"] = os.environ["HOME"]  # git reads ~/.gitconfig (safe.directory)
        env.update(GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0")  # never take index.lock
        try:
            # stdout to a pipe, stderr nowhere: fds 1 and 2 may be the console tee's.
            self.proc: subprocess.Popen[str] | None = subprocess.Popen(
                args,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                errors="replace",
            )
        except OSError:
            self.proc = None
        self.killed = False

    def output(self) -> str | None:
        """The command's stdout; None if it failed, was missing, timed out or was killed."""
        proc = self.proc
        if proc is None:
            return None
        try:
            out, _ = proc.communicate(timeout=_COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.killed = True  # no answer is not the answer "none"
            proc.kill()
            proc.communicate()
            return None
        return out if proc.returncode == 0 else None

    def kill(self) -> None:
        """Stop the command (the reader then returns at once); harmless once it has exited."""
        if self.proc is not None and self.proc.poll() is None:
            self.killed = True
            self.proc.kill()


def find_repo(places: list[str]) -> tuple[str, Path] | None:
    """(working tree, folder holding the git config) of the first place inside a repository.

    Walks up to each place's root looking for ``.git`` (a folder, or a file pointing to
    one as in worktrees and submodules); None when no place is in a repository.
    """
    for place in places:
        d = Path(place).absolute()
        for folder in (d, *d.parents):
            dot_git = folder / ".git"
            try:
                if dot_git.is_dir():
                    git_dir = dot_git
                elif dot_git.is_file():
                    text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
                    if not text.startswith("gitdir:"):
                        continue
                    git_dir = folder / text[len("gitdir:") :].strip()
                else:
                    continue
                common = git_dir / "commondir"  # a worktree's config is its main repository's
                if common.is_file():
                    git_dir = git_dir / common.read_text(encoding="utf-8", errors="replace").strip()
            except OSError:
                continue
            return str(folder), git_dir
    return None


def read_remote(git_dir: Path) -> str | None:
    """The URL of remote "origin" (else of the first remote) from a repository's config file."""
    try:
        lines = (git_dir / "config").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    urls: dict[str, str] = {}
    section = None
    for raw in lines:
        line = raw.strip()
        if line.startswith("["):
            m = re.match(r'\[\s*remote\s+"(.*)"\s*\]', line)
            section = m.group(1) if m else None
        elif section is not None and "=" in line:
            key, _, value = line.partition("=")
            if key.strip().lower() == "url":
                urls.setdefault(section, value.strip().strip('"'))
    name = "origin" if "origin" in urls else next(iter(urls), None)
    return urls[name] if name else None


def parse_git_status(text: str) -> dict[str, Any]:
    """Commit, branch and dirty state from ``git status --porcelain=v2 --branch``."""
    commit = branch = None
    dirty = False
    for line in text.splitlines():
        if line.startswith("# branch.oid "):
            oid = line[len("# branch.oid ") :].strip()
            commit = None if oid == "(initial)" else oid
        elif line.startswith("# branch.head "):
            head = line[len("# branch.head ") :].strip()
            branch = None if head == "(detached)" else head
        elif line and not line.startswith("#"):
            dirty = True  # a changed tracked file (untracked ones are not listed)
    return {"commit": commit, "branch": branch, "dirty": dirty}


def parse_nvidia_smi(text: str) -> list[dict[str, Any]]:
    """GPUs from ``nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader,nounits``."""
    gpus = []
    for line in text.splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 3 or not fields[0]:
            continue
        try:
            memory: int | None = int(float(fields[1]) * 1024 * 1024)  # MiB
        except ValueError:
            memory = None
        gpus.append({"name": fields[0], "memory_total": memory, "driver": fields[2] or None})
    return gpus


def gpus_from_torch() -> list[dict[str, Any]]:
    """GPUs as PyTorch sees them, if the script imported it; never imports a framework."""
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    if cuda is None:
        return []
    try:
        if not cuda.is_available():
            return []
        version = getattr(getattr(torch, "version", None), "cuda", None)
        return [
            {"name": props.name, "memory_total": int(props.total_memory), "driver": None, "cuda": version}
            for props in (cuda.get_device_properties(i) for i in range(cuda.device_count()))
        ]
    except (RuntimeError, AssertionError, AttributeError, OSError):
        return []  # a CUDA that cannot start says nothing about the GPUs


# -- the recorder ------------------------------------------------------------------------


def previous_sessions(path: Path) -> list[dict[str, Any]]:
    """The sessions an existing env.json records, oldest first, the latest ``PREVIOUS_KEPT``.

    Each is an earlier session's document without its package list (the current session's
    has one) and without its own ``previous``. An unreadable file records none.
    """
    try:
        old = _format.read_json(path)
    except (OSError, ValueError):
        return []
    if not isinstance(old, dict):
        return []
    earlier = old.get("previous")
    sessions = [s for s in earlier if isinstance(s, dict)] if isinstance(earlier, list) else []
    sessions.append({k: v for k, v in old.items() if k not in ("previous", "packages")})
    return sessions[-PREVIOUS_KEPT:]


class EnvRecorder:
    """Writes a run's env.json: quick parts now, slow parts from a thread, duration at finish."""

    def __init__(self, path: Path, parts: frozenset[str], started: float) -> None:
        self.path = path
        self._parts = parts
        self._doc: dict[str, Any] = {"started": _format.iso_utc(started), "duration": None}
        self._previous = previous_sessions(path)  # a resumed run: where it ran before
        self._lock = threading.Lock()  # one writer of env.json at a time; guards _final
        self._final = False  # finish() wrote env.json: the thread no longer touches it
        self._stopping = False  # finish() is stopping the commands
        self._commands: list[Command] = []
        self._thread: threading.Thread | None = None

    def _document(self) -> dict[str, Any]:
        """env.json: this session, then the earlier ones (last: the file reads top down)."""
        return {**self._doc, "previous": self._previous} if self._previous else self._doc

    def start(self) -> None:
        """Write the quick parts, start git and nvidia-smi, and read them from a thread."""
        if "system" in self._parts:
            self._doc["system"] = collect_system()
        if "python" in self._parts:
            self._doc["python"] = collect_python()
        if "command" in self._parts:
            self._doc["command"] = collect_command()
        _format.atomic_write_json(self.path, self._document(), durable=False)  # rewritten durably at finish
        tasks: list[tuple[str, Callable[[], Any]]] = []
        if "packages" in self._parts:  # first: it needs no command that could hang
            tasks.append(("packages", collect_packages))
        if "git" in self._parts:
            tasks.append(("git", self._start_git()))
        if "gpu" in self._parts:
            tasks.append(("gpu", self._start_gpu()))
        if tasks:
            self._thread = threading.Thread(
                target=self._complete, args=(tasks,), name="swanlog-env", daemon=True
            )
            self._thread.start()

    def _start_git(self) -> Callable[[], Any]:
        cwd = _getcwd()
        script = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-m") else ""
        places = [cwd] if cwd else []
        if script and os.path.isfile(script):
            places.append(os.path.dirname(os.path.abspath(script)))
        repo = find_repo(places)
        if repo is None:
            return lambda: None  # not in a repository: no git started
        root, git_dir = repo
        status = Command(["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no"], root)
        self._commands.append(status)

        def complete() -> Any:
            out = status.output()
            if status.killed:
                return _MISSING  # finish() stopped it: we do not know
            if out is None:
                return None  # no git, or git refuses the repository (dubious ownership, say)
            remote = read_remote(git_dir)
            return {
                **parse_git_status(out),
                "remote": strip_url_credentials(remote) if remote else None,
                "root": root,
            }

        return complete

    def _start_gpu(self) -> Callable[[], Any]:
        smi = None
        if shutil.which("nvidia-smi"):
            query = "--query-gpu=name,memory.total,driver_version"
            smi = Command(["nvidia-smi", query, "--format=csv,noheader,nounits"])
            self._commands.append(smi)

        def complete() -> Any:
            out = smi.output() if smi is not None else None
            if smi is not None and smi.killed:
                return _MISSING
            return (parse_nvidia_smi(out) if out else []) or gpus_from_torch()

        return complete

    def _complete(self, tasks: list[tuple[str, Callable[[], Any]]]) -> None:
        for part, task in tasks:
            value = task()
            with self._lock:
                if self._final:
                    return
                if value is not _MISSING:
                    self._doc[part] = value
        with self._lock:
            if self._final or self._stopping:
                return  # finish() writes the file now
            try:
                _format.atomic_write_json(self.path, self._document(), durable=False)
            except OSError:
                pass  # finish() writes the file again, and reports its own error

    def finish(self, duration: float) -> None:
        """Let the slow parts complete (briefly), then write env.json with the duration.

        Raises:
            OSError: env.json could not be written.
        """
        thread = self._thread
        if thread is not None:
            thread.join(_FINISH_WAIT)
            self._stopping = True
            for command in self._commands:
                command.kill()  # its read returns at once; the parts already answered are kept
            thread.join(_FINISH_WAIT)
        with self._lock:
            self._final = True
            self._doc["duration"] = round(duration, 3)
            _format.atomic_write_json(self.path, self._document())


def _getcwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:
        return None

"""env.json in this process: its parts, what is never stored, and the pieces that read git,
nvidia-smi output and package metadata. Real processes are in tests/e2e/test_env.py."""

from __future__ import annotations

import importlib.metadata
import json
import os
import sys
from pathlib import Path

import pytest

import swanlog_core as swanlog
from swanlog_core import _console, _env

ALL_PARTS = {"system", "gpu", "python", "packages", "git", "command"}


def read_env(run_dir: Path) -> dict:
    """env.json parsed with the json module."""
    return json.loads((run_dir / "env.json").read_text(encoding="utf-8"))


# -- the init() option ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "parts"),
    [
        pytest.param(True, ALL_PARTS, id="True"),
        pytest.param(False, set(), id="False"),
        pytest.param({}, ALL_PARTS, id="empty-dict"),
        pytest.param({"git": False}, ALL_PARTS - {"git"}, id="no-git"),
        pytest.param(
            {"git": False, "packages": False, "gpu": False}, {"system", "python", "command"}, id="quick"
        ),
        pytest.param({p: False for p in ALL_PARTS}, set(), id="all-off"),
    ],
)
def test_env_option_selects_the_parts(option: object, parts: set[str]) -> None:
    """env=True, False or a dict of part -> bool selects which parts env.json gets."""
    assert _env.parse_env_option(option) == parts


@pytest.mark.parametrize(
    "option",
    [
        pytest.param({"gpus": False}, id="unknown-part"),
        pytest.param({"git": 0}, id="not-a-bool"),
        pytest.param("git", id="a-string"),
        pytest.param(["git"], id="a-list"),
    ],
)
def test_bad_env_option_is_refused_before_any_folder_exists(logdir: Path, option: object) -> None:
    """A bad env= value is an InvalidValueError naming it, and no run folder is created."""
    with pytest.raises(swanlog.InvalidValueError, match="env="):
        swanlog.init(logdir=logdir, env=option)
    assert list(logdir.iterdir()) == []


def test_bad_console_option_is_refused(logdir: Path) -> None:
    """console= takes True or False; anything else is an InvalidValueError and no run folder."""
    with pytest.raises(swanlog.InvalidValueError, match="console="):
        swanlog.init(logdir=logdir, console="off")
    assert list(logdir.iterdir()) == []


# -- env.json written by init() and finish() -------------------------------------------------


def test_env_json_has_every_part_and_the_duration_at_finish(logdir: Path) -> None:
    """init() writes env.json with system, gpu, python, packages, git, command; finish() adds the duration."""
    run = swanlog.init(logdir=logdir)
    env = read_env(run.dir)
    assert env["duration"] is None and env["started"].endswith("Z")
    assert env["python"]["executable"] == sys.executable
    swanlog.finish()
    env = read_env(run.dir)
    assert set(env) == {"started", "duration"} | ALL_PARTS
    assert env["duration"] >= 0
    assert env["system"]["cpu_count"] == os.cpu_count()
    assert env["system"]["hostname"]
    assert env["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert env["command"]["cwd"] == os.getcwd()
    assert env["packages"]["pytest"] == importlib.metadata.version("pytest")
    assert isinstance(env["gpu"], list)


@pytest.mark.parametrize("part", sorted(ALL_PARTS))
def test_each_part_can_be_turned_off(logdir: Path, part: str) -> None:
    """init(env={part: False}) leaves exactly that part out of env.json."""
    run = swanlog.init(logdir=logdir, env={part: False})
    swanlog.finish()
    assert set(read_env(run.dir)) == {"started", "duration"} | (ALL_PARTS - {part})


def test_env_false_writes_no_env_json(logdir: Path) -> None:
    """init(env=False) writes no env.json and starts no thread."""
    run = swanlog.init(logdir=logdir, env=False)
    assert run._env is None
    swanlog.finish()
    assert not (run.dir / "env.json").exists()


def test_disabled_mode_writes_neither_env_nor_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mode="disabled" writes no env.json, no console.log and leaves fds 1 and 2 alone."""
    monkeypatch.setattr(_console, "CAPTURE", True)
    before = os.fstat(1).st_ino, os.fstat(2).st_ino
    swanlog.init(logdir=tmp_path / "swanlog", mode="disabled")
    assert (os.fstat(1).st_ino, os.fstat(2).st_ino) == before
    swanlog.finish()
    assert not (tmp_path / "swanlog").exists()


def test_resumed_run_gets_the_new_session_env(logdir: Path) -> None:
    """A resumed run's env.json describes the latest session (its start and duration)."""
    first = swanlog.init(logdir=logdir, id="envres01")
    swanlog.finish()
    started = read_env(first.dir)["started"]
    again = swanlog.init(logdir=logdir, id="envres01", resume="must")
    swanlog.finish()
    env = read_env(again.dir)
    assert again.dir == first.dir and env["started"] >= started and env["duration"] is not None


# -- in-process console capture under pytest -------------------------------------------------


def test_console_capture_in_process_leaves_pytests_capture_intact(
    logdir: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """With console capture on inside pytest, fds 1 and 2 still reach pytest's capture before, during
    and after the run, and the run's console.log holds what was written during it."""
    monkeypatch.setattr(_console, "CAPTURE", True)
    os.write(1, b"before the run\n")
    run = swanlog.init(logdir=logdir, env=False)
    os.write(1, b"fd 1 during the run\n")
    os.write(2, b"fd 2 during the run\n")
    swanlog.finish()
    os.write(1, b"after the run\n")
    out, err = capfd.readouterr()
    assert out == "before the run\nfd 1 during the run\nafter the run\n"
    assert err == "fd 2 during the run\n"
    # Two streams (pytest captures fd 1 and fd 2 apart): each line is there, their order may vary.
    logged = (run.dir / "console.log").read_text().splitlines()
    assert sorted(logged) == ["fd 1 during the run", "fd 2 during the run"]


# -- what is never stored ----------------------------------------------------------------------

SECRET = "hunter2-very-secret"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["train.py", "--lr", "0.1"], ["train.py", "--lr", "0.1"], id="nothing-secret"),
        pytest.param(
            ["t.py", "--api-key", SECRET], ["t.py", "--api-key", "<redacted>"], id="--api-key-VALUE"
        ),
        pytest.param(["t.py", f"--api-key={SECRET}"], ["t.py", "--api-key=<redacted>"], id="--api-key=VALUE"),
        pytest.param(
            ["t.py", "--token", SECRET, "--lr", "1"],
            ["t.py", "--token", "<redacted>", "--lr", "1"],
            id="token",
        ),
        pytest.param(
            ["t.py", f"--db_password={SECRET}"], ["t.py", "--db_password=<redacted>"], id="password"
        ),
        pytest.param(["t.py", "--PASSWD", SECRET], ["t.py", "--PASSWD", "<redacted>"], id="upper-case"),
        pytest.param(
            ["t.py", f"aws.secret_access_key={SECRET}"],
            ["t.py", "aws.secret_access_key=<redacted>"],
            id="hydra",
        ),
        pytest.param(
            ["t.py", "--client-secret", SECRET], ["t.py", "--client-secret", "<redacted>"], id="secret"
        ),
        pytest.param(["t.py", f"--auth={SECRET}"], ["t.py", "--auth=<redacted>"], id="auth"),
        pytest.param(["t.py", "--author", "ada"], ["t.py", "--author", "ada"], id="author-is-not-auth"),
        pytest.param(
            ["t.py", "--token", "--lr", "1"], ["t.py", "--token", "--lr", "1"], id="flag-without-value"
        ),
        pytest.param(
            ["t.py", "--db", f"postgresql://me:{SECRET}@db/x"],
            ["t.py", "--db", "postgresql://db/x"],
            id="url-in-argv",
        ),
        pytest.param(
            ["t.py", f"--url=https://{SECRET}@host/x"],
            ["t.py", "--url=https://host/x"],
            id="url-after-equals",
        ),
    ],
)
def test_command_line_secrets_are_redacted(argv: list[str], expected: list[str]) -> None:
    """Values of options named like key/token/secret/password, and URL credentials, never reach env.json."""
    assert _env.redact_argv(argv) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "https://user:tok@github.com/a/b.git", "https://github.com/a/b.git", id="user-and-token"
        ),
        pytest.param("https://ghp_abc@github.com/a/b.git", "https://github.com/a/b.git", id="token-only"),
        pytest.param("ssh://git@host:22/a.git", "ssh://host:22/a.git", id="ssh-url"),
        pytest.param("git@github.com:a/b.git", "git@github.com:a/b.git", id="scp-style-kept"),
        pytest.param("https://github.com/a/b.git", "https://github.com/a/b.git", id="no-credentials"),
        pytest.param("/srv/repos/a.git", "/srv/repos/a.git", id="a-path"),
    ],
)
def test_remote_url_credentials_are_stripped(url: str, expected: str) -> None:
    """A git remote or URL keeps its host and path but never a user:token@ part."""
    assert _env.strip_url_credentials(url) == expected


def test_environment_variables_are_never_stored(logdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The value of an environment variable (a secret, say) appears nowhere in env.json."""
    monkeypatch.setenv("MY_SERVICE_TOKEN", SECRET)
    run = swanlog.init(logdir=logdir)
    swanlog.finish()
    assert SECRET not in (run.dir / "env.json").read_text()


# -- the readers of git, nvidia-smi and package metadata ----------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param(
            "# branch.oid abc123\n# branch.head main\n",
            {"commit": "abc123", "branch": "main", "dirty": False},
            id="clean",
        ),
        pytest.param(
            "# branch.oid abc123\n# branch.head main\n# branch.upstream origin/main\n1 .M N... 100644 a\n",
            {"commit": "abc123", "branch": "main", "dirty": True},
            id="dirty",
        ),
        pytest.param(
            "# branch.oid (initial)\n# branch.head main\n",
            {"commit": None, "branch": "main", "dirty": False},
            id="no-commit-yet",
        ),
        pytest.param(
            "# branch.oid abc123\n# branch.head (detached)\n",
            {"commit": "abc123", "branch": None, "dirty": False},
            id="detached",
        ),
    ],
)
def test_git_status_is_read(status: str, expected: dict) -> None:
    """Commit, branch and dirty state come from git's porcelain status, including odd states."""
    assert _env.parse_git_status(status) == expected


def test_repository_is_found_from_a_subfolder_and_a_worktree(tmp_path: Path) -> None:
    """The repository around a folder is found by walking up, also through a worktree's .git file."""
    repo = tmp_path / "repo"
    (repo / ".git" / "worktrees" / "wt").mkdir(parents=True)
    (repo / "src" / "deep").mkdir(parents=True)
    assert _env.find_repo([str(repo / "src" / "deep")]) == (str(repo), repo / ".git")
    wt = tmp_path / "wt"
    wt.mkdir()
    (wt / ".git").write_text(f"gitdir: {repo / '.git' / 'worktrees' / 'wt'}\n")
    (repo / ".git" / "worktrees" / "wt" / "commondir").write_text("../..\n")
    root, git_dir = _env.find_repo([str(wt)])
    assert root == str(wt) and git_dir.resolve() == (repo / ".git").resolve()


def test_no_repository_is_none(tmp_path: Path) -> None:
    """Outside any repository there is no git information, and no error."""
    if _env.find_repo([str(tmp_path)]) is not None:
        pytest.skip("the temp folder is inside a git repository on this machine")
    assert _env.find_repo([str(tmp_path)]) is None


@pytest.mark.parametrize(
    ("config", "remote"),
    [
        pytest.param('[remote "origin"]\n\turl = https://h/o.git\n', "https://h/o.git", id="origin"),
        pytest.param(
            '[remote "backup"]\n\turl = https://h/b.git\n[remote "origin"]\n\turl = https://h/o.git\n',
            "https://h/o.git",
            id="origin-preferred",
        ),
        pytest.param(
            '[remote "upstream"]\n\turl = /srv/u.git\n\tfetch = +x\n', "/srv/u.git", id="other-remote"
        ),
        pytest.param("[core]\n\tbare = false\n", None, id="no-remote"),
        pytest.param("[remote\n\turl = x\n", None, id="garbled"),
    ],
)
def test_remote_is_read_from_the_config_file(tmp_path: Path, config: str, remote: str | None) -> None:
    """The remote is origin's URL, else the first remote's, else none."""
    (tmp_path / "config").write_text(config)
    assert _env.read_remote(tmp_path) == remote


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "NVIDIA A100-SXM4-80GB, 81920, 550.54.15\n",
            [{"name": "NVIDIA A100-SXM4-80GB", "memory_total": 81920 * 2**20, "driver": "550.54.15"}],
            id="one-gpu",
        ),
        pytest.param(
            "Tesla T4, 15360, 535.1\nTesla T4, 15360, 535.1\n",
            [{"name": "Tesla T4", "memory_total": 15360 * 2**20, "driver": "535.1"}] * 2,
            id="two-gpus",
        ),
        pytest.param(
            "GPU X, [N/A], 1.0\n", [{"name": "GPU X", "memory_total": None, "driver": "1.0"}], id="na"
        ),
        pytest.param("No devices were found\n", [], id="no-devices"),
        pytest.param("", [], id="empty"),
    ],
)
def test_nvidia_smi_output_is_read(text: str, expected: list) -> None:
    """GPU name, memory in bytes and driver come from nvidia-smi's CSV; odd output gives no GPU, no error."""
    assert _env.parse_nvidia_smi(text) == expected


def test_packages_come_from_metadata_with_their_versions() -> None:
    """Installed packages are listed by normalized name with the version their metadata gives."""
    packages = _env.collect_packages()
    for name in ("pytest", "orjson", "pluggy"):
        assert packages[name] == importlib.metadata.version(name)
    assert all(name == name.lower() and "_" not in name for name in packages)


def test_previous_sessions_keep_the_latest_and_skip_what_cannot_be_read(tmp_path: Path) -> None:
    """An env.json already holding many sessions passes on the latest PREVIOUS_KEPT, its own top
    session last and without packages; a missing or garbled file passes on none."""
    path = tmp_path / "env.json"
    assert _env.previous_sessions(path) == []
    path.write_text("{not json")
    assert _env.previous_sessions(path) == []
    older = [{"started": f"s{i}", "duration": 1.0} for i in range(30)]
    top = {"started": "top", "duration": 2.0, "packages": {"x": "1"}, "previous": older}
    path.write_text(json.dumps(top))
    kept = _env.previous_sessions(path)
    assert len(kept) == _env.PREVIOUS_KEPT
    assert kept[-1] == {"started": "top", "duration": 2.0}
    assert [s["started"] for s in kept[:-1]] == [f"s{i}" for i in range(30 - _env.PREVIOUS_KEPT + 1, 30)]

"""env.json of real training scripts: inside and outside a git repository, with secrets around, with
GPUs reported by nvidia-smi or PyTorch, and with a git or nvidia-smi that hangs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.metricfile import the_run_dir
from tests.support import PYTHON, python_env

RUN_ID = "envrun01"
SECRET = "s3cr3t-Zq8x"  # a value that must never reach env.json
ENV_PARTS = {"system", "gpu", "python", "packages", "git", "command"}

TRAIN = """
import json, sys, time
import swanlog_core as swanlog
t = time.perf_counter()
swanlog.init(logdir=sys.argv[1], id="envrun01", console=False)
init_seconds = time.perf_counter() - t
time.sleep(0.2)  # the training
swanlog.finish()
print(json.dumps({"init_seconds": init_seconds, "torch_loaded": "torch" in sys.modules}))
"""


def train(
    tmp_path: Path, cwd: Path, *args: str, env: dict[str, str] | None = None, code: str = TRAIN
) -> tuple[dict, dict]:
    """Run the training script in ``cwd``; (its report, the run's env.json)."""
    script = cwd / "train.py"
    script.write_text(textwrap.dedent(code))
    logdir = tmp_path / "swanlog"
    result = subprocess.run(
        [PYTHON, str(script), str(logdir), *args],
        cwd=cwd,
        env={**python_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    report = json.loads(result.stdout.splitlines()[-1])
    return report, json.loads((the_run_dir(logdir, RUN_ID) / "env.json").read_text())


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` (with a fixed identity) and return its stdout."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with one commit on branch "exp", a remote holding credentials, and a changed file."""
    d = tmp_path / "repo"
    d.mkdir()
    git(d, "init", "-q", "-b", "exp")
    (d / "model.py").write_text("x = 1\n")
    git(d, "add", "model.py")
    git(d, "commit", "-q", "-m", "first")
    git(d, "remote", "add", "origin", f"https://alice:{SECRET}@git.example.com/team/model.git")
    (d / "model.py").write_text("x = 2\n")
    return d


def test_env_json_holds_every_field_inside_a_git_repository(tmp_path: Path, repo: Path) -> None:
    """A script run in a git repository records system, Python, packages, GPUs, git commit, branch, dirty
    state, remote and its command line, and the duration at finish."""
    report, env = train(tmp_path, repo, "--lr", "0.1")
    assert set(env) == {"started", "duration"} | ENV_PARTS
    assert env["duration"] >= 0.2
    system = env["system"]
    for key in ("os", "kernel", "machine", "hostname", "cpu_count", "cpu_available", "memory_total"):
        assert system[key], key
    assert system["os"] == os.uname().sysname and system["memory_total"] > 2**20
    assert env["python"]["executable"] == PYTHON
    assert env["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert env["packages"]["orjson"] and env["packages"]["pytest"]
    assert env["gpu"] == [] or all(g["name"] for g in env["gpu"])
    assert env["git"] == {
        "commit": git(repo, "rev-parse", "HEAD"),
        "branch": "exp",
        "dirty": True,
        "remote": "https://git.example.com/team/model.git",
        "root": str(repo),
    }
    assert env["command"]["argv"] == [str(repo / "train.py"), str(tmp_path / "swanlog"), "--lr", "0.1"]
    assert env["command"]["cwd"] == str(repo)
    assert not report["torch_loaded"]


def test_clean_checkout_is_not_dirty_and_a_subfolder_finds_the_repository(tmp_path: Path, repo: Path) -> None:
    """A clean checkout records dirty false, also when the script runs from a subfolder of the repository."""
    git(repo, "commit", "-q", "-am", "second")
    (repo / "untracked.txt").write_text("not part of the repository")
    sub = repo / "scripts"
    sub.mkdir()
    _, env = train(tmp_path, sub)
    assert env["git"]["dirty"] is False and env["git"]["root"] == str(repo)
    assert env["git"]["commit"] == git(repo, "rev-parse", "HEAD")


RESUMED = TRAIN.replace('id="envrun01",', 'id="envrun01", resume="allow",')


def test_a_resumed_run_keeps_where_its_earlier_sessions_ran(tmp_path: Path) -> None:
    """Each session of a resumed run is in env.json: the latest at the top, the earlier ones under
    previous, oldest first, without their package lists."""
    work = tmp_path / "work"
    work.mkdir()
    _, first = train(tmp_path, work, "--part", "1", code=RESUMED)
    _, second = train(tmp_path, work, "--part", "2", code=RESUMED)
    _, third = train(tmp_path, work, "--part", "3", code=RESUMED)
    assert "previous" not in first
    assert third["command"]["argv"][-2:] == ["--part", "3"] and "packages" in third
    assert [s["command"]["argv"][-1] for s in third["previous"]] == ["1", "2"]
    assert [s["started"] for s in third["previous"]] == [first["started"], second["started"]]
    assert all(s["duration"] > 0 and "packages" not in s and "previous" not in s for s in third["previous"])
    assert third["previous"][0]["system"] == first["system"]


def test_outside_a_repository_git_is_null_without_error(tmp_path: Path) -> None:
    """A script run outside any repository records git as null and prints nothing about it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    if subprocess.run(["git", "rev-parse"], cwd=outside, capture_output=True).returncode == 0:
        pytest.skip("the temp folder is inside a git repository on this machine")
    _, env = train(tmp_path, outside)
    assert env["git"] is None


def test_no_secret_reaches_env_json(tmp_path: Path, repo: Path) -> None:
    """Neither a secret environment variable, nor a token in the git remote, nor one on the command line
    appears anywhere in env.json."""
    _, env = train(
        tmp_path,
        repo,
        "--api-key",
        SECRET,
        f"--db-password={SECRET}",
        f"--url=https://bob:{SECRET}@h.example.com/x",
        env={"MY_API_TOKEN": SECRET, "AWS_SECRET_ACCESS_KEY": SECRET},
    )
    text = json.dumps(env)
    assert SECRET not in text
    assert "MY_API_TOKEN" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    assert env["command"]["argv"][2:] == [
        "--api-key",
        "<redacted>",
        "--db-password=<redacted>",
        "--url=https://h.example.com/x",
    ]
    assert env["git"]["remote"] == "https://git.example.com/team/model.git"


def fake_program(folder: Path, name: str, body: str) -> None:
    """An executable shell script ``name`` in ``folder``."""
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def test_gpus_reported_by_nvidia_smi_are_recorded(tmp_path: Path) -> None:
    """GPU names, memory and driver version come from nvidia-smi when it is installed."""
    bin_dir = tmp_path / "bin"
    fake_program(
        bin_dir,
        "nvidia-smi",
        "echo 'NVIDIA H100 80GB HBM3, 81559, 550.90.07'\necho 'NVIDIA H100 80GB HBM3, 81559, 550.90.07'\n",
    )
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    _, env = train(tmp_path, tmp_path, env={"PATH": path})
    gpu = {"name": "NVIDIA H100 80GB HBM3", "memory_total": 81559 * 2**20, "driver": "550.90.07"}
    assert env["gpu"] == [gpu, gpu]


FAKE_TORCH = """
class _Props:
    name = "Fake GPU"
    total_memory = 8 * 2**30
class cuda:
    is_available = staticmethod(lambda: True)
    device_count = staticmethod(lambda: 1)
    get_device_properties = staticmethod(lambda i: _Props())
class version:
    cuda = "12.4"
"""


@pytest.mark.parametrize("imported", [True, False], ids=["torch-imported", "torch-not-imported"])
def test_gpus_come_from_torch_only_when_the_script_imported_it(tmp_path: Path, imported: bool) -> None:
    """Without nvidia-smi, GPUs come from PyTorch if the script imported it; swanlog never imports it."""
    (tmp_path / "torch.py").write_text(textwrap.dedent(FAKE_TORCH))  # found first on the script's path
    code = ("import torch\n" if imported else "") + TRAIN
    report, env = train(tmp_path, tmp_path, env={"PATH": "/usr/bin:/bin"}, code=code)
    assert report["torch_loaded"] is imported
    if imported:
        assert env["gpu"] == [{"name": "Fake GPU", "memory_total": 8 * 2**30, "driver": None, "cuda": "12.4"}]
    else:
        assert env["gpu"] == []


TIMED_FINISH = """
import json, sys, time
import swanlog_core as swanlog
t = time.perf_counter()
swanlog.init(logdir=sys.argv[1], id="envrun01", console=False)
init_seconds = time.perf_counter() - t
t = time.perf_counter()
swanlog.finish()
finish_seconds = time.perf_counter() - t
import threading
print(json.dumps({"init_seconds": init_seconds, "finish_seconds": finish_seconds,
                  "threads": threading.active_count()}))
"""


@pytest.mark.parametrize("program", ["git", "nvidia-smi"], ids=["git-hangs", "nvidia-smi-hangs"])
def test_a_hanging_tool_delays_neither_init_nor_finish_much(tmp_path: Path, repo: Path, program: str) -> None:
    """A git or nvidia-smi that never answers costs init() nothing, finish() about two seconds at most, and
    leaves no thread behind; env.json is still written, without that part."""
    bin_dir = tmp_path / "bin"
    fake_program(bin_dir, program, "exec sleep 60\n")
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    report, env = train(tmp_path, repo, env={"PATH": path}, code=TIMED_FINISH)
    assert report["init_seconds"] < 0.5
    assert report["finish_seconds"] < 4.0
    assert report["threads"] == 1
    assert env["duration"] is not None
    missing = "git" if program == "git" else "gpu"
    assert missing not in env
    assert env["packages"] and env["system"]

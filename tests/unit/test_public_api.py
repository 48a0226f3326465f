"""The front door: ``swanlog_core.__all__``, the error tree, and what ``import swanlog_core`` costs."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

import swanlog_core
from tests.support import PYTHON, python_env

PUBLIC = {
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
}

# Heavy or optional dependencies the write path must not load (DESIGN.md, STYLE.md).
FORBIDDEN = ["httpx", "watchdog", "starlette", "uvicorn", "click", "numpy", "torch", "PIL", "pandas"]
# Our own modules outside the write path.
FORBIDDEN_OWN = ["swanlog_core.reader", "swanlog_core.sync", "swanlog_core.server", "swanlog_cli"]


def test_all_is_exactly_the_public_names() -> None:
    """``__all__`` lists exactly the documented public names, with no duplicates."""
    assert len(swanlog_core.__all__) == len(set(swanlog_core.__all__))
    assert set(swanlog_core.__all__) == PUBLIC


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_each_public_name_is_importable(name: str) -> None:
    """Every name in ``__all__`` can be imported from swanlog_core."""
    namespace: dict[str, object] = {}
    exec(f"from swanlog_core import {name}", namespace)
    assert name in namespace


def test_star_import_gives_the_public_names() -> None:
    """``from swanlog_core import *`` works and brings exactly the public names."""
    namespace: dict[str, object] = {}
    exec("from swanlog_core import *", namespace)
    assert set(namespace) - {"__builtins__"} == PUBLIC
    assert namespace["run"] is None  # no current run


def test_private_names_are_not_public() -> None:
    """Nothing private (leading underscore, other than __version__) is exported."""
    assert all(not n.startswith("_") or n == "__version__" for n in swanlog_core.__all__)


@pytest.mark.parametrize(
    "name",
    [
        "RunLockedError",
        "RunNotFoundError",
        "RunExistsError",
        "InvalidValueError",
        "NotInitializedError",
        "CorruptRunError",
    ],
)
def test_every_error_is_a_swanlog_error(name: str) -> None:
    """Catching swanlog.Error catches every error the library defines."""
    assert issubclass(getattr(swanlog_core, name), swanlog_core.Error)


def test_invalid_value_error_is_also_a_value_error() -> None:
    """Bad input can be caught as the built-in ValueError too."""
    assert issubclass(swanlog_core.InvalidValueError, ValueError)


def test_warning_is_a_user_warning() -> None:
    """SwanlogWarning is a UserWarning, so default warning filters show it."""
    assert issubclass(swanlog_core.SwanlogWarning, UserWarning)
    assert not issubclass(swanlog_core.SwanlogWarning, swanlog_core.Error)


@pytest.mark.parametrize(
    "name",
    ["init", "log", "define_metric", "finish", "Run", "Config", "Error"]
    + ["Image", "Audio", "Video", "Text", "Html", "Histogram", "Table"],
)
def test_public_callables_have_docstrings(name: str) -> None:
    """Each public function and class says what it does in its docstring."""
    doc = getattr(swanlog_core, name).__doc__
    assert doc and doc.strip()


def test_unknown_attribute_is_an_attribute_error() -> None:
    """A misspelt attribute of the module raises AttributeError, not something stranger."""
    with pytest.raises(AttributeError):
        swanlog_core.lgo  # type: ignore[attr-defined]  # noqa: B018


def _loaded_modules(code: str) -> list[str]:
    """Run ``code`` in a fresh Python on this checkout; return the modules it left loaded."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run(
        [PYTHON, "-c", script], env=python_env(), capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _heavy(loaded: list[str]) -> list[str]:
    return sorted(
        m for m in loaded for bad in FORBIDDEN + FORBIDDEN_OWN if m == bad or m.startswith(bad + ".")
    )


def test_import_loads_no_heavy_dependency() -> None:
    """``import swanlog_core`` loads none of httpx, watchdog, starlette, uvicorn, click, numpy, torch, PIL."""
    loaded = _loaded_modules("import swanlog_core")
    assert "swanlog_core" in loaded
    assert _heavy(loaded) == []


def test_logging_a_run_loads_no_heavy_dependency(tmp_path: Path) -> None:
    """A whole init/log/define_metric/finish cycle stays free of the heavy dependencies too."""
    code = textwrap.dedent(
        f"""
        import swanlog_core as swanlog
        run = swanlog.init(logdir={str(tmp_path)!r}, config={{"lr": 0.1}})
        swanlog.define_metric("train/*", summary="min")
        swanlog.log({{"train/loss": 1.0, "acc": "0.5"}})
        swanlog.log({{"x": 1}}, commit=False)
        run.summary["best"] = list(range(100))
        swanlog.finish()
        """
    )
    assert _heavy(_loaded_modules(code)) == []


def test_version_is_a_string() -> None:
    """``swanlog_core.__version__`` is the distribution version as a string."""
    assert isinstance(swanlog_core.__version__, str) and swanlog_core.__version__.count(".") >= 1

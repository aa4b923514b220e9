"""Builds with no compiler anywhere: pip's isolated build environment, a PATH without
``thrift``, and the pure-Python backend picked by ``backend = "auto"``.

The ``classic`` fixture project (setup.py with ``ThriftBuildPyCommand``, includes
across packages and an include dir) is built with ``pip wheel``, ``python -m build``
and ``pip install -e``; its generated Calculator service is then served and called
over 127.0.0.1 by ``tests/support/exercise_classic.py`` in a fresh venv.
"""

from __future__ import annotations

import os
import shutil
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, Wheelhouse, make_venv, pip_install, run

pytestmark = [pytest.mark.slow]

EXERCISE_CLASSIC = REPO / "tests" / "support" / "exercise_classic.py"

CopyProject = Callable[..., Path]


def _no_compiler_env(wheelhouse: Wheelhouse, tmp_path: Path) -> dict[str, str]:
    """pip's environment with a PATH that holds Python and nothing called ``thrift``."""
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir(exist_ok=True)
    python_bin = Path(sys.executable).parent
    if (python_bin / "thrift").exists():
        pytest.fail("a thrift compiler sits beside the Python interpreter; cannot hide it")
    env = wheelhouse.pip_env(path=f"{empty_bin}{os.pathsep}{python_bin}")
    env.pop("THRIFT", None)
    assert shutil.which("thrift", path=env["PATH"]) is None
    return env


def _generated_by(text: str) -> str:
    return text.splitlines()[0]


def test_pip_wheel_without_compiler_uses_python_backend_and_service_works(
    copy_project: CopyProject, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    project = copy_project("classic")
    out = tmp_path / "wheels"
    env = _no_compiler_env(wheelhouse, tmp_path)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out, project], env=env)
    (wheel,) = out.glob("classic-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        header = archive.read("classic/api/calculator_thrift/Calculator.py").decode()
    assert "classic/api/calculator_thrift/Calculator.py" in names
    assert "thriftbuild-python" in _generated_by(header)
    python = make_venv(tmp_path / "venv", wheelhouse, "thrift", wheel)
    assert "classic OK" in run([python, EXERCISE_CLASSIC], cwd=tmp_path).stdout


def test_python_m_build_without_compiler_builds_sdist_and_working_wheel(
    copy_project: CopyProject, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    project = copy_project("classic")
    out = tmp_path / "dist"
    env = _no_compiler_env(wheelhouse, tmp_path)
    run([sys.executable, "-m", "build", "--outdir", out, project], env=env)
    (wheel,) = out.glob("*.whl")
    assert list(out.glob("*.tar.gz"))
    python = make_venv(tmp_path / "venv", wheelhouse, "thrift", wheel)
    assert "classic OK" in run([python, EXERCISE_CLASSIC], cwd=tmp_path).stdout


def test_editable_install_without_compiler_generates_in_tree_and_works(
    copy_project: CopyProject, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    project = copy_project("classic")
    python = make_venv(tmp_path / "venv", wheelhouse, "thrift")
    env = _no_compiler_env(wheelhouse, tmp_path)
    pip_install(python, wheelhouse, "-e", project, env=env)
    generated = project / "classic" / "api" / "calculator_thrift" / "Calculator.py"
    assert "thriftbuild-python" in _generated_by(generated.read_text())
    assert "classic OK" in run([python, EXERCISE_CLASSIC], cwd=tmp_path).stdout

"""Shared test fixtures: the compiler, a session wheelhouse, venvs and fixture projects.

Builds run the way users run them: ``pip`` in subprocesses, with build isolation,
against a wheelhouse made once per session that holds thriftbuild's own wheel and its
build dependencies, so isolated builds resolve without touching the network.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import types
import venv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
PROJECTS = FIXTURES / "projects"
CORPUS = REPO.parent / "shared" / "idl-corpus"
IN_CI = bool(os.environ.get("CI"))


#: The compiler version whose output the tests expect; .ci/run checks CI has it.
COMPILER_VERSION = (REPO / ".ci" / "thrift-version").read_text().strip()


@functools.cache
def _version_of(compiler: str) -> str:
    result = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=False)
    return (result.stdout + result.stderr).strip().removeprefix("Thrift version ")


def thrift_compiler() -> str | None:
    """The Apache compiler, or None. In CI its absence fails the test instead of skipping.

    Tests assert exact output of one compiler version (COMPILER_VERSION); another
    version fails in CI and skips locally, each with a message.
    """
    found = shutil.which(os.environ.get("THRIFT") or "thrift")
    if found is None:
        message = "the Apache Thrift compiler is not installed (apt-get install thrift-compiler)"
        if IN_CI:
            pytest.fail(message + "; CI must install it (see .ci/run)")
        pytest.skip(message)
    version = _version_of(found)
    if version != COMPILER_VERSION:
        message = f"{found} is thrift {version!r}; the tests expect {COMPILER_VERSION}"
        if IN_CI:
            pytest.fail(message + " (.ci/thrift-version)")
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def echo(tmp_path_factory: pytest.TempPathFactory) -> types.SimpleNamespace:
    """The Echo service (fixtures/services/echo.thrift), built once by our build step."""
    from tests.support.servers import generate_echo

    return generate_echo(tmp_path_factory.mktemp("echo-gen"))


@pytest.fixture
def compiler() -> str | None:
    """Path of the Apache Thrift compiler (skips locally, fails in CI, when missing)."""
    return thrift_compiler()


def run(
    command: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing output; on unexpected failure show everything it said."""
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"command failed ({result.returncode}): {' '.join(map(str, command))}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


@dataclass(frozen=True)
class Wheelhouse:
    """A directory of wheels: thriftbuild's own plus what builds need."""

    path: Path

    def pip_env(self, *extra_links: Path, path: str | None = None) -> dict[str, str]:
        """Environment for pip to resolve only from this wheelhouse (and extra dirs)."""
        env = dict(os.environ)
        env.pop("PIP_CONSTRAINT", None)
        env["PIP_NO_INDEX"] = "1"
        env["PIP_FIND_LINKS"] = " ".join(str(p) for p in (self.path, *extra_links))
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        env["PIP_NO_CACHE_DIR"] = "1"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        if path is not None:
            env["PATH"] = path
        return env


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Wheelhouse:
    """thriftbuild's wheel (built once per session) and its build/runtime dependencies."""
    directory = tmp_path_factory.mktemp("wheelhouse")
    source = tmp_path_factory.mktemp("thriftbuild-src")
    # Build from a copy of the tracked tree so the checkout gets no build/ or egg-info.
    tracked = run(["git", "ls-files", "-z"], cwd=REPO).stdout.split("\0")
    for name in filter(None, tracked):
        origin = REPO / name
        if origin.is_file():
            target = source / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)
    run(
        [sys.executable, "-m", "pip", "wheel", "-q", "-w", directory, source, "setuptools", "wheel"]
    )
    return Wheelhouse(directory)


def make_venv(path: Path, wheelhouse: Wheelhouse, *packages: str | Path) -> Path:
    """A venv at ``path`` with ``packages`` installed from the wheelhouse; returns its python."""
    venv.EnvBuilder(with_pip=False, clear=True).create(path)
    python = path / "bin" / "python"
    if packages:
        pip_install(python, wheelhouse, *packages)
    return python


def pip_install(
    python: Path, wheelhouse: Wheelhouse, *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``pip install`` into the venv of ``python`` using this interpreter's pip."""
    command = [sys.executable, "-m", "pip", "--python", python, "install", *args]
    return run(command, env=env or wheelhouse.pip_env())


@pytest.fixture
def copy_project(tmp_path: Path) -> Iterator[object]:
    """Copy a fixture project from ``fixtures/projects/<name>`` into a temp dir."""

    def copy(name: str, destination: str | None = None) -> Path:
        target = tmp_path / (destination or name)
        shutil.copytree(PROJECTS / name, target)
        return target

    yield copy


def corpus_dir() -> Path:
    """The shared IDL corpus. Where it is missing: skips locally, fails in CI."""
    if not CORPUS.is_dir():
        message = f"IDL corpus not found at {CORPUS}"
        if IN_CI:
            pytest.fail(message + "; CI must have it beside the checkout (../shared/idl-corpus)")
        pytest.skip(message + " (CI always has it; its tests are skipped here)")
    return CORPUS


def pytest_report_header() -> str:
    """Say at the top of every run whether the corpus tests run."""
    if CORPUS.is_dir():
        return f"IDL corpus: {CORPUS} ({sum(1 for _ in CORPUS.rglob('*.thrift'))} files)"
    return f"IDL corpus: MISSING at {CORPUS}: its tests " + ("fail (CI)" if IN_CI else "skip")

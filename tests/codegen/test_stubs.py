"""The ``.pyi`` stubs written beside every generated package, whichever backend ran:
mypy --strict accepts code that uses the generated API as the IDL declares it, and
rejects code that does not."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO, corpus_dir, thrift_compiler
from thriftbuild.codegen.generate import generate_to_directory

USAGE = REPO / "tests" / "support" / "stub_usage.py"

pytest.importorskip("mypy", reason="mypy checks the generated stubs")


def _mypy(where: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mypy", "--strict", "--ignore-missing-imports"]
    command += ["--no-incremental", "--cache-dir", str(where / ".mypy_cache"), *targets]
    return subprocess.run(command, cwd=where, capture_output=True, text=True, timeout=300)


BACKENDS = ["python", pytest.param("compiler", marks=pytest.mark.compiler)]


def _backend(name: str) -> str:
    if name == "compiler":
        thrift_compiler()  # skips locally, fails in CI, when missing
    return name


@pytest.fixture(params=BACKENDS)
def generated(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    generate_to_directory(
        [FIXTURES / "idl" / "conformance" / "features.thrift"],
        tmp_path,
        include_dirs=[FIXTURES / "idl" / "conformance"],
        backend=_backend(request.param),
    )
    # The compiler's code for divergences.thrift does not import (docs/divergences.md).
    generate_to_directory(
        [FIXTURES / "idl" / "python" / "divergences.thrift"], tmp_path, backend="python"
    )
    assert (tmp_path / "features_thrift" / "ttypes.pyi").is_file()
    return tmp_path


def test_stubs_declared_usage_passes_mypy_strict(generated: Path) -> None:
    shutil.copy(USAGE, generated / "usage.py")
    result = _mypy(generated, "usage.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_stubs_wrong_types_fail_mypy_naming_the_argument(generated: Path) -> None:
    (generated / "wrong.py").write_text(
        "from base_thrift.ttypes import Point\n"
        "from features_thrift.ttypes import Everything\n"
        'Point(x="one")\n'
        "name: int | None = Everything().name\n"
    )
    result = _mypy(generated, "wrong.py")
    assert result.returncode == 1
    assert 'Argument "x" to "Point" has incompatible type "str"' in result.stdout
    assert "wrong.py:4: error: Incompatible types in assignment" in result.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_stubs_of_corpus_packages_pass_mypy_strict(tmp_path: Path, backend: str) -> None:
    tests = corpus_dir() / "apache-thrift-test"
    files = [
        tests / f"{name}.thrift"
        for name in ("ThriftTest", "DebugProtoTest", "NameConflictTest", "UnsafeTypes")
    ]
    generate_to_directory(files, tmp_path, include_dirs=[tests], backend=_backend(backend))
    packages = sorted(p.name for p in tmp_path.glob("*_thrift"))
    result = _mypy(tmp_path, *(arg for name in packages for arg in ("-p", name)))
    assert result.returncode == 0, result.stdout + result.stderr

"""``nox -s tests`` on a machine with only Python: compiler tests skip with their
message there, and fail instead when CI is set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

COMPILER_TESTS = "tests/codegen/test_compiler_backend.py"


def _pytest_without_compiler(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("THRIFT", "CI")}
    env.update(PATH=str(empty_bin), **extra)
    command = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"]
    return subprocess.run(
        [*command, COMPILER_TESTS], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )


def test_fresh_machine_compiler_tests_skip_with_their_message(tmp_path: Path) -> None:
    result = _pytest_without_compiler(tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert " error" not in output and "failed" not in output, output
    assert "skipped" in output
    assert "the Apache Thrift compiler is not installed (apt-get install thrift-compiler)" in output


def test_fresh_machine_compiler_tests_fail_in_ci(tmp_path: Path) -> None:
    result = _pytest_without_compiler(tmp_path, CI="true")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "CI must install it (see .ci/run)" in output

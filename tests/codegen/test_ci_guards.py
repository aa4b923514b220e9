"""CI's guards: the shared IDL corpus and the pinned compiler version.

Without the shared IDL corpus, CI fails and a local run says what it skipped.

The corpus holds most conformance cases; if CI lost it, hundreds of cases would vanish
from the run. The suite is copied to a directory with no ``../shared/idl-corpus`` beside
it and its corpus tests are run there, as CI (``CI=true``) and as a developer.
Tests assert one compiler version's exact output; CI checks it got that version.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tests.conftest import COMPILER_VERSION, FIXTURES, REPO, run

CORPUS_TESTS = [
    "tests/codegen/test_conformance.py",
    "tests/codegen/test_python_backend.py",
    "tests/codegen/test_stubs.py",
]
#: The one test of each file above that needs the corpus and nothing else.
SELECTED = "corpus_available_checked or any_corpus_file or stubs_of_corpus_packages"


def _suite_without_corpus(tmp_path: Path) -> Path:
    checkout = tmp_path / "checkout"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "tests", checkout / "tests", ignore=ignore)
    shutil.copytree(FIXTURES, checkout / "fixtures", ignore=ignore)
    shutil.copytree(REPO / ".ci", checkout / ".ci")
    shutil.copy2(REPO / "pyproject.toml", checkout / "pyproject.toml")
    assert not (tmp_path / "shared").exists()
    return checkout


def _pytest(checkout: Path, *, ci: bool) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    if ci:
        env["CI"] = "true"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-k", SELECTED]
    result = run([*command, *CORPUS_TESTS], cwd=checkout, env=env, check=False)
    return result.returncode, result.stdout + result.stderr


def test_corpus_missing_in_ci_fails_the_run(tmp_path: Path) -> None:
    code, output = _pytest(_suite_without_corpus(tmp_path), ci=True)
    assert code == 1, output
    assert "IDL corpus: MISSING at" in output
    assert "4 failed" in output, output
    assert "CI must have it beside the checkout (../shared/idl-corpus)" in output


def test_corpus_missing_locally_skips_with_a_message(tmp_path: Path) -> None:
    code, output = _pytest(_suite_without_corpus(tmp_path), ci=False)
    assert code == 0, output
    assert "IDL corpus: MISSING at" in output
    assert "4 skipped" in output, output
    assert "IDL corpus not found at" in output and "its tests are skipped here" in output


def test_ci_checks_the_compiler_version_it_got(tmp_path: Path) -> None:
    check = REPO / ".ci" / "check-thrift-version"
    fake = tmp_path / "thrift"
    fake.write_text("#!/bin/sh\necho 'Thrift version 0.19.0'\n")
    fake.chmod(0o755)
    result = run([check], env={**os.environ, "THRIFT": str(fake)}, check=False)
    assert result.returncode == 1
    assert f"CI needs the Apache Thrift compiler {COMPILER_VERSION}" in result.stderr
    assert "got: Thrift version 0.19.0" in result.stderr
    assert ".ci/check-thrift-version" in (REPO / ".ci" / "run").read_text()


def test_ci_compiler_version_check_accepts_the_pinned_version(compiler: str) -> None:
    result = run([REPO / ".ci" / "check-thrift-version"], env={**os.environ, "THRIFT": compiler})
    assert result.stdout.strip() == f"Thrift version {COMPILER_VERSION}"

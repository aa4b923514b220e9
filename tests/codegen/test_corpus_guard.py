"""Without the shared IDL corpus, CI fails and a local run says what it skipped.

The corpus holds most conformance cases; if CI lost it, hundreds of cases would vanish
from the run. The suite is copied to a directory with no ``../shared/idl-corpus`` beside
it and its corpus tests are run there, as CI (``CI=true``) and as a developer.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tests.conftest import FIXTURES, REPO, run

CORPUS_TESTS = [
    "tests/codegen/test_conformance.py",
    "tests/codegen/test_python_backend.py",
    "tests/codegen/test_python_backend_stubs.py",
]
#: The one test of each file above that needs the corpus and nothing else.
SELECTED = "corpus_available_checked or any_corpus_file or stubs_of_corpus_packages"


def _suite_without_corpus(tmp_path: Path) -> Path:
    checkout = tmp_path / "checkout"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "tests", checkout / "tests", ignore=ignore)
    shutil.copytree(FIXTURES, checkout / "fixtures", ignore=ignore)
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
    assert "3 failed" in output, output
    assert "CI must have it beside the checkout (../shared/idl-corpus)" in output


def test_corpus_missing_locally_skips_with_a_message(tmp_path: Path) -> None:
    code, output = _pytest(_suite_without_corpus(tmp_path), ci=False)
    assert code == 0, output
    assert "IDL corpus: MISSING at" in output
    assert "3 skipped" in output, output
    assert "IDL corpus not found at" in output and "its tests are skipped here" in output

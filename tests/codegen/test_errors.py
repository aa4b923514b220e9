"""Build-side errors: one line each, they pickle, and loading them stays light."""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys

import pytest

import thriftbuild
from tests.conftest import REPO
from thriftbuild.codegen import errors


def _error_samples() -> list[Exception]:
    return [
        errors.ThriftBuildError("x"),
        errors.ConfigurationError("bad key"),
        errors.IdlError("a.thrift", 3, 4, "syntax error"),
        errors.IncludeNotFoundError("a.thrift", 1, 9, "b.thrift", [".", "idl"]),
        errors.IncludeCycleError(["a.thrift", "b.thrift", "a.thrift"]),
        errors.CompilerNotFoundError("no compiler"),
        errors.GeneratorError("failed"),
        errors.OutputConflictError("conflict"),
    ]


@pytest.mark.parametrize("error", _error_samples(), ids=lambda e: type(e).__name__)
def test_build_errors_pickle_and_render_one_line(error: Exception) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert "\n" not in str(error)
    assert isinstance(error, errors.ThriftBuildError)


def test_every_build_error_class_is_covered_by_the_pickle_test() -> None:
    classes = {
        cls
        for _name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.ThriftBuildError)
    }
    assert classes == {type(error) for error in _error_samples()}


def test_idl_error_message_format() -> None:
    error = errors.IncludeNotFoundError("a.thrift", 1, 9, "b.thrift", [".", "idl"])
    assert str(error) == 'a.thrift:1:9: include "b.thrift" not found; searched: ., idl'


def test_public_name_is_the_build_side_class() -> None:
    assert thriftbuild.ThriftBuildError is errors.ThriftBuildError


def test_build_errors_do_not_import_thrift() -> None:
    code = "import sys\nimport thriftbuild.codegen.errors\nprint('\\n'.join(sorted(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [name for name in loaded if name == "thrift" or name.startswith("thrift.")]

"""The public surface: ``__all__`` is honest, imports stay light, errors pickle."""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys

import pytest

import thriftbuild
import thriftbuild.errors
from tests.conftest import REPO


def test_every_name_in_all_resolves() -> None:
    for name in thriftbuild.__all__:
        assert getattr(thriftbuild, name) is not None, name
    assert sorted(dir(thriftbuild)) == sorted(thriftbuild.__all__)


def _modules_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    return set(output.split())


def test_import_thriftbuild_pulls_in_neither_setuptools_nor_the_runtime() -> None:
    loaded = _modules_after("import thriftbuild")
    assert not {name for name in loaded if name.split(".")[0] in ("setuptools", "distutils")}
    assert not {name for name in loaded if name.startswith("thriftbuild.")}


def test_build_side_never_imports_the_runtime_side() -> None:
    loaded = _modules_after("import thriftbuild.build.commands, thriftbuild.cli")
    runtime = {"thriftbuild.pool", "thriftbuild.client", "thriftbuild.metrics", "thriftbuild.aio"}
    assert not loaded & runtime
    assert not {name for name in loaded if name.split(".")[0] in ("prometheus_client", "gunicorn")}


def test_lazy_build_attribute_works() -> None:
    from thriftbuild import ThriftBuildPyCommand
    from thriftbuild.build.commands import ThriftBuildPyCommand as direct

    assert ThriftBuildPyCommand is direct


def _error_samples() -> list[Exception]:
    errors = thriftbuild.errors
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
    assert isinstance(error, thriftbuild.errors.ThriftBuildError)


def test_every_build_error_class_is_covered_by_the_pickle_test() -> None:
    classes = {
        cls
        for _name, cls in inspect.getmembers(thriftbuild.errors, inspect.isclass)
        if issubclass(cls, thriftbuild.errors.ThriftBuildError)
    }
    assert classes == {type(error) for error in _error_samples()}


def test_idl_error_message_format() -> None:
    error = thriftbuild.errors.IncludeNotFoundError("a.thrift", 1, 9, "b.thrift", [".", "idl"])
    assert str(error) == 'a.thrift:1:9: include "b.thrift" not found; searched: ., idl'

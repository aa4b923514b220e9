"""The public surface: ``__all__`` is honest, imports stay light, errors pickle."""

from __future__ import annotations

import subprocess
import sys

import thriftbuild
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
    loaded = _modules_after("import thriftbuild.codegen.commands, thriftbuild.codegen.cli")
    parts = ("client", "wire", "aio", "dispatch", "gunicorn", "metrics", "server_metrics")
    runtime = {f"thriftbuild.{part}" for part in parts}
    assert not {name for name in loaded if ".".join(name.split(".")[:2]) in runtime}
    assert "thriftbuild.errors" not in loaded  # runtime errors; the build side has its own
    assert not {name for name in loaded if name.split(".")[0] in ("prometheus_client", "gunicorn")}


def test_lazy_build_attribute_works() -> None:
    from thriftbuild import ThriftBuildPyCommand
    from thriftbuild.codegen.commands import ThriftBuildPyCommand as direct

    assert ThriftBuildPyCommand is direct

"""The dependency floors pyproject.toml declares really work, and so do the newest releases.

A classic (setup.py) and a pyproject-only fixture project are built with the oldest
setuptools, wheel and thrift we accept for this Python, with ``--no-build-isolation``
in a plain venv and with isolated builds held to those versions by a constraints
file; then the generated code runs on thrift at its floor. The newest releases (the
session wheelhouse) go through the same ``--no-build-isolation`` builds; their
isolated builds are what tests/codegen/test_commands.py runs.
"""

from __future__ import annotations

import re
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.codegen.test_commands import wheel_names
from tests.conftest import IN_CI, REPO, Wheelhouse, make_venv, pip_install, run
from thriftbuild.codegen.settings import tomllib

pytestmark = pytest.mark.slow

#: The oldest ``wheel`` that setuptools' bdist_wheel (before setuptools 70.1 moved it
#: in-tree) works with on Python 3.10+; needed for --no-build-isolation builds there.
WHEEL_FLOOR = "0.37.0"

# Runs in the test venv after installing both projects: generated code on old thrift.
EXERCISE = """
import thrift, importlib.metadata as m
from thrift.protocol import TBinaryProtocol
from thrift.transport import TTransport
from classic.api.types_thrift import ttypes
from acme.billing.my_invoices_thrift import Invoices
buffer = TTransport.TMemoryBuffer()
ttypes.Everything(id="x", an_i32=5).write(TBinaryProtocol.TBinaryProtocol(buffer))
copy = ttypes.Everything()
copy.read(TBinaryProtocol.TBinaryProtocol(TTransport.TMemoryBuffer(buffer.getvalue())))
assert (copy.id, copy.an_i32, copy.a_string) == ("x", 5, "h\u00e9llo")
assert hasattr(Invoices, "Client")
print("thrift", m.version("thrift"), "setuptools", m.version("setuptools"))
"""


def declared_floors() -> dict[str, str]:
    """``name -> lowest version`` of each dependency that applies to this Python."""
    with (REPO / "pyproject.toml").open("rb") as stream:
        dependencies = tomllib.load(stream)["project"]["dependencies"]
    floors: dict[str, str] = {}
    for text in dependencies:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        (lowest,) = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        floors[requirement.name] = lowest
    return floors


@pytest.fixture(scope="module")
def floor_wheels(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Wheelhouse) -> Path:
    """Wheels of setuptools, wheel and thrift at their floors (from the package index)."""
    floors = declared_floors()
    pins = [f"setuptools=={floors['setuptools']}", f"thrift=={floors['thrift']}"]
    pins.append(f"wheel=={WHEEL_FLOOR}")
    directory = tmp_path_factory.mktemp("floors")
    result = run(
        [sys.executable, "-m", "pip", "wheel", "-q", "-w", directory, *pins],  # thrift needs six
        check=False,
    )
    if result.returncode != 0:
        message = f"cannot fetch {', '.join(pins)} from the package index: {result.stderr[-500:]}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    (directory / "constraints.txt").write_text("\n".join(pins) + "\n")
    return directory


def _env(wheelhouse: Wheelhouse, floors: Path | None) -> dict[str, str]:
    if floors is None:
        return wheelhouse.pip_env()
    # Floor wheels first; the constraints reach pip's isolated build environments too.
    env = wheelhouse.pip_env(floors)
    env["PIP_FIND_LINKS"] = f"{floors} {env['PIP_FIND_LINKS']}"
    env["PIP_CONSTRAINT"] = str(floors / "constraints.txt")
    return env


def _build(
    python: Path, project: Path, out: Path, env: dict[str, str], *, isolated: bool
) -> tuple[Path, str]:
    command = [sys.executable, "-m", "pip", "--python", python, "wheel", "--no-deps", "-v"]
    if not isolated:
        command.append("--no-build-isolation")
    result = run([*command, "-w", out, project], env=env)
    (wheel,) = out.glob("*.whl")
    return wheel, result.stdout + result.stderr


def _wheel_file(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/WHEEL")]
        return archive.read(name).decode()


@pytest.mark.parametrize("toolchain", ["floor", "newest"])
def test_floors_classic_and_pyproject_only_projects_build_and_run(
    toolchain: str,
    wheelhouse: Wheelhouse,
    floor_wheels: Path,
    copy_project: Callable[..., Path],
    tmp_path: Path,
) -> None:
    floors = floor_wheels if toolchain == "floor" else None
    env = _env(wheelhouse, floors)
    tools = ("setuptools", "wheel", "thrift")
    python = make_venv(tmp_path / "venv", wheelhouse)
    pip_install(python, wheelhouse, *tools, "thriftbuild", env=env)
    builds = [("classic", False), ("modern", False)]
    if floors is not None:
        builds += [("classic", True), ("modern", True)]
    wheels = {}
    for name, isolated in builds:
        project = copy_project(name, f"{name}-{isolated}/{name}")
        out = tmp_path / f"dist-{name}-{isolated}"
        wheel, log = _build(python, project, out, env, isolated=isolated)
        # The build log comes through distutils' announce(), at every setuptools version.
        assert "thriftbuild: " in log and "IDL file(s)" in log, log[-2000:]
        if floors is not None and isolated:
            # The isolated build environment was held to the floors too.
            floor = re.escape(declared_floors()["setuptools"])
            assert re.search(rf"setuptools-{floor}(\.0)*-py3", log), log[-3000:]
            assert f"Generator: bdist_wheel ({WHEEL_FLOOR})" in _wheel_file(wheel)
        wheels[name] = wheel
    assert "classic/api/calculator_thrift/Calculator.py" in wheel_names(wheels["classic"])
    assert "acme/billing/my_invoices_thrift/Invoices.py" in wheel_names(wheels["modern"])

    pip_install(python, wheelhouse, "--no-deps", *wheels.values(), env=env)
    output = run([python, "-c", EXERCISE], cwd=python.parent).stdout
    if floors is not None:
        floor = declared_floors()
        expected = rf"thrift {re.escape(floor['thrift'])}(\.0)* setuptools {floor['setuptools']}"
        assert re.search(expected, output), output

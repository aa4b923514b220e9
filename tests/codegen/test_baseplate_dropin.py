"""thriftbuild as a drop-in for baseplate's build command, with real projects built by pip.

``fixtures/projects/standinplate`` stands in for baseplate.py: a distribution not built
with thriftbuild that ships ``standinplate/thrift/base.thrift`` (``namespace py
standinplate.thrift``), the compiler's output for it (generated into the copy here, as
baseplate commits it) and its own ``build_thrift`` command. ``activity`` is a service
written against it the way reddit services are written against baseplate.
"""

from __future__ import annotations

import os
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.codegen.test_commands import failing_pip_wheel, pip_wheel, wheel_names
from tests.conftest import Wheelhouse, make_venv, pip_install, run

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("compiler")]

CopyProject = Callable[..., Path]

# Runs in the test venv: a handler raising the stand-in's own exception class, served
# by the consumer's generated Processor, reaches the client as the declared exception.
EXCEPTION_IDENTITY = """
import socket
import threading

from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TTransport

from activity.activity_thrift import ActivityService
from standinplate.thrift.ttypes import Error


class Handler:
    def is_healthy(self):
        return True

    def count(self, key):
        raise Error(code=7, message=key)


def channel(sock):
    transport = TTransport.TBufferedTransport(sock)
    return transport, TBinaryProtocol.TBinaryProtocol(transport)


listener = socket.create_server(("127.0.0.1", 0))
processor = ActivityService.Processor(Handler())


def serve():
    connection, _ = listener.accept()
    server_socket = TSocket.TSocket()
    server_socket.setHandle(connection)
    transport, protocol = channel(server_socket)
    try:
        while True:
            processor.process(protocol, protocol)
    except TTransport.TTransportException:
        pass
    finally:
        transport.close()


server = threading.Thread(target=serve, daemon=True)
server.start()
transport, protocol = channel(TSocket.TSocket("127.0.0.1", listener.getsockname()[1]))
transport.open()
client = ActivityService.Client(protocol)
try:
    assert client.is_healthy() is True
    try:
        client.count("boom")
    except Error as error:
        assert type(error) is Error, type(error)
        assert (error.code, error.message) == (7, "boom")
    else:
        raise AssertionError("no exception")
finally:
    transport.close()
    server.join(30)
    listener.close()
print("identity OK")
"""


def standinplate_project(copy_project: CopyProject, compiler: str, name: str) -> Path:
    """A copy of the stand-in with the compiler's output in it, as baseplate ships."""
    project = copy_project("standinplate", name)
    idl = project / "standinplate" / "thrift" / "base.thrift"
    run([compiler, "-gen", "py:slots", "-out", project, idl])
    (project / "standinplate" / "thrift" / "BaseService-remote").unlink()
    return project


def _no_compiler_env(wheelhouse: Wheelhouse, tmp_path: Path, *links: Path) -> dict[str, str]:
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir(exist_ok=True)
    env = wheelhouse.pip_env(*links, path=f"{empty_bin}{os.pathsep}{Path(sys.executable).parent}")
    env.pop("THRIFT", None)
    return env


def _wheel(project: Path, out: Path, env: dict[str, str]) -> Path:
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out, project], env=env)
    (wheel,) = out.glob(f"{project.name}-*.whl")
    return wheel


@pytest.mark.parametrize("backend", ["compiler", "python"])
def test_baseplate_style_service_builds_and_keeps_exception_identity(
    copy_project: CopyProject, wheelhouse: Wheelhouse, compiler: str, tmp_path: Path, backend: str
) -> None:
    links = tmp_path / "links"
    pip_wheel(standinplate_project(copy_project, compiler, "standinplate"), wheelhouse, links)
    project = copy_project("activity")
    if backend == "python":
        env = _no_compiler_env(wheelhouse, tmp_path, links)
    else:
        env = wheelhouse.pip_env(links)
    wheel = _wheel(project, tmp_path / "dist", env)

    names = wheel_names(wheel)
    assert "activity/activity_thrift/ActivityService.py" in names
    # The included IDL's generated code is the stand-in's own, never a private copy.
    assert not [name for name in names if "base_thrift" in name or "standinplate" in name]
    with zipfile.ZipFile(wheel) as archive:
        service = archive.read("activity/activity_thrift/ActivityService.py").decode()
    assert "standinplate.thrift.BaseService" in service
    assert ("(thrift 0." if backend == "compiler" else "(thriftbuild-python ") in service

    (standin_wheel,) = links.glob("standinplate-*.whl")
    python = make_venv(tmp_path / "venv", wheelhouse, "thrift", standin_wheel, wheel)
    assert "identity OK" in run([python, "-c", EXCEPTION_IDENTITY], cwd=python.parent).stdout


def test_lenient_editable_install_of_the_included_distribution_is_reused(
    copy_project: CopyProject, wheelhouse: Wheelhouse, compiler: str, tmp_path: Path
) -> None:
    standin = standinplate_project(copy_project, compiler, "standinplate")
    python = make_venv(
        tmp_path / "venv", wheelhouse, "setuptools", "wheel", "thrift", "thriftbuild"
    )
    pip_install(python, wheelhouse, "-e", standin, "--config-settings", "editable_mode=lenient")
    where = run([python, "-c", "import standinplate.thrift as m; print(m.__file__)"]).stdout
    assert Path(where.strip()).is_relative_to(standin)  # really the editable source tree

    project = copy_project("activity")
    out = tmp_path / "dist"
    command = [sys.executable, "-m", "pip", "--python", python, "wheel", "--no-deps"]
    run([*command, "--no-build-isolation", "-w", out, project], env=wheelhouse.pip_env())
    (wheel,) = out.glob("activity-*.whl")
    names = wheel_names(wheel)
    assert not [name for name in names if "base_thrift" in name]
    with zipfile.ZipFile(wheel) as archive:
        assert (
            "standinplate.thrift.BaseService"
            in archive.read("activity/activity_thrift/ActivityService.py").decode()
        )
    pip_install(python, wheelhouse, "--no-deps", wheel)
    assert "identity OK" in run([python, "-c", EXCEPTION_IDENTITY], cwd=python.parent).stdout


def test_project_using_another_packages_build_thrift_is_left_alone(
    copy_project: CopyProject, wheelhouse: Wheelhouse, compiler: str, tmp_path: Path
) -> None:
    links = tmp_path / "links"
    pip_wheel(standinplate_project(copy_project, compiler, "standinplate"), wheelhouse, links)
    wheel = pip_wheel(copy_project("unmodified"), wheelhouse, tmp_path / "dist", links)
    names = wheel_names(wheel)
    assert "unmodified/svc_standin.py" in names  # the stand-in's build_thrift ran
    assert not [name for name in names if "_thrift/" in name]

    (ours,) = wheelhouse.path.glob("thriftbuild-*.whl")
    with zipfile.ZipFile(ours) as archive:
        (entry_points,) = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
        assert "distutils.commands" not in archive.read(entry_points).decode()


def test_missing_include_names_includer_dirs_and_installed_packages(
    copy_project: CopyProject, wheelhouse: Wheelhouse, compiler: str, tmp_path: Path
) -> None:
    links = tmp_path / "links"
    pip_wheel(standinplate_project(copy_project, compiler, "standinplate"), wheelhouse, links)
    project = copy_project("activity")
    idl = project / "activity" / "activity.thrift"
    idl.write_bytes(idl.read_bytes().replace(b'include "base.thrift"', b'include "basis.thrift"'))
    output = failing_pip_wheel(project, tmp_path / "dist", wheelhouse.pip_env(links))
    expected = (
        'activity/activity.thrift:2:9: include "basis.thrift" not found; searched: activity; '
        "installed packages with IDL: standinplate.thrift"
    )
    (line,) = {line for line in output.splitlines() if "not found" in line}
    assert line.endswith(expected)


def test_namespace_layout_builds_where_the_compiler_put_its_output(
    copy_project: CopyProject, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    # baseplate.py itself switching: the IDL stays, the committed output goes, the
    # imports (standinplate.thrift.ttypes) stay as they were.
    project = copy_project("standinplate")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace(
        'requires = ["setuptools>=64"]', 'requires = ["setuptools>=64", "thriftbuild"]'
    )
    pyproject.write_text(text + '\n[tool.thriftbuild]\nlayout = "namespace-py"\n')
    wheel = pip_wheel(project, wheelhouse, tmp_path / "dist")
    names = wheel_names(wheel)
    for name in ("__init__.py", "ttypes.py", "constants.py", "BaseService.py", "base.thrift"):
        assert f"standinplate/thrift/{name}" in names
    assert not [name for name in names if "_thrift/" in name]
    python = make_venv(tmp_path / "venv", wheelhouse, "thrift", wheel)
    script = (
        "from standinplate.thrift import BaseService, ttypes\n"
        "assert issubclass(ttypes.Error, Exception)\n"
        "assert hasattr(BaseService, 'Client')\nprint('layout OK')\n"
    )
    assert "layout OK" in run([python, "-c", script], cwd=python.parent).stdout

    # A consumer built against this thriftbuild-built stand-in reuses its modules too.
    links = tmp_path / "dist"
    activity = pip_wheel(copy_project("activity"), wheelhouse, tmp_path / "activity", links)
    assert not [name for name in wheel_names(activity) if "base_thrift" in name]


def test_namespace_layout_refuses_committed_output_and_shared_namespaces(
    copy_project: CopyProject, wheelhouse: Wheelhouse, compiler: str, tmp_path: Path
) -> None:
    project = standinplate_project(copy_project, compiler, "standinplate")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace(
        'requires = ["setuptools>=64"]', 'requires = ["setuptools>=64", "thriftbuild"]'
    )
    pyproject.write_text(text + '\n[tool.thriftbuild]\nlayout = "namespace-py"\n')
    output = failing_pip_wheel(project, tmp_path / "one", wheelhouse.pip_env())
    assert (
        "standinplate/thrift/base.thrift generates package standinplate.thrift, but "
        "standinplate/thrift/__init__.py, standinplate/thrift/ttypes.py"
    ) in output
    assert "delete the committed compiler output" in output

    for name in ("__init__.py", "ttypes.py", "constants.py", "BaseService.py"):
        (project / "standinplate" / "thrift" / name).unlink()
    twin = project / "standinplate" / "twin.thrift"
    twin.write_text("namespace py standinplate.thrift\nconst i32 X = 1\n")
    output = failing_pip_wheel(project, tmp_path / "two", wheelhouse.pip_env())
    assert (
        "standinplate/thrift/base.thrift and standinplate/twin.thrift would both generate "
        "package standinplate.thrift"
    ) in output

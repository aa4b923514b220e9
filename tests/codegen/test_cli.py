"""The ``thriftbuild`` command line, run as users run it: in a subprocess."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECTS, REPO, run

pytestmark = pytest.mark.usefixtures("compiler")

CLASSIC = PROJECTS / "classic"


def checkout_env() -> dict[str, str]:
    """Run this checkout's thriftbuild, whatever is installed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def thriftbuild(*args: str | Path, cwd: Path, check: bool = True) -> tuple[int, str]:
    command = [sys.executable, "-m", "thriftbuild", *args]
    result = run(command, cwd=cwd, check=check, env=checkout_env())
    return result.returncode, result.stdout + result.stderr


def test_generate_out_writes_importable_packages_for_files_and_includes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = thriftbuild(
        "generate",
        "--out",
        out,
        "-I",
        CLASSIC / "idl",
        CLASSIC / "classic/api/calculator.thrift",
        cwd=tmp_path,
    )
    assert code == 0 and "backend: compiler" in output
    assert sorted(p.name for p in out.iterdir()) == [
        "base_thrift",
        "calculator_thrift",
        "shapes_thrift",
        "types_thrift",
        "vendor_thrift",
    ]
    script = "from calculator_thrift import Calculator; print(Calculator.Client.add.__name__)"
    assert run([sys.executable, "-c", script], cwd=out, env=checkout_env()).stdout.strip() == "add"


def test_generate_python_m_and_console_script_agree(tmp_path: Path) -> None:
    source = tmp_path / "hello.thrift"
    source.write_text("service Hello { string hi() }\n")
    thriftbuild("generate", "--out", tmp_path / "a", source, cwd=tmp_path)
    script = shutil.which("thriftbuild")
    if script is not None:  # installed in the test venv by nox
        run([script, "generate", "--out", tmp_path / "b", source], cwd=tmp_path, env=checkout_env())
        assert (tmp_path / "a/hello_thrift/Hello.py").read_bytes() == (
            tmp_path / "b/hello_thrift/Hello.py"
        ).read_bytes()
    assert (tmp_path / "a/hello_thrift/Hello.py").is_file()


def test_generate_in_place_then_check_reports_staleness(tmp_path: Path) -> None:
    project = tmp_path / "classic"
    shutil.copytree(CLASSIC, project)
    code, output = thriftbuild("check", cwd=project, check=False)
    assert code == 1 and "stale: classic/api/calculator.thrift" in output

    thriftbuild("generate", cwd=project)
    assert (project / "classic/api/calculator_thrift/Calculator.py").is_file()
    assert (project / "classic/vendor_thrift/ttypes.py").is_file()
    code, output = thriftbuild("check", cwd=project)
    assert "5 generated package(s) up to date" in output

    base = project / "classic/common/base.thrift"
    base.write_text(base.read_text() + "\nconst i32 LATER = 2\n")
    code, output = thriftbuild("check", cwd=project, check=False)
    assert code == 1
    assert sorted(line for line in output.splitlines() if line.startswith("stale:")) == [
        "stale: classic/api/calculator.thrift -> classic.api.calculator_thrift",
        "stale: classic/common/base.thrift -> classic.common.base_thrift",
    ]


def test_generate_bad_idl_exits_2_with_the_position(tmp_path: Path) -> None:
    source = tmp_path / "bad.thrift"
    source.write_text("struct A {\n  1: i32 x\n  2 i32 y\n}\n")
    code, output = thriftbuild(
        "generate", "--out", tmp_path / "out", source, cwd=tmp_path, check=False
    )
    assert code == 2
    assert "thriftbuild: error: bad.thrift:3:5: syntax error (at 'i32')" in output


@pytest.mark.parametrize(
    ("backend", "relative", "text", "position"),
    [
        ("python", False, "struct A {\n  1: i32 x\n  2 i32 y\n}\n", "3:5"),
        ("compiler", False, "struct A {\n  1: i32 x\n  2 i32 y\n}\n", "3:5"),
        ("compiler", False, "struct A {\n  1: Missing x\n}\n", "2:6"),
        ("python", True, "struct A {\n  1: Missing x\n}\n", "2:6"),
        ("python", True, 'include "nowhere.thrift"\n', "1:9"),
    ],
)
def test_generate_errors_name_a_file_outside_the_cwd_as_given(
    tmp_path: Path, backend: str, relative: bool, text: str, position: str
) -> None:
    # The user must be able to open the file the message names from where they ran it.
    source = tmp_path / "elsewhere/bad.thrift"
    source.parent.mkdir()
    source.write_text(text)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    given = "../elsewhere/bad.thrift" if relative else str(source)
    args = ("generate", "--backend", backend, "--out", tmp_path / "out", given)
    code, output = thriftbuild(*args, cwd=cwd, check=False)
    assert code == 2
    errors = [line for line in output.splitlines() if line.startswith("thriftbuild: error:")]
    assert errors and errors[0].startswith(f"thriftbuild: error: {given}:{position}: "), output


def test_generate_paths_without_out_is_a_usage_error(tmp_path: Path) -> None:
    source = tmp_path / "x.thrift"
    source.write_text("struct X {}\n")
    code, output = thriftbuild("generate", source, cwd=tmp_path, check=False)
    assert code != 0 and "PATHs need --out" in output


def test_build_thrift_command_runs_alone_from_setup_py(tmp_path: Path) -> None:
    project = tmp_path / "classic"
    shutil.copytree(CLASSIC, project)
    result = run(
        [sys.executable, "setup.py", "build_thrift", "--inplace"], cwd=project, env=checkout_env()
    )
    assert "compiler backend" in result.stdout + result.stderr
    assert (project / "classic/api/calculator_thrift/Calculator.py").is_file()
    run([sys.executable, "setup.py", "build_thrift"], cwd=project, env=checkout_env())
    assert (project / "build/lib/classic/api/calculator_thrift/Calculator.py").is_file()


def _without_compiler(tmp_path: Path) -> dict[str, str]:
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir(exist_ok=True)
    env = checkout_env()
    env.pop("THRIFT", None)
    env["PATH"] = str(empty_bin)
    return env


def test_check_not_fooled_by_a_compiler_appearing(tmp_path: Path) -> None:
    project = tmp_path / "classic"
    shutil.copytree(CLASSIC, project)
    command = [sys.executable, "-m", "thriftbuild"]
    # Generated on a machine without a compiler: "auto" used the python backend.
    run([*command, "generate"], cwd=project, env=_without_compiler(tmp_path))
    marker = (project / "classic/api/calculator_thrift/.thriftbuild.json").read_text()
    assert "thriftbuild-python" in marker

    # A compiler is on PATH now: the packages are still up to date.
    code, output = thriftbuild("check", cwd=project)
    assert code == 0 and "5 generated package(s) up to date" in output

    # Asking for the compiler explicitly: stale, and the message says why.
    code, output = thriftbuild("check", "--backend", "compiler", cwd=project, check=False)
    assert code == 1
    assert (
        "stale: classic/api/calculator.thrift -> classic.api.calculator_thrift "
        "(written by thriftbuild-python "
    ) in output
    assert "`thriftbuild generate` would use thrift 0." in output


def test_namespace_layout_in_place_shares_the_directory_with_the_idl(tmp_path: Path) -> None:
    project = tmp_path / "standinplate"
    shutil.copytree(PROJECTS / "standinplate", project)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.thriftbuild]\nlayout = "namespace-py"\n')
    package = project / "standinplate" / "thrift"
    (package / "NOTES.txt").write_text("the project's own file\n")

    thriftbuild("generate", cwd=project)
    generated = {"__init__.py", "ttypes.py", "constants.py", "BaseService.py", "ttypes.pyi"}
    assert generated <= {p.name for p in package.iterdir()}
    assert not (package / ".gitignore").exists()  # it would hide base.thrift from git
    script = "from standinplate.thrift import ttypes; print(ttypes.Error(code=1).code)"
    assert run([sys.executable, "-c", script], cwd=project, env=checkout_env()).stdout == "1\n"
    code, output = thriftbuild("check", cwd=project)
    assert code == 0 and "1 generated package(s) up to date" in output

    # The IDL goes away: its generated files go with it, the project's files stay.
    (package / "base.thrift").unlink()
    thriftbuild("generate", cwd=project)
    assert sorted(p.name for p in package.iterdir()) == ["NOTES.txt"]

"""The ``thriftbuild`` command line, run as users run it: in a subprocess."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECTS, REPO, Wheelhouse, make_venv, run, thrift_compiler
from thriftbuild.codegen import cli

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


@pytest.mark.slow
def test_installed_console_script_and_python_m_agree(
    tmp_path: Path, wheelhouse: Wheelhouse
) -> None:
    """An installed ``thriftbuild`` script behaves as ``python -m thriftbuild``."""
    python = make_venv(tmp_path / "venv", wheelhouse, "thriftbuild")
    script = python.parent / "thriftbuild"
    assert script.is_file()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "THRIFT")}
    env["PATH"] = os.pathsep.join([str(python.parent), env.get("PATH", "")])
    invocations: list[tuple[tuple[str, ...], int]] = [
        (("--version",), 0),
        (("generate", "--out", "out", "hello.thrift"), 0),
        (("generate", "--backend", "python", "--out", "py", "hello.thrift"), 0),
        (("generate", "--out", "bad", "bad.thrift"), 2),
        (("generate", "hello.thrift"), 2),
        (("check",), 1),
    ]
    outputs: dict[str, list[tuple[int, str]]] = {}
    for name, command in (("script", [script]), ("module", [python, "-m", "thriftbuild"])):
        cwd = tmp_path / name
        shutil.copytree(CLASSIC, cwd)
        (cwd / "hello.thrift").write_text("service Hello { string hi() }\n")
        (cwd / "bad.thrift").write_text("struct A {\n  1: strng x\n}\n")
        results = [run([*command, *args], cwd=cwd, env=env, check=False) for args, _ in invocations]
        outputs[name] = [(r.returncode, r.stdout + r.stderr) for r in results]
        assert [r.returncode for r in results] == [code for _, code in invocations], outputs[name]
    assert outputs["script"] == outputs["module"]
    assert "thriftbuild 0.1.0" in outputs["script"][0][1]
    for out in ("out", "py"):
        generated = {
            p.relative_to(tmp_path / "script"): p.read_bytes()
            for p in sorted((tmp_path / "script" / out).rglob("*.py"))
        }
        assert Path(out, "hello_thrift", "Hello.py") in generated
        assert generated == {
            p.relative_to(tmp_path / "module"): p.read_bytes()
            for p in sorted((tmp_path / "module" / out).rglob("*.py"))
        }


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
    assert "thriftbuild: error: bad.thrift:3:5: expected ':', got 'i32'" in output


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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("generate", "x.thrift"), "error: generate: PATHs need --out DIR"),
        (("generate", "--out", "out"), "error: generate: --out needs at least one .thrift file"),
        (("generate", "--frobnicate"), "error: unrecognized arguments: --frobnicate"),
        (("explode",), "error: argument command: invalid choice: 'explode'"),
        (("generate", "--backend", "fast"), "error: argument --backend: invalid choice: 'fast'"),
    ],
)
def test_usage_error_exits_2_with_the_usage(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    (tmp_path / "x.thrift").write_text("struct X {}\n")
    code, output = thriftbuild(*args, cwd=tmp_path, check=False)
    assert code == 2, output
    assert output.startswith("usage: thriftbuild") and message in output


def test_build_errors_exit_2_with_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "x.thrift").write_text('include "gone.thrift"\n')
    out = ("--out", "out", "x.thrift")
    code, output = thriftbuild("generate", "--backend", "python", *out, cwd=tmp_path, check=False)
    assert code == 2 and "thriftbuild: error: " in output and "gone.thrift" in output
    missing = ("--backend", "compiler", "--compiler", str(tmp_path / "no-thrift"))
    code, output = thriftbuild("generate", *missing, *out, cwd=tmp_path, check=False)
    assert code == 2 and "thriftbuild: error: " in output and "no-thrift" in output
    code, output = thriftbuild("check", cwd=tmp_path, check=False)  # not a project
    assert code == 2 and "has neither setup.py nor pyproject.toml" in output
    (tmp_path / "setup.py").write_text("raise RuntimeError('broken setup.py')\n")
    code, output = thriftbuild("generate", cwd=tmp_path, check=False)
    assert code == 2, output
    assert "setup.py failed: RuntimeError: broken setup.py" in output
    assert "Traceback" not in output


def test_internal_error_exits_3_not_1_which_means_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def crash(_args: object) -> int:
        raise ZeroDivisionError("a bug")

    # A defect inside thriftbuild stands in for a bug: the exit status must not say "stale".
    monkeypatch.setattr(cli, "_generate_out", crash)
    assert cli.main(["generate", "--out", str(tmp_path), "x.thrift"]) == 3
    err = capsys.readouterr().err
    assert "ZeroDivisionError: a bug" in err and "internal error (a bug in thriftbuild" in err


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


@pytest.mark.parametrize("backend", ["compiler", "python"])
def test_idl_error_wording_is_the_same_for_both_backends_as_the_readme_quotes(
    tmp_path: Path, backend: str
) -> None:
    if backend == "compiler":
        thrift_compiler()
    message = "oops.thrift:3:6: type 'strng' is not defined"
    (tmp_path / "oops.thrift").write_text("struct A {\n\n  1: strng x\n}\n")
    args = ("generate", "--backend", backend, "--out", "out", "oops.thrift")
    code, output = thriftbuild(*args, cwd=tmp_path, check=False)
    assert code == 2 and f"thriftbuild: error: {message}\n" in output
    assert message.split(": ", 1)[1] in (REPO / "README.md").read_text()


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

"""The setuptools integration, exercised the way users run it: pip and ``python -m build``.

Every test copies a fixture project from ``fixtures/projects`` into a temp dir, builds
or installs it with pip (build isolation on, resolving from the session wheelhouse),
then imports and calls the generated code in a fresh venv.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, Wheelhouse, make_venv, pip_install, run

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("compiler")]

EXERCISE_CLASSIC = REPO / "tests" / "support" / "exercise_classic.py"

CopyProject = Callable[..., Path]


def pip_wheel(
    project: Path, wheelhouse: Wheelhouse, out: Path, *extra_links: Path, **env: str
) -> Path:
    """Build ``project``'s wheel into ``out`` with pip (isolated) and return its path."""
    environment = wheelhouse.pip_env(*extra_links)
    environment.update(env)
    before = set(out.glob("*.whl")) if out.is_dir() else set()
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out, project], env=environment)
    (wheel,) = set(out.glob("*.whl")) - before or set(out.glob("*.whl"))
    return wheel


def failing_pip_wheel(project: Path, out: Path, env: dict[str, str]) -> str:
    """Run a ``pip wheel`` that must fail; returns everything it printed."""
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out, project]
    result = run(command, env=env, check=False)
    assert result.returncode != 0
    return result.stdout + result.stderr


def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_setup_py_cmdclass_wheel_from_clean_checkout_has_every_generated_package(
    copy_project: CopyProject, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    project = copy_project("classic")
    wheel = pip_wheel(project, wheelhouse, tmp_path / "dist")

    names = wheel_names(wheel)
    for module in (
        "classic/common/base_thrift",
        "classic/api/types_thrift",
        "classic/api/calculator_thrift",
        "classic/api/models/shapes_thrift",  # sub-folder that is not a package
        "classic/vendor_thrift",  # found through include-dirs, outside every package
    ):
        assert f"{module}/__init__.py" in names
        assert f"{module}/ttypes.py" in names
        assert f"{module}/constants.py" in names
    assert "classic/api/calculator_thrift/Calculator.py" in names
    assert "classic/common/base_thrift/BaseService.py" in names
    assert "classic/common/base.thrift" in names  # IDL ships for other projects to include
    assert not any(name.startswith(("some/", "shapes/", "base/")) for name in names)

    python = make_venv(tmp_path / "venv", wheelhouse, "thrift", wheel)
    result = run([python, EXERCISE_CLASSIC], cwd=tmp_path)
    assert "classic OK" in result.stdout


def test_pip_install_pyproject_only_project_imports_generated_packages(
    copy_project: CopyProject, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    project = copy_project("modern")
    python = make_venv(tmp_path / "venv", wheelhouse)
    pip_install(python, wheelhouse, project)

    script = """
from acme.billing.my_invoices_thrift import Invoices, ttypes
from acme.billing.common_thrift.ttypes import Money
from acme.shipping.common_thrift.ttypes import Parcel
from acme.registry_thrift import Registry
invoice = ttypes.Invoice(id="i-1", total=Money(cents=250))
assert invoice.total.currency == "EUR"
assert Parcel(weight_kg=1.5).weight_kg == 1.5
assert not hasattr(Parcel(), "cents") and not hasattr(Money(), "weight_kg")
assert issubclass(ttypes.NotFound, Exception)
assert Invoices.Client and Registry.Processor
import importlib.util
assert importlib.util.find_spec("acme.billing.drafts") is None
print("modern OK")
"""
    result = run([python, "-c", script], cwd=tmp_path)
    assert "modern OK" in result.stdout


def test_python_m_build_sdist_carries_idl_and_its_wheel_has_generated_code(
    copy_project: CopyProject, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    project = copy_project("classic")
    out = tmp_path / "dist"
    run([sys.executable, "-m", "build", "--outdir", out, project], env=wheelhouse.pip_env())

    (sdist,) = out.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for idl in (
        "classic/common/base.thrift",
        "classic/api/types.thrift",
        "classic/api/calculator.thrift",
        "classic/api/models/shapes.thrift",
        "idl/vendor.thrift",
    ):
        assert idl in members, f"{idl} missing from the sdist"
    assert not any("_thrift/" in name for name in members)

    # python -m build makes the wheel from the sdist, so this proves the sdist suffices.
    (wheel,) = out.glob("*.whl")
    python = make_venv(tmp_path / "venv", wheelhouse, "thrift", wheel)
    assert "classic OK" in run([python, EXERCISE_CLASSIC], cwd=tmp_path).stdout


@pytest.mark.parametrize("mode", ["lenient", "strict"])
def test_editable_install_generates_in_tree_and_imports(
    mode: str, copy_project: CopyProject, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    project = copy_project("classic")
    python = make_venv(tmp_path / "venv", wheelhouse, "thrift")
    pip_install(python, wheelhouse, "--config-settings", f"editable_mode={mode}", "-e", project)

    generated = project / "classic" / "api" / "calculator_thrift"
    assert (generated / "Calculator.py").is_file()
    assert (generated / ".gitignore").read_text().splitlines()[-1] == "*"
    assert "classic OK" in run([python, EXERCISE_CLASSIC], cwd=tmp_path).stdout
    where = run([python, "-c", "import classic.api.calculator_thrift as m; print(m.__file__)"])
    location = Path(where.stdout.strip())
    if mode == "strict":
        assert location.resolve() == (generated / "__init__.py").resolve()
        assert "__editable__" in str(location)
    else:
        assert location == generated / "__init__.py"


def test_editable_install_with_broken_idl_fails_and_shows_the_error(
    copy_project: CopyProject, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    project = copy_project("modern")
    broken = project / "src" / "acme" / "billing" / "oops.thrift"
    broken.write_text("struct Oops {\n  1: i32 fine,\n  2: strng broken,\n}\n")
    python = make_venv(tmp_path / "venv", wheelhouse)
    command = [sys.executable, "-m", "pip", "--python", python, "install", "-e", project]
    result = run(command, env=wheelhouse.pip_env(), check=False)

    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "src/acme/billing/oops.thrift:3:" in output
    assert "type 'strng' is not defined" in output
    # Nothing was half-written: not even the valid files got packages.
    assert not list(project.rglob("*_thrift"))


def test_rebuild_after_rename_and_delete_ships_no_stale_module(
    copy_project: CopyProject, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    project = copy_project("classic")
    calculator = project / "classic" / "api" / "calculator.thrift"
    first = pip_wheel(project, wheelhouse, tmp_path / "one")
    assert "classic/api/calculator_thrift/Calculator.py" in wheel_names(first)

    calculator.write_text(calculator.read_text().replace("service Calculator", "service Abacus"))
    (project / "classic" / "common" / "base.thrift").unlink()
    calculator.write_text(
        calculator.read_text()
        .replace('include "../common/base.thrift"\n', "")
        .replace(" extends base.BaseService", "")
        .replace("throws (1: base.BaseError error)", "")
    )
    second = pip_wheel(project, wheelhouse, tmp_path / "two")

    names = wheel_names(second)
    assert "classic/api/calculator_thrift/Abacus.py" in names
    assert "classic/api/calculator_thrift/Calculator.py" not in names
    assert not any(name.startswith("classic/common/base") for name in names)
    build_lib = project / "build" / "lib"
    assert not (build_lib / "classic" / "api" / "calculator_thrift" / "Calculator.py").exists()
    assert not (build_lib / "classic" / "common" / "base_thrift").exists()
    assert not (build_lib / "classic" / "common" / "base.thrift").exists()


def test_editable_reinstall_after_delete_removes_package_from_tree(
    copy_project: CopyProject, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    project = copy_project("modern")
    python = make_venv(tmp_path / "venv", wheelhouse)
    pip_install(python, wheelhouse, "-e", project)
    registry = project / "src" / "acme" / "registry_thrift"
    assert (registry / "Registry.py").is_file()

    (project / "src" / "acme" / "registry.thrift").unlink()
    pip_install(python, wheelhouse, "-e", project)
    assert not registry.exists()
    assert (project / "src" / "acme" / "billing" / "my_invoices_thrift").is_dir()


def _counting_compiler(tmp_path: Path, compiler: str) -> tuple[Path, Path]:
    log = tmp_path / "compiler-calls.log"
    wrapper = tmp_path / "bin" / "thrift"
    wrapper.parent.mkdir()
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case "$1" in --version) ;; *) echo "$@" >> "{log}" ;; esac\n'
        f'exec "{compiler}" "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper, log


def _compiled_files(log: Path) -> list[str]:
    if not log.exists():
        return []
    return sorted(Path(line.split()[-1]).name for line in log.read_text().splitlines())


def test_rebuild_with_nothing_changed_does_not_run_the_compiler(
    copy_project: CopyProject, wheelhouse: Wheelhouse, tmp_path: Path, compiler: str
) -> None:
    project = copy_project("classic")
    wrapper, log = _counting_compiler(tmp_path, compiler)
    pip_wheel(project, wheelhouse, tmp_path / "one", THRIFT=str(wrapper))
    assert _compiled_files(log) == [
        "base.thrift",
        "calculator.thrift",
        "shapes.thrift",
        "types.thrift",
        "vendor.thrift",
    ]

    log.unlink()
    again = pip_wheel(project, wheelhouse, tmp_path / "two", THRIFT=str(wrapper))
    assert _compiled_files(log) == []
    assert "classic/api/calculator_thrift/Calculator.py" in wheel_names(again)

    # Changing an included file regenerates exactly the files that include it.
    base = project / "classic" / "common" / "base.thrift"
    base.write_text(base.read_text() + "\nconst i32 ADDED = 1\n")
    third = pip_wheel(project, wheelhouse, tmp_path / "three", THRIFT=str(wrapper))
    assert _compiled_files(log) == ["base.thrift", "calculator.thrift"]
    # The IDL shipped beside the package is the edited one, not the earlier build's copy.
    with zipfile.ZipFile(third) as archive:
        assert archive.read("classic/common/base.thrift") == base.read_bytes()


def test_wheels_built_twice_with_source_date_epoch_are_identical(
    copy_project: CopyProject, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    wheels = []
    for name in ("first", "second"):
        project = copy_project("modern", f"{name}/modern")
        wheels.append(
            pip_wheel(project, wheelhouse, tmp_path / name / "dist", SOURCE_DATE_EPOCH="1700000000")
        )
    digests = {hashlib.sha256(wheel.read_bytes()).hexdigest() for wheel in wheels}
    assert len(digests) == 1
    with zipfile.ZipFile(wheels[0]) as archive:
        text = archive.read("acme/billing/my_invoices_thrift/Invoices.py").decode()
    assert str(tmp_path) not in text
    assert "from src/acme/billing/my-invoices.thrift" in text


def test_pyproject_table_wraps_the_project_build_py_instead_of_replacing_it(
    copy_project: CopyProject, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    project = copy_project("composed")
    wheel = pip_wheel(project, wheelhouse, tmp_path / "dist")
    names = wheel_names(wheel)
    assert "composed/STAMP" in names
    assert "composed/hello_thrift/Hello.py" in names


def test_include_of_idl_from_installed_package_imports_its_generated_code(
    copy_project: CopyProject, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    links = tmp_path / "links"
    classic_wheel = pip_wheel(copy_project("classic"), wheelhouse, links)
    consumer_wheel = pip_wheel(copy_project("consumer"), wheelhouse, tmp_path / "dist", links)

    names = wheel_names(consumer_wheel)
    assert "consumer/audit_thrift/Audit.py" in names
    assert not any(name.startswith("classic/") for name in names)
    with zipfile.ZipFile(consumer_wheel) as archive:
        audit = archive.read("consumer/audit_thrift/Audit.py").decode()
    assert "import classic.common.base_thrift.BaseService" in audit

    python = make_venv(tmp_path / "venv", wheelhouse, "thrift", classic_wheel, consumer_wheel)
    script = """
from consumer.audit_thrift import Audit
from classic.common.base_thrift import BaseService, ttypes
assert issubclass(Audit.Client, BaseService.Client)
assert Audit.record_result.thrift_spec[1][3][0] is ttypes.BaseError
print("consumer OK")
"""
    assert "consumer OK" in run([python, "-c", script], cwd=tmp_path).stdout


def test_unknown_pyproject_key_fails_the_build_naming_the_near_key(
    copy_project: CopyProject, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    project = copy_project("composed")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'include_dir = ["idl"]\n')
    output = failing_pip_wheel(project, tmp_path, wheelhouse.pip_env())
    assert "unknown key 'include_dir' in [tool.thriftbuild]" in output
    assert "did you mean 'include-dirs'?" in output


def test_backend_compiler_without_a_compiler_says_how_to_get_one(
    copy_project: CopyProject, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    project = copy_project("composed")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'backend = "compiler"\n')
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    env = wheelhouse.pip_env(path=f"{empty_bin}{os.pathsep}{Path(sys.executable).parent}")
    env.pop("THRIFT", None)
    if Path(sys.executable).parent.joinpath("thrift").exists():
        pytest.fail("a thrift compiler sits beside the Python interpreter; cannot hide it")
    output = failing_pip_wheel(project, tmp_path, env)
    assert "apt-get install thrift-compiler" in output
    assert "brew install thrift" in output
    assert 'backend = "python"' in output

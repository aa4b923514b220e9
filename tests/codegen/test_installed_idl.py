"""Includes resolved from installed packages: include-packages, the default search of
installed distributions' IDL, and reuse of the generated code they ship."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from thriftbuild.codegen.discovery import plan_files
from thriftbuild.codegen.errors import ConfigurationError, IdlError, IncludeNotFoundError
from thriftbuild.codegen.generate import generate_to_directory
from thriftbuild.codegen.installed import generated_module_of, locate_package


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path holding package ``extidl`` with IDL in ``extidl/idl``."""
    root = tmp_path / "site"
    idl = root / "extidl" / "idl"
    idl.mkdir(parents=True)
    (root / "extidl" / "__init__.py").write_text("raise RuntimeError('never imported')\n")
    (idl / "shared.thrift").write_text("namespace py extidl.idl\nstruct Shared { 1: i32 x }\n")
    monkeypatch.syspath_prepend(str(root))
    yield root
    sys.modules.pop("extidl", None)


def _consumer(tmp_path: Path, include: str = "shared.thrift") -> Path:
    project = tmp_path / "project"
    project.mkdir(parents=True)
    consumer = project / "consumer.thrift"
    consumer.write_text(f'include "{include}"\nstruct Uses {{ 1: shared.Shared s }}\n')
    return consumer


def test_include_packages_directory_is_searched_without_importing(
    site: Path, tmp_path: Path
) -> None:
    consumer = _consumer(tmp_path)
    plan = plan_files([consumer], include_packages=["extidl.idl"], search_installed=False)
    (included,) = [s for s in plan.sources.values() if s.path.name == "shared.thrift"]
    assert included.path == (site / "extidl" / "idl" / "shared.thrift").resolve()
    assert not included.prebuilt and included.module == "shared_thrift"
    assert (site / "extidl" / "idl").resolve() in plan.include_dirs
    assert "extidl" not in sys.modules


def test_include_packages_unknown_package_says_how_to_fix(tmp_path: Path) -> None:
    consumer = _consumer(tmp_path)
    with pytest.raises(ConfigurationError, match=r"package 'nosuch\.idl' is not installed"):
        plan_files([consumer], include_packages=["nosuch.idl"])


def test_installed_compiler_output_at_namespace_is_reused(site: Path, tmp_path: Path) -> None:
    (site / "extidl" / "idl" / "ttypes.py").write_text("")  # compiler output, committed
    path = site / "extidl" / "idl" / "shared.thrift"
    assert generated_module_of(path, site, "extidl.idl") == "extidl.idl"
    consumer = _consumer(tmp_path)
    plan = plan_files([consumer], include_packages=["extidl.idl"], search_installed=False)
    (included,) = [s for s in plan.sources.values() if s.path.name == "shared.thrift"]
    assert included.prebuilt and included.module == "extidl.idl"
    generate_to_directory([consumer], tmp_path / "out", include_packages=["extidl.idl"])
    assert not (tmp_path / "out" / "shared_thrift").exists()
    text = (tmp_path / "out" / "consumer_thrift" / "ttypes.py").read_text()
    assert "extidl.idl.ttypes.Shared" in text


def test_locate_package_finds_subpackage_directories(site: Path) -> None:
    assert locate_package("extidl.idl") == ((site / "extidl" / "idl").resolve(), site.resolve())
    assert locate_package("extidl.nothere") is None
    assert locate_package("not-a-name") is None


def test_missing_include_lists_dirs_and_packages_not_sys_path(site: Path, tmp_path: Path) -> None:
    consumer = _consumer(tmp_path, "absent.thrift")
    with pytest.raises(IncludeNotFoundError) as error:
        plan_files([consumer], include_packages=["extidl.idl"], root=tmp_path)
    message = str(error.value)
    assert message.startswith(
        'project/consumer.thrift:1:9: include "absent.thrift" not found; '
        "searched: project; packages: extidl.idl; "
    )
    assert str(site) not in message and "../" not in message


def _distribution(site: Path, name: str, *files: str) -> None:
    """Record ``files`` (below ``site``) as installed by distribution ``name``."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))


def test_installed_distribution_idl_found_by_name_and_ambiguity_reported(
    site: Path, tmp_path: Path
) -> None:
    _distribution(site, "extidl", "extidl/idl/shared.thrift")
    # (The project root is excluded from the installed files: keep the site outside it.)
    plan = plan_files([_consumer(tmp_path)], root=tmp_path / "project")
    (included,) = [s for s in plan.sources.values() if s.path.name == "shared.thrift"]
    assert included.display_path == "extidl/idl/shared.thrift"

    (site / "otheridl").mkdir()
    (site / "otheridl" / "shared.thrift").write_text("struct Shared { 1: i32 y }\n")
    _distribution(site, "otheridl", "otheridl/shared.thrift")
    with pytest.raises(IdlError) as error:
        plan_files([_consumer(tmp_path / "again")], root=tmp_path / "again")
    assert str(error.value) == (
        'project/consumer.thrift:1:9: include "shared.thrift" is ambiguous: installed '
        "distributions ship otheridl/shared.thrift (otheridl), extidl/idl/shared.thrift "
        "(extidl); write more of its path or name the package in include-packages"
    )

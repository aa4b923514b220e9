"""Each IDL file is read once, with one decoder, the same for discovery and both backends."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import thrift_compiler
from tests.support.importable import on_sys_path
from thriftbuild.codegen.discovery import plan_files
from thriftbuild.codegen.errors import IdlError
from thriftbuild.codegen.generate import generate_to_directory
from thriftbuild.codegen.idl.reader import decode_idl, read_idl

BOM = b"\xef\xbb\xbf"
IDL = (
    b'include "shared.thrift"\n'
    b'struct S {\n  1: shared.Id id = 7\n  2: string name = "caf\xc3\xa9"\n}\n'
)


@pytest.fixture
def importable(tmp_path: Path) -> Iterator[Path]:
    """A directory on sys.path; modules imported from it are forgotten afterwards."""
    with on_sys_path(tmp_path) as directory:
        yield directory


def _bom_project(directory: Path) -> Path:
    directory.mkdir()
    (directory / "shared.thrift").write_bytes(BOM + b"typedef i64 Id\n")
    (directory / "bom.thrift").write_bytes(BOM + IDL)
    return directory / "bom.thrift"


def test_reader_bom_dropped_and_non_utf8_bytes_kept() -> None:
    assert decode_idl(BOM + b"struct S {}") == "struct S {}"
    text = decode_idl(b"// caf\xe9\n")
    assert text.encode("utf-8", "surrogateescape") == b"// caf\xe9\n"


def test_reader_missing_file_is_an_idl_error(tmp_path: Path) -> None:
    with pytest.raises(IdlError, match=r"^gone\.thrift: cannot read"):
        read_idl(tmp_path / "gone.thrift", "gone.thrift")


@pytest.mark.parametrize("backend", ["python", "compiler"])
def test_reader_bom_file_generates_with_both_backends(
    importable: Path, tmp_path: Path, backend: str
) -> None:
    if backend == "compiler":
        thrift_compiler()
    idl = _bom_project(tmp_path / "idl")
    generate_to_directory([idl], importable / "out", backend=backend)
    sys.path.insert(0, str(importable / "out"))
    try:
        ttypes = importlib.import_module("bom_thrift.ttypes")
    finally:
        sys.path.remove(str(importable / "out"))
    value = ttypes.S()
    assert (value.id, type(value.id)) == (7, int)
    assert (value.name, type(value.name)) == ("café", str)


def test_reader_discovery_reads_each_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    idl = _bom_project(tmp_path / "idl")
    reads: list[str] = []
    original = Path.read_bytes

    def counting(self: Path) -> bytes:
        if self.suffix == ".thrift":
            reads.append(self.name)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    monkeypatch.setattr(Path, "read_text", _no_text_reads)
    generate_to_directory([idl], tmp_path / "out", backend="python")
    assert sorted(reads) == ["bom.thrift", "shared.thrift"]
    plan = plan_files([idl])
    assert all(source.text is not None for source in plan.sources.values())


def _no_text_reads(self: Path, *args: object, **kwargs: object) -> str:
    if self.suffix == ".thrift":
        raise AssertionError(f"{self.name} read as text outside the IDL reader")
    return Path.read_bytes(self).decode()

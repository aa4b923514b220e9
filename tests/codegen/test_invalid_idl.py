"""Invalid IDL: each ``fixtures/idl/invalid/NNN-slug.thrift`` is rejected with the exact
one-line message in ``NNN-slug.err`` by the pure-Python backend, and the Apache
compiler rejects it too (we reject what it rejects) -- through the compiler backend
with the same message: one wording per fault, whichever backend runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO, thrift_compiler
from thriftbuild.codegen.errors import IdlError, ThriftBuildError
from thriftbuild.codegen.generate import generate_to_directory

INVALID = FIXTURES / "idl" / "invalid"
CASES = sorted(p.name for p in INVALID.glob("[0-9][0-9][0-9]-*.thrift"))


def test_invalid_idl_fixtures_come_in_pairs() -> None:
    assert CASES
    for name in CASES:
        assert (INVALID / name).with_suffix(".err").is_file(), name


@pytest.mark.parametrize("name", CASES)
def test_invalid_idl_python_backend_exact_message(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)  # messages name files relative to the project root
    expected = (INVALID / name).with_suffix(".err").read_text(encoding="utf-8").strip()
    idl = Path("fixtures/idl/invalid") / name
    with pytest.raises(ThriftBuildError) as caught:
        generate_to_directory([idl], tmp_path / "out", backend="python")
    assert str(caught.value) == expected
    assert "\n" not in str(caught.value)
    if isinstance(caught.value, IdlError):
        assert caught.value.line > 0 and caught.value.column > 0
    assert not list((tmp_path / "out").rglob("*.py")), "nothing half-written is left"


@pytest.mark.compiler
@pytest.mark.parametrize("name", CASES)
def test_invalid_idl_compiler_also_rejects_in_the_same_words(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiler = thrift_compiler()
    monkeypatch.chdir(REPO)
    expected = (INVALID / name).with_suffix(".err").read_text(encoding="utf-8").strip()
    with pytest.raises(ThriftBuildError) as caught:
        generate_to_directory(
            [Path("fixtures/idl/invalid") / name],
            tmp_path / "out",
            backend="compiler",
            compiler=compiler,
        )
    assert str(caught.value) == expected


def test_constants_copied_by_name_are_bounded_in_total(tmp_path: Path) -> None:
    # No single copy of S comes near the 16 MiB bound, but 17 copies of it do.
    names = ", ".join(["S"] * 17)
    idl = tmp_path / "copies.thrift"
    idl.write_text(f'const string S = "{"x" * (1 << 20)}"\nconst list<string> L = [{names}]\n')
    out = tmp_path / "out"
    with pytest.raises(
        IdlError, match=r"copies\.thrift:2:\d+: .*copied by name add up to more than 16 MiB"
    ):
        generate_to_directory([idl], out, backend="python")
    assert not out.exists() or not any(out.rglob("*.py"))

"""Hostile and odd IDL: a one-line ``path:line:col`` error or importable, working code.

Small cases live in ``fixtures/idl/hostile/NNN-slug.thrift``, each with
``NNN-slug.expected`` recording our verdict (``accepted`` or the exact message) and the
0.17 compiler's. Large cases are generated here at test time.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.transport import TTransport

from tests.conftest import FIXTURES, REPO, thrift_compiler
from tests.support.importable import on_sys_path
from thriftbuild.codegen.backends.python import PythonBackend
from thriftbuild.codegen.discovery import plan_files
from thriftbuild.codegen.errors import IdlError, ThriftBuildError
from thriftbuild.codegen.generate import generate_to_directory
from thriftbuild.codegen.idl.parser import MAX_NESTING, parse
from thriftbuild.codegen.idl.reader import encode_idl, read_idl
from thriftbuild.codegen.idl.resolved import GENERATED_GLOBALS, PACKAGE_MODULES
from thriftbuild.codegen.model import GeneratorOptions

HOSTILE = FIXTURES / "idl" / "hostile"
CASES = sorted(p.name for p in HOSTILE.glob("[0-9][0-9][0-9]-*.thrift"))
PROTOCOLS = [
    TBinaryProtocol.TBinaryProtocolFactory(),
    TCompactProtocol.TCompactProtocolFactory(),
    TBinaryProtocol.TBinaryProtocolAcceleratedFactory(),
]


def _expected(name: str) -> dict[str, str]:
    lines = (HOSTILE / name).with_suffix(".expected").read_text(encoding="utf-8").splitlines()
    return dict(line.split(": ", 1) for line in lines)


@pytest.fixture
def importable(tmp_path: Path) -> Iterator[Path]:
    """A directory on sys.path; modules imported from it are forgotten afterwards."""
    with on_sys_path(tmp_path / "out") as directory:
        yield directory


def _generate(idl: Path, out: Path, backend: str = "python") -> None:
    generate_to_directory([idl], out, backend=backend)


def _round_trip(obj: Any) -> None:
    for factory in PROTOCOLS:
        buffer = TTransport.TMemoryBuffer()
        obj.write(factory.getProtocol(buffer))
        again = type(obj)()
        again.read(factory.getProtocol(TTransport.TMemoryBuffer(buffer.getvalue())))
        assert again == obj


def _import_all(out: Path, package: str) -> dict[str, ModuleType]:
    modules = {}
    for path in sorted((out / package).glob("*.py")):
        name = path.stem if path.stem != "__init__" else ""
        full = f"{package}.{name}" if name else package
        modules[name or "__init__"] = importlib.import_module(full)
    return modules


def test_hostile_fixtures_record_both_verdicts() -> None:
    assert CASES
    for name in CASES:
        expected = _expected(name)
        assert set(expected) == {"python", "compiler"}, name


@pytest.mark.parametrize("name", CASES)
def test_hostile_fixture_python_backend_verdict(
    name: str, importable: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)  # messages name files relative to the project root
    verdict = _expected(name)["python"]
    idl = Path("fixtures/idl/hostile") / name
    if verdict != "accepted":
        with pytest.raises(ThriftBuildError) as caught:
            _generate(idl, importable)
        assert str(caught.value) == verdict
        assert not list(importable.rglob("*.py")), "nothing half-written is left"
        return
    _generate(idl, importable)
    package = next(p.name for p in importable.iterdir() if p.name.endswith("_thrift"))
    assert "__init__" in _import_all(importable, package)


@pytest.mark.compiler
@pytest.mark.parametrize("name", CASES)
def test_hostile_fixture_compiler_verdict_as_recorded(name: str, tmp_path: Path) -> None:
    compiler = thrift_compiler()
    assert compiler is not None
    recorded = _expected(name)["compiler"].split(":")[0].split(";")[0]
    try:
        result = subprocess.run(
            [compiler, "--gen", "py", "-out", str(tmp_path), str(HOSTILE / name)],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except subprocess.TimeoutExpired:
        actual = "hangs"
    else:
        actual = "accepted" if result.returncode == 0 else "rejected"
    assert actual == recorded


def test_hostile_bom_and_latin1_comments_generate_working_code(importable: Path) -> None:
    _generate(HOSTILE / "001-bom.thrift", importable)
    _generate(HOSTILE / "002-latin1-comments.thrift", importable)
    bom = importlib.import_module("_001_bom_thrift.constants")
    assert bom.GREETING == "café"
    _round_trip(bom.Point(x=1, y=-2))
    assert importlib.import_module("_002_latin1_comments_thrift.constants").ANSWER == 42


def test_hostile_nesting_at_the_limit_round_trips(importable: Path) -> None:
    _generate(HOSTILE / "010-containers-16-deep.thrift", importable)
    ttypes = importlib.import_module("_010_containers_16_deep_thrift.ttypes")
    value: Any = [1, 2]
    for _ in range(MAX_NESTING // 2 - 1):
        value = [value, []]
    for level in range(MAX_NESTING // 2):
        value = {f"k{level}": value}
    _round_trip(ttypes.Deep(x=value))


def test_hostile_service_module_names_its_own_types_safely(importable: Path) -> None:
    _generate(HOSTILE / "012-shadowing-service-names.thrift", importable)
    ttypes = importlib.import_module("_012_shadowing_service_names_thrift.ttypes")
    lookup = importlib.import_module("_012_shadowing_service_names_thrift.Lookup")

    class Handler:
        def get(self, i: Any, a: Any, r: Any) -> Any:
            if a.n < 0:
                raise ttypes.Processor(why=i.name)
            return ttypes.Client(id=a.n + r.n)

    processor = lookup.Processor(Handler())

    def call(n: int) -> Any:
        request = TTransport.TMemoryBuffer()
        lookup.Client(TBinaryProtocol.TBinaryProtocol(request)).send_get(
            ttypes.Iface(name="me"), ttypes.get_args(n=n), ttypes.get_result(n=1)
        )
        reply = TTransport.TMemoryBuffer()
        processor.process(
            TBinaryProtocol.TBinaryProtocol(TTransport.TMemoryBuffer(request.getvalue())),
            TBinaryProtocol.TBinaryProtocol(reply),
        )
        client = lookup.Client(
            TBinaryProtocol.TBinaryProtocol(TTransport.TMemoryBuffer(reply.getvalue()))
        )
        return client.recv_get()

    assert call(4) == ttypes.Client(id=5)
    with pytest.raises(ttypes.Processor) as raised:
        call(-1)
    assert raised.value.why == "me"


_DECLARATIONS = {
    "struct": "struct {name} {{ 1: i32 x }}",
    "exception": "exception {name} {{ 1: string why }}",
    "enum": "enum {name} {{ ONE = 1 }}",
    "const": "const i32 {name} = 1",
    "service": "service {name} {{ void ping() }}",
}


@pytest.mark.parametrize("kind", sorted(_DECLARATIONS))
@pytest.mark.parametrize("name", sorted(GENERATED_GLOBALS))
def test_hostile_name_the_generated_modules_use_is_rejected_at_its_position(
    name: str, kind: str, tmp_path: Path
) -> None:
    idl = tmp_path / "names.thrift"
    idl.write_text("// line 1\n" + _DECLARATIONS[kind].format(name=name) + "\n")
    with pytest.raises(IdlError) as caught:
        _generate(idl, tmp_path / "out")
    column = _DECLARATIONS[kind].index("{name}") + 1
    assert str(caught.value).startswith(f"{idl}:2:{column}: '{name}' is a name")
    assert GENERATED_GLOBALS[name] in str(caught.value)


@pytest.mark.parametrize("name", sorted(PACKAGE_MODULES))
def test_hostile_service_named_like_a_package_module_is_rejected(name: str, tmp_path: Path) -> None:
    idl = tmp_path / "svc.thrift"
    idl.write_text(f"struct P {{ 1: i32 x }}\nservice {name} {{ P get() }}\n")
    with pytest.raises(
        IdlError, match=rf"^{re.escape(str(idl))}:2:9: a service named '{name}' would"
    ):
        _generate(idl, tmp_path / "out")


# -- generated at test time: too big (or too many files) to commit ------------------------
# The compiler's verdict on each is recorded beside ours.


def test_hostile_type_2000_deep_is_a_limit_error(tmp_path: Path) -> None:
    # compiler: accepted; its ttypes.py fails to import (too many statically nested blocks).
    idl = tmp_path / "deep.thrift"
    idl.write_text("struct S {\n  1: " + "list<" * 2000 + "i32" + ">" * 2000 + " x\n}\n")
    with pytest.raises(
        IdlError, match=rf"^{re.escape(str(idl))}:2:86: containers nested more than 16"
    ):
        _generate(idl, tmp_path / "out")


def test_hostile_constant_2000_deep_is_a_limit_error(tmp_path: Path) -> None:
    # compiler: rejected (type error: const "X<elem>" was declared as i32).
    idl = tmp_path / "deep.thrift"
    idl.write_text("const list<i32> X = " + "[" * 2000 + "]" * 2000 + "\n")
    with pytest.raises(
        IdlError, match=rf"^{re.escape(str(idl))}:1:37: constant values nested more"
    ):
        _generate(idl, tmp_path / "out")


def test_hostile_typedef_and_constant_chains_2000_long_generate(importable: Path) -> None:
    # compiler: accepts both.
    n = 2000
    directory = importable.parent / "idl"
    directory.mkdir()
    chain = "typedef i32 T0\n" + "".join(f"typedef T{i - 1} T{i}\n" for i in range(1, n))
    chain += "const i32 C0 = 7\n" + "".join(f"const i32 C{i} = C{i - 1}\n" for i in range(1, n))
    (directory / "chain.thrift").write_text(chain)
    (directory / "use.thrift").write_text(
        f'include "chain.thrift"\nconst i32 X = chain.C{n - 1}\n'
        f"struct S {{ 1: chain.T{n - 1} x = chain.C{n - 1} }}\n"
    )
    _generate(directory / "use.thrift", importable)
    use = importlib.import_module("use_thrift.constants")
    assert use.X == 7 and use.S().x == 7
    assert importlib.import_module("chain_thrift.constants").C1999 == 7


def test_hostile_include_chain_1200_deep_plans_and_generates(tmp_path: Path) -> None:
    # compiler: accepted.
    n = 1200
    for i in range(n):
        include = f'include "c{i + 1}.thrift"\n' if i + 1 < n else ""
        (tmp_path / f"c{i}.thrift").write_text(f"{include}struct S{i} {{ 1: i32 x }}\n")
    plan = plan_files([tmp_path / "c0.thrift"], root=tmp_path, search_installed=False)
    assert len(plan.targets) == n
    root = plan.targets[-1]
    assert root.display_path == "c0.thrift"
    package = PythonBackend().generate(plan.request(root, GeneratorOptions()))
    assert "class S0(object):" in package.files["ttypes.py"]


def test_hostile_include_cycle_through_a_long_chain_names_it(tmp_path: Path) -> None:
    n = 300
    for i in range(n):
        (tmp_path / f"c{i}.thrift").write_text(f'include "c{(i + 1) % n}.thrift"\n')
    with pytest.raises(ThriftBuildError, match=r"^include cycle: c0\.thrift -> c1\.thrift"):
        plan_files([tmp_path / "c0.thrift"], root=tmp_path, search_installed=False)


def test_hostile_symlink_loops_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # compiler: "Could not open input file" for the path; an include of it is not found.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.thrift").symlink_to("b.thrift")
    (tmp_path / "b.thrift").symlink_to("a.thrift")
    (tmp_path / "main.thrift").write_text('include "a.thrift"\n')
    with pytest.raises(IdlError, match=r"^a\.thrift: symbolic link loop$"):
        plan_files([Path("a.thrift")])
    with pytest.raises(IdlError, match=r'^main\.thrift:1:9: include "a.thrift": a\.thrift is a '):
        plan_files([Path("main.thrift")])


def test_hostile_unreadable_file_is_reported(tmp_path: Path) -> None:
    # Running as root, permissions do not stop a read; a directory always fails to read.
    target = tmp_path / "dir.thrift"
    target.mkdir()
    with pytest.raises(IdlError, match=r"^dir\.thrift: cannot read: Is a directory$"):
        read_idl(target, "dir.thrift")


def test_hostile_struct_of_10000_fields_imports_and_round_trips(importable: Path) -> None:
    # compiler: accepted; its ttypes.py fails to import (MemoryError: the elif chain).
    n = 10_000
    idl = importable.parent / "wide.thrift"
    idl.write_text(
        "struct Wide {\n" + "".join(f"  {i}: optional i32 f{i}\n" for i in range(1, n + 1)) + "}\n"
    )
    _generate(idl, importable)
    ttypes = importlib.import_module("wide_thrift.ttypes")
    _round_trip(ttypes.Wide(**{f"f{i}": i * 3 for i in range(1, n + 1, 7)}))


@pytest.mark.compiler
@pytest.mark.parametrize(
    "text",
    [
        "service S {\n  Response get(1: Request req)\n}\nstruct Later {\n  1: Missing m\n}\n",
        "struct A {\n  1: list<Zed> x\n}\ntypedef Yak T\nstruct B { 1: T y }\n",
        "typedef Zed T\nstruct A { 1: map<string, Yak> x }\n",
        "const i32 X = 1\nstruct A { 1: i32 a, 2: nope.Thing t }\n",
    ],
)
def test_hostile_undefined_type_same_position_from_both_backends(text: str, tmp_path: Path) -> None:
    thrift_compiler()
    idl = tmp_path / "undefined.thrift"
    idl.write_text(text)
    reports = []
    for backend in ("python", "compiler"):
        with pytest.raises(IdlError) as caught:
            _generate(idl, tmp_path / backend, backend)
        reports.append((caught.value.line, caught.value.column, str(caught.value)))
    assert reports[0] == reports[1]  # same position, same words
    assert reports[0][0] > 0 and reports[0][1] > 0


# -- cost: memory linear in the input (speed is measured in benchmarks/) -------------------


def _parse_peak(text: str) -> int:
    tracemalloc.start()
    try:
        parse(text, "big.thrift")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "body",
    [pytest.param("a", id="plain"), pytest.param("\\n", id="escapes")],
)
def test_hostile_huge_string_literal_costs_a_few_bytes_per_byte(body: str) -> None:
    size = 2_000_000 if body == "a" else 400_000  # an escape costs a loop turn
    text = 'const string S = "' + body * (size // len(body)) + '"\n'
    # The value itself is one copy; 20 MB under 200 MB peak is this ratio of 10.
    assert _parse_peak(text) / len(text) < 10


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda i: f"struct S{i} {{ 1: i32 a, 2: list<string> b }}\n", id="structs"),
        pytest.param(lambda i: f"const i32 C{i}{'x' * 60} = {i}\n", id="constants"),
        pytest.param(lambda i: f"// comment {i} " + "c" * 50 + "\n", id="comments"),
    ],
)
def test_hostile_parser_memory_per_byte_does_not_grow_with_size(make: Any) -> None:
    def text(count: int) -> str:
        return "".join(make(i) for i in range(count))

    small, large = text(1_000), text(8_000)
    per_byte_small = _parse_peak(small) / len(small)
    per_byte_large = _parse_peak(large) / len(large)
    assert per_byte_large < per_byte_small * 1.5 + 1


# -- any input: a ThriftBuildError or a package, never another exception -------------------

_TOKENS = [
    *("struct", "union", "exception", "enum", "const", "typedef", "service", "extends"),
    *("throws", "oneway", "void", "required", "optional", "include", "namespace", "py"),
    *("i32", "string", "binary", "bool", "double", "list", "set", "map", "senum"),
    *("{", "}", "(", ")", "<", ">", "[", "]", ",", ";", ":", "=", "*", "&", "."),
    *("A", "B", "x", "y", "A.B", "self", "read", "TType", "Client", "ttypes"),
    *("1", "-1", "0x7f", "99999999999999999999", "1.5", "1e400", '"s"', "'q'", '"\\n"'),
    *("/*", "*/", "//", "#", "\n", "\ufeff", "\udce9", "é", '"', "\\"),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(words=st.lists(st.sampled_from(_TOKENS), max_size=40))
def test_hostile_token_soup_gives_a_package_or_a_build_error(words: list[str]) -> None:
    text = " ".join(words)
    with tempfile.TemporaryDirectory(prefix="tb-soup-") as tmp:
        idl = Path(tmp) / "soup.thrift"
        idl.write_bytes(encode_idl(text))
        out = Path(tmp) / "out"
        try:
            _generate(idl, out)
        except ThriftBuildError as exc:
            assert "\n" not in str(exc)
            assert str(exc).startswith(str(idl))
            return
        # Accepted: every generated module imports.
        sys.path.insert(0, str(out))
        try:
            _import_all(out, "soup_thrift")
        finally:
            sys.path.remove(str(out))
            for name in [m for m in sys.modules if m.split(".")[0] == "soup_thrift"]:
                del sys.modules[name]

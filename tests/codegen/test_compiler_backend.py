"""The compiler backend: generated code works, errors are precise, output is deterministic."""

from __future__ import annotations

import contextlib
import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.transport import TSocket, TTransport

from tests.conftest import PROJECTS, thrift_compiler
from tests.support.servers import serving
from thriftbuild.codegen.backends.compiler import CompilerBackend
from thriftbuild.codegen.errors import (
    CompilerNotFoundError,
    GeneratorError,
    IdlError,
    IncludeCycleError,
    IncludeNotFoundError,
    OutputConflictError,
)
from thriftbuild.codegen.generate import generate_to_directory
from thriftbuild.codegen.model import GeneratorOptions

pytestmark = pytest.mark.usefixtures("compiler")

CLASSIC = PROJECTS / "classic"
CALCULATOR_IDL = CLASSIC / "classic" / "api" / "calculator.thrift"
MODULES = ("calculator_thrift", "types_thrift", "base_thrift", "shapes_thrift", "vendor_thrift")


def generate(*files: Path, out: Path, include: tuple[Path, ...] = (), **kwargs: object) -> None:
    generate_to_directory(
        list(files), out, include_dirs=list(include), backend="compiler", **kwargs
    )  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def classic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ModuleType]]:
    """The classic fixture's IDL generated into a temp dir and imported."""
    thrift_compiler()  # module fixtures run before the function-scoped `compiler` one
    out = tmp_path_factory.mktemp("generated")
    generate(CALCULATOR_IDL, out=out, include=(CLASSIC / "idl",))
    sys.path.insert(0, str(out))
    try:
        yield {
            name: importlib.import_module(name)
            for name in (
                "calculator_thrift.Calculator",
                "types_thrift.ttypes",
                "types_thrift.constants",
                "base_thrift.ttypes",
                "shapes_thrift.ttypes",
            )
        }
    finally:
        sys.path.remove(str(out))
        for name in list(sys.modules):
            if name.split(".")[0] in MODULES:
                del sys.modules[name]


PROTOCOLS = [
    TBinaryProtocol.TBinaryProtocolFactory(),
    TBinaryProtocol.TBinaryProtocolAcceleratedFactory(),
    TCompactProtocol.TCompactProtocolFactory(),
    TCompactProtocol.TCompactProtocolAcceleratedFactory(),
]


@pytest.mark.parametrize("factory", PROTOCOLS, ids=lambda f: type(f).__name__)
def test_generated_structs_round_trip_through_every_protocol(
    classic: dict[str, ModuleType], factory: object
) -> None:
    from thrift.transport.TTransport import TMemoryBuffer

    types, constants = classic["types_thrift.ttypes"], classic["types_thrift.constants"]
    values = [
        constants.SAMPLE,
        types.Everything(
            id="x",
            a_binary=b"\x00\xff",
            nested={"k": {1: {"a", "b"}}},
            colors={types.Color.INFRARED, types.Color.BLUE},
            color=types.Color.ULTRAVIOLET,
        ),
        types.Shape(point=constants.ORIGIN),
        types.Overflow(message="m", limit=-1),
    ]
    for value in values:
        buffer = TMemoryBuffer()
        value.write(factory.getProtocol(buffer))  # type: ignore[attr-defined]
        reader = factory.getProtocol(TMemoryBuffer(buffer.getvalue()))  # type: ignore[attr-defined]
        cls = type(value)
        # Exceptions are immutable: their read() is a classmethod returning a new instance.
        decoded = cls.read(reader) if isinstance(cls.__dict__["read"], classmethod) else cls()
        if not isinstance(cls.__dict__["read"], classmethod):
            decoded.read(reader)
        assert decoded == value


def test_generated_constants_and_defaults_match_the_idl(classic: dict[str, ModuleType]) -> None:
    types, constants = classic["types_thrift.ttypes"], classic["types_thrift.constants"]
    assert types.Color.BLUE == 16 and types.Color.ULTRAVIOLET == -32
    assert types.Color._VALUES_TO_NAMES[-1] == "INFRARED"
    assert constants.COLOR_NAMES == {types.Color.RED: "red", types.Color.BLUE: "blue"}
    assert [{"x": {1, 2}}, {}] == constants.DEEP
    assert constants.BIG == -(2**63)
    assert (constants.SMALL, constants.SHORT, constants.MAGIC) == (-7, 32767, b"magic")
    assert constants.SAMPLE.outline.vertices[0].y == 2.0
    default = types.Everything()
    assert (default.a_byte, default.an_i64, default.a_string) == (-8, 2**63 - 1, "héllo")
    with pytest.raises(Exception, match="id"):
        default.validate()  # required field unset


def test_idl_exception_reraises_through_contextmanager(classic: dict[str, ModuleType]) -> None:
    """THRIFT-5715: 0.17's immutable exceptions break contextlib on Python 3.11+."""
    types = classic["types_thrift.ttypes"]

    @contextlib.contextmanager
    def wrapper() -> Iterator[None]:
        yield

    with pytest.raises(types.Overflow) as caught, wrapper():
        raise types.Overflow(message="boom", limit=1)
    assert caught.value.__traceback__ is not None
    with pytest.raises(TypeError, match="immutable"):
        caught.value.limit = 2  # Thrift fields stay immutable
    with pytest.raises(TypeError, match="immutable"):
        del caught.value.message
    assert hash(caught.value) == hash(types.Overflow(message="boom", limit=1))


def test_generated_service_answers_over_loopback_with_compact_protocol(
    classic: dict[str, ModuleType],
) -> None:
    calculator = classic["calculator_thrift.Calculator"]
    base_types = classic["base_thrift.ttypes"]

    class Handler:
        def add(self, a: int, b: int) -> int:
            return a + b

        def divide(self, a: float, b: float) -> float:
            raise base_types.BaseError(message="no", code=7)

        def health(self) -> object:
            return base_types.Health(ok=True)

    with serving(
        calculator.Processor(Handler()),
        TTransport.TFramedTransportFactory(),
        TCompactProtocol.TCompactProtocolAcceleratedFactory(),
    ) as port:
        socket = TSocket.TSocket("127.0.0.1", port)
        socket.setTimeout(5000)
        transport = TTransport.TFramedTransport(socket)
        client = calculator.Client(TCompactProtocol.TCompactProtocolAccelerated(transport))
        transport.open()
        try:
            assert client.add(40, 2) == 42
            assert client.health().ok is True
            with pytest.raises(base_types.BaseError) as error:
                client.divide(1.0, 2.0)
            assert error.value.code == 7
        finally:
            transport.close()


def test_namespace_py_does_not_move_the_output(tmp_path: Path) -> None:
    shapes = CLASSIC / "classic" / "api" / "models" / "shapes.thrift"
    generate(shapes, out=tmp_path)
    assert (tmp_path / "shapes_thrift" / "ttypes.py").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shapes_thrift"]


def _tree(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def test_same_inputs_in_other_directories_give_identical_bytes(tmp_path: Path) -> None:
    trees = []
    for name in ("a", "b"):
        project = tmp_path / name / "project"
        shutil.copytree(CLASSIC, project)
        out = tmp_path / name / "out"
        generate(
            project / "classic" / "api" / "calculator.thrift", out=out, include=(project / "idl",)
        )
        trees.append(_tree(out))
    assert trees[0] == trees[1]
    assert all(str(tmp_path).encode() not in data for data in trees[0].values())


def test_crlf_idl_generates_the_same_bytes_as_lf(tmp_path: Path) -> None:
    trees = []
    for name, newline in (("lf", "\n"), ("crlf", "\r\n")):
        source = tmp_path / name / "types.thrift"
        source.parent.mkdir()
        text = (CLASSIC / "classic" / "common" / "base.thrift").read_text()
        source.write_bytes(text.replace("\n", newline).encode())
        generate(source, out=tmp_path / name / "out")
        trees.append(_tree(tmp_path / name / "out"))
    lf, crlf = trees
    assert {k: v for k, v in lf.items() if not k.endswith(".json")} == {
        k: v for k, v in crlf.items() if not k.endswith(".json")
    }


def test_syntax_error_names_file_and_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # run from the tree: messages name files relative to it
    good = tmp_path / "good.thrift"
    good.write_text("struct Good { 1: i32 x }\n")
    bad = tmp_path / "bad.thrift"
    bad.write_text('include "good.thrift"\nstruct Bad {\n  1: i32 x\n  2 i32 y\n}\n')
    out = tmp_path / "out"
    with pytest.raises(IdlError) as error:
        generate(good, bad, out=out)
    assert str(error.value) == "bad.thrift:4:5: expected ':', got 'i32'"
    assert not out.exists() or not any(out.iterdir())


def test_failed_regeneration_keeps_the_previous_package(tmp_path: Path) -> None:
    source = tmp_path / "svc.thrift"
    source.write_text("service Svc { void ping() }\n")
    out = tmp_path / "out"
    generate(source, out=out)
    before = _tree(out)
    source.write_text("service Svc { void ping( }\n")
    with pytest.raises(IdlError):
        generate(source, out=out)
    assert _tree(out) == before
    assert [p.name for p in out.iterdir()] == ["svc_thrift"]


def test_undefined_type_error_points_at_the_type(tmp_path: Path) -> None:
    source = tmp_path / "typo.thrift"
    source.write_text("// strng in a comment is not the culprit\nstruct A {\n  1: strng name\n}\n")
    with pytest.raises(IdlError) as error:
        generate(source, out=tmp_path / "out")
    assert error.value.line == 3 and error.value.column == 6
    assert "type 'strng' is not defined" in str(error.value)


def test_missing_include_names_the_includer_and_every_searched_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # run from the tree: messages name files relative to it
    source = tmp_path / "main.thrift"
    source.write_text('\ninclude "nowhere.thrift"\n')
    extra = tmp_path / "idl"
    extra.mkdir()
    with pytest.raises(IncludeNotFoundError) as error:
        generate(source, out=tmp_path / "out", include=(extra,))
    message = str(error.value)
    assert message.startswith('main.thrift:2:9: include "nowhere.thrift" not found')
    assert error.value.searched[:2] == (".", "idl")


def test_include_cycle_is_reported_with_its_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # run from the tree: messages name files relative to it
    (tmp_path / "a.thrift").write_text('include "b.thrift"\n')
    (tmp_path / "b.thrift").write_text('include "c.thrift"\n')
    (tmp_path / "c.thrift").write_text('include "a.thrift"\n')
    with pytest.raises(IncludeCycleError) as error:
        generate(tmp_path / "a.thrift", out=tmp_path / "out")
    assert str(error.value) == "include cycle: a.thrift -> b.thrift -> c.thrift -> a.thrift"


def test_strict_rejects_implicit_field_ids_that_lenient_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # run from the tree: messages name files relative to it
    source = tmp_path / "implicit.thrift"
    source.write_text("struct Old {\n  i32 x\n}\n")
    generate(source, out=tmp_path / "lenient")
    with pytest.raises(IdlError) as error:
        generate(source, out=tmp_path / "strict", options=GeneratorOptions(strict=True))
    # Reported by our front end, in the python backend's words, at the field itself
    # (the compiler says line 3: "Implicit field keys are deprecated ...").
    assert str(error.value) == "implicit.thrift:2:7: field 'x' has no explicit id (strict)"


def test_missing_compiler_says_how_to_get_one() -> None:
    with pytest.raises(CompilerNotFoundError) as error:
        CompilerBackend.locate("/nonexistent/bin/thrift")
    message = str(error.value)
    assert "apt-get install thrift-compiler" in message
    assert "brew install thrift" in message
    assert 'backend = "python"' in message


def test_file_names_that_are_not_identifiers_map_to_valid_packages(tmp_path: Path) -> None:
    source = tmp_path / "my-service.v2.thrift"
    source.write_text("service Hello { string hi() }\n")
    generate(source, out=tmp_path / "out")
    assert (tmp_path / "out" / "my_service_v2_thrift" / "Hello.py").is_file()
    (tmp_path / "my_service.v2.thrift").write_text("struct X {}\n")
    with pytest.raises(OutputConflictError, match="my_service_v2_thrift"):
        generate(source, tmp_path / "my_service.v2.thrift", out=tmp_path / "again")


def test_package_prefix_option_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "x.thrift"
    source.write_text("struct X {}\n")
    with pytest.raises(GeneratorError, match="package_prefix"):
        generate(source, out=tmp_path / "out", options=GeneratorOptions(("package_prefix=a.",)))


def test_directory_not_written_by_thriftbuild_is_never_overwritten(tmp_path: Path) -> None:
    source = tmp_path / "x.thrift"
    source.write_text("struct X {}\n")
    mine = tmp_path / "out" / "x_thrift"
    mine.mkdir(parents=True)
    (mine / "precious.py").write_text("keep me\n")
    with pytest.raises(OutputConflictError, match="not generated by thriftbuild"):
        generate(source, out=tmp_path / "out")
    assert (mine / "precious.py").read_text() == "keep me\n"


@pytest.mark.parametrize("namespace", ["", "namespace py some.where\n"])
def test_service_extending_a_service_of_the_same_file_imports(
    tmp_path: Path, namespace: str
) -> None:
    source = tmp_path / "family.thrift"
    source.write_text(
        namespace + "service Base { i32 ping() }\nservice Child extends Base { void pong() }\n"
    )
    out = tmp_path / "out"
    generate(source, out=out)
    script = (
        "from family_thrift import Base, Child\n"
        "assert issubclass(Child.Client, Base.Client)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=out, capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "ok", result.stderr

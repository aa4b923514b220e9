"""Differential conformance: the pure-Python backend against the Apache compiler.

For every IDL file of the shared corpus both backends generate a package; the test
checks that the public API matches, that randomised values of every struct, union
and exception encode to the same bytes under four protocols with either side's
code and decode on the other side, and that clients of one side call servers of the
other over 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import shutil
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.Thrift import TType
from thrift.transport import TTransport

from tests._thrift_values import (
    decode,
    encode,
    fields_of,
    realize,
    sample,
    struct_strategy,
    tree,
    typed,
    value_strategy,
)
from tests.conftest import CORPUS, FIXTURES, corpus_dir, thrift_compiler
from tests.support.generated import generate_under
from tests.support.servers import client_for, serving
from thriftbuild.codegen.discovery import plan_files
from thriftbuild.codegen.errors import IdlError
from thriftbuild.codegen.model import GeneratorOptions, generated_name

pytestmark = [pytest.mark.compiler]


PROTOCOLS = {
    "binary": TBinaryProtocol.TBinaryProtocolFactory(),
    "compact": TCompactProtocol.TCompactProtocolFactory(),
    "binary-accelerated": TBinaryProtocol.TBinaryProtocolAcceleratedFactory(),
    "compact-accelerated": TCompactProtocol.TCompactProtocolAcceleratedFactory(),
}

#: Generated modules the compiler side cannot import or run, so only the Python side is
#: exercised (against itself). Keyed by (file stem, module or "*", slots). Each entry is
#: checked to still fail, so a fix upstream makes this test fail until it is removed.
COMPILER_SIDE_BROKEN = {
    ("NameConflictTest", "*", True): "fields named read/write clash with methods in __slots__",
    ("NameConflictTest", "extern", False): "argument Foo_args hides class Foo_args; "
    "fields named read/write hide the methods nested values are written with",
}

#: Corpus files the compiler rejects on purpose; both backends must reject them.
REJECTED_BY_COMPILER = ("apache-thrift-test/BrokenConstants.thrift",)


#: Our own fixtures, for what the corpus does not exercise (cross-directory extends,
#: struct constants, enum-keyed maps, python.immutable, ...).
OWN = FIXTURES / "idl" / "conformance"

#: Constants the compiler gets wrong (docs/divergences.md): it writes a container
#: constant defined as another constant's name as an empty container.
DIVERGENT_CONSTANTS = {("features", "COPIED")}


def _idl_files() -> list[str]:
    files: list[str] = []
    if CORPUS.is_dir():
        files += sorted(
            relative
            for relative in (p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*.thrift"))
            if relative not in REJECTED_BY_COMPILER
        )
    files += sorted(f"fixtures:{p.relative_to(OWN).as_posix()}" for p in OWN.rglob("*.thrift"))
    return files


def _locate(relative: str) -> tuple[Path, Path, list[Path]]:
    """(root, file, include dirs) of a test parameter; corpus dirs as MANIFEST.md gives them."""
    if relative.startswith("fixtures:"):
        return OWN, OWN / relative.removeprefix("fixtures:"), [OWN]
    if relative.startswith("scribe/"):
        return CORPUS, CORPUS / relative, [CORPUS / "fb303" / "share"]
    if relative.startswith("apache-thrift-test/"):
        return CORPUS, CORPUS / relative, [CORPUS / "apache-thrift-test"]
    return CORPUS, CORPUS / relative, []


FILES = _idl_files()


@pytest.fixture(scope="module")
def thrift_path() -> str | None:
    return thrift_compiler()  # skips locally, fails in CI, when missing


@pytest.fixture(scope="module")
def import_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("conformance")
    sys.path.insert(0, str(root))
    try:
        yield root
    finally:
        sys.path.remove(str(root))
        # Runners that run pytest more than once in one process (mutmut) must not find
        # this run's packages under the next run's names.
        _SEEN.clear()
        for name in [n for n in sys.modules if n.split(".")[0].startswith(("tbc", "tbp"))]:
            del sys.modules[name]


def _generate(backend_name: str, relative: str, prefix: str, root: Path, slots: bool) -> None:
    """Generate ``relative`` and its includes as packages under ``root/prefix``."""
    root_dir, path, include_dirs = _locate(relative)
    plan = plan_files([path], include_dirs=include_dirs, root=root_dir, search_installed=False)
    options = GeneratorOptions(("slots",) if slots else ())
    generate_under(backend_name, plan, prefix, root, options)


@dataclasses.dataclass
class Sides:
    """The two generated packages of one corpus file."""

    stem: str
    compiler: types.ModuleType
    python: types.ModuleType
    slots: bool

    def modules(self, name: str) -> tuple[types.ModuleType | None, types.ModuleType]:
        """The compiler's and our module ``name``; the first is None when it is broken."""
        p = importlib.import_module(f"{self.python.__name__}.{name}")
        known = COMPILER_SIDE_BROKEN.get((self.stem, name, self.slots)) or (
            COMPILER_SIDE_BROKEN.get((self.stem, "*", self.slots))
        )
        if known is not None:
            return None, p
        return importlib.import_module(f"{self.compiler.__name__}.{name}"), p


_SEEN: dict[tuple[str, bool], int] = {}

#: Every file in both modes of the generator: ``slots`` (the default) and plain classes.
CASES = [(relative, slots) for relative in FILES for slots in (True, False)]


@pytest.fixture(
    scope="module", params=CASES, ids=[f"{r}-{'slots' if s else 'dict'}" for r, s in CASES]
)
def sides(request: pytest.FixtureRequest, thrift_path: str | None, import_root: Path) -> Sides:
    relative: str
    slots: bool
    relative, slots = request.param
    index = _SEEN.setdefault((relative, slots), len(_SEEN))
    stem = _locate(relative)[1].stem
    module = generated_name(_locate(relative)[1])
    _generate("compiler", relative, f"tbc{index}", import_root, slots=slots)
    _generate("python", relative, f"tbp{index}", import_root, slots=slots)
    return Sides(
        stem,
        importlib.import_module(f"tbc{index}.{module}"),
        importlib.import_module(f"tbp{index}.{module}"),
        slots,
    )


@pytest.mark.parametrize("relative", REJECTED_BY_COMPILER)
def test_conformance_files_the_compiler_rejects_are_rejected_by_both(
    relative: str, thrift_path: str | None, import_root: Path
) -> None:
    corpus_dir()  # skips locally, fails in CI, when missing
    for backend, prefix in (("compiler", "rejected_c"), ("python", "rejected_p")):
        with pytest.raises(IdlError, match=r"BrokenConstants\.thrift:21:"):
            _generate(backend, relative, prefix, import_root, slots=True)
        shutil.rmtree(import_root / prefix)


def test_conformance_corpus_available_checked() -> None:
    corpus_dir()  # without it only fixtures/idl/conformance is checked: fails in CI
    assert any(not name.startswith("fixtures:") for name in FILES)


def _public(module: types.ModuleType) -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


def _normal_spec(value: Any) -> Any:
    if isinstance(value, type):
        return ("class", value.__name__)
    if isinstance(value, list) and value and isinstance(value[0], type):
        return ("struct", value[0].__name__)  # [cls, cls.thrift_spec] after fix_spec
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_normal_spec(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted(repr(_normal_spec(v)) for v in value)))
    if isinstance(value, dict):
        return (
            "dict",
            tuple(sorted(repr((_normal_spec(k), _normal_spec(v))) for k, v in value.items())),
        )
    if hasattr(value, "thrift_spec"):
        return (
            "struct",
            type(value).__name__,
            _normal_spec(
                vars(value)
                if hasattr(value, "__dict__")
                else [getattr(value, n) for n in value.__slots__]
            ),
        )
    return value


def _params(func: Any) -> list[str]:
    return list(inspect.signature(func).parameters)[1:]


def _is_struct(value: Any) -> bool:
    return isinstance(value, type) and hasattr(value, "thrift_spec") and hasattr(value, "validate")


def test_conformance_corpus_file_same_public_api(sides: Sides) -> None:
    assert sides.compiler.__all__ == sides.python.__all__
    for name in sides.python.__all__:
        c_mod, p_mod = sides.modules(name)
        if c_mod is None:
            with pytest.raises(Exception):  # noqa: B017 - still broken on the compiler side
                c_mod = importlib.import_module(f"{sides.compiler.__name__}.{name}")
                _exercise(c_mod, c_mod)
            continue
        c_names, p_names = _public(c_mod), _public(p_mod)
        assert sorted(c_names) == sorted(p_names), name
        for attr, c_value in c_names.items():
            p_value = p_names[attr]
            where = f"{name}.{attr}"
            if isinstance(c_value, type):
                assert {n for n in dir(c_value)} == {n for n in dir(p_value)}, where
                assert c_value.__mro__[1].__name__ == p_value.__mro__[1].__name__, where
                if "_NAMES_TO_VALUES" in vars(c_value):
                    assert c_value._VALUES_TO_NAMES == p_value._VALUES_TO_NAMES, where
                    assert c_value._NAMES_TO_VALUES == p_value._NAMES_TO_VALUES, where
                if _is_struct(c_value):
                    assert _normal_spec(c_value.thrift_spec) == _normal_spec(p_value.thrift_spec), (
                        where
                    )
                    assert _params(c_value.__init__) == _params(p_value.__init__), where
                    c_default = tree(TType.STRUCT, [c_value, None], c_value())
                    assert c_default == tree(TType.STRUCT, [p_value, None], p_value()), where
                if attr in ("Iface", "Client"):
                    for method in vars(c_value):
                        if not method.startswith("_"):
                            c_params = _params(getattr(c_value, method))
                            assert c_params == _params(getattr(p_value, method)), where
            elif name == "constants" and (sides.stem, attr) not in DIVERGENT_CONSTANTS:
                assert _normal_spec(c_value) == _normal_spec(p_value), where


def test_conformance_constants_and_defaults_same_values_and_types(sides: Sides) -> None:
    for name in sides.python.__all__:
        c_mod, p_mod = sides.modules(name)
        if c_mod is None:
            continue
        for attr, p_value in _public(p_mod).items():
            c_value = getattr(c_mod, attr)
            where = f"{name}.{attr}"
            if name == "constants" and not isinstance(p_value, type):
                if (sides.stem, attr) not in DIVERGENT_CONSTANTS:
                    assert typed(c_value) == typed(p_value), where
            elif _is_struct(p_value) and p_value.__module__ == p_mod.__name__:
                c_defaults = [s[4] if s else None for s in c_value.thrift_spec]
                p_defaults = [s[4] if s else None for s in p_value.thrift_spec]
                assert typed(c_defaults) == typed(p_defaults), f"{where}.thrift_spec"
                assert typed(c_value()) == typed(p_value()), f"{where}()"


def _struct_classes(sides: Sides) -> list[tuple[str, type, type]]:
    found = []
    for name in sides.python.__all__:
        c_mod, p_mod = sides.modules(name)
        for attr, p_value in sorted(_public(p_mod).items()):
            c_value = getattr(c_mod or p_mod, attr)
            if _is_struct(p_value) and p_value.__module__ == p_mod.__name__:
                found.append((f"{name}.{attr}", c_value, p_value))
    return found


def _decode(cls: type, data: bytes, factory: Any) -> Any:
    return decode(cls, factory.getProtocol(TTransport.TMemoryBuffer(data)))


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_conformance_random_structs_same_bytes_both_ways(sides: Sides, data: st.DataObject) -> None:
    for where, c_cls, p_cls in _struct_classes(sides):
        value = data.draw(struct_strategy(p_cls), label=where)
        c_obj = realize(TType.STRUCT, [c_cls, None], value)
        p_obj = realize(TType.STRUCT, [p_cls, None], value)
        for protocol, factory in PROTOCOLS.items():
            c_bytes = encode(c_obj, factory)
            p_bytes = encode(p_obj, factory)
            assert c_bytes == p_bytes, f"{where} under {protocol}"
            from_c = _decode(p_cls, c_bytes, factory)
            from_p = _decode(c_cls, p_bytes, factory)
            c_from_c = _decode(c_cls, c_bytes, factory)
            assert tree(TType.STRUCT, [p_cls, None], from_c) == tree(
                TType.STRUCT, [c_cls, None], c_from_c
            ), f"{where} under {protocol}"
            assert tree(TType.STRUCT, [c_cls, None], from_p) == tree(
                TType.STRUCT, [p_cls, None], _decode(p_cls, p_bytes, factory)
            ), f"{where} under {protocol}"
            # Same Python types too (tuple or list, frozenset or set, str or bytes).
            assert typed(from_c) == typed(c_from_c), f"{where} under {protocol}"


def _find(client_cls: type, name: str) -> Any:
    for cls in client_cls.__mro__:
        module = sys.modules[cls.__module__]
        if hasattr(module, name):
            return getattr(module, name)
    return None


class _Handler:
    """Answers every method with a fixed sample; raises its first exception on demand."""

    def __init__(self, client_cls: type) -> None:
        self.client_cls = client_cls
        self.raise_exception = False
        self.received: list[tuple[str, Any]] = []
        self.oneway_done = threading.Event()

    def __getattr__(self, method: str) -> Any:
        args_cls = _find(self.client_cls, f"{method}_args")
        result_cls = _find(self.client_cls, f"{method}_result")

        def call(*args: Any) -> Any:
            by_name = {e[2]: e for e in fields_of(args_cls)}
            names = _params(getattr(self.client_cls, method))
            received = {
                n: tree(by_name[n][1], by_name[n][3], a) for n, a in zip(names, args, strict=True)
            }
            self.received.append((method, received))
            if result_cls is None:
                self.oneway_done.set()
                return None
            results = fields_of(result_cls)
            if self.raise_exception:
                thrown = [e for e in results if e[0] != 0]
                raise realize(thrown[0][1], thrown[0][3], sample(thrown[0][1], thrown[0][3]))
            success = [e for e in results if e[0] == 0]
            if not success:
                return None
            return realize(success[0][1], success[0][3], sample(success[0][1], success[0][3]))

        return call


def _methods(client_cls: type) -> list[str]:
    return sorted(
        name
        for name in dir(client_cls)
        if not name.startswith("_")
        and _find(client_cls, f"{name}_args") is not None
        and not name.startswith(("send_", "recv_"))
    )


def _exercise(server_module: types.ModuleType, client_module: types.ModuleType) -> None:
    handler = _Handler(server_module.Client)
    with (
        serving(server_module.Processor(handler)) as port,
        client_for(client_module.Client, port) as client,
    ):
        for method in _methods(client_module.Client):
            args_cls = _find(client_module.Client, f"{method}_args")
            result_cls = _find(client_module.Client, f"{method}_result")
            entries = fields_of(args_cls)
            neutral = [sample(e[1], e[3]) for e in entries]
            args = {e[2]: realize(e[1], e[3], v) for e, v in zip(entries, neutral, strict=True)}
            handler.oneway_done.clear()
            handler.raise_exception = False
            returned = getattr(client, method)(**args)
            sent = {e[2]: tree(e[1], e[3], args[e[2]]) for e in entries}
            if result_cls is None:
                assert handler.oneway_done.wait(10), method
                assert handler.received[-1] == (method, sent)
                continue
            assert handler.received[-1] == (method, sent)
            results = fields_of(result_cls)
            success = [e for e in results if e[0] == 0]
            if success:
                e = success[0]
                assert tree(e[1], e[3], returned) == tree(
                    e[1], e[3], realize(e[1], e[3], sample(e[1], e[3]))
                ), method
            thrown = [e for e in results if e[0] != 0]
            if thrown:
                handler.raise_exception = True
                e = thrown[0]
                with pytest.raises(e[3][0]) as caught:
                    getattr(client, method)(**args)
                expected = realize(e[1], e[3], sample(e[1], e[3]))
                assert tree(e[1], e[3], caught.value) == tree(e[1], e[3], expected), method


def test_conformance_services_cross_backend_calls_succeed(sides: Sides) -> None:
    for name in sides.python.__all__:
        if name in ("ttypes", "constants"):
            continue
        c_mod, p_mod = sides.modules(name)
        _exercise(p_mod, c_mod or p_mod)
        if c_mod is not None:
            _exercise(c_mod, p_mod)


@functools.cache
def _set_of_structs(cls: type) -> bool:
    """Whether a value of ``cls`` can hold a set of structs (iterated in hash order)."""
    found = False
    reached: set[type] = set()
    pending = [cls]

    def walk(ttype: int, spec: Any) -> None:
        nonlocal found
        if ttype == TType.STRUCT and spec[0] not in reached:
            reached.add(spec[0])
            pending.append(spec[0])
        elif ttype in (TType.SET, TType.LIST):
            found = found or (ttype == TType.SET and spec[0] == TType.STRUCT)
            walk(spec[0], spec[1])
        elif ttype == TType.MAP:
            walk(spec[0], spec[1])
            walk(spec[2], spec[3])

    while pending and not found:
        for entry in fields_of(pending.pop()):
            walk(entry[1], entry[3])
    return found


def _hash_outcome(obj: Any) -> tuple[str, int | None]:
    try:
        return ("hash", hash(obj))
    except TypeError as exc:  # a list or dict field of a hashable struct
        return (type(exc).__name__, None)


def _changed(data: st.DataObject, cls: type, value: Any, where: str) -> Any:
    """``value`` with one field (drawn) set to another drawn value."""
    items = list(value[1])
    if not items:
        return value
    index = data.draw(st.integers(0, len(items) - 1), label=f"{where}: field to change")
    entry = {e[2]: e for e in fields_of(cls)}[items[index][0]]
    # Nested depth keeps values small: a top-level 70 kB string drawn through st.data()
    # overruns hypothesis' buffer and is retried at length (the bytes test has them).
    other = data.draw(value_strategy(entry[1], entry[3], 1), label=f"{where}: {entry[2]}")
    items[index] = (entry[2], other)
    return ("struct", tuple(items))


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_conformance_struct_equality_hash_repr_as_the_compiler(
    sides: Sides, data: st.DataObject
) -> None:
    """==, !=, hash() and repr() of our classes against the compiler's, field by field.

    The expected equality is the field-by-field comparison of the two values
    (:func:`tree`), never the class's own ``__eq__``.
    """
    for where, c_cls, p_cls in _struct_classes(sides):
        first = data.draw(struct_strategy(p_cls, 1), label=where)
        pairs = [(first, first), (first, _changed(data, p_cls, first, where))]
        assert (vars(c_cls).get("__hash__") is None) == (vars(p_cls).get("__hash__") is None)
        for a, b in pairs:
            c_a, c_b = (realize(TType.STRUCT, [c_cls, None], v) for v in (a, b))
            p_a, p_b = (realize(TType.STRUCT, [p_cls, None], v) for v in (a, b))
            same = tree(TType.STRUCT, [c_cls, None], c_a) == tree(TType.STRUCT, [c_cls, None], c_b)
            assert same == (
                tree(TType.STRUCT, [p_cls, None], p_a) == tree(TType.STRUCT, [p_cls, None], p_b)
            ), where
            assert (p_a == p_b, p_a != p_b) == (same, not same), where
            assert (c_a == c_b, c_a != c_b) == (same, not same), where
            assert (p_a == object(), p_a != object()) == (False, True), where
            c_hashes = (_hash_outcome(c_a), _hash_outcome(c_b))
            p_hashes = (_hash_outcome(p_a), _hash_outcome(p_b))
            assert [h[0] for h in c_hashes] == [h[0] for h in p_hashes], where
            assert (c_hashes[0] == c_hashes[1]) == (p_hashes[0] == p_hashes[1]), where
            if not _set_of_structs(p_cls):  # such sets iterate in (class-dependent) hash order
                assert repr(p_a) == repr(c_a), where
                assert str(p_a) == str(c_a), where

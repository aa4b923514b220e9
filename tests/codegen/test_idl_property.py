"""Property: on small random IDL programs the python backend and the 0.17 compiler agree.

Programs mix enums, structs, unions, exceptions, constants, services and an include,
some with a planted error. Both backends must accept or both reject; when both accept,
random values of every struct encode to the same bytes with either side's code, and
every constant has the same value and the same Python type.
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.Thrift import TType

from tests._thrift_values import encode, realize, struct_strategy, typed
from tests.conftest import thrift_compiler
from tests.support.generated import generate_under
from thriftbuild.codegen.discovery import plan_files
from thriftbuild.codegen.errors import IdlError
from thriftbuild.codegen.model import GeneratorOptions

pytestmark = [pytest.mark.compiler]

_BASE = ["bool", "i8", "i16", "i32", "i64", "double", "string", "binary"]
_KEYS = ["i16", "i32", "i64", "string"]  # hashable with every protocol, as map keys
_IDENT = st.sampled_from(["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"])
_COUNTER = itertools.count()

# Errors planted in a program (or none): each is one the compiler rejects.
_PLANTS = ["none"] * 6 + ["undefined_type", "const_kind", "duplicate_id", "bad_ref"]


@dataclasses.dataclass
class Program:
    """Source text of each file, and the names a test can refer to."""

    files: dict[str, str]
    planted: str


def _literal(draw: Any, type_: str, enums: dict[str, list[tuple[str, int]]]) -> str:
    """A constant literal of ``type_`` (base, enum or one-level container)."""
    if type_ == "bool":
        return draw(st.sampled_from(["true", "false"]))
    if type_ in ("i8", "i16", "i32", "i64"):
        bits = {"i8": 7, "i16": 15, "i32": 31, "i64": 63}[type_]
        return str(draw(st.integers(-(2**bits), 2**bits - 1)))
    if type_ == "double":
        return draw(st.sampled_from(["0.5", "-2.25", "1e3", "7", "3.0e-2"]))
    if type_ == "binary":  # ASCII: the compiler's bytes literal takes nothing else
        return '"' + draw(st.sampled_from(["", "raw", "x y"])) + '"'
    if type_ == "string":
        return '"' + draw(st.sampled_from(["", "abc", "caf\u00e9", "a b"])) + '"'
    if type_ in enums:
        name, _value = draw(st.sampled_from(enums[type_]))
        return f"{type_}.{name}"
    if type_.startswith(("list<", "set<")):
        inner = type_[type_.index("<") + 1 : -1]
        items = draw(st.lists(st.just(None), max_size=3))
        return "[" + ", ".join(_literal(draw, inner, enums) for _ in items) + "]"
    key, value = type_[4:-1].split(",", 1)
    items = draw(st.lists(st.just(None), max_size=3))
    pairs = [f"{_literal(draw, key, enums)}: {_literal(draw, value.strip(), enums)}" for _ in items]
    return "{" + ", ".join(pairs) + "}"


@st.composite
def programs(draw: Any) -> Program:
    planted = draw(st.sampled_from(_PLANTS))
    files: dict[str, str] = {}
    named: list[str] = []  # struct-like types a field may use
    enums: dict[str, list[tuple[str, int]]] = {}
    lines: list[str] = []
    if draw(st.booleans()):
        files["inc.thrift"] = (
            "enum Color { RED = 1, GREEN = 2, BLUE = 5 }\n"
            "struct Shared { 1: i32 id, 2: optional string label }\n"
            "const i32 LIMIT = 10\n"
        )
        lines.append('include "inc.thrift"')
        named.append("inc.Shared")
        enums["inc.Color"] = [("RED", 1), ("GREEN", 2), ("BLUE", 5)]
    for e in range(draw(st.integers(0, 2))):
        values = draw(st.lists(_IDENT, min_size=1, max_size=3, unique=True))
        numbered = [(v.upper(), 10 * e + i) for i, v in enumerate(values)]
        lines.append(f"enum E{e} {{ " + ", ".join(f"{n} = {v}" for n, v in numbered) + " }")
        enums[f"E{e}"] = numbered

    def field_type(depth: int = 0) -> str:
        choices = [*_BASE, *enums, *named]
        kind = draw(st.sampled_from(["plain"] * 3 + (["list", "set", "map"] if depth < 2 else [])))
        if kind == "plain":
            return draw(st.sampled_from(choices))
        if kind == "map":
            return f"map<{draw(st.sampled_from(_KEYS))}, {field_type(depth + 1)}>"
        if kind == "set":
            return f"set<{draw(st.sampled_from([*_KEYS, *enums]))}>"
        return f"list<{field_type(depth + 1)}>"

    simple: dict[str, list[tuple[str, str]]] = {}  # struct -> fields a constant can set
    exceptions: list[str] = []
    for s in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["struct", "struct", "union", "exception"]))
        names = draw(st.lists(_IDENT, max_size=4, unique=True))
        fields = []
        settable: list[tuple[str, str]] = []
        for i, fname in enumerate(names, 1):
            requiredness = draw(st.sampled_from(["", "optional "]))
            ftype = field_type()
            if ftype in ("i32", "i64", "string", "bool", "double", *enums):
                settable.append((fname, ftype))
            default = ""
            if ftype in ("i32", "string", "bool", *enums) and draw(st.booleans()):
                default = " = " + _literal(draw, ftype, enums)
            fields.append(f"  {i}: {requiredness}{ftype} {fname}{default}")
        lines.append(f"{kind} S{s} {{\n" + "\n".join(fields) + "\n}")
        if kind != "exception":
            named.append(f"S{s}")
        else:
            exceptions.append(f"S{s}")
        if kind == "struct":
            simple[f"S{s}"] = settable
    const_types = ["bool", "i16", "i32", "i64", "double", "string", *enums]
    const_types += ["list<i32>", "set<string>", "map<string, i64>", "map<i32, list<string>>"]
    const_types += ["binary", "list<binary>", *simple]
    for c in range(draw(st.integers(0, 3))):
        ctype = draw(st.sampled_from(const_types))
        if ctype in simple:
            chosen = (
                draw(st.lists(st.sampled_from(simple[ctype]), unique=True)) if simple[ctype] else []
            )
            value = ", ".join(f'"{f}": {_literal(draw, t, enums)}' for f, t in chosen)
            lines.append(f"const {ctype} C{c} = {{{value}}}")
        else:
            lines.append(f"const {ctype} C{c} = {_literal(draw, ctype, enums)}")
    if draw(st.booleans()):
        ret = draw(st.sampled_from(["void", "i32", *named]))
        throws = f" throws (1: {exceptions[0]} oops)" if exceptions else ""
        lines.append(f"service Svc {{\n  {ret} call(1: {field_type()} a, 2: string b){throws}\n}}")
        if draw(st.booleans()):
            lines.append("service Sub extends Svc {\n  oneway void poke(1: i32 n)\n}")
    if planted == "undefined_type":
        lines.insert(draw(st.integers(len(lines) // 2, len(lines))), "struct Bad { 1: Nope x }")
    elif planted == "const_kind":
        lines.append('const i32 WRONG = "text"')
    elif planted == "duplicate_id":
        lines.append("struct Dup {\n  1: i32 a\n  1: string b\n}")
    elif planted == "bad_ref":
        lines.append("const i32 REF = UNKNOWN_CONST")
    files["main.thrift"] = "\n".join(lines) + "\n"
    return Program(files, planted)


@pytest.fixture(scope="module")
def import_root() -> Iterator[Path]:
    thrift_compiler()
    with tempfile.TemporaryDirectory(prefix="tb-property-") as root:
        sys.path.insert(0, root)
        try:
            yield Path(root)
        finally:
            sys.path.remove(root)


def _generate(backend_name: str, main: Path, prefix: str, root: Path) -> IdlError | None:
    """Generate main.thrift and its include under ``root/prefix``; the error, if any."""
    plan = plan_files([main], root=main.parent, search_installed=False)
    try:
        generate_under(backend_name, plan, prefix, root, GeneratorOptions(("slots",)))
    except IdlError as exc:
        return exc
    return None


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(program=programs(), data=st.data())
def test_property_python_backend_and_compiler_agree(
    program: Program, data: st.DataObject, import_root: Path
) -> None:
    n = next(_COUNTER)
    with tempfile.TemporaryDirectory(prefix="tb-idl-") as tmp:
        for name, text in program.files.items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        main = Path(tmp) / "main.thrift"
        ours = _generate("python", main, f"pp{n}", import_root)
        theirs = _generate("compiler", main, f"pc{n}", import_root)
    assert (ours is None) == (theirs is None), (
        f"python: {ours}\ncompiler: {theirs}\n{program.files}"
    )
    if program.planted != "none":
        assert ours is not None, program.files
    event("rejected" if ours is not None else "accepted")
    if ours is not None:
        return
    p_types = importlib.import_module(f"pp{n}.main_thrift.ttypes")
    c_types = importlib.import_module(f"pc{n}.main_thrift.ttypes")
    p_consts = importlib.import_module(f"pp{n}.main_thrift.constants")
    c_consts = importlib.import_module(f"pc{n}.main_thrift.constants")
    for name in [c for c in vars(p_consts) if c.startswith("C") and c[1:].isdigit()]:
        assert typed(getattr(p_consts, name)) == typed(getattr(c_consts, name)), name
    for name, p_cls in vars(p_types).items():
        if not (isinstance(p_cls, type) and hasattr(p_cls, "thrift_spec")):
            continue
        c_cls = getattr(c_types, name)
        value = data.draw(struct_strategy(p_cls), label=name)
        p_obj = realize(TType.STRUCT, [p_cls, None], value)
        c_obj = realize(TType.STRUCT, [c_cls, None], value)
        for factory in (
            TBinaryProtocol.TBinaryProtocolFactory(),
            TCompactProtocol.TCompactProtocolFactory(),
        ):
            assert encode(p_obj, factory) == encode(c_obj, factory), name
        for entry in [e for e in p_cls.thrift_spec if e is not None]:
            default_p, default_c = getattr(p_cls(), entry[2]), getattr(c_cls(), entry[2])
            assert typed(default_p) == typed(default_c), f"{name}.{entry[2]}"

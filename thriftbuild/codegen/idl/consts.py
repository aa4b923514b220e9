"""Type-checks constant values and renders them as Python expressions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from thriftbuild.codegen.errors import IdlError
from thriftbuild.codegen.idl import syntax
from thriftbuild.codegen.idl.lexer import quote_literal
from thriftbuild.codegen.idl.resolved import RType

__all__ = ["MAX_COPIED", "ConstRenderer", "Program"]


class Program(Protocol):
    """What rendering constants asks of the include closure (``resolve.Program``)."""

    documents: dict[Path, syntax.Document]

    def error(self, path: Path, pos: syntax.Pos, reason: str) -> IdlError: ...

    def symbols(self, path: Path) -> dict[str, object]: ...

    def included(self, path: Path, prefix: str, pos: syntax.Pos, name: str) -> Path: ...

    def lookup(self, path: Path, name: str, pos: syntax.Pos) -> tuple[Path, object] | None: ...

    def resolve_type(
        self,
        path: Path,
        ref: syntax.TypeRef,
        depth: int = 0,
        origin: tuple[Path, syntax.Pos] | None = None,
    ) -> RType: ...


#: Generated code that constants referring to other constants may copy, per file.
MAX_COPIED = 16 << 20

_INT_RANGES = {
    "i8": (-(2**7), 2**7 - 1),
    "i16": (-(2**15), 2**15 - 1),
    "i32": (-(2**31), 2**31 - 1),
    "i64": (-(2**63), 2**63 - 1),
}


def _type_name(rtype: RType) -> str:
    if rtype.kind in ("enum", "struct"):
        return rtype.name
    if rtype.kind == "map":
        return f"map<{_type_name(rtype.args[0])},{_type_name(rtype.args[1])}>"
    if rtype.kind in ("list", "set"):
        return f"{rtype.kind}<{_type_name(rtype.args[0])}>"
    return rtype.kind


_KIND_RANK = {"int": 0, "double": 1, "string": 2, "map": 3, "list": 4, "ident": 5}


def _literal_order(value: syntax.ConstValue) -> tuple[int, str | float]:
    """The compiler's order of map-literal keys: by literal kind, then by value.

    Map entries are written in dict order, so matching it keeps encodings of default
    values byte-identical with the compiler's code.
    """
    rank = _KIND_RANK[value.kind]
    if value.kind == "int":
        return rank, int(value.value)  # type: ignore[call-overload]
    if value.kind == "double":
        return rank, float(value.value)  # type: ignore[arg-type]
    if value.kind in ("string", "ident"):
        return rank, str(value.value)
    return rank, repr(value.value)


class ConstRenderer:
    """Renders constant values of one file.

    Args:
        program: the include closure, for names defined in other files.
        path: the file whose constants (and field defaults) are rendered.
        qualify: how generated code names a struct or enum (file, name).
    """

    def __init__(
        self,
        program: Program,
        path: Path,
        qualify: Callable[[Path, str], str],
        lazy: bool = False,
    ) -> None:
        self.program = program
        # Included files were checked on their own, so their constants are rendered on
        # demand; the file being generated must define before use.
        self.lazy = lazy
        self.path = path
        self.qualify = qualify
        self.defined: dict[str, tuple[RType, str]] = {}
        self.used_files: set[Path] = set()
        self._others: dict[Path, ConstRenderer] = {}
        self._next = 0  # lazy: the first constant of the file not rendered yet
        self.copied = 0
        self._filling = False

    def define(self, name: str, rtype: RType, expr: str) -> None:
        """Make a constant of this file usable by later constants."""
        self.defined[name] = (rtype, expr)

    def error(self, pos: syntax.Pos, reason: str) -> Exception:
        return self.program.error(self.path, pos, reason)

    def mismatch(self, rtype: RType, value: syntax.ConstValue, name: str) -> Exception:
        shown = value.value if value.kind in ("int", "double", "ident") else value.kind
        if value.kind == "string":
            shown = quote_literal(str(value.value))
        return self.error(
            value.pos, f"type error: {shown} is not a valid {_type_name(rtype)} (in '{name}')"
        )

    # -- references ------------------------------------------------------------------
    def other(self, path: Path) -> ConstRenderer:
        renderer = self._others.get(path)
        if renderer is None:
            renderer = ConstRenderer(self.program, path, self.qualify, lazy=True)
            self._others[path] = renderer
        return renderer

    def lookup_const(self, name: str) -> tuple[RType, str] | None:
        """A constant of this file (already defined) by name."""
        found = self.defined.get(name)
        if found is not None or not self.lazy or self._filling:
            return found
        # An included file's constants are rendered in source order up to the one asked
        # for, each using only earlier ones: a loop, so a chain of constants defined by
        # each other never recurses, however long.
        consts = self.program.documents[self.path].consts
        self._filling = True
        try:
            while self._next < len(consts) and name not in self.defined:
                node = consts[self._next]
                self._next += 1
                rtype = self.program.resolve_type(self.path, node.type)
                self.define(node.name, rtype, self.render(rtype, node.value, node.name))
        finally:
            self._filling = False
        return self.defined.get(name)

    def reference(self, ident: str, pos: syntax.Pos) -> tuple[RType, str, int | None] | None:
        """Resolve ``X``, ``E.A``, ``inc.X`` or ``inc.E.A``: (type, expr, enum value)."""
        found = self.lookup_const(ident)
        if found is not None:
            return found[0], found[1], None
        parts = ident.split(".")
        if len(parts) >= 2:
            enum_ref = self.program.lookup(self.path, ".".join(parts[:-1]), pos)
            enum = None if enum_ref is None else enum_ref[1]
            if enum_ref is not None and isinstance(enum, syntax.Enum):
                where = enum_ref[0]
                for value in enum.values:
                    if value.name == parts[-1]:
                        rtype = RType("enum", name=enum.name, source=where)
                        return rtype, str(value.value), value.value
                return None
            if len(parts) == 2:
                target = self.program.included(self.path, parts[0], pos, ident)
                other = self.other(target)
                found = other.lookup_const(parts[1])
                if found is not None:
                    self.used_files |= other.used_files
                    return found[0], found[1], None
        return None

    # -- rendering -------------------------------------------------------------------
    def render(self, rtype: RType, value: syntax.ConstValue, name: str) -> str:
        """The Python expression for ``value`` as a ``rtype``; raises on a mismatch."""
        if value.kind == "ident":
            ident = str(value.value)
            if rtype.kind == "enum" and "." in ident:
                # Like the compiler, an enum-typed value is looked up by its last part in
                # the declared enum (EnumTest.thrift writes MyEnum1.ME2_2 for a MyEnum2).
                prefix, member = ident.rsplit(".", 1)
                own = self.enum_member(rtype, member)
                if own is not None:
                    return own
                found = self.program.lookup(self.path, prefix, value.pos)
                if found is not None and (found[0], getattr(found[1], "name", "")) == (
                    rtype.source,
                    rtype.name,
                ):
                    raise self.error(
                        value.pos, f"enum {rtype.name} has no value '{member}' (in '{name}')"
                    )
            ref = self.reference(ident, value.pos)
            if ref is None:
                raise self.error(value.pos, f"no constant or enum value named '{ident}'")
            ref_type, expr, enum_value = ref
            # A constant named by another is copied into it; copies of copies grow
            # exponentially, so their total is bounded.
            self.copied += len(expr)
            if self.copied > MAX_COPIED:
                raise self.error(
                    value.pos,
                    f"constants copied by name add up to more than {MAX_COPIED >> 20} MiB "
                    "of generated code",
                )
            # The compiler takes neither a struct constant by name nor an integer
            # constant where an enum is expected.
            if rtype.kind == "struct" or (rtype.kind == "enum" and enum_value is None):
                raise self.mismatch(rtype, value, name)
            if (
                rtype.kind == "enum"
                and ref_type.kind == "enum"
                and (ref_type.name != rtype.name or ref_type.source != rtype.source)
            ):
                raise self.error(
                    value.pos,
                    f"type error: {ident} is not a value of enum {rtype.name} (in '{name}')",
                )
            if rtype.kind in _INT_RANGES and enum_value is not None:
                return expr
            if (
                ref_type.kind != rtype.kind
                and not (rtype.kind == "double" and ref_type.kind in _INT_RANGES)
                and not (rtype.kind in _INT_RANGES and ref_type.kind in _INT_RANGES)
            ):
                raise self.mismatch(rtype, value, name)
            return expr
        kind = rtype.kind
        if kind == "bool":
            if value.kind != "int":
                raise self.mismatch(rtype, value, name)
            return "True" if value.value else "False"
        if kind in _INT_RANGES:
            if value.kind != "int":
                raise self.mismatch(rtype, value, name)
            return str(value.value)
        if kind == "double":
            if value.kind not in ("int", "double"):
                raise self.mismatch(rtype, value, name)
            return repr(float(value.value))  # type: ignore[arg-type]
        if kind in ("string", "binary"):
            if value.kind != "string":
                raise self.mismatch(rtype, value, name)
            if kind == "binary":
                # bytes, as the compiler writes them (b"..."), but escaped: the
                # compiler's b"café" is a SyntaxError.
                return repr(str(value.value).encode("utf-8", "surrogateescape"))
            return repr(value.value)
        if kind == "enum":
            if value.kind != "int":
                raise self.mismatch(rtype, value, name)
            return self.enum_int(rtype, value, name)
        if kind in ("list", "set"):
            if value.kind == "map" and not value.items():
                value = syntax.ConstValue("list", value.pos, [])  # the compiler takes {} too
            if value.kind != "list":
                raise self.mismatch(rtype, value, name)
            items = [self.render(rtype.args[0], v, name) for v in value.elements()]
            body = "".join(f"{item}, " for item in items)
            if kind == "list":
                return f"({body})" if rtype.immutable else f"[{body}]"
            return f"frozenset(({body}))" if rtype.immutable else f"set(({body}))"
        if kind == "map":
            if value.kind == "list" and not value.elements():
                value = syntax.ConstValue("map", value.pos, [])  # the compiler takes [] too
            if value.kind != "map":
                raise self.mismatch(rtype, value, name)
            pairs = [
                f"{self.render(rtype.args[0], k, name)}: {self.render(rtype.args[1], v, name)}"
                for k, v in sorted(value.items(), key=lambda item: _literal_order(item[0]))
            ]
            body = "{" + ", ".join(pairs) + "}"
            if rtype.immutable:
                return f"TFrozenDict({body})"
            return body
        if kind == "struct":
            return self.struct_value(rtype, value, name)
        raise self.mismatch(rtype, value, name)

    def enum_member(self, rtype: RType, member: str) -> str | None:
        """The value of ``member`` of enum ``rtype``, or None."""
        assert rtype.source is not None
        enum = self.program.symbols(rtype.source)[rtype.name]
        assert isinstance(enum, syntax.Enum)
        for value in enum.values:
            if value.name == member:
                return str(value.value)
        return None

    def enum_int(self, rtype: RType, value: syntax.ConstValue, name: str) -> str:
        assert rtype.source is not None
        enum = self.program.symbols(rtype.source)[rtype.name]
        assert isinstance(enum, syntax.Enum)
        if all(v.value != value.value for v in enum.values):
            raise self.error(
                value.pos, f"enum {rtype.name} has no value {value.value} (in '{name}')"
            )
        return str(value.value)

    def struct_value(self, rtype: RType, value: syntax.ConstValue, name: str) -> str:
        if value.kind != "map":
            raise self.mismatch(rtype, value, name)
        assert rtype.source is not None
        struct = self.program.symbols(rtype.source)[rtype.name]
        assert isinstance(struct, syntax.Struct)
        fields = {f.name: f for f in struct.fields}
        parts: list[str] = []
        for key, item in value.items():
            if key.kind != "string" or key.value not in fields:
                raise self.error(
                    key.pos, f"struct {rtype.name} has no field {key.value!r} (in '{name}')"
                )
            target = fields[str(key.value)]
            ftype = self.program.resolve_type(rtype.source, target.type)
            parts.append(f"{target.name!r}: {self.render(ftype, item, name)}")
        if rtype.source != self.path:
            self.used_files.add(rtype.source)
        return f"{self.qualify(rtype.source, rtype.name)}(**{{{', '.join(parts)}}})"

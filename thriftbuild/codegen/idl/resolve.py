"""Name resolution and semantic checks: IDL documents in, the resolved model out.

A :class:`Program` holds every parsed file of an include closure. :meth:`Program.resolve`
checks one file the way the Apache compiler does (duplicate names and field ids,
undefined types, constants of the wrong type, reserved words) and returns the
resolved structs, enums, constants and services the emitter needs.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from thriftbuild.codegen.errors import IdlError
from thriftbuild.codegen.idl import syntax
from thriftbuild.codegen.idl.consts import ConstRenderer
from thriftbuild.codegen.idl.parser import MAX_NESTING
from thriftbuild.codegen.idl.resolved import (
    GENERATED_GLOBALS,
    PACKAGE_MODULES,
    RConst,
    REnum,
    RField,
    RFunction,
    RService,
    RStruct,
    RType,
)

__all__ = ["Program", "Resolved"]

#: Names the Python generator refuses, as ``thrift --gen py`` 0.17 does.
PY_RESERVED = frozenset(keyword.kwlist) - {"async", "await"} | {"print", "exec"}

_CONCRETE = {"bool", "i8", "i16", "i32", "i64", "double", "string", "binary"}


@dataclass
class Resolved:
    """Everything the emitter needs for one file."""

    enums: list[REnum] = field(default_factory=list)
    structs: list[RStruct] = field(default_factory=list)
    consts: list[RConst] = field(default_factory=list)
    services: list[RService] = field(default_factory=list)
    #: Files whose ``ttypes`` the generated code refers to (other than this one).
    type_imports: set[Path] = field(default_factory=set)
    #: Files whose service modules the generated code extends.
    service_imports: set[tuple[Path, str]] = field(default_factory=set)


class Program:
    """The parsed files of one include closure.

    Args:
        documents: parsed files by absolute path.
        includes: for each file, include literal -> resolved path.
        display: for each file, how errors name it.
    """

    def __init__(
        self,
        documents: dict[Path, syntax.Document],
        includes: dict[Path, dict[str, Path]],
        display: dict[Path, str],
    ) -> None:
        self.documents = documents
        self.includes = includes
        self.display = display
        self._symbols: dict[Path, dict[str, object]] = {}

    # -- lookups ---------------------------------------------------------------------
    def error(self, path: Path, pos: syntax.Pos, reason: str) -> IdlError:
        """An :class:`IdlError` at ``pos`` in ``path``."""
        return IdlError(self.display.get(path, str(path)), pos.line, pos.column, reason)

    def symbols(self, path: Path) -> dict[str, object]:
        """Types and services declared in ``path``, by name (checked for duplicates)."""
        table = self._symbols.get(path)
        if table is None:
            table = {}
            consts: set[str] = set()
            for name, node in self.documents[path].order:
                pos: syntax.Pos = node.pos  # type: ignore[attr-defined]
                if isinstance(node, syntax.Const):
                    if name in consts:
                        raise self.error(path, pos, f"constant '{name}' is already defined")
                    consts.add(name)
                    continue
                if name in table:
                    raise self.error(path, pos, f"type '{name}' is already defined")
                table[name] = node
            self._symbols[path] = table
        return table

    def included(self, path: Path, prefix: str, pos: syntax.Pos, name: str) -> Path:
        """The included file that ``prefix.`` names from ``path``."""
        for literal, target in self.includes.get(path, {}).items():
            if Path(literal).name.rsplit(".", 1)[0] == prefix:
                return target
        raise self.error(path, pos, f"'{name}' names no included file '{prefix}.thrift'")

    def lookup(self, path: Path, name: str, pos: syntax.Pos) -> tuple[Path, object] | None:
        """The definition ``name`` refers to from ``path``, or None."""
        node = self.symbols(path).get(name)
        if node is not None:
            return path, node
        if "." in name:
            prefix, rest = name.split(".", 1)
            if "." not in rest:
                target = self.included(path, prefix, pos, name)
                node = self.symbols(target).get(rest)
                if node is not None:
                    return target, node
        return None

    def resolve_type(
        self,
        path: Path,
        ref: syntax.TypeRef,
        depth: int = 0,
        origin: tuple[Path, syntax.Pos] | None = None,
    ) -> RType:
        """Resolve a type as written in ``path``; typedefs are followed.

        Typedef chains are followed in a loop and containers nest at most
        :data:`MAX_NESTING` levels once typedefs are expanded, so resolution never
        recurses deeper than that whatever the input.
        """
        seen: set[tuple[Path, str]] = set()
        # A type too deep is reported where it is used, not inside some typedef.
        origin = origin or (path, ref.pos)
        while True:
            if ref.name in _CONCRETE:
                return RType(ref.name)
            immutable = _immutable(ref.annotations, default=False)
            if ref.is_container:
                if depth >= MAX_NESTING:
                    raise self.error(
                        *origin,
                        f"containers nested more than {MAX_NESTING} levels deep "
                        "once typedefs are expanded",
                    )
                args = tuple(self.resolve_type(path, a, depth + 1, origin) for a in ref.args)
                return RType(ref.name, args, immutable=immutable)
            found = self.lookup(path, ref.name, ref.pos)
            if found is None:
                raise self.error(path, ref.pos, f"type '{ref.name}' is not defined")
            where, node = found
            if isinstance(node, syntax.Typedef):
                key = (where, node.name)
                if key in seen:
                    raise self.error(path, ref.pos, f"typedef '{ref.name}' refers to itself")
                seen.add(key)
                path, ref = where, node.type
                continue
            if isinstance(node, syntax.Enum):
                return RType("enum", name=node.name, source=where)
            if isinstance(node, syntax.Struct):
                frozen = _immutable(node.annotations, default=node.kind == "exception")
                shadowed = any(f.name in ("read", "write") for f in node.fields)
                return RType(
                    "struct", name=node.name, source=where, immutable=frozen, shadowed=shadowed
                )
            raise self.error(path, ref.pos, f"'{ref.name}' is a service, not a type")

    def require_earlier(self, path: Path, ref: syntax.TypeRef, user: object) -> None:
        """Reject names in ``ref`` declared after ``user`` in the same file.

        The compiler resolves constant types, throws clauses and ``extends`` while it
        parses, so they may only name what comes earlier (struct fields may not).
        """
        order = [node for _, node in self.documents[path].order]
        for arg in ref.args:
            self.require_earlier(path, arg, user)
        found = self.lookup(path, ref.name, ref.pos) if ref.name not in _CONCRETE else None
        if found is not None and found[0] == path and not ref.is_container:
            node = found[1]
            if any(n is user for n in order) and order.index(node) >= next(
                i for i, n in enumerate(order) if n is user
            ):
                raise self.error(path, ref.pos, f"type '{ref.name}' is used before it is defined")

    def type_refs(self, path: Path) -> list[syntax.TypeRef]:
        """Every named type ``path`` refers to (container elements included), in
        source order."""
        doc = self.documents[path]
        roots: list[syntax.TypeRef] = [t.type for t in doc.typedefs]
        roots += [c.type for c in doc.consts]
        for struct in doc.structs:
            roots += [f.type for f in struct.fields]
        for service in doc.services:
            for fn in service.functions:
                if fn.returns is not None:
                    roots.append(fn.returns)
                roots += [f.type for f in [*fn.args, *fn.throws]]
        named: list[syntax.TypeRef] = []
        while roots:
            ref = roots.pop()
            if ref.is_container:
                roots.extend(ref.args)
            elif ref.name not in _CONCRETE:
                named.append(ref)
        return sorted(named, key=lambda ref: (ref.pos.line, ref.pos.column))

    def first_undefined(self, path: Path) -> tuple[syntax.TypeRef, IdlError] | None:
        """The first type name in ``path`` that names nothing, with its error, or None.

        Both backends report an undefined type there, whatever order the compiler
        happens to resolve types in.
        """
        for ref in self.type_refs(path):
            try:
                found = self.lookup(path, ref.name, ref.pos)
            except IdlError as exc:
                return ref, exc
            if found is None:
                return ref, self.error(path, ref.pos, f"type '{ref.name}' is not defined")
        return None

    # -- checks ----------------------------------------------------------------------
    def check_name(self, path: Path, name: str, pos: syntax.Pos) -> None:
        """Reject identifiers the Python generator cannot use."""
        if name in PY_RESERVED:
            raise self.error(path, pos, f"'{name}' is a reserved Python keyword")

    def check_global(self, path: Path, name: str, pos: syntax.Pos, module: bool = False) -> None:
        """Reject a module-level name the generated code needs for itself.

        ``module``: the name also becomes a module of the package (a service).
        """
        self.check_name(path, name, pos)
        if name in GENERATED_GLOBALS:
            raise self.error(
                path,
                pos,
                f"'{name}' is a name the generated modules take from "
                f"{GENERATED_GLOBALS[name]}; rename it",
            )
        if module and name in PACKAGE_MODULES:
            raise self.error(
                path, pos, f"a service named '{name}' would overwrite the generated {name}.py"
            )

    def resolve_fields(
        self,
        path: Path,
        fields: list[syntax.Field],
        renderer: ConstRenderer,
        union: bool = False,
        owner: object = None,
    ) -> list[RField]:
        """Resolve a field list, rejecting reused ids and names."""
        result: list[RField] = []
        ids: dict[int, str] = {}
        names: set[str] = set()
        with_default: str | None = None
        for f in fields:
            self.check_name(path, f.name, f.pos)
            if union and f.default is not None:
                # A union holds one value: the compiler refuses a second default.
                if with_default is not None:
                    raise self.error(
                        path,
                        f.pos,
                        f"field '{f.name}' gives the union a second default value "
                        f"(after '{with_default}')",
                    )
                with_default = f.name
            if f.name in names:
                raise self.error(path, f.pos, f"field name '{f.name}' is already used")
            if f.id in ids:
                raise self.error(
                    path, f.pos, f"field id {f.id} of '{f.name}' is already used by '{ids[f.id]}'"
                )
            ids[f.id] = f.name
            names.add(f.name)
            rtype = self.resolve_type(path, f.type)
            default = None
            if f.default is not None:
                # A default is checked while parsing, when later types are unknown.
                if not _empty(f.default):
                    self.require_earlier(path, f.type, owner)
                default = renderer.render(rtype, f.default, f.name)
            requiredness = "optional" if union and f.requiredness == "required" else f.requiredness
            result.append(RField(f.id, f.name, rtype, requiredness, default))
        return result

    def resolve(self, path: Path, qualify: Callable[[Path, str], str]) -> Resolved:
        """Check ``path`` and resolve it for the emitter.

        Args:
            path: the file to generate.
            qualify: how generated code names a struct (file, name) from this file.
        """
        doc = self.documents[path]
        self.symbols(path)
        undefined = self.first_undefined(path)
        if undefined is not None:
            raise undefined[1]
        out = Resolved()
        renderer = ConstRenderer(self, path, qualify)
        for enum in doc.enums:
            self.check_global(path, enum.name, enum.pos)
            seen: set[str] = set()
            for value in enum.values:
                self.check_name(path, value.name, value.pos)
                if value.name in seen:
                    raise self.error(
                        path, value.pos, f"enum value '{enum.name}.{value.name}' is already defined"
                    )
                seen.add(value.name)
            out.enums.append(REnum(enum.name, [(v.name, v.value) for v in enum.values]))
        for typedef in doc.typedefs:
            self.check_name(path, typedef.name, typedef.pos)
            self.resolve_type(path, typedef.type)
        # Constants are rendered in source order: a constant may only use earlier ones.
        for name, node in doc.order:
            if isinstance(node, syntax.Struct):
                self.check_global(path, name, node.pos)
                fields = self.resolve_fields(
                    path, node.fields, renderer, node.kind == "union", owner=node
                )
                frozen = _immutable(node.annotations, default=node.kind == "exception")
                out.structs.append(RStruct(node.kind, name, fields, frozen))
            elif isinstance(node, syntax.Const):
                self.check_global(path, name, node.pos)
                if not _empty(node.value):
                    self.require_earlier(path, node.type, node)
                rtype = self.resolve_type(path, node.type)
                expr = renderer.render(rtype, node.value, name)
                renderer.define(name, rtype, expr)
                out.consts.append(RConst(name, expr, rtype))
        for service in doc.services:
            out.services.append(self.resolve_service(path, service, renderer, out))
        for struct in out.structs:
            for f in struct.fields:
                self.note_imports(path, f.type, out)
        for service_ in out.services:
            for fn in service_.functions:
                for f in [*fn.args, *fn.throws]:
                    self.note_imports(path, f.type, out)
                if fn.returns is not None:
                    self.note_imports(path, fn.returns, out)
        out.type_imports |= renderer.used_files
        return out

    def note_imports(self, path: Path, rtype: RType, out: Resolved) -> None:
        """Record the files whose ``ttypes`` a type refers to."""
        if rtype.source is not None and rtype.source != path:
            out.type_imports.add(rtype.source)
        for arg in rtype.args:
            self.note_imports(path, arg, out)

    def resolve_service(
        self, path: Path, service: syntax.Service, renderer: ConstRenderer, out: Resolved
    ) -> RService:
        """Resolve one service and check its functions."""
        self.check_global(path, service.name, service.pos, module=True)
        base = None
        if service.extends is not None:
            pos = service.extends_pos or service.pos
            found = self.lookup(path, service.extends, pos)
            if found is None or not isinstance(found[1], syntax.Service):
                raise self.error(path, pos, f"service '{service.extends}' is not defined")
            self.require_earlier(path, syntax.TypeRef(service.extends, pos), service)
            base = (found[0], found[1].name)
            if found[0] != path:
                out.service_imports.add(base)
        result = RService(service.name, base)
        inherited = self.inherited_functions(base)
        names: set[str] = set()
        for fn in service.functions:
            self.check_name(path, fn.name, fn.pos)
            if fn.name in names:
                raise self.error(path, fn.pos, f"function '{fn.name}' is already defined")
            if fn.name in inherited:
                raise self.error(
                    path, fn.pos, f"function '{fn.name}' is already defined in {inherited[fn.name]}"
                )
            for raw in fn.throws:
                self.require_earlier(path, raw.type, service)
            names.add(fn.name)
            returns = None if fn.returns is None else self.resolve_type(path, fn.returns)
            args = self.resolve_fields(path, fn.args, renderer, owner=service)
            throws = self.resolve_fields(path, fn.throws, renderer)
            for f, raw in zip(throws, fn.throws, strict=True):
                if f.type.kind != "struct" or not self.is_exception(f.type):
                    raise self.error(
                        path,
                        raw.type.pos,
                        f"throws clause of '{fn.name}' names "
                        f"'{raw.type.name}', which is not an exception",
                    )
            if fn.oneway and throws:
                raise self.error(path, fn.pos, f"oneway function '{fn.name}' cannot throw")
            result.functions.append(RFunction(fn.name, returns, args, throws, fn.oneway))
        return result

    def inherited_functions(self, base: tuple[Path, str] | None) -> dict[str, str]:
        """Function name -> the base service defining it, up the ``extends`` chain."""
        found: dict[str, str] = {}
        seen: set[tuple[Path, str]] = set()
        while base is not None and base not in seen:
            seen.add(base)
            node = self.symbols(base[0]).get(base[1])
            if not isinstance(node, syntax.Service):
                break
            for fn in node.functions:
                found.setdefault(fn.name, f"base service '{node.name}'")
            nxt = None
            if node.extends is not None:
                target = self.lookup(base[0], node.extends, node.extends_pos or node.pos)
                if target is not None and isinstance(target[1], syntax.Service):
                    nxt = (target[0], target[1].name)
            base = nxt
        return found

    def is_exception(self, rtype: RType) -> bool:
        """True when ``rtype`` is an exception."""
        assert rtype.source is not None
        node = self.symbols(rtype.source).get(rtype.name)
        return isinstance(node, syntax.Struct) and node.kind == "exception"


def _empty(value: syntax.ConstValue) -> bool:
    # An empty container literal has no element for the compiler to check a type on.
    return value.kind in ("list", "map") and not value.value


def _immutable(annotations: dict[str, str], *, default: bool) -> bool:
    """As the compiler: ``python.immutable`` makes a type immutable unless its value is
    ``"false"``; without it only exceptions are (``MutableException`` in the corpus)."""
    value = annotations.get("python.immutable")
    return default if value is None else value != "false"

"""The intermediate form of a parsed IDL file, with source positions."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "BASE_TYPES",
    "Const",
    "ConstValue",
    "Document",
    "Enum",
    "EnumValue",
    "Field",
    "Function",
    "Pos",
    "Service",
    "Struct",
    "TypeRef",
    "Typedef",
]

#: Base type names as written in IDL; ``byte`` and ``slist`` are aliases.
BASE_TYPES = frozenset(
    ["bool", "byte", "i8", "i16", "i32", "i64", "double", "string", "binary", "slist"]
)


@dataclass(frozen=True)
class Pos:
    """A 1-based line and column."""

    line: int
    column: int


@dataclass
class TypeRef:
    """A type as written: a base type, a container or a (possibly dotted) name.

    ``name`` is the base type or the referenced name; ``args`` holds the element type
    of ``list``/``set`` or the key and value of ``map``.
    """

    name: str
    pos: Pos
    args: tuple[TypeRef, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def is_container(self) -> bool:
        """True for ``list``, ``set`` and ``map``."""
        return self.name in ("list", "set", "map")


@dataclass
class ConstValue:
    """A constant expression: ``kind`` is int, double, string, ident, list or map."""

    kind: str
    pos: Pos
    value: object

    def items(self) -> list[tuple[ConstValue, ConstValue]]:
        """The key/value pairs of a map literal."""
        assert self.kind == "map"
        return self.value  # type: ignore[return-value]

    def elements(self) -> list[ConstValue]:
        """The elements of a list literal."""
        assert self.kind == "list"
        return self.value  # type: ignore[return-value]


@dataclass
class Field:
    """A field of a struct, union, exception, argument list or throws clause."""

    id: int
    name: str
    type: TypeRef
    requiredness: str  # "required", "optional" or "default"
    default: ConstValue | None
    pos: Pos
    explicit_id: bool = True


@dataclass
class Struct:
    """A struct, union or exception (``kind``)."""

    kind: str
    name: str
    fields: list[Field]
    pos: Pos
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass
class EnumValue:
    """One named value of an enum."""

    name: str
    value: int
    pos: Pos


@dataclass
class Enum:
    """An enum with its values in source order."""

    name: str
    values: list[EnumValue]
    pos: Pos


@dataclass
class Typedef:
    """``typedef <type> <name>``."""

    name: str
    type: TypeRef
    pos: Pos


@dataclass
class Const:
    """``const <type> <name> = <value>``."""

    name: str
    type: TypeRef
    value: ConstValue
    pos: Pos


@dataclass
class Function:
    """A service method."""

    name: str
    returns: TypeRef | None  # None for void
    args: list[Field]
    throws: list[Field]
    oneway: bool
    pos: Pos


@dataclass
class Service:
    """A service, with the name of the service it extends as written (or None)."""

    name: str
    extends: str | None
    extends_pos: Pos | None
    functions: list[Function]
    pos: Pos


@dataclass
class Document:
    """Everything one IDL file declares, in source order per kind."""

    path: str
    includes: list[tuple[str, Pos]] = field(default_factory=list)
    namespaces: dict[str, str] = field(default_factory=dict)
    typedefs: list[Typedef] = field(default_factory=list)
    enums: list[Enum] = field(default_factory=list)
    structs: list[Struct] = field(default_factory=list)
    consts: list[Const] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    #: Every type, const and service name in declaration order with its kind.
    order: list[tuple[str, object]] = field(default_factory=list)

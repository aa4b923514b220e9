"""The resolved form the emitter works from: every type reference points at its
definition, typedefs are gone, and constant values are Python expressions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "GENERATED_GLOBALS",
    "METHOD_NAMES",
    "PACKAGE_MODULES",
    "RConst",
    "REnum",
    "RField",
    "RFunction",
    "RService",
    "RStruct",
    "RType",
]

#: Generated methods a field of the same name would hide.
METHOD_NAMES = frozenset({"read", "write", "validate"})

#: Module-level names the generated modules import or call. An enum, struct, union,
#: exception, constant or service of the same name would replace them in the module
#: that defines it (and, through ``from .ttypes import *``, in the service modules), so
#: the generated code would break on import, encode, decode or validate; such names
#: are rejected (docs/divergences.md). Typedef names never reach Python.
GENERATED_GLOBALS = {
    **dict.fromkeys(
        (
            "TType",
            "TMessageType",
            "TFrozenDict",
            "TException",
            "TApplicationException",
            "TProtocolException",
            "TProcessor",
            "TTransport",
            "fix_spec",
            "all_structs",
            "sys",
            "logging",
            "builtins",
            "typing",
        ),
        "the Thrift runtime",
    ),
    **dict.fromkeys(
        (
            "object",
            "super",
            "isinstance",
            "getattr",
            "hash",
            "range",
            "len",
            "frozenset",
            "tuple",
            "type",
            "globals",
            "repr",
            "TypeError",
            "Exception",
        ),
        "Python's builtins",
    ),
}

#: Module files of a generated package a service of the same name would overwrite.
PACKAGE_MODULES = frozenset({"__init__", "ttypes", "constants"})


@dataclass(frozen=True)
class RType:
    """A resolved type.

    Attributes:
        kind: a base type (``bool``, ``i8``, ``i16``, ``i32``, ``i64``, ``double``,
            ``string``, ``binary``), ``list``, ``set``, ``map``, ``enum`` or ``struct``.
        args: element type, or key and value types.
        name: the enum's or struct's name in its file.
        source: the file that defines the enum or struct.
        immutable: a ``python.immutable`` container, or a struct read through the
            classmethod ``read`` (exceptions and ``python.immutable`` structs).
        shadowed: a struct with a field named ``read`` or ``write``: its methods are
            called through the class, since the instance attribute hides them.
    """

    kind: str
    args: tuple[RType, ...] = ()
    name: str = ""
    source: Path | None = None
    immutable: bool = False
    shadowed: bool = False


@dataclass
class RField:
    """A resolved field; ``default`` is a Python expression or None."""

    id: int
    name: str
    type: RType
    requiredness: str
    default: str | None = None


@dataclass
class RStruct:
    """A struct, union or exception, fields in declaration order."""

    kind: str
    name: str
    fields: list[RField]
    immutable: bool = False

    @property
    def shadowing(self) -> list[str]:
        """Field names that hide one of the generated methods."""
        return [f.name for f in self.fields if f.name in METHOD_NAMES]

    @property
    def sorted_fields(self) -> list[RField]:
        """Fields by id: the order of ``__slots__``, ``write`` and ``thrift_spec``."""
        return sorted(self.fields, key=lambda f: f.id)


@dataclass
class REnum:
    """An enum: names and values in source order."""

    name: str
    values: list[tuple[str, int]]


@dataclass
class RConst:
    """A constant rendered as a Python expression, with its type."""

    name: str
    expr: str
    type: RType


@dataclass
class RFunction:
    """A service method."""

    name: str
    returns: RType | None
    args: list[RField]
    throws: list[RField]
    oneway: bool


@dataclass
class RService:
    """A service; ``base`` is (defining file, service name) of the one it extends."""

    name: str
    base: tuple[Path, str] | None
    functions: list[RFunction] = field(default_factory=list)

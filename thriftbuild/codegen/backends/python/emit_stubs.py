"""Type stubs (``.pyi``) for the generated modules, so that mypy and IDEs know the
field, argument and return types that the IDL declares (the 0.17 compiler has no
``type_hints`` option)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from thriftbuild.codegen.backends.python.emit_struct import instance_name
from thriftbuild.codegen.idl.resolved import (
    RConst,
    REnum,
    RFunction,
    RService,
    RStruct,
    RType,
)

__all__ = ["StubWriter"]

# Every name is qualified: a field may be called bytes, int, Any or Mapping, which
# would hide the bare name inside its class.
_BASE = {
    "bool": "builtins.bool",
    "i8": "builtins.int",
    "i16": "builtins.int",
    "i32": "builtins.int",
    "i64": "builtins.int",
    "double": "builtins.float",
    "string": "builtins.str",
    "binary": "builtins.bytes",
    "enum": "builtins.int",
}

_PRELUDE = ["import builtins", "import typing", ""]


class StubWriter:
    """Writes the stubs of one file's modules.

    Args:
        path: the IDL file whose stubs are written.
        modules: the generated package of every file in the include closure.
        qualify_service: how a service module names another service's module.
        imports: ``import`` lines for the other generated packages referred to.
    """

    def __init__(
        self,
        path: Path,
        modules: Mapping[Path, str],
        qualify_service: Callable[[Path, str], str],
        imports: list[str],
    ) -> None:
        self.path = path
        self.modules = modules
        self.qualify_service = qualify_service
        # Stubs name even this file's types by module path: a field named like its
        # type (NameConflictTest's `Nested Nested`) would hide a bare class name.
        self.imports = sorted({*imports, f"import {modules[path]}.ttypes"})

    def qualify(self, path: Path, name: str) -> str:
        """The full dotted name of type ``name`` of file ``path``."""
        return f"{self.modules[path]}.ttypes.{name}"

    def hint(self, rtype: RType) -> str:
        """The Python annotation for a value of ``rtype``."""
        if rtype.kind in _BASE:
            return _BASE[rtype.kind]
        if rtype.kind == "struct":
            assert rtype.source is not None
            return self.qualify(rtype.source, rtype.name)
        args = [self.hint(a) for a in rtype.args]
        if rtype.kind == "list":
            return (
                f"builtins.tuple[{args[0]}, ...]"
                if rtype.immutable
                else f"builtins.list[{args[0]}]"
            )
        if rtype.kind == "set":
            return (
                f"builtins.frozenset[{args[0]}]" if rtype.immutable else f"builtins.set[{args[0]}]"
            )
        return (
            f"typing.Mapping[{args[0]}, {args[1]}]"
            if rtype.immutable
            else f"builtins.dict[{args[0]}, {args[1]}]"
        )

    def _struct(self, struct: RStruct) -> list[str]:
        base = "Exception" if struct.kind == "exception" else "object"
        out = [f"class {struct.name}({base}):"]
        out += [f"    {f.name}: {self.hint(f.type)} | None" for f in struct.fields]
        out.append("    thrift_spec: typing.ClassVar[builtins.tuple[typing.Any, ...]]")
        me = instance_name([f.name for f in struct.fields])
        params = "".join(f", {f.name}: {self.hint(f.type)} | None = ..." for f in struct.fields)
        out.append(f"    def __init__({me}{params}) -> None: ...")
        methods: dict[str, list[str]] = {
            "read": ["    def read(self, iprot: typing.Any) -> None: ..."],
            "write": ["    def write(self, oprot: typing.Any) -> None: ..."],
            "validate": ["    def validate(self) -> None: ..."],
        }
        if struct.immutable:
            own = self.qualify(self.path, struct.name)
            methods["read"] = [
                "    @classmethod",
                f"    def read(cls, iprot: typing.Any) -> {own}: ...",
            ]
            out.append("    def __hash__(self) -> builtins.int: ...")
        # A field named like a method hides it on instances (docs/divergences.md).
        hidden = {f.name for f in struct.fields}
        for name, lines in methods.items():
            if name not in hidden:
                out += lines
        return out

    def _enum(self, enum: REnum) -> list[str]:
        out = [f"class {enum.name}:"]
        out += [f"    {name}: typing.ClassVar[builtins.int]" for name, _ in enum.values]
        out += [
            "    _VALUES_TO_NAMES: typing.ClassVar[builtins.dict[builtins.int, builtins.str]]",
            "    _NAMES_TO_VALUES: typing.ClassVar[builtins.dict[builtins.str, builtins.int]]",
        ]
        return out

    def ttypes(self, enums: list[REnum], structs: list[RStruct]) -> str:
        """The stub of ``ttypes``."""
        out = [*_PRELUDE, *self.imports]
        for enum in enums:
            out += ["", *self._enum(enum)]
        for struct in structs:
            out += ["", *self._struct(struct)]
        return "\n".join(out) + "\n"

    def constants(self, consts: list[RConst]) -> str:
        """The stub of ``constants``; it re-exports ``ttypes`` like the module does."""
        out = [*_PRELUDE, *self.imports, "from .ttypes import *", ""]
        out += [f"{c.name}: {self.hint(c.type)}" for c in consts]
        return "\n".join(out) + "\n"

    def _signature(self, fn: RFunction) -> tuple[str, str]:
        me = instance_name([a.name for a in fn.args])
        params = "".join(f", {a.name}: {self.hint(a.type)} | None" for a in fn.args)
        returns = "None" if fn.returns is None else self.hint(fn.returns)
        return f"{me}{params}", returns

    def service(self, service: RService, helpers: list[RStruct]) -> str:
        """The stub of one service module."""
        out = [*_PRELUDE, *self.imports, "from .ttypes import *"]
        base = None
        if service.base is not None:
            base = self.qualify_service(*service.base)
            out.append(f"import {base}" if "." in base else f"from . import {base}")
        out += ["", f"class Iface({base + '.Iface' if base else 'object'}):"]
        for fn in service.functions:
            params, returns = self._signature(fn)
            out.append(f"    def {fn.name}({params}) -> {returns}: ...")
        if not service.functions:
            out.append("    pass")
        bases = f"{base}.Client, Iface" if base else "Iface"
        out += ["", f"class Client({bases}):"]
        out.append(
            "    def __init__(self, iprot: typing.Any, oprot: typing.Any = ...) -> None: ..."
        )
        for fn in service.functions:
            params, returns = self._signature(fn)
            out.append(f"    def {fn.name}({params}) -> {returns}: ...")
            out.append(f"    def send_{fn.name}({params}) -> None: ...")
            if not fn.oneway:
                out.append(f"    def recv_{fn.name}(self) -> {returns}: ...")
        bases = f"{base}.Processor, Iface" if base else "Iface"
        out += [
            "",
            f"class Processor({bases}):",
            "    def __init__(self, handler: typing.Any) -> None: ...",
            "    def process(self, iprot: typing.Any, oprot: typing.Any)"
            " -> builtins.bool | None: ...",
        ]
        for struct in helpers:
            out += ["", *self._struct(struct)]
        return "\n".join(out) + "\n"

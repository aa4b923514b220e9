"""Python source for reading, writing and describing (``thrift_spec``) one value."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from thriftbuild.codegen.idl.resolved import RType

__all__ = ["Codec"]

_TTYPE = {
    "bool": "BOOL",
    "i8": "BYTE",
    "i16": "I16",
    "i32": "I32",
    "i64": "I64",
    "double": "DOUBLE",
    "string": "STRING",
    "binary": "STRING",
    "enum": "I32",
    "struct": "STRUCT",
    "list": "LIST",
    "set": "SET",
    "map": "MAP",
}

_SUFFIX = {
    "bool": "Bool",
    "i8": "Byte",
    "i16": "I16",
    "i32": "I32",
    "i64": "I64",
    "double": "Double",
    "string": "String",
    "binary": "Binary",
    "enum": "I32",
}


class Codec:
    """Writes read/write statements; temporaries are numbered per module.

    Args:
        qualify: how the module names a struct (defining file, name).
    """

    def __init__(self, qualify: Callable[[Path, str], str]) -> None:
        self.qualify = qualify
        self.counter = 0

    def tmp(self) -> int:
        self.counter += 1
        return self.counter

    @staticmethod
    def ttype(rtype: RType) -> str:
        """``TType.X`` for a type."""
        return "TType." + _TTYPE[rtype.kind]

    def struct_name(self, rtype: RType) -> str:
        assert rtype.source is not None
        return self.qualify(rtype.source, rtype.name)

    def spec_args(self, rtype: RType) -> str:
        """The type-arguments element of a ``thrift_spec`` entry."""
        kind = rtype.kind
        if kind == "string":
            return "'UTF8'"
        if kind == "binary":
            return "'BINARY'"
        if kind == "struct":
            return f"[{self.struct_name(rtype)}, None]"
        frozen = "True" if rtype.immutable else "False"
        if kind in ("list", "set"):
            elem = rtype.args[0]
            return f"({self.ttype(elem)}, {self.spec_args(elem)}, {frozen})"
        if kind == "map":
            key, val = rtype.args
            return (
                f"({self.ttype(key)}, {self.spec_args(key)}, "
                f"{self.ttype(val)}, {self.spec_args(val)}, {frozen})"
            )
        return "None"

    def read(self, rtype: RType, target: str, indent: str) -> list[str]:
        """Statements that read one ``rtype`` from ``iprot`` into ``target``."""
        kind = rtype.kind
        if kind in _SUFFIX:
            return [f"{indent}{target} = iprot.read{_SUFFIX[kind]}()"]
        if kind == "struct":
            name = self.struct_name(rtype)
            if rtype.immutable:
                return [f"{indent}{target} = {name}.read(iprot)"]
            if rtype.shadowed:
                return [f"{indent}{target} = {name}()", f"{indent}{name}.read({target}, iprot)"]
            return [f"{indent}{target} = {name}()", f"{indent}{target}.read(iprot)"]
        n = self.tmp()
        inner = indent + "    "
        if kind == "map":
            key, val = rtype.args
            lines = [
                f"{indent}{target} = {{}}",
                f"{indent}(_ktype{n}, _vtype{n}, _size{n}) = iprot.readMapBegin()",
                f"{indent}for _i{n} in range(_size{n}):",
                *self.read(key, f"_key{n}", inner),
                *self.read(val, f"_val{n}", inner),
                f"{inner}{target}[_key{n}] = _val{n}",
            ]
            if rtype.immutable:
                lines.append(f"{indent}{target} = TFrozenDict({target})")
            lines.append(f"{indent}iprot.readMapEnd()")
            return lines
        word = "List" if kind == "list" else "Set"
        lines = [
            f"{indent}{target} = {'[]' if kind == 'list' else 'set()'}",
            f"{indent}(_etype{n}, _size{n}) = iprot.read{word}Begin()",
            f"{indent}for _i{n} in range(_size{n}):",
            *self.read(rtype.args[0], f"_elem{n}", inner),
            f"{inner}{target}.{'append' if kind == 'list' else 'add'}(_elem{n})",
        ]
        if rtype.immutable:
            wrap = "tuple" if kind == "list" else "frozenset"
            lines.append(f"{indent}{target} = {wrap}({target})")
        lines.append(f"{indent}iprot.read{word}End()")
        return lines

    def write(self, rtype: RType, value: str, indent: str) -> list[str]:
        """Statements that write ``value`` (an expression) as ``rtype`` to ``oprot``."""
        kind = rtype.kind
        if kind in _SUFFIX:
            return [f"{indent}oprot.write{_SUFFIX[kind]}({value})"]
        if kind == "struct":
            if rtype.shadowed:
                return [f"{indent}{self.struct_name(rtype)}.write({value}, oprot)"]
            return [f"{indent}{value}.write(oprot)"]
        n = self.tmp()
        inner = indent + "    "
        if kind == "map":
            key, val = rtype.args
            return [
                f"{indent}oprot.writeMapBegin({self.ttype(key)}, {self.ttype(val)}, len({value}))",
                f"{indent}for kiter{n}, viter{n} in {value}.items():",
                *self.write(key, f"kiter{n}", inner),
                *self.write(val, f"viter{n}", inner),
                f"{indent}oprot.writeMapEnd()",
            ]
        word = "List" if kind == "list" else "Set"
        return [
            f"{indent}oprot.write{word}Begin({self.ttype(rtype.args[0])}, len({value}))",
            f"{indent}for iter{n} in {value}:",
            *self.write(rtype.args[0], f"iter{n}", inner),
            f"{indent}oprot.write{word}End()",
        ]

"""Assembles the generated package: ``__init__``, ``ttypes``, ``constants`` and one
module per service, each opening with the thriftbuild header."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from thriftbuild.codegen.backends.python.codec import Codec
from thriftbuild.codegen.backends.python.emit_service import helper_structs, service_body
from thriftbuild.codegen.backends.python.emit_struct import struct_class, struct_spec
from thriftbuild.codegen.backends.python.emit_stubs import StubWriter
from thriftbuild.codegen.idl.resolve import Resolved
from thriftbuild.codegen.idl.resolved import REnum

__all__ = ["Emitter"]

_PRELUDE = [
    "from thrift.Thrift import TType, TMessageType, TFrozenDict, TException, TApplicationException",
    "from thrift.protocol.TProtocol import TProtocolException",
    "from thrift.TRecursive import fix_spec",
    "",
    "import sys",
]


class Emitter:
    """Writes the modules of one IDL file.

    Args:
        path: the IDL file being generated.
        modules: the generated package of every file in the include closure.
        header: the comment block each module starts with.
        slots: the ``slots`` generator option.
    """

    def __init__(self, path: Path, modules: Mapping[Path, str], header: str, slots: bool) -> None:
        self.path = path
        self.modules = modules
        self.header = header
        self.slots = slots

    def qualify(self, path: Path, name: str) -> str:
        """How this file's generated code names type ``name`` of file ``path``."""
        if path == self.path:
            return name
        return f"{self.modules[path]}.ttypes.{name}"

    def qualify_service(self, path: Path, name: str) -> str:
        """How a service module names the module of service ``name`` of ``path``."""
        if path == self.path:
            return name
        return f"{self.modules[path]}.{name}"

    def imports(self, resolved: Resolved) -> list[str]:
        return [f"import {self.modules[p]}.ttypes" for p in sorted(resolved.type_imports)]

    def files(self, resolved: Resolved) -> dict[str, str]:
        """Module file name -> source text, stubs included."""
        return {**self.modules_text(resolved), **self.stubs(resolved)}

    def modules_text(self, resolved: Resolved) -> dict[str, str]:
        """The ``.py`` modules: file name -> source text."""
        names = ["ttypes", "constants", *(s.name for s in resolved.services)]
        files = {
            "__init__.py": self.header + f"__all__ = {names!r}\n",
            "ttypes.py": self.ttypes(resolved),
            "constants.py": self.constants(resolved),
        }
        for service in resolved.services:
            files[f"{service.name}.py"] = self.service(resolved, service.name)
        return files

    def stubs(self, resolved: Resolved) -> dict[str, str]:
        """The ``.pyi`` stubs: the annotations the IDL implies, for mypy and IDEs.

        They describe the public API both backends generate, so they also go beside
        the compiler's modules.
        """
        files: dict[str, str] = {}
        stubs = StubWriter(self.path, self.modules, self.qualify_service, self.imports(resolved))
        files["ttypes.pyi"] = self.header + stubs.ttypes(resolved.enums, resolved.structs)
        files["constants.pyi"] = self.header + stubs.constants(resolved.consts)
        for service in resolved.services:
            files[f"{service.name}.pyi"] = self.header + stubs.service(
                service, helper_structs(service)
            )
        return files

    def _text(self, lines: list[str]) -> str:
        return self.header + "\n" + "\n".join(lines) + "\n"

    def ttypes(self, resolved: Resolved) -> str:
        codec = Codec(self.qualify)
        out = [*_PRELUDE, *self.imports(resolved), "", "from thrift.transport import TTransport"]
        out.append("all_structs = []")
        for enum in resolved.enums:
            out += ["", "", *_enum(enum)]
        for struct in resolved.structs:
            out += ["", "", *struct_class(codec, struct, self.slots)]
        for struct in resolved.structs:
            out += struct_spec(codec, struct)
        out += ["fix_spec(all_structs)", "del all_structs"]
        return self._text(out)

    def constants(self, resolved: Resolved) -> str:
        out = [*_PRELUDE, *self.imports(resolved), "from .ttypes import *"]
        out += [f"{c.name} = {c.expr}" for c in resolved.consts]
        return self._text(out)

    def service(self, resolved: Resolved, name: str) -> str:
        service = next(s for s in resolved.services if s.name == name)
        # The module defines Iface, Client, Processor and <method>_args/_result after
        # importing every type of this file: its code names this file's types through a
        # private alias of ttypes, so a struct called Client or get_args stays reachable.
        own = "_ttypes"
        while own in {s.name for s in resolved.services}:
            own += "_"

        def qualify(path: Path, type_name: str) -> str:
            return f"{own}.{type_name}" if path == self.path else self.qualify(path, type_name)

        codec = Codec(qualify)
        out = [*_PRELUDE, *self.imports(resolved), f"from . import ttypes as {own}"]
        if service.base is not None:
            base_path, base_name = service.base
            if base_path == self.path:
                out.append(f"from . import {base_name}")
            else:
                out.append(f"import {self.modules[base_path]}.{base_name}")
        out += [
            "import logging",
            "from .ttypes import *",
            "from thrift.Thrift import TProcessor",
            "from thrift.transport import TTransport",
            "all_structs = []",
            "",
            "",
        ]
        out += service_body(service, self.qualify_service, codec, self.slots)
        out += ["fix_spec(all_structs)", "del all_structs"]
        return self._text(out)


def _enum(enum: REnum) -> list[str]:
    out = [f"class {enum.name}(object):"]
    out += [f"    {name} = {value}" for name, value in enum.values]
    out += ["", "    _VALUES_TO_NAMES = {"]
    out += [f'        {value}: "{name}",' for name, value in enum.values]
    out += ["    }", "", "    _NAMES_TO_VALUES = {"]
    out += [f'        "{name}": {value},' for name, value in enum.values]
    out.append("    }")
    if not enum.values:
        out.insert(1, "    pass")
    return out

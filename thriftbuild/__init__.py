"""thriftbuild: Apache Thrift for Python teams, from IDL to production.

Public names are resolved lazily, so ``import thriftbuild`` costs nothing and a
service never pulls in setuptools, nor a wheel build the runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> module that defines it.
_EXPORTS: dict[str, str] = {
    "ThriftBuildPyCommand": "thriftbuild.build.commands",
    "BuildThriftCommand": "thriftbuild.build.commands",
    "generate_to_directory": "thriftbuild.build.generate",
    "ThriftBuildError": "thriftbuild.errors",
}

__all__ = [
    "BuildThriftCommand",
    "ThriftBuildError",
    "ThriftBuildPyCommand",
    "__version__",
    "generate_to_directory",
]

if TYPE_CHECKING:
    from thriftbuild.build.commands import BuildThriftCommand, ThriftBuildPyCommand
    from thriftbuild.build.generate import generate_to_directory
    from thriftbuild.errors import ThriftBuildError


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'thriftbuild' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

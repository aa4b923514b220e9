"""Build settings: the ``[tool.thriftbuild]`` table of pyproject.toml and command options.

Keys (kebab-case)::

    [tool.thriftbuild]
    include-dirs = ["idl"]        # extra include search directories, project-relative
    include-packages = ["baseplate.thrift"]  # installed packages searched next, by name
    gen-options = ["slots"]       # options of the Python generator (default: ["slots"])
    strict = false                # reject what `thrift -strict` rejects
    backend = "auto"              # "auto" | "compiler" | "python"
    compiler = "/usr/bin/thrift"  # the compiler; the THRIFT environment variable wins
    exclude = ["tests/*"]         # globs over project-relative paths or file names
    layout = "package"            # "package": pkg/x.thrift -> pkg.x_thrift (default);
                                  # "namespace-py": `namespace py a.b` -> package a.b

``gen-options`` defaults to ``["slots"]``, the choice of baseplate's build command:
generated classes use ``__slots__``, which makes them smaller and faster. Set
``gen-options = []`` for the compiler's plain ``--gen py`` output.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from thriftbuild.codegen.backends import BACKEND_CHOICES
from thriftbuild.codegen.errors import ConfigurationError
from thriftbuild.codegen.model import GeneratorOptions

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["LAYOUTS", "BuildSettings", "read_pyproject_table"]

TABLE = "[tool.thriftbuild]"
#: Where generated packages go: next to the IDL as ``<name>_thrift``, or at the
#: file's ``namespace py`` as ``thrift --gen py`` would put them.
LAYOUTS = ("package", "namespace-py")


@dataclass(frozen=True)
class BuildSettings:
    """Resolved build settings; see the module docstring for their meaning."""

    include_dirs: tuple[str, ...] = ()
    include_packages: tuple[str, ...] = ()
    gen_options: tuple[str, ...] = ("slots",)
    strict: bool = False
    backend: str = "auto"
    compiler: str | None = None
    exclude: tuple[str, ...] = ()
    layout: str = "package"

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str = TABLE) -> BuildSettings:
        """Validate a ``[tool.thriftbuild]`` table.

        Raises:
            ConfigurationError: an unknown key (naming the nearest known one) or a
                value of the wrong type.
        """
        known = {field.name.replace("_", "-"): field.name for field in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in known:
                near = difflib.get_close_matches(key.replace("_", "-"), known, n=1, cutoff=0.5)
                hint = (
                    f"; did you mean {near[0]!r}?" if near else f"; known keys: {', '.join(known)}"
                )
                raise ConfigurationError(f"unknown key {key!r} in {where}{hint}")
            values[known[key]] = _check(key, value, where)
        return cls(**values)

    def generator_options(self) -> GeneratorOptions:
        """The options that take part in code generation."""
        return GeneratorOptions(tuple(dict.fromkeys(self.gen_options)), self.strict)

    def effective_compiler(self) -> str | None:
        """The compiler to use: ``$THRIFT`` first (a machine's choice), then the setting."""
        return os.environ.get("THRIFT") or self.compiler

    def include_paths(self, root: Path) -> list[Path]:
        """Include directories resolved against the project root."""
        return [(root / directory).resolve() for directory in self.include_dirs]


def _string_list(
    key: str, value: Any, where: str, *, split_commas: bool = False
) -> tuple[str, ...]:
    if split_commas and isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigurationError(f"{key} in {where} must be a list of strings; got {value!r}")
    return tuple(value)


def _check(key: str, value: Any, where: str) -> Any:
    if key in ("include-dirs", "include-packages", "exclude"):
        return _string_list(key, value, where)
    if key == "gen-options":
        return _string_list(key, value, where, split_commas=True)
    if key == "strict":
        if not isinstance(value, bool):
            raise ConfigurationError(f"strict in {where} must be true or false; got {value!r}")
        return value
    if key == "layout":
        if value not in LAYOUTS:
            raise ConfigurationError(
                f"layout in {where} must be one of {', '.join(map(repr, LAYOUTS))}; got {value!r}"
            )
        return value
    if key == "backend":
        if value not in BACKEND_CHOICES:
            raise ConfigurationError(
                f"backend in {where} must be one of {', '.join(map(repr, BACKEND_CHOICES))}; "
                f"got {value!r}"
            )
        return value
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{key} in {where} must be a non-empty string; got {value!r}")
    return value


def read_pyproject_table(root: Path) -> dict[str, Any] | None:
    """The ``[tool.thriftbuild]`` table of ``root/pyproject.toml``, or None when absent."""
    path = root / "pyproject.toml"
    try:
        with path.open("rb") as stream:
            document = tomllib.load(stream)
    except FileNotFoundError:
        return None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from exc
    table = document.get("tool", {}).get("thriftbuild")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigurationError(f"{TABLE} in {path} must be a table")
    return table

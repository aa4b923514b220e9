"""Which IDL files to build, which package each becomes, and how includes resolve.

Naming rule: ``<dir>/<stem>.thrift`` inside package ``pkg`` becomes package
``pkg.<name>_thrift``, where ``<name>`` is the stem with every character outside
``[A-Za-z0-9_]`` replaced by ``_`` (and ``_`` prepended when it starts with a digit):
``my-service.thrift`` -> ``my_service_thrift``. ``namespace py`` never moves the
output. Two files that map to the same package are an error.

Include search order, as the Apache compiler's: the including file's directory, then
each configured include directory, then (for IDL shipped inside other installed
distributions) every ``sys.path`` directory outside the project. A file found in an
installed distribution that already holds its generated package is imported from
there, not regenerated. Any other file outside the project's packages is generated
into the including file's top-level package.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from thriftbuild.codegen.errors import (
    IdlError,
    IncludeCycleError,
    IncludeNotFoundError,
    OutputConflictError,
)
from thriftbuild.codegen.idl.reader import read_idl
from thriftbuild.codegen.idl.scan import IdlHeader, scan_idl
from thriftbuild.codegen.model import GenerationRequest, GeneratorOptions, IdlSource, Include
from thriftbuild.codegen.output import MARKER_NAME, is_generated_dir

__all__ = ["BuildPlan", "generated_name", "plan_files", "plan_project"]

GENERATED_SUFFIX = "_thrift"
_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]")


def generated_name(idl_path: Path) -> str:
    """The package generated for ``idl_path``: ``my-service.thrift`` -> ``my_service_thrift``."""
    stem = idl_path.name[: -len(".thrift")] if idl_path.name.endswith(".thrift") else idl_path.stem
    name = _NOT_IDENTIFIER.sub("_", stem)
    if not name or name[0].isdigit():
        name = "_" + name
    return name + GENERATED_SUFFIX


@dataclass(frozen=True)
class BuildPlan:
    """Every IDL file involved in a build, and the order to generate them in.

    Attributes:
        sources: each file of the include closure by absolute path.
        targets: the files to generate (not prebuilt), each after what it includes.
        include_dirs: the directories searched for includes after the including
            file's own, as the compiler must be told them.
    """

    sources: Mapping[Path, IdlSource]
    targets: tuple[IdlSource, ...]
    include_dirs: tuple[Path, ...]

    def closure(self, source: IdlSource) -> list[IdlSource]:
        """``source`` and everything it includes, directly or not, in a stable order."""
        seen: dict[Path, IdlSource] = {}
        stack = [source]
        while stack:
            current = stack.pop()
            if current.path in seen:
                continue
            seen[current.path] = current
            stack.extend(self.sources[inc.path] for inc in reversed(current.includes))
        return list(seen.values())

    def request(self, source: IdlSource, options: GeneratorOptions) -> GenerationRequest:
        """The backend request for ``source``."""
        sources = {item.path: item for item in self.closure(source)}
        return GenerationRequest(source, sources, self.include_dirs, options)


def _display(path: Path, root: Path, search_dir: Path | None = None) -> str:
    for base in (root, search_dir):
        if base is not None:
            try:
                return path.relative_to(base).as_posix()
            except ValueError:
                pass
    return Path(os.path.relpath(path, root)).as_posix()


@dataclass
class _Open:
    """A file whose includes the planner is still walking."""

    partial: IdlSource
    header: IdlHeader
    next_index: int = 0
    includes: list[Include] = field(default_factory=list)


class _Planner:
    """Resolves includes depth-first from a set of root files and checks the result."""

    def __init__(
        self,
        root: Path,
        include_dirs: Sequence[Path],
        installed_dirs: Sequence[Path],
        place_external: Callable[[Path, IdlSource], str],
    ) -> None:
        self.root = root
        self.include_dirs = tuple(include_dirs)
        self.installed_dirs = tuple(installed_dirs)
        self.place_external = place_external
        self.assigned: dict[Path, str] = {}
        self.sources: dict[Path, IdlSource] = {}
        self.order: list[Path] = []
        self.used_dirs: list[Path] = list(self.include_dirs)

    def assign(self, path: Path, module: str) -> None:
        """Fix the module of a root file before any include can reach it."""
        self.assigned.setdefault(path, module)

    def add(self, path: Path) -> None:
        self._visit(path, self.assigned[path], _display(path, self.root), False)

    def _visit(self, path: Path, module: str, display: str, prebuilt: bool) -> None:
        """Read ``path`` and, depth first, everything it includes.

        The walk keeps its own stack of open files (the include chain), so a chain
        thousands of files deep needs no Python recursion.
        """
        if path in self.sources:
            return
        chain: list[_Open] = [self._open(path, module, display, prebuilt)]
        while chain:
            current = chain[-1]
            if current.next_index == len(current.header.includes):
                chain.pop()
                source = IdlSource(
                    current.partial.path,
                    current.partial.display_path,
                    current.partial.module,
                    tuple(current.includes),
                    current.header.namespace_py,
                    current.partial.prebuilt,
                    current.partial.text,
                )
                self.sources[source.path] = source
                self.order.append(source.path)
                continue
            statement = current.header.includes[current.next_index]
            current.next_index += 1
            target, target_module, target_display, target_prebuilt = self._resolve(
                current.partial, statement.literal, statement.line, statement.column
            )
            current.includes.append(
                Include(statement.literal, statement.line, statement.column, target)
            )
            for step, item in enumerate(chain):
                if item.partial.path == target:
                    names = [c.partial.display_path for c in chain[step:]]
                    raise IncludeCycleError([*names, target_display])
            if target not in self.sources:
                chain.append(self._open(target, target_module, target_display, target_prebuilt))

    @staticmethod
    def _open(path: Path, module: str, display: str, prebuilt: bool) -> _Open:
        text = read_idl(path, display)
        header = scan_idl(text)
        partial = IdlSource(path, display, module, (), header.namespace_py, prebuilt, text)
        return _Open(partial, header)

    def _resolve(
        self, includer: IdlSource, literal: str, line: int, column: int
    ) -> tuple[Path, str, str, bool]:
        searched: list[Path] = []
        candidates: list[tuple[Path, Path | None]] = []
        if Path(literal).is_absolute():
            candidates.append((Path(literal), None))
        else:
            for directory in (includer.path.parent, *self.include_dirs):
                candidates.append((directory / literal, directory))
                searched.append(directory)
        for candidate, base in candidates:
            if _is_link_loop(candidate):
                shown = _display(candidate, self.root)
                raise IdlError(
                    includer.display_path,
                    line,
                    column,
                    f'include "{literal}": {shown} is a symbolic link loop',
                )
            if candidate.is_file():
                path = candidate.resolve()
                known = self.sources.get(path)
                if known is not None:
                    return path, known.module, known.display_path, known.prebuilt
                display = _display(path, self.root, base)
                return path, self._module_for(path, includer), display, False
        for directory in self.installed_dirs:
            searched.append(directory)
            candidate = directory / literal
            if candidate.is_file():
                path = candidate.resolve()
                prebuilt_module = _prebuilt_module(path, directory)
                if directory not in self.used_dirs:
                    self.used_dirs.append(directory)
                display = _display(path, self.root, directory)
                if prebuilt_module is not None:
                    return path, prebuilt_module, display, True
                return path, self._module_for(path, includer), display, False
        raise IncludeNotFoundError(
            includer.display_path, line, column, literal, [_display(d, self.root) for d in searched]
        )

    def _module_for(self, path: Path, includer: IdlSource) -> str:
        if path not in self.assigned:
            self.assigned[path] = self.place_external(path, includer)
        return self.assigned[path]

    def finish(self) -> BuildPlan:
        owners: dict[str, IdlSource] = {}
        for path in self.order:
            source = self.sources[path]
            other = owners.setdefault(source.module, source)
            if other is not source:
                raise OutputConflictError(
                    f"{other.display_path} and {source.display_path} would both generate "
                    f"package {source.module}; rename one of them"
                )
        targets = tuple(self.sources[p] for p in self.order if not self.sources[p].prebuilt)
        return BuildPlan(dict(self.sources), targets, tuple(self.used_dirs))


def _is_link_loop(path: Path) -> bool:
    try:
        path.stat()
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def _resolve_given(path: Path) -> Path:
    """The absolute path of a file named on the command line, or an error naming it."""
    if _is_link_loop(path):
        raise IdlError(str(path), 0, 0, "symbolic link loop")
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a loop, before Python 3.13
        raise IdlError(str(path), 0, 0, f"cannot resolve the path: {exc}") from exc


def _prebuilt_module(path: Path, site_dir: Path) -> str | None:
    """The module of ``path``'s generated package if its distribution ships one."""
    package_dir = path.parent / generated_name(path)
    if not (package_dir / MARKER_NAME).is_file():
        return None
    parts = package_dir.relative_to(site_dir).parts
    if not all(part.isidentifier() for part in parts):
        return None
    return ".".join(parts)


def _installed_dirs(root: Path) -> list[Path]:
    dirs: list[Path] = []
    for entry in sys.path:
        directory = Path(entry or Path.cwd()).resolve()
        if not directory.is_dir() or directory == root or root in directory.parents:
            continue
        if directory not in dirs:
            dirs.append(directory)
    return dirs


def _excluded(relative: str, patterns: Iterable[str]) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(name, p) for p in patterns)


def _package_idl_files(
    packages: Mapping[str, Path], root: Path, exclude: Sequence[str]
) -> list[tuple[Path, str]]:
    """Every ``.thrift`` file below the packages, with the package it generates."""
    package_dirs = {directory.resolve() for directory in packages.values()}
    found: dict[Path, str] = {}

    def walk(directory: Path, package: str) -> None:
        try:
            entries = sorted(directory.iterdir())
        except OSError:
            return
        for entry in entries:
            if entry.is_dir():
                if (
                    entry.resolve() in package_dirs
                    or entry.name.startswith(".")
                    or entry.name == "__pycache__"
                    or not entry.name.isidentifier()
                    or is_generated_dir(entry)
                ):
                    continue
                walk(entry, f"{package}.{entry.name}")
            elif entry.suffix == ".thrift" and entry.is_file():
                path = entry.resolve()
                if _excluded(_display(path, root), exclude):
                    continue
                found.setdefault(path, f"{package}.{generated_name(path)}")

    for package, directory in sorted(packages.items()):
        walk(directory, package)
    return sorted(found.items())


def plan_project(
    root: Path,
    packages: Mapping[str, Path],
    *,
    include_dirs: Sequence[Path] = (),
    exclude: Sequence[str] = (),
    search_installed: bool = True,
) -> BuildPlan:
    """Plan the build of every IDL file inside a distribution's packages.

    Args:
        root: the project directory; display paths are relative to it.
        packages: each package of the distribution mapped to its source directory.
        include_dirs: extra include directories, in search order.
        exclude: glob patterns (project-relative paths or file names) to leave out.
        search_installed: also resolve includes against installed distributions.
    """
    root = root.resolve()
    dirs = [(root / d).resolve() for d in include_dirs]

    def place_external(path: Path, includer: IdlSource) -> str:
        top = includer.module.split(".", 1)[0]
        return f"{top}.{generated_name(path)}"

    installed = _installed_dirs(root) if search_installed else []
    planner = _Planner(root, dirs, installed, place_external)
    roots = _package_idl_files(packages, root, exclude)
    for path, module in roots:
        planner.assign(path, module)
    for path, _module in roots:
        planner.add(path)
    return planner.finish()


def plan_files(
    paths: Sequence[Path],
    *,
    include_dirs: Sequence[Path] = (),
    root: Path | None = None,
    search_installed: bool = True,
) -> BuildPlan:
    """Plan the build of the given IDL files, each a top-level ``<name>_thrift`` package.

    Files they include become top-level packages too, unless an installed
    distribution already ships them. Messages and generated headers name files
    relative to ``root``: by default the working directory when every file is below
    it, else the files' common parent directory.
    """
    resolved = [_resolve_given(path) for path in paths]
    if root is None:
        # Name files relative to the working directory when they are below it, else to
        # their common parent: never by an absolute (machine-specific) path.
        root = Path.cwd().resolve()
        if resolved and not all(path.is_relative_to(root) for path in resolved):
            root = Path(os.path.commonpath([path.parent for path in resolved]))
    root = root.resolve()
    dirs = [d.resolve() for d in include_dirs]

    def place_external(path: Path, _includer: IdlSource) -> str:
        return generated_name(path)

    installed = _installed_dirs(root) if search_installed else []
    planner = _Planner(root, dirs, installed, place_external)
    for path in resolved:
        if not path.is_file():
            raise IdlError(_display(path, root), 0, 0, "no such file")
        planner.assign(path, generated_name(path))
    for path in resolved:
        planner.add(path)
    return planner.finish()

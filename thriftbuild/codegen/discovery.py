"""Which IDL files to build, which package each becomes, and how includes resolve.

Naming rule: ``<dir>/<stem>.thrift`` inside package ``pkg`` becomes package
``pkg.<name>_thrift``, where ``<name>`` is the stem with every character outside
``[A-Za-z0-9_]`` replaced by ``_`` (and ``_`` prepended when it starts with a digit):
``my-service.thrift`` -> ``my_service_thrift``. With the namespace layout, a file's
``namespace py`` names its package instead. Two files that map to the same package
are an error.

Include search order: the including file's directory, then each configured include
directory, then the packages of ``include-packages``, then the IDL files of installed
distributions (:mod:`.installed`), matched by the include's trailing path. A file of
an installed distribution that ships its generated code is imported from there, not
regenerated. Any other file outside the project's packages is generated into the
including file's top-level package.
"""

from __future__ import annotations

import dataclasses
import errno
import fnmatch
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from thriftbuild.codegen.errors import (
    ConfigurationError,
    IdlError,
    IncludeCycleError,
    IncludeNotFoundError,
    OutputConflictError,
)
from thriftbuild.codegen.idl.reader import read_idl
from thriftbuild.codegen.idl.scan import IdlHeader, scan_idl
from thriftbuild.codegen.installed import InstalledIdlIndex, generated_module_of, locate_package
from thriftbuild.codegen.model import (
    GenerationRequest,
    GeneratorOptions,
    IdlSource,
    Include,
    generated_name,
)
from thriftbuild.codegen.output import is_generated_dir

__all__ = ["BuildPlan", "plan_files", "plan_project"]


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
    """How messages name ``path``: below the project root or its search directory, else
    a short relative path, else absolute (never a long ``../../..`` chain)."""
    for base in (root, search_dir):
        if base is not None:
            try:
                return path.relative_to(base).as_posix()
            except ValueError:
                pass
    relative = Path(os.path.relpath(path, root))
    if relative.parts[:3].count("..") <= 2:
        return relative.as_posix()
    return path.as_posix()


@dataclass(frozen=True)
class IncludePackage:
    """A package named in ``include-packages``: its directory is an include directory."""

    name: str
    directory: Path
    root: Path


def locate_include_packages(names: Sequence[str]) -> list[IncludePackage]:
    """Find each named package where the build runs, without importing it.

    Raises:
        ConfigurationError: a package is not installed (or is not a package).
    """
    found = []
    for name in names:
        located = locate_package(name)
        if located is None:
            raise ConfigurationError(
                f"include-packages: package {name!r} is not installed where the build runs; "
                "add its distribution to [build-system] requires (or install it)"
            )
        found.append(IncludePackage(name, *located))
    return found


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
        include_packages: Sequence[IncludePackage],
        installed: InstalledIdlIndex | None,
        place_external: Callable[[Path, IdlSource], str],
        message_root: Path | None = None,
        given: Mapping[Path, str] | None = None,
    ) -> None:
        self.root = root
        # Messages name files relative to message_root (named files as in ``given``)
        # when it differs from root, the base of the location-independent display paths.
        self.message_root = message_root
        self.given = dict(given or {})
        self.include_dirs = tuple(include_dirs)
        self.include_packages = tuple(include_packages)
        self.installed = installed
        self.place_external = place_external
        self.assigned: dict[Path, str] = {}
        self.sources: dict[Path, IdlSource] = {}
        self.order: list[Path] = []
        self.used_dirs: list[Path] = list(self.include_dirs)
        self.namespace_roots: set[Path] = set()

    def assign(self, path: Path, module: str, *, use_namespace: bool = False) -> None:
        """Fix the module of a root file before any include can reach it.

        With ``use_namespace``, the file's ``namespace py`` (when it has one) wins.
        """
        self.assigned.setdefault(path, module)
        if use_namespace:
            self.namespace_roots.add(path)

    def add(self, path: Path) -> None:
        self._visit(path, _display(path, self.root))

    def _shown(self, path: Path) -> str:
        """How messages name a file or directory: below the message root relative to
        it, else absolute (a path the user can open from where they are)."""
        if self.message_root is None:
            return _display(path, self.root)
        if path.is_relative_to(self.message_root):
            return path.relative_to(self.message_root).as_posix()
        return path.as_posix()

    def _message_name(self, path: Path) -> str | None:
        if self.message_root is None:
            return None
        return self.given.get(path) or self._shown(path)

    def _visit(self, path: Path, display: str) -> None:
        """Read ``path`` and, depth first, everything it includes.

        The walk keeps its own stack of open files (the include chain), so a chain
        thousands of files deep needs no Python recursion.
        """
        if path in self.sources:
            return
        chain: list[_Open] = [self._open(path, display, None, None)]
        while chain:
            current = chain[-1]
            partial = current.partial
            if current.next_index == len(current.header.includes):
                chain.pop()
                source = dataclasses.replace(partial, includes=tuple(current.includes))
                self.sources[source.path] = source
                self.order.append(source.path)
                continue
            statement = current.header.includes[current.next_index]
            current.next_index += 1
            target, target_display, target_root = self._resolve(
                partial, statement.literal, statement.line, statement.column
            )
            current.includes.append(
                Include(statement.literal, statement.line, statement.column, target)
            )
            for step, item in enumerate(chain):
                if item.partial.path == target:
                    names = [c.partial.message_path for c in chain[step:]]
                    raise IncludeCycleError([*names, item.partial.message_path])
            if target not in self.sources:
                chain.append(self._open(target, target_display, target_root, partial))

    def _open(
        self, path: Path, display: str, installed_root: Path | None, includer: IdlSource | None
    ) -> _Open:
        message_name = self._message_name(path)
        text = read_idl(path, message_name or display)
        header = scan_idl(text)
        prebuilt = False
        module = self.assigned.get(path)
        if path in self.namespace_roots and header.namespace_py:
            module = header.namespace_py
        if module is None and installed_root is not None:
            # IDL of an installed distribution that ships its generated code: import that.
            module = generated_module_of(path, installed_root, header.namespace_py)
            prebuilt = module is not None
        if module is None:
            assert includer is not None
            module = self.place_external(path, includer)
        self.assigned[path] = module
        partial = IdlSource(
            path, display, module, (), header.namespace_py, prebuilt, text, message_name
        )
        return _Open(partial, header)

    def _use_dir(self, directory: Path) -> None:
        if directory not in self.used_dirs:
            self.used_dirs.append(directory)

    def _resolve(
        self, includer: IdlSource, literal: str, line: int, column: int
    ) -> tuple[Path, str, Path | None]:
        """The file an include names, its display path, and its import root if installed."""
        if Path(literal).is_absolute():
            if Path(literal).is_file():
                path = Path(literal).resolve()
                return path, _display(path, self.root), None
        else:
            for directory in (includer.path.parent, *self.include_dirs):
                candidate = directory / literal
                if _is_link_loop(candidate):
                    raise IdlError(
                        includer.message_path,
                        line,
                        column,
                        f'include "{literal}": {self._shown(candidate)} is a symbolic link loop',
                    )
                if candidate.is_file():
                    path = candidate.resolve()
                    return path, _display(path, self.root, directory), None
            for package in self.include_packages:
                candidate = package.directory / literal
                if candidate.is_file():
                    self._use_dir(package.directory)
                    path = candidate.resolve()
                    return path, _display(path, self.root, package.root), package.root
            matches = self.installed.find(literal) if self.installed is not None else []
            if len(matches) > 1:
                found = ", ".join(f"{m.relative} ({m.distribution})" for m in matches)
                raise IdlError(
                    includer.message_path,
                    line,
                    column,
                    f'include "{literal}" is ambiguous: installed distributions ship {found}; '
                    "write more of its path or name the package in include-packages",
                )
            if matches:
                match = matches[0]
                self._use_dir(match.search_dir(literal))
                return match.path, match.relative, match.root
        searched = [self._shown(d) for d in (includer.path.parent, *self.include_dirs)]
        raise IncludeNotFoundError(
            includer.message_path,
            line,
            column,
            literal,
            searched,
            packages=[package.name for package in self.include_packages],
            installed=self.installed.packages() if self.installed is not None else None,
        )

    def finish(self) -> BuildPlan:
        owners: dict[str, IdlSource] = {}
        for path in self.order:
            source = self.sources[path]
            other = owners.setdefault(source.module, source)
            if other is not source:
                raise OutputConflictError(
                    f"{other.message_path} and {source.message_path} would both generate "
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
    include_packages: Sequence[str] = (),
    exclude: Sequence[str] = (),
    search_installed: bool = True,
    namespace_layout: bool = False,
) -> BuildPlan:
    """Plan the build of every IDL file inside a distribution's packages.

    Args:
        root: the project directory; display paths are relative to it.
        packages: each package of the distribution mapped to its source directory.
        include_dirs: extra include directories, in search order.
        include_packages: installed packages whose directories are searched next.
        exclude: glob patterns (project-relative paths or file names) to leave out.
        search_installed: also resolve includes against installed distributions.
        namespace_layout: a file with ``namespace py X`` generates package ``X``
            (where ``thrift --gen py`` puts it) instead of ``<pkg>.<name>_thrift``.
    """
    root = root.resolve()
    dirs = [(root / d).resolve() for d in include_dirs]

    def place_external(path: Path, includer: IdlSource) -> str:
        top = includer.module.split(".", 1)[0]
        return f"{top}.{generated_name(path)}"

    planner = _Planner(
        root,
        dirs,
        locate_include_packages(include_packages),
        InstalledIdlIndex(exclude=root) if search_installed else None,
        place_external,
    )
    roots = _package_idl_files(packages, root, exclude)
    for path, module in roots:
        planner.assign(path, module, use_namespace=namespace_layout)
    for path, _module in roots:
        planner.add(path)
    return planner.finish()


def plan_files(
    paths: Sequence[Path],
    *,
    include_dirs: Sequence[Path] = (),
    include_packages: Sequence[str] = (),
    root: Path | None = None,
    search_installed: bool = True,
) -> BuildPlan:
    """Plan the build of the given IDL files, each a top-level ``<name>_thrift`` package.

    Files they include become top-level packages too, unless an installed
    distribution already ships them. Generated headers and fingerprints name files
    relative to ``root``: by default the working directory when every file is below
    it, else the files' common parent directory. Messages name files relative to
    ``root`` too, except that with the files' common parent as default root they name
    the given files as given and the others relative to the working directory.
    """
    resolved = [_resolve_given(path) for path in paths]
    message_root: Path | None = None
    given: dict[Path, str] = {}
    if root is None:
        # Name files relative to the working directory when they are below it, else to
        # their common parent: never by an absolute (machine-specific) path, so output
        # is the same wherever the tree lies. Messages must name a file the user can
        # open from where they are, so they use the paths as given.
        root = Path.cwd().resolve()
        if resolved and not all(path.is_relative_to(root) for path in resolved):
            message_root = root
            for original, path in zip(paths, resolved, strict=True):
                given.setdefault(path, str(original))
            root = Path(os.path.commonpath([path.parent for path in resolved]))
    root = root.resolve()
    dirs = [d.resolve() for d in include_dirs]

    def place_external(path: Path, _includer: IdlSource) -> str:
        return generated_name(path)

    planner = _Planner(
        root,
        dirs,
        locate_include_packages(include_packages),
        InstalledIdlIndex(exclude=root) if search_installed else None,
        place_external,
        message_root,
        given,
    )
    for path in resolved:
        if not path.is_file():
            raise IdlError(given.get(path) or _display(path, root), 0, 0, "no such file")
        planner.assign(path, generated_name(path))
    for path in resolved:
        planner.add(path)
    return planner.finish()

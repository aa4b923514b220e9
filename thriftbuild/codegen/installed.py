"""IDL shipped by installed distributions, and the generated code they already ship.

An ``include`` the project cannot satisfy itself is looked up among the ``.thrift``
files of every distribution installed where the build runs (the build environment for
pip's isolated builds): the files each lists in its ``RECORD``, plus, for editable
installs, the files below its packages wherever they really live. ``include
"baseplate.thrift"`` finds ``<site>/baseplate/thrift/baseplate.thrift``, as baseplate's
own build command did by passing that directory to the compiler; ``include
"classic/common/base.thrift"`` finds the file by its path below the import root. A
file is only matched by its trailing path components, and two distributions shipping
the same name make the include ambiguous (an error that says how to choose).

Packages are located with :func:`importlib.util.find_spec` on top-level names and by
walking directories below them, so no package's code runs during a build.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from thriftbuild.codegen.model import generated_name
from thriftbuild.codegen.output import MARKER_NAME

__all__ = [
    "InstalledIdl",
    "InstalledIdlIndex",
    "generated_module_of",
    "locate_package",
]

#: Directory names never descended into when listing an editable package's IDL.
_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "build", "dist"})


@dataclass(frozen=True)
class InstalledIdl:
    """One ``.thrift`` file of an installed distribution.

    Attributes:
        path: the file, resolved.
        root: the import root its package path is relative to (a site directory, or
            the directory holding an editable install's top-level package).
        distribution: the distribution's name as its metadata spells it.
    """

    path: Path
    root: Path
    distribution: str

    @property
    def relative(self) -> str:
        """The file below its import root, POSIX-style: ``pkg/thrift/base.thrift``."""
        return self.path.relative_to(self.root).as_posix()

    @property
    def package(self) -> str:
        """The dotted package holding the file (``""`` at the import root)."""
        return ".".join(self.path.parent.relative_to(self.root).parts)

    def search_dir(self, literal: str) -> Path:
        """The directory that makes ``include "<literal>"`` name this file."""
        return self.path.parents[len(Path(literal).parts) - 1]


def locate_package(name: str) -> tuple[Path, Path] | None:
    """The directory of package ``name`` and its import root, without importing it.

    Only the top-level name goes through the import system (whose finders also know
    editable installs); subpackages are directories below it.
    """
    top, *rest = name.split(".")
    if not top.isidentifier() or not all(part.isidentifier() for part in rest):
        return None
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        directory = Path(location).resolve().joinpath(*rest)
        if directory.is_dir():
            return directory, Path(location).resolve().parent
    return None


def generated_module_of(path: Path, root: Path, namespace_py: str | None) -> str | None:
    """The module of generated code an installed IDL file already comes with, if any.

    Two kinds are recognised: a package thriftbuild wrote beside the file
    (``<name>_thrift/`` with its marker), and the Apache compiler's output at the
    file's ``namespace py`` (``<namespace>/ttypes.py`` below the same import root).
    """
    beside = path.parent / generated_name(path)
    if (beside / MARKER_NAME).is_file():
        parts = beside.relative_to(root).parts
        if all(part.isidentifier() for part in parts):
            return ".".join(parts)
    if namespace_py:
        parts = tuple(namespace_py.split("."))
        if all(part.isidentifier() for part in parts):
            candidate = root.joinpath(*parts)
            if (candidate / "ttypes.py").is_file() or (candidate / MARKER_NAME).is_file():
                return namespace_py
    return None


def _editable_roots(dist: importlib.metadata.Distribution) -> list[tuple[Path, Path]]:
    """(package directory, import root) of each top-level package of an editable install."""
    names: list[str] = []
    top_level = dist.read_text("top_level.txt") or ""
    names += [line.strip() for line in top_level.splitlines() if line.strip()]
    found: list[tuple[Path, Path]] = []
    for name in names:
        located = locate_package(name)
        if located is not None:
            found.append(located)
    # A static .pth line (src layouts) puts a directory on sys.path: its packages count.
    for file in dist.files or ():
        if file.suffix == ".pth":
            try:
                lines = Path(str(dist.locate_file(file))).read_text(encoding="utf-8").splitlines()
            except OSError:
                continue
            for line in lines:
                entry = Path(line.strip())
                if line.strip() and not line.startswith(("#", "import")) and entry.is_dir():
                    for child in sorted(entry.iterdir()):
                        if child.is_dir() and child.name.isidentifier():
                            found.append((child.resolve(), entry.resolve()))
    return found


def _is_editable(dist: importlib.metadata.Distribution) -> bool:
    return any(f.suffix == ".pth" or f.name.startswith("__editable__") for f in dist.files or ())


def _walk_idl(directory: Path) -> list[Path]:
    files: list[Path] = []
    for current, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and d not in _SKIPPED_DIRS
        )
        files += [Path(current, f).resolve() for f in sorted(filenames) if f.endswith(".thrift")]
    return files


class InstalledIdlIndex:
    """The ``.thrift`` files of installed distributions, listed on first use.

    Args:
        exclude: a directory (the project being built) whose files never count as
            installed, even when the project is also installed in editable mode.
    """

    def __init__(self, exclude: Path | None = None) -> None:
        self.exclude = exclude
        self._files: list[InstalledIdl] | None = None

    def _list(self) -> list[InstalledIdl]:
        if self._files is not None:
            return self._files
        files: dict[Path, InstalledIdl] = {}
        seen: set[str] = set()
        for dist in importlib.metadata.distributions():
            name = dist.metadata["Name"] or "?"
            key = name.lower().replace("-", "_")
            if key in seen:
                continue  # shadowed by an earlier sys.path entry, as for imports
            seen.add(key)
            root = Path(str(dist.locate_file(""))).resolve()
            for file in dist.files or ():
                if file.suffix == ".thrift":
                    path = Path(str(dist.locate_file(file))).resolve()
                    if path.is_file() and path.is_relative_to(root):
                        files.setdefault(path, InstalledIdl(path, root, name))
            if any(
                f.suffix == ".pth" or f.name.startswith("__editable__") for f in dist.files or ()
            ):
                for package_dir, package_root in _editable_roots(dist):
                    for path in _walk_idl(package_dir):
                        files.setdefault(path, InstalledIdl(path, package_root, name))
        self._files = [
            item
            for item in files.values()
            if self.exclude is None or not item.path.is_relative_to(self.exclude)
        ]
        return self._files

    def find(self, literal: str) -> list[InstalledIdl]:
        """The installed files ``include "<literal>"`` could name, best first.

        A file matches when its trailing path components are the literal's. More than
        one match means the include is ambiguous; the caller reports it.
        """
        wanted = Path(literal).parts
        if not wanted or ".." in wanted or Path(literal).is_absolute():
            return []
        matches = [item for item in self._list() if item.path.parts[-len(wanted) :] == wanted]
        # Named most precisely first: classic/common/base.thrift right below a site
        # directory before something/classic/common/base.thrift.
        return sorted(matches, key=lambda item: (len(Path(item.relative).parts), item.relative))

    def packages(self) -> list[str]:
        """Dotted names of the installed packages that hold IDL, for messages."""
        return sorted({item.package or item.distribution for item in self._list()})

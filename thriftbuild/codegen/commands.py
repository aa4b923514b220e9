"""setuptools commands: ``build_thrift`` and the ``build_py`` that runs it.

``build_thrift`` is a sub-command of ``build`` (placed before ``build_py``), which is
what makes it work everywhere setuptools builds: ``pip wheel``/``pip install``, PEP 517
builds, sdists (its :meth:`~BuildThriftCommand.get_source_files` puts the IDL into the
sdist) and PEP 660 editable installs in lenient and strict mode (setuptools sets
``editable_mode``; the packages are then generated in the source tree and mapped by
:meth:`~BuildThriftCommand.get_output_mapping`). Running as its own sub-command also
keeps IDL errors loud in editable installs, where setuptools swallows exceptions from a
customised ``build_py``.

Two ways to turn it on:

* ``cmdclass={"build_py": ThriftBuildPyCommand}`` in setup.py;
* a ``[tool.thriftbuild]`` table in pyproject.toml (no setup.py needed): the
  ``setuptools.finalize_distribution_options`` hook wraps whatever ``build_py`` the
  project already uses instead of replacing it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, ClassVar

from setuptools import Command
from setuptools.command.build import build as setuptools_build
from setuptools.command.build_py import build_py as setuptools_build_py
from setuptools.dist import Distribution
from setuptools.errors import BaseError, SetupError

from thriftbuild.codegen.backends import select_backend
from thriftbuild.codegen.discovery import BuildPlan, plan_project
from thriftbuild.codegen.errors import ConfigurationError, OutputConflictError, ThriftBuildError
from thriftbuild.codegen.generate import PackageResult, build_plan, prune_stale
from thriftbuild.codegen.idl.scan import scan_idl
from thriftbuild.codegen.model import IdlSource
from thriftbuild.codegen.output import is_generated_dir, owned_files
from thriftbuild.codegen.settings import BuildSettings, read_pyproject_table

__all__ = [
    "BuildThriftCommand",
    "ThriftBuildPyCommand",
    "ThriftBuildPyMixin",
    "finalize_distribution_options",
]


def _comma_list(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def project_root(dist: Distribution) -> Path:
    """The directory holding setup.py / pyproject.toml (setuptools runs from it)."""
    return Path(dist.src_root or os.curdir).resolve()


def package_dirs(dist: Distribution) -> dict[str, Path]:
    """Every package of the distribution mapped to its source directory."""
    build_py = dist.get_command_obj("build_py")
    build_py.ensure_finalized()
    root = project_root(dist)
    dirs: dict[str, Path] = {}
    for package in dist.packages or ():
        directory = (root / build_py.get_package_dir(package)).resolve()
        if directory.is_dir() and not is_generated_dir(directory):
            dirs[package] = directory
    return dirs


def _inside_packages(module: str, packages: dict[str, Path]) -> bool:
    parts = module.split(".")
    return any(".".join(parts[:cut]) in packages for cut in range(len(parts) - 1, 0, -1))


def _relative(path: Path, dist: Distribution) -> str:
    try:
        return path.relative_to(project_root(dist)).as_posix()
    except ValueError:
        return path.as_posix()


def module_dir(module: str, packages: dict[str, Path], base: Path | None = None) -> Path:
    """The directory of a generated module: below ``base`` if given, else in the source tree."""
    parts = module.split(".")
    if base is not None:
        return base.joinpath(*parts)
    for cut in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:cut])
        if prefix in packages:
            return packages[prefix].joinpath(*parts[cut:])
    raise ConfigurationError(f"no package of the distribution holds {module}")


class BuildThriftCommand(Command):
    """Generate ``<name>_thrift`` packages from the ``.thrift`` files in the packages."""

    description = "generate Python packages from the .thrift files of the distribution"
    user_options: ClassVar[list[tuple[str, str | None, str]]] = [
        ("build-lib=", "d", "directory to write generated packages into"),
        ("inplace", "i", "generate packages inside the source tree"),
        ("backend=", None, "code generator: auto, compiler or python"),
        ("compiler=", None, "path of the Apache Thrift compiler"),
        ("include-dirs=", "I", f"extra include directories, separated by {os.pathsep!r}"),
        ("include-packages=", None, "installed packages to search for includes, comma-separated"),
        ("gen-options=", None, "Python generator options, comma-separated (default: slots)"),
        ("strict", None, "reject what `thrift -strict` rejects"),
        ("force", "f", "regenerate packages that are up to date"),
    ]
    boolean_options: ClassVar[list[str]] = ["inplace", "strict", "force"]

    def initialize_options(self) -> None:
        self.build_lib: str | None = None
        self.inplace: bool = False
        self.editable_mode: bool = False
        self.backend: str | None = None
        self.compiler: str | None = None
        self.include_dirs: str | None = None
        self.include_packages: str | None = None
        self.gen_options: str | None = None
        self.strict: bool | None = None
        self.force: bool = False
        self._plan: BuildPlan | None = None
        self._packages: dict[str, Path] | None = None
        self._results: list[PackageResult] = []
        self._copied_idl: dict[Path, Path] = {}

    def finalize_options(self) -> None:
        self.set_undefined_options("build", ("build_lib", "build_lib"))
        overrides: dict[str, Any] = {
            "backend": self.backend,
            "compiler": self.compiler,
            "include-dirs": self.include_dirs.split(os.pathsep) if self.include_dirs else None,
            "include-packages": _comma_list(self.include_packages),
            "gen-options": self.gen_options,
            "strict": True if self.strict else None,
        }
        try:
            table = read_pyproject_table(project_root(self.distribution)) or {}
            table.update({key: value for key, value in overrides.items() if value is not None})
            self.settings = BuildSettings.from_table(
                table, "[tool.thriftbuild] or build_thrift options"
            )
        except ConfigurationError as exc:
            raise SetupError(f"thriftbuild: {exc}") from exc

    @property
    def in_tree(self) -> bool:
        return bool(self.inplace or self.editable_mode)

    @property
    def packages(self) -> dict[str, Path]:
        """The distribution's packages and their source directories (computed once)."""
        if self._packages is None:
            self._packages = package_dirs(self.distribution)
        return self._packages

    def plan(self) -> BuildPlan:
        """The build plan of the distribution (computed once)."""
        if self._plan is None:
            root = project_root(self.distribution)
            try:
                self._plan = plan_project(
                    root,
                    self.packages,
                    include_dirs=self.settings.include_paths(root),
                    include_packages=self.settings.include_packages,
                    exclude=self.settings.exclude,
                    namespace_layout=self.settings.layout == "namespace-py",
                )
            except ThriftBuildError as exc:
                raise BaseError(f"thriftbuild: {exc}") from exc
        return self._plan

    @property
    def namespace_layout(self) -> bool:
        return self.settings.layout == "namespace-py"

    def destination(self, source: IdlSource) -> Path:
        """The package directory of ``source`` (in the tree, or below ``build_lib``)."""
        if self.namespace_layout and not _inside_packages(source.module, self.packages):
            raise ConfigurationError(
                f"{source.display_path}: namespace py {source.module} is outside the "
                f"distribution's packages ({', '.join(sorted(self.packages))}); "
                'layout = "namespace-py" places generated code only inside them'
            )
        if self.in_tree:
            return module_dir(source.module, self.packages)
        assert self.build_lib is not None
        return module_dir(source.module, self.packages, Path(self.build_lib).resolve())

    def _check_no_committed_output(self, plan: BuildPlan) -> None:
        """With the namespace layout, refuse to build over committed compiler output.

        build_py would copy those modules over the generated ones (or ship both).
        """
        for source in plan.targets:
            directory = module_dir(source.module, self.packages)
            if is_generated_dir(directory) or not directory.is_dir():
                continue
            owned = owned_files(directory)
            names = ["__init__.py", "ttypes.py", "constants.py"]
            names += [f"{service}.py" for service in scan_idl(source.read()).services]
            clashes = [n for n in names if n not in owned and (directory / n).is_file()]
            if clashes:
                shown = ", ".join(f"{_relative(directory, self.distribution)}/{n}" for n in clashes)
                raise OutputConflictError(
                    f"{source.display_path} generates package {source.module}, but {shown} "
                    "already exist and were not generated by thriftbuild; delete the "
                    "committed compiler output so the build can generate it"
                )

    def _output_roots(self) -> list[Path]:
        if self.in_tree:
            return sorted(set(self.packages.values()))
        assert self.build_lib is not None
        base = Path(self.build_lib).resolve()
        return sorted({base.joinpath(*name.split(".")) for name in self.packages})

    def _log(self, message: str) -> None:
        # distutils' own INFO: 2 in setuptools < 66 (whose announce rejects logging's
        # 20 with "wrong log level"), logging.INFO in later ones. Imported here, after
        # setuptools, which provides distutils on Python 3.12+.
        from distutils.log import INFO

        self.announce(f"thriftbuild: {message}", level=INFO)

    def run(self) -> None:
        plan = self.plan()
        settings = self.settings
        try:
            if self.namespace_layout:
                self._check_no_committed_output(plan)
            backend = select_backend(settings.backend, settings.effective_compiler())
            self._log(
                f"{len(plan.targets)} IDL file(s), {backend.name} backend ({backend.identity()})"
            )
            self._results = build_plan(
                plan,
                backend,
                settings.generator_options(),
                self.destination,
                in_tree=self.in_tree,
                force=bool(self.force),
                shared_dirs=self.namespace_layout,
                log=self._log,
            )
            keep = [result.directory for result in self._results]
            prune_stale(self._output_roots(), keep, log=self._log)
        except ThriftBuildError as exc:
            raise BaseError(f"thriftbuild: {exc}") from exc
        if not self.in_tree:
            self._copy_idl_sources()

    def _copy_idl_sources(self) -> None:
        """Ship each IDL file beside its package so other projects can include it."""
        self._copied_idl = {}
        assert self.build_lib is not None
        base = Path(self.build_lib).resolve()
        for result in self._results:
            target = self._idl_home(result.source.path, base) or (
                result.directory.parent / result.source.path.name
            )
            if not _same_file_stat(result.source.path, target):
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(result.source.path, target)  # keeps the mtime we compare
            self._copied_idl[target] = result.source.path
        # A .thrift file left from an earlier build of a since-deleted IDL must not ship.
        for root in self._output_roots():
            for stale in root.rglob("*.thrift") if root.is_dir() else ():
                if stale.resolve() not in self._copied_idl:
                    stale.unlink()

    def _idl_home(self, path: Path, base: Path) -> Path | None:
        """Where the project's IDL file ``path`` goes below ``base``: where it is in its package."""
        best: tuple[int, Path] | None = None
        for package, directory in self.packages.items():
            if path.parent.is_relative_to(directory):
                relative = path.relative_to(directory)
                target = base.joinpath(*package.split("."), *relative.parts)
                if best is None or len(directory.parts) > best[0]:
                    best = (len(directory.parts), target)
        return best[1] if best else None

    # -- setuptools' SubCommand protocol -------------------------------------------

    def get_source_files(self) -> list[str]:
        """The IDL files inside the project, for the sdist."""
        root = project_root(self.distribution)
        files = []
        for source in self.plan().sources.values():
            if not source.prebuilt and source.path.is_relative_to(root):
                files.append(source.path.relative_to(root).as_posix())
        return sorted(files)

    def get_outputs(self) -> list[str]:
        """Files this command put (or, in editable mode, maps) into ``build_lib``."""
        return sorted(self.get_output_mapping()) if self.in_tree else self._build_lib_outputs()

    def _build_lib_outputs(self) -> list[str]:
        files = [str(path) for result in self._results for path in result.files]
        return sorted(files + [str(path) for path in self._copied_idl])

    def get_output_mapping(self) -> dict[str, str]:
        """``build_lib`` paths mapped to the source-tree files they come from."""
        if not self.in_tree:
            return {str(target): str(source) for target, source in self._copied_idl.items()}
        assert self.build_lib is not None
        base = Path(self.build_lib).resolve()
        mapping: dict[str, str] = {}
        for result in self._results:
            lib_dir = module_dir(result.source.module, self.packages, base)
            for path in result.files:
                if path.name != ".gitignore":
                    mapping[str(lib_dir / path.name)] = str(path)
        return mapping


def _same_file_stat(source: Path, target: Path) -> bool:
    """Whether ``target`` is an unchanged copy of ``source`` (size and mtime)."""
    try:
        theirs, ours = source.stat(), target.stat()
    except FileNotFoundError:
        return False
    return (theirs.st_size, theirs.st_mtime_ns) == (ours.st_size, ours.st_mtime_ns)


class ThriftBuildPyMixin:
    """Makes a ``build_py`` command run ``build_thrift`` first and skip generated packages."""

    packages: list[str] | None

    def finalize_options(self) -> None:
        super().finalize_options()  # type: ignore[misc]
        if self.packages:
            # Packages an earlier in-tree build generated are owned by build_thrift;
            # copying them as ordinary packages would ship stale modules.
            self.packages = [
                package
                for package in self.packages
                if not is_generated_dir(Path(self.get_package_dir(package)))  # type: ignore[attr-defined]
            ]

    def run(self) -> None:
        # Registered here too for setup.py builds where the entry-point hook did not
        # run (thriftbuild importable but not installed).
        self.distribution.cmdclass.setdefault("build_thrift", BuildThriftCommand)  # type: ignore[attr-defined]
        self.run_command("build_thrift")  # type: ignore[attr-defined]
        super().run()  # type: ignore[misc]


class ThriftBuildPyCommand(ThriftBuildPyMixin, setuptools_build_py):
    """``build_py`` that also generates Python packages from ``.thrift`` files.

    Use it from setup.py: ``setup(..., cmdclass={"build_py": ThriftBuildPyCommand})``.
    """


def _wrap_build_py(base: type[Any]) -> type[Any]:
    if issubclass(base, ThriftBuildPyMixin):
        return base
    return type(f"Thrift{base.__name__}", (ThriftBuildPyMixin, base), {})


def _with_build_thrift(base: type[Any]) -> type[Any]:
    if any(name == "build_thrift" for name, _predicate in base.sub_commands):
        return base

    def initialize_options(self: Any) -> None:
        # pyproject's [tool.setuptools.cmdclass] is applied after our hook ran; wrap
        # whatever build_py is configured by the time a build starts.
        cmdclass = self.distribution.cmdclass
        cmdclass["build_py"] = _wrap_build_py(cmdclass.get("build_py", setuptools_build_py))
        base.initialize_options(self)

    namespace = {
        "sub_commands": [("build_thrift", None), *base.sub_commands],
        "initialize_options": initialize_options,
    }
    return type(base.__name__, (base,), namespace)


def finalize_distribution_options(dist: Distribution) -> None:
    """setuptools hook: enable thriftbuild for projects that ask for it, else do nothing.

    A project asks by using :class:`ThriftBuildPyCommand` (or a subclass) as its
    ``build_py``, or by having a ``[tool.thriftbuild]`` table in pyproject.toml.
    """
    build_py = dist.cmdclass.get("build_py")
    uses_ours = isinstance(build_py, type) and issubclass(build_py, ThriftBuildPyMixin)
    if not uses_ours:
        try:
            if read_pyproject_table(project_root(dist)) is None:
                return
        except ConfigurationError:
            return  # an unreadable pyproject.toml is setuptools' to report
    dist.cmdclass.setdefault("build_thrift", BuildThriftCommand)
    dist.cmdclass["build_py"] = _wrap_build_py(build_py or setuptools_build_py)
    dist.cmdclass["build"] = _with_build_thrift(dist.cmdclass.get("build", setuptools_build))

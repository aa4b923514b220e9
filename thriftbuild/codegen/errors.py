"""Errors raised while turning IDL into Python packages.

Every error derives from :class:`ThriftBuildError` and renders as one line that names
the file (relative to the project root where it can), the line and column where it
applies, and what to do about it. Every exception pickles, so it survives
multiprocessing and pip's subprocess boundaries. This module imports nothing of the
runtime (nor ``thrift``): a wheel build loads only the build side.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CompilerNotFoundError",
    "ConfigurationError",
    "GeneratorError",
    "IdlError",
    "IncludeCycleError",
    "IncludeNotFoundError",
    "OutputConflictError",
    "ThriftBuildError",
]

#: How many installed packages a missing-include message names.
_SHOWN_PACKAGES = 8


class ThriftBuildError(Exception):
    """Base class of every error raised while turning IDL into Python packages."""


class ConfigurationError(ThriftBuildError):
    """A thriftbuild setting (pyproject table, command option, environment) is invalid."""


class IdlError(ThriftBuildError):
    """An IDL file is invalid; the message starts with ``path:line:column:``.

    Attributes:
        path: the file, as shown to the user (project-relative where possible).
        line: 1-based line number, or 0 when the position is unknown.
        column: 1-based column, or 0 when unknown.
        reason: what is wrong, without the position.
    """

    def __init__(self, path: str, line: int, column: int, reason: str) -> None:
        super().__init__(path, line, column, reason)
        self.path = path
        self.line = line
        self.column = column
        self.reason = reason

    def __str__(self) -> str:
        where = self.path
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        return f"{where}: {self.reason}"


class IncludeNotFoundError(IdlError):
    """An ``include`` names a file that is in none of the searched places.

    Attributes:
        include: the path as written in the include.
        searched: the directories searched, as shown (project-relative).
        packages: the packages of ``include-packages`` searched, by name.
        installed: the installed packages that ship IDL (none of which has the
            file), or None when installed distributions were not searched.
    """

    def __init__(
        self,
        path: str,
        line: int,
        column: int,
        include: str,
        searched: Sequence[str],
        packages: Sequence[str] = (),
        installed: Sequence[str] | None = None,
    ) -> None:
        searched, packages = tuple(searched), tuple(packages)
        reason = f'include "{include}" not found; searched: ' + ", ".join(searched)
        if packages:
            reason += "; packages: " + ", ".join(packages)
        if installed is not None:
            installed = tuple(installed)
            shown = ", ".join(installed[:_SHOWN_PACKAGES])
            if len(installed) > _SHOWN_PACKAGES:
                shown += f" and {len(installed) - _SHOWN_PACKAGES} more"
            reason += (
                f"; installed packages with IDL: {shown}"
                if installed
                else "; no installed package ships IDL"
            )
        IdlError.__init__(self, path, line, column, reason)
        self.args = (path, line, column, include, searched, packages, installed)
        self.include = include
        self.searched = searched
        self.packages = packages
        self.installed = installed


class IncludeCycleError(ThriftBuildError):
    """IDL files include each other in a cycle; ``chain`` lists it, first file repeated."""

    def __init__(self, chain: Sequence[str]) -> None:
        chain = tuple(chain)
        super().__init__(chain)
        self.chain = chain

    def __str__(self) -> str:
        return "include cycle: " + " -> ".join(self.chain)


class CompilerNotFoundError(ThriftBuildError):
    """The Apache Thrift compiler was asked for but cannot be found or run."""


class GeneratorError(ThriftBuildError):
    """A code generator failed in a way that is not an error in the IDL itself."""


class OutputConflictError(ThriftBuildError):
    """Generated output would overwrite files thriftbuild does not own, or collide."""

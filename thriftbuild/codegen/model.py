"""The values passed between discovery, the backends and the writer.

Discovery turns a project (or a list of files) into :class:`IdlSource` values, one per
IDL file in the include closure, each knowing which Python package its generated code
lives in. A backend receives a :class:`GenerationRequest` for one source and returns the
text of each generated module; it never decides where anything goes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "GeneratedPackage",
    "GenerationRequest",
    "GeneratorOptions",
    "IdlSource",
    "Include",
    "generated_header",
    "generated_name",
]

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
class Include:
    """One ``include`` statement, resolved.

    Attributes:
        literal: the path exactly as written between the quotes.
        line: 1-based line of the statement.
        column: 1-based column of the opening quote.
        path: the absolute, resolved file it names.
    """

    literal: str
    line: int
    column: int
    path: Path


@dataclass(frozen=True)
class IdlSource:
    """One IDL file and the package its generated code is imported from.

    Attributes:
        path: absolute, resolved path of the ``.thrift`` file.
        display_path: how generated headers, markers and fingerprints name it
            (project-relative, POSIX separators); never an absolute or temporary
            path, so output is the same wherever the tree lies.
        module: dotted name of the generated package, e.g. ``"pkg.service_thrift"``.
        includes: the file's ``include`` statements in source order.
        namespace_py: the value of ``namespace py`` (or ``namespace *``) in the file,
            if any. It never moves the output; backends that reproduce the Apache
            compiler's naming need it to recognise references to this file.
        prebuilt: True when the generated package ships with another installed
            distribution; it is imported, never regenerated.
        text: the file's contents as read once by discovery (see
            :func:`~thriftbuild.codegen.idl.reader.read_idl`); ``None`` when the
            source was made without reading it, and :meth:`read` then reads it.
        message_name: how messages name it when ``display_path`` would not let the
            user find it (a file outside the working directory named on the command
            line is named as given); ``None`` to use ``display_path``. See
            :attr:`message_path`.
    """

    path: Path
    display_path: str
    module: str
    includes: tuple[Include, ...] = ()
    namespace_py: str | None = None
    prebuilt: bool = False
    text: str | None = field(default=None, repr=False, compare=False)
    message_name: str | None = field(default=None, compare=False)

    @property
    def message_path(self) -> str:
        """How error and progress messages name the file (never written into output)."""
        return self.message_name if self.message_name is not None else self.display_path

    def read(self) -> str:
        """The file's text: what discovery read, else read now with the one IDL reader."""
        if self.text is not None:
            return self.text
        from thriftbuild.codegen.idl.reader import read_idl

        return read_idl(self.path, self.message_path)

    @property
    def stem(self) -> str:
        """The file name without ``.thrift``: the prefix other IDL files refer to it by."""
        return self.path.name.rsplit(".", 1)[0]


@dataclass(frozen=True)
class GeneratorOptions:
    """Options that change generated code, and so take part in fingerprints.

    Attributes:
        gen_options: the Python generator's options, as ``thrift --gen py:<a>,<b>``
            takes them (``slots``, ``utf8strings``, ...), in a canonical order.
        strict: reject what the compiler's ``-strict`` rejects (implicit field ids...).
    """

    gen_options: tuple[str, ...] = ("slots",)
    strict: bool = False

    def describe(self) -> str:
        """A stable one-line rendering, used in fingerprints and headers."""
        text = "py:" + ",".join(self.gen_options) if self.gen_options else "py"
        return text + (" strict" if self.strict else "")


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a backend needs to generate the package of one IDL file.

    Attributes:
        source: the file to generate.
        sources: every file in ``source``'s include closure (``source`` included),
            keyed by absolute path, each with the module its code is imported from.
        include_dirs: the directories the build searched for includes, in order.
        options: generator options.
    """

    source: IdlSource
    sources: Mapping[Path, IdlSource]
    include_dirs: tuple[Path, ...] = ()
    options: GeneratorOptions = field(default_factory=GeneratorOptions)


@dataclass(frozen=True)
class GeneratedPackage:
    """The output of a backend for one IDL file: module file names mapped to text.

    ``files`` holds names relative to the package directory (``"__init__.py"``,
    ``"ttypes.py"``, ``"constants.py"``, ``"<Service>.py"``, optionally ``.pyi``).
    """

    source: IdlSource
    files: Mapping[str, str]


def generated_header(source: IdlSource, identity: str, options: str) -> str:
    """The comment block that opens every generated module.

    It names the IDL file by its display path and holds no timestamp or absolute
    path, so the same inputs give the same bytes on every machine.
    """
    return (
        f"# Generated by thriftbuild from {source.display_path} ({identity}, {options}).\n"
        "# Do not edit: changes are overwritten at the next build.\n"
    )

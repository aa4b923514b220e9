"""The pure-Python code generator: Thrift IDL to the package ``thrift --gen py`` writes.

It needs no compiler and no third-party parser, so it runs inside pip's isolated
build environment. See ``docs/divergences.md`` for where it deliberately differs from
the Apache compiler 0.17.
"""

from __future__ import annotations

from pathlib import Path

from thriftbuild.codegen.backends.python.emit import Emitter
from thriftbuild.codegen.errors import GeneratorError, IdlError, IncludeCycleError
from thriftbuild.codegen.idl import syntax
from thriftbuild.codegen.idl.parser import parse
from thriftbuild.codegen.idl.resolve import Program, Resolved
from thriftbuild.codegen.model import (
    GeneratedPackage,
    GenerationRequest,
    IdlSource,
    generated_header,
)

__all__ = ["PythonBackend", "parse"]

_VERSION = "1"

# Options of ``thrift --gen py`` this backend honours. new_style and the utf8strings
# pair change nothing on Python 3 (classes are new-style, strings are str).
_SUPPORTED = frozenset({"slots", "new_style", "utf8strings", "no_utf8strings"})


class PythonBackend:
    """Generates Python packages from IDL without the Apache compiler.

    Parsed files are cached by path and text, so generating many files of one
    include graph in one process parses each file once.
    """

    name = "python"

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[str, syntax.Document]] = {}

    def identity(self) -> str:
        """Name and version of this generator."""
        from thriftbuild import __version__

        return f"thriftbuild-python {__version__}.{_VERSION}"

    def _document(self, source: IdlSource) -> syntax.Document:
        text = source.read()
        cached = self._cache.get(source.path)
        if cached is not None and cached[0] == text:
            return cached[1]
        doc = parse(text, source.message_path)
        self._cache[source.path] = (text, doc)
        return doc

    def generate(self, request: GenerationRequest) -> GeneratedPackage:
        """Generate the package of ``request.source``.

        Raises:
            IdlError: the IDL (of the file or of one it includes) is invalid.
            GeneratorError: a file cannot be read or an include was not resolved.
        """
        unsupported = [
            o for o in request.options.gen_options if o.split("=", 1)[0] not in _SUPPORTED
        ]
        if unsupported:
            raise GeneratorError(
                f"{request.source.message_path}: the python backend does not implement gen "
                f"option(s) {', '.join(unsupported)} (it supports {', '.join(sorted(_SUPPORTED))});"
                " use the compiler backend"
            )
        header = generated_header(request.source, self.identity(), request.options.describe())
        emitter, resolved = self._resolve(request, header)
        return GeneratedPackage(request.source, emitter.files(resolved))

    def stubs(self, request: GenerationRequest, header: str) -> dict[str, str]:
        """Only the ``.pyi`` stubs of ``request.source``'s package, each opening with ``header``.

        The compiler backend writes these beside the compiler's modules: our front end
        knows the IDL's types whichever backend emits the code.

        Raises:
            IdlError: the IDL (of the file or of one it includes) is invalid.
        """
        emitter, resolved = self._resolve(request, header)
        return emitter.stubs(resolved)

    def _resolve(self, request: GenerationRequest, header: str) -> tuple[Emitter, Resolved]:
        sources = dict(request.sources)
        sources.setdefault(request.source.path, request.source)
        documents: dict[Path, syntax.Document] = {}
        includes: dict[Path, dict[str, Path]] = {}
        display = {p: s.message_path for p, s in sources.items()}
        # Walk the include graph from the requested file, reporting cycles with the chain.
        # The walk keeps its own stack: an include chain thousands of files deep is fine.
        stack: list[tuple[Path, list[Path]]] = []
        on_stack: set[Path] = set()

        def enter(path: Path) -> None:
            if path in on_stack:
                chain = [p for p, _ in stack]
                chain = chain[chain.index(path) :]
                raise IncludeCycleError([display[p] for p in chain] + [display[path]])
            source = sources.get(path)
            if source is None:
                raise GeneratorError(f"{path}: included file missing from the request")
            documents[path] = self._document(source)
            includes[path] = {inc.literal: inc.path for inc in source.includes}
            stack.append((path, [inc.path for inc in reversed(source.includes)]))
            on_stack.add(path)

        enter(request.source.path)
        while stack:
            path, pending = stack[-1]
            if not pending:
                stack.pop()
                on_stack.discard(path)
                continue
            target = pending.pop()
            if target in on_stack or target not in documents:
                enter(target)
        if request.options.strict:
            _check_strict(documents[request.source.path], display[request.source.path])
        program = Program(documents, includes, display)
        modules = {p: s.module for p, s in sources.items()}
        slots = "slots" in request.options.gen_options
        emitter = Emitter(request.source.path, modules, header, slots)
        return emitter, program.resolve(request.source.path, emitter.qualify)


def _check_strict(doc: syntax.Document, display: str) -> None:
    # -strict's main rule: every field, argument and exception needs an explicit id.
    lists = [s.fields for s in doc.structs]
    for service in doc.services:
        for fn in service.functions:
            lists += [fn.args, fn.throws]
    for fields in lists:
        for f in fields:
            if not f.explicit_id:
                raise IdlError(
                    display,
                    f.pos.line,
                    f.pos.column,
                    f"field '{f.name}' has no explicit id (strict)",
                )

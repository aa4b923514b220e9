"""Code generators: the Apache compiler (:mod:`.compiler`) and pure Python (:mod:`.python`).

Both produce the same public API; :func:`select_backend` picks one.
"""

from __future__ import annotations

import importlib
import os
from typing import Protocol

from thriftbuild.codegen.errors import CompilerNotFoundError, ConfigurationError
from thriftbuild.codegen.model import GeneratedPackage, GenerationRequest

__all__ = ["BACKEND_CHOICES", "Backend", "select_backend"]

BACKEND_CHOICES = ("auto", "compiler", "python")


class Backend(Protocol):
    """What the build step asks of a code generator."""

    @property
    def name(self) -> str:
        """Short name shown in the build log: ``"compiler"`` or ``"python"``."""
        ...

    def identity(self) -> str:
        """Name and version of the generator; a change regenerates everything."""
        ...

    def generate(self, request: GenerationRequest) -> GeneratedPackage:
        """Generate the package of ``request.source``.

        Raises:
            IdlError: the IDL is invalid (message ``path:line:col: ...``).
            GeneratorError: the generator failed for another reason.
        """
        ...


def _python_backend() -> Backend:
    try:
        module = importlib.import_module("thriftbuild.codegen.backends.python")
    except ModuleNotFoundError as exc:
        if exc.name != "thriftbuild.codegen.backends.python":
            raise
        raise ConfigurationError(
            "the pure-Python backend is not available in this thriftbuild installation"
        ) from None
    backend: Backend = module.PythonBackend()
    return backend


def select_backend(choice: str = "auto", compiler: str | None = None) -> Backend:
    """Return the backend named by ``choice``.

    Args:
        choice: ``"compiler"`` (the Apache compiler, an error when missing),
            ``"python"`` (pure Python) or ``"auto"`` (the compiler when one is found,
            else pure Python; a compiler named by ``compiler`` or ``$THRIFT`` must exist).
        compiler: path or command name of the compiler; default: ``$THRIFT``, then
            ``thrift`` on ``PATH``.

    Raises:
        ConfigurationError: ``choice`` is not one of :data:`BACKEND_CHOICES`.
        CompilerNotFoundError: ``choice`` is ``"compiler"`` and none can be run.
    """
    from thriftbuild.codegen.backends.compiler import CompilerBackend

    if choice not in BACKEND_CHOICES:
        raise ConfigurationError(
            f"backend must be one of {', '.join(BACKEND_CHOICES)}; got {choice!r}"
        )
    if choice == "python":
        return _python_backend()
    # A compiler named explicitly (argument, setting or $THRIFT) must work even under
    # "auto": falling back would hide a typo behind a different generator.
    if choice == "compiler" or compiler or os.environ.get("THRIFT"):
        return CompilerBackend.locate(compiler)
    try:
        return CompilerBackend.locate(compiler)
    except CompilerNotFoundError:
        return _python_backend()

"""Choosing a backend."""

from __future__ import annotations

import pytest

from thriftbuild.codegen.backends import select_backend
from thriftbuild.codegen.errors import CompilerNotFoundError, ConfigurationError


def test_auto_without_any_compiler_falls_back_to_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THRIFT", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert select_backend("auto").name == "python"


def test_auto_with_a_named_compiler_that_is_missing_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THRIFT", raising=False)
    with pytest.raises(CompilerNotFoundError, match="/opt/missing/thrift"):
        select_backend("auto", "/opt/missing/thrift")
    monkeypatch.setenv("THRIFT", "/opt/also-missing/thrift")
    with pytest.raises(CompilerNotFoundError, match="/opt/also-missing/thrift"):
        select_backend("auto")


def test_auto_prefers_the_compiler_when_present(compiler: str) -> None:
    backend = select_backend("auto", compiler)
    assert backend.name == "compiler"
    assert backend.identity().startswith("thrift ")


def test_unknown_backend_name_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="'fast'"):
        select_backend("fast")

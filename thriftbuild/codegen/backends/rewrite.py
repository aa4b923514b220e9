"""Fix-ups applied to the Python the Apache compiler writes.

The compiler names an included file's module after that file's ``namespace py`` (or
its stem) and imports it as a top-level package (``import shared.ttypes``), which is
wrong once packages live inside the user's package. It also makes exception instances
immutable in a way that breaks ``contextlib`` on Python 3.11+ (THRIFT-5715). These
rewrites make its output import correctly and behave like the python backend's.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping

__all__ = ["allow_exception_dunders", "normalize_newlines", "retarget_includes"]

_IMMUTABLE_MESSAGE = "can't modify immutable instance"


def normalize_newlines(text: str) -> str:
    """LF line endings only, so CRLF IDL gives the same bytes as LF IDL."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def retarget_includes(text: str, references: Mapping[str, tuple[str, Iterable[str]]]) -> str:
    """Point references to included files at their generated packages.

    Args:
        text: generated module source.
        references: for each name the compiler uses for an included file (its
            ``namespace py`` or stem), the package it is generated into and the
            module names inside it (``ttypes``, ``constants``, services).
    """
    for name in sorted(references, key=len, reverse=True):
        module, members = references[name]
        alternatives = "|".join(re.escape(member) for member in sorted(set(members)))
        pattern = re.compile(rf"(?<![\w.]){re.escape(name)}(?=\.(?:{alternatives})\b)")
        text = pattern.sub(module, text)
    return text


def _frozen_fields(node: ast.ClassDef) -> list[str] | None:
    """The fields an immutable exception class sets in ``__init__``, else None."""
    methods = {item.name: item for item in node.body if isinstance(item, ast.FunctionDef)}
    setattr_method = methods.get("__setattr__")
    if setattr_method is None or _IMMUTABLE_MESSAGE not in ast.unparse(setattr_method):
        return None
    fields: list[str] = []
    init = methods.get("__init__")
    for statement in init.body if init else []:
        call = statement.value if isinstance(statement, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "__setattr__"
            and call.args
            and isinstance(call.args[0], ast.Constant)
            and isinstance(call.args[0].value, str)
        ):
            fields.append(call.args[0].value)
    return fields


def allow_exception_dunders(text: str) -> str:
    """Keep exception fields immutable but let Python set ``__traceback__`` and friends.

    The compiler's ``__setattr__``/``__delattr__`` refuse every name, so
    ``contextlib.contextmanager`` cannot re-raise the exception on Python 3.11+
    (it assigns ``__traceback__``). The replacements refuse only the Thrift fields.
    """
    tree = ast.parse(text)
    lines = text.split("\n")
    replacements: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        fields = _frozen_fields(node)
        if fields is None:
            continue
        frozen = "(" + "".join(f"{name!r}, " for name in fields) + ")"
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name in ("__setattr__", "__delattr__"):
                indent = " " * item.col_offset
                verb = item.name
                body = [
                    f"{indent}def {verb}(self, *args):",
                    f"{indent}    if args[0] in {frozen}:",
                    f'{indent}        raise TypeError("{_IMMUTABLE_MESSAGE}")',
                    f"{indent}    super({node.name}, self).{verb}(*args)",
                ]
                start = item.lineno - 1
                end = item.end_lineno or item.lineno
                replacements.append((start, end, "\n".join(body)))
    for start, end, replacement in sorted(replacements, reverse=True):
        lines[start:end] = [replacement]
    return "\n".join(lines)

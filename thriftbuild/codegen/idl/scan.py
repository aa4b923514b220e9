"""A light scan of IDL files: includes, ``namespace py`` and service names.

The build needs these before any generator runs (to order work, fingerprint inputs,
detect include cycles that crash the 0.17 compiler and map includes to packages), so
the scan understands only tokens, comments and strings, never the grammar.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IdlHeader", "IncludeStatement", "scan_idl"]


@dataclass(frozen=True)
class IncludeStatement:
    """``include "literal"`` at a 1-based line and column (of the opening quote)."""

    literal: str
    line: int
    column: int


@dataclass(frozen=True)
class IdlHeader:
    """What the scan found in one file.

    Attributes:
        includes: ``include`` statements in source order.
        namespace_py: the target of ``namespace py`` (or of ``namespace *`` when no
            ``py`` one is given), as the Apache compiler names the module.
        services: names of the services the file declares, in source order.
    """

    includes: tuple[IncludeStatement, ...]
    namespace_py: str | None
    services: tuple[str, ...]


@dataclass(frozen=True)
class _Token:
    text: str
    line: int
    column: int
    is_string: bool


def _tokens(text: str) -> list[_Token]:
    """Split IDL text into words, punctuation and string literals, skipping comments.

    CR, LF and CRLF all end a line, so CRLF files scan exactly like LF files.
    """
    tokens: list[_Token] = []
    i, n = 0, len(text)
    line, line_start = 1, 0

    def newline_at(pos: int) -> bool:
        return text[pos] == "\n" or (text[pos] == "\r" and text[pos + 1 : pos + 2] != "\n")

    while i < n:
        ch = text[i]
        if ch in " \t\f\v\r\n":
            if newline_at(i):
                line, line_start = line + 1, i + 1
            i += 1
        elif ch == "#" or text.startswith("//", i):
            while i < n and text[i] not in "\r\n":
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            while i < end:
                if newline_at(i):
                    line, line_start = line + 1, i + 1
                i += 1
        elif ch in "\"'":
            start_col = i - line_start + 1
            end = i + 1
            while end < n and text[end] != ch and text[end] not in "\r\n":
                end += 1
            tokens.append(_Token(text[i + 1 : end], line, start_col, True))
            i = end + 1
        elif ch.isalnum() or ch in "_.*":
            start = i
            while i < n and (text[i].isalnum() or text[i] in "_.*-"):
                i += 1
            tokens.append(_Token(text[start:i], line, start - line_start + 1, False))
        else:
            tokens.append(_Token(ch, line, i - line_start + 1, False))
            i += 1
    return tokens


def scan_idl(text: str) -> IdlHeader:
    """Scan IDL source text for includes, the Python namespace and service names."""
    tokens = _tokens(text)
    includes: list[IncludeStatement] = []
    namespaces: dict[str, str] = {}
    services: list[str] = []
    for index, token in enumerate(tokens):
        if token.is_string:
            continue
        following = tokens[index + 1 : index + 3]
        if token.text == "include" and following and following[0].is_string:
            target = following[0]
            includes.append(IncludeStatement(target.text, target.line, target.column))
        elif token.text == "namespace" and len(following) == 2:
            namespaces.setdefault(following[0].text, following[1].text)
        elif token.text == "service" and following and not following[0].is_string:
            services.append(following[0].text)
    namespace_py = namespaces.get("py") or namespaces.get("*")
    return IdlHeader(tuple(includes), namespace_py, tuple(services))

"""A light scan of IDL files: includes, ``namespace py`` and service names.

The build needs these before any generator runs (to order work, fingerprint inputs,
detect include cycles that crash the 0.17 compiler and map includes to packages), so
the scan understands only tokens, comments and strings, never the grammar.
"""

from __future__ import annotations

import bisect
import re
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


# One alternative per token kind; comments and whitespace are matched to be skipped.
# A string ends at its closing quote or, unterminated, at the end of its line.
_TOKEN = re.compile(
    r"""[ \t\f\v\r\n]+
    |(?:\#|//)[^\r\n]*
    |/\*.*?(?:\*/|\Z)
    |"(?P<dq>[^"\r\n]*)"?
    |'(?P<sq>[^'\r\n]*)'?
    |(?P<word>[^\W][\w.*-]*|[.*][\w.*-]*)
    |(?P<punct>.)""",
    re.VERBOSE | re.DOTALL,
)
# CR, LF and CRLF all end a line, so CRLF files scan exactly like LF files.
_LINE_END = re.compile(r"\r\n?|\n")
_HEADER_WORDS = frozenset(("include", "namespace", "service"))


def _tokens(text: str) -> list[tuple[str, int, bool]]:
    """Words, punctuation and string literals of IDL text, comments skipped.

    Each token is ``(text, offset of its first character, is a string literal)``.
    """
    return [
        (match[kind], match.start(), kind == "dq" or kind == "sq")
        for match in _TOKEN.finditer(text)
        if (kind := match.lastgroup) is not None  # None: whitespace or a comment
    ]


def _position(line_starts: list[int], offset: int) -> tuple[int, int]:
    """The 1-based line and column of ``offset``."""
    line = bisect.bisect_right(line_starts, offset)
    return line, offset - line_starts[line - 1] + 1


def scan_idl(text: str) -> IdlHeader:
    """Scan IDL source text for includes, the Python namespace and service names."""
    tokens = _tokens(text)
    includes: list[IncludeStatement] = []
    namespaces: dict[str, str] = {}
    services: list[str] = []
    line_starts: list[int] | None = None
    for index, token in enumerate(tokens):
        word, _, is_string = token
        if is_string or word not in _HEADER_WORDS:
            continue
        following = tokens[index + 1 : index + 3]
        if word == "include" and following and following[0][2]:
            literal, offset, _ = following[0]
            if line_starts is None:
                line_starts = [0, *(match.end() for match in _LINE_END.finditer(text))]
            line, column = _position(line_starts, offset)
            includes.append(IncludeStatement(literal, line, column))
        elif word == "namespace" and len(following) == 2:
            namespaces.setdefault(following[0][0], following[1][0])
        elif word == "service" and following and not following[0][2]:
            services.append(following[0][0])
    namespace_py = namespaces.get("py") or namespaces.get("*")
    return IdlHeader(tuple(includes), namespace_py, tuple(services))

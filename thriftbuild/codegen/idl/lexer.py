"""Tokenizer for Thrift IDL that keeps the line and column of every token."""

from __future__ import annotations

import re
from dataclasses import dataclass

from thriftbuild.codegen.errors import IdlError

__all__ = ["KEYWORDS", "Token", "tokenize"]

#: Words the Apache compiler's lexer reserves; they can never be identifiers.
KEYWORDS = frozenset(
    (
        "include",
        "cpp_include",
        "namespace",
        "cpp_type",
        "xsd_all",
        "xsd_optional",
        "xsd_nillable",
        "xsd_attrs",
        "void",
        "bool",
        "byte",
        "i8",
        "i16",
        "i32",
        "i64",
        "double",
        "string",
        "binary",
        "slist",
        "senum",
        "map",
        "list",
        "set",
        "oneway",
        "async",
        "typedef",
        "struct",
        "union",
        "exception",
        "extends",
        "throws",
        "service",
        "enum",
        "const",
        "required",
        "optional",
        "true",
        "false",
    )
)

# Declarations the compiler still recognises only to say they are gone.
DEPRECATED = {
    "php_namespace": "php",
    "py_module": "py",
    "perl_package": "perl",
    "ruby_namespace": "ruby",
    "smalltalk_category": "st",
    "smalltalk_prefix": "st",
    "java_package": "java",
    "cpp_namespace": "cpp",
    "delphi_namespace": "delphi",
    "xsd_namespace": "xsd",
    "cocoa_package": "cocoa",
    "csharp_namespace": "csharp",
}

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n\f]+)
  | (?P<comment>//[^\n]*|\#[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<double>[+-]?[0-9]*\.[0-9]+(?:[eE][+-]?[0-9]+)?|[+-]?[0-9]+[eE][+-]?[0-9]+)
  | (?P<hex>[+-]?0x[0-9A-Fa-f]+)
  | (?P<int>[+-]?[0-9]+)
  | (?P<ident>[A-Za-z_](?:[A-Za-z_0-9]|\.[A-Za-z_0-9])*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<symbol>[{}\[\]()<>,;:=*&])
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Token:
    """One token: ``kind`` is ``ident``, ``int``, ``double``, ``string``, ``symbol``,
    ``keyword`` or ``eof``; ``value`` is its text (unquoted for strings)."""

    kind: str
    value: str
    line: int
    column: int


def _unescape(body: str) -> str:
    # The compiler's lexer understands these escapes inside literals and keeps others.
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            mapped = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "'": "'", "\\": "\\"}.get(nxt)
            if mapped is not None:
                out.append(mapped)
                i += 2
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def tokenize(text: str, path: str) -> list[Token]:
    """Split ``text`` into tokens, ending with one ``eof`` token.

    Raises:
        IdlError: a character that starts no token, or an unterminated comment/string.
    """
    tokens: list[Token] = []
    pos = 0
    line = 1
    line_start = 0
    size = len(text)
    match = _TOKEN.match
    while pos < size:
        m = match(text, pos)
        column = pos - line_start + 1
        if m is None:
            ch = text[pos]
            if ch in "\"'":
                raise IdlError(path, line, column, "unterminated string literal")
            raise IdlError(path, line, column, f"unexpected character {ch!r}")
        kind = m.lastgroup or ""
        value = m.group()
        if kind not in ("ws", "comment"):
            if kind == "ident" and value in KEYWORDS:
                kind = "keyword"
            elif kind == "string":
                value = _unescape(value[1:-1])
            tokens.append(Token(kind, value, line, column))
        newlines = m.group().count("\n")
        if newlines:
            line += newlines
            line_start = pos + m.group().rfind("\n") + 1
        pos = m.end()
    tokens.append(Token("eof", "", line, pos - line_start + 1))
    return tokens

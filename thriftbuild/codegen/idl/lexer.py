"""Tokenizer for Thrift IDL that keeps the line and column of every token.

It runs in time and memory linear in its input: the regular expression matches only
tokens made of one character class (so :mod:`re` keeps no backtracking state per
character), and comments and string literals are scanned with ``str.find``. A 20 MB
string literal costs a few copies of itself, not hundreds of bytes per byte.

Bytes that are not UTF-8 reach the lexer as lone surrogates (see
:mod:`~thriftbuild.codegen.idl.reader`). Like the compiler, it ignores them inside
comments; anywhere else they are an error naming their line and column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn

from thriftbuild.codegen.errors import IdlError

__all__ = ["KEYWORDS", "Token", "iter_tokens", "quote_literal", "tokenize"]

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

# Only tokens that are a run of one character class (or a fixed shape of such runs):
# comments and strings are scanned by hand, identifiers trimmed after the match.
_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n\f]+)
  | (?P<double>[+-]?[0-9]*\.[0-9]+(?:[eE][+-]?[0-9]+)?|[+-]?[0-9]+[eE][+-]?[0-9]+)
  | (?P<hex>[+-]?0x[0-9A-Fa-f]+)
  | (?P<int>[+-]?[0-9]+)
  | (?P<ident>[A-Za-z_][A-Za-z_0-9.]*)
  | (?P<symbol>[{}\[\]()<>,;:=*&])
    """,
    re.VERBOSE,
)
_STRING_STOP = {q: re.compile(rf"[{q}\\\n]") for q in "\"'"}
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "'": "'", "\\": "\\"}
# decode_idl keeps each byte that is not UTF-8 as U+DC80..U+DCFF.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_CANONICAL = {word: word for word in KEYWORDS}


@dataclass(frozen=True, slots=True)
class Token:
    """One token: ``kind`` is ``ident``, ``int``, ``hex``, ``double``, ``string``,
    ``symbol``, ``keyword`` or ``eof``; ``value`` is its text (unquoted for strings)."""

    kind: str
    value: str
    line: int
    column: int


def quote_literal(value: str, limit: int = 40) -> str:
    """A string literal's value as an error message shows it: quoted, on one line, short."""
    shown = "".join(
        c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
        for c in value[:limit]
    )
    return f'"{shown}{"..." if len(value) > limit else ""}"'


def _unescape(body: str) -> str:
    # The compiler's lexer understands these escapes inside literals and keeps others
    # (backslash included). Pieces are slices, so the cost is one pass and one join.
    if "\\" not in body:
        return body
    # An escape costs two list slots; joining every 4096 of them into a chunk keeps a
    # literal made only of escapes at a few bytes of memory per byte.
    chunks: list[str] = []
    pieces: list[str] = []
    start = 0
    find = body.find
    i = find("\\")
    while i >= 0:
        mapped = _ESCAPES.get(body[i + 1 : i + 2])
        if mapped is None:
            i = find("\\", i + 1)
            continue
        pieces.append(body[start:i])
        pieces.append(mapped)
        if len(pieces) >= 8192:
            chunks.append("".join(pieces))
            pieces.clear()
        start = i + 2
        i = find("\\", start)
    pieces.append(body[start:])
    chunks.append("".join(pieces))
    return "".join(chunks)


class _Lexer:
    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self.line = 1
        self.line_start = 0

    def fail(self, pos: int, reason: str) -> NoReturn:
        raise IdlError(self.path, self.line, pos - self.line_start + 1, reason)

    def undecodable(self, pos: int) -> NoReturn:
        byte = ord(self.text[pos]) - 0xDC00
        self.fail(pos, f"byte 0x{byte:02x} is not UTF-8 (only comments may hold such bytes)")

    def newlines(self, start: int, end: int) -> None:
        """Count the line ends in ``text[start:end]``."""
        count = self.text.count("\n", start, end)
        if count:
            self.line += count
            self.line_start = self.text.rfind("\n", start, end) + 1

    def block_comment(self, pos: int) -> int:
        end = self.text.find("*/", pos + 2)
        if end < 0:
            # The 0.17 compiler loops forever on this; we stop at the opening.
            self.fail(pos, "unterminated comment ('/*' without '*/')")
        self.newlines(pos, end)
        return end + 2

    def string(self, pos: int) -> tuple[str, int]:
        """The literal starting at ``pos``: (value, end). It may not span lines."""
        text = self.text
        stop = _STRING_STOP[text[pos]].search
        i = pos + 1
        while True:
            found = stop(text, i)
            if found is None or found.group() == "\n":
                self.fail(pos, "unterminated string literal")
            i = found.start()
            if text[i] != "\\":
                break
            if text[i + 1 : i + 2] in ("", "\n"):
                self.fail(pos, "unterminated string literal")
            i += 2
        body = text[pos + 1 : i]
        bad = _UNDECODABLE.search(body)
        if bad is not None:
            self.undecodable(pos + 1 + bad.start())
        return _unescape(body), i + 1

    def tokens(self) -> Iterator[Token]:
        text = self.text
        size = len(text)
        match = _TOKEN.match
        pos = 0
        while pos < size:
            ch = text[pos]
            column = pos - self.line_start + 1
            if ch == "#" or text.startswith("//", pos):
                end = text.find("\n", pos)
                pos = size if end < 0 else end
                continue
            if text.startswith("/*", pos):
                pos = self.block_comment(pos)
                continue
            if ch == '"' or ch == "'":
                value, pos = self.string(pos)
                yield Token("string", value, self.line, column)
                continue
            m = match(text, pos)
            if m is None:
                if "\udc80" <= ch <= "\udcff":
                    self.undecodable(pos)
                self.fail(pos, f"unexpected character {ch!r}")
            kind = m.lastgroup or ""
            end = m.end()
            if kind == "ws":
                self.newlines(pos, end)
                pos = end
                continue
            value = m.group()
            if kind == "ident":
                # As the compiler's [a-zA-Z_](\.[a-zA-Z_0-9]|[a-zA-Z_0-9])*: a dot must be
                # followed by a name character, so '..' and a trailing '.' end the name.
                cut = value.find("..")
                if cut >= 0:
                    value = value[:cut]
                if value.endswith("."):
                    value = value[:-1]
                end = pos + len(value)
                keyword = _CANONICAL.get(value)
                if keyword is not None:
                    kind, value = "keyword", keyword
            yield Token(kind, value, self.line, column)
            pos = end
        yield Token("eof", "", self.line, pos - self.line_start + 1)


def iter_tokens(text: str, path: str) -> Iterator[Token]:
    """The tokens of ``text`` one at a time, ending with one ``eof`` token.

    The parser consumes them as they come, so no token list of the whole file is ever
    held in memory.

    Raises:
        IdlError: a character that starts no token, a byte that is not UTF-8 outside
            a comment, or an unterminated comment or string.
    """
    return _Lexer(text, path).tokens()


def tokenize(text: str, path: str) -> list[Token]:
    """Every token of ``text`` (see :func:`iter_tokens`)."""
    return list(iter_tokens(text, path))

"""The header scan that discovery relies on."""

from __future__ import annotations

from tests.conftest import corpus_dir
from thriftbuild.codegen.errors import IdlError
from thriftbuild.codegen.idl.parser import parse
from thriftbuild.codegen.idl.scan import IncludeStatement, scan_idl


def test_includes_namespace_and_services_are_found_outside_comments() -> None:
    text = (
        '// include "commented.thrift"\n'
        '/* include "block.thrift"\n   service Hidden {} */\n'
        "# service AlsoHidden {}\n"
        'include "a.thrift"\n'
        "include 'b/c.thrift'\n"
        "namespace java com.x\n"
        "namespace py pkg.mod\n"
        'const string S = "service NotOne"\n'
        "service One {}\n"
        "service Two extends One {}\n"
    )
    header = scan_idl(text)
    assert header.includes == (
        IncludeStatement("a.thrift", 5, 9),
        IncludeStatement("b/c.thrift", 6, 9),
    )
    assert header.namespace_py == "pkg.mod"
    assert header.services == ("One", "Two")


def test_crlf_and_lf_scan_to_the_same_positions() -> None:
    text = '/* a\n b */\ninclude "x.thrift"\nnamespace * star.ns\n'
    assert scan_idl(text) == scan_idl(text.replace("\n", "\r\n"))
    assert scan_idl(text).includes[0].line == 3
    assert scan_idl(text).namespace_py == "star.ns"


def test_py_namespace_wins_over_the_wildcard() -> None:
    assert scan_idl("namespace * a\nnamespace py b\n").namespace_py == "b"


def test_the_scan_agrees_with_the_parser_on_every_corpus_file() -> None:
    """The build's fast scan finds what the full parser finds, positions included."""
    checked = 0
    for path in sorted(corpus_dir().rglob("*.thrift")):
        text = path.read_text(encoding="utf-8")
        try:
            document = parse(text, str(path))
        except IdlError:
            continue  # files the parser rejects (on purpose) say nothing here
        header = scan_idl(text)
        assert [(i.literal, i.line, i.column) for i in header.includes] == [
            (literal, pos.line, pos.column) for literal, pos in document.includes
        ], path
        assert header.services == tuple(service.name for service in document.services), path
        expected = document.namespaces.get("py") or document.namespaces.get("*")
        assert header.namespace_py == expected, path
        checked += 1
    assert checked >= 40

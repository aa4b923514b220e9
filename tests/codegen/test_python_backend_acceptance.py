"""Accept what the compiler accepts, reject what it rejects: small IDL snippets, each
run through the Apache compiler and the pure-Python backend (no expected outcome is
written down here; the compiler is the oracle)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import thrift_compiler
from thriftbuild.codegen.errors import IdlError
from thriftbuild.codegen.generate import generate_to_directory

pytestmark = [pytest.mark.compiler]

SNIPPETS = [
    "struct A { 1: i32 a, } ;",
    "struct A { 1: i32 a };;",
    "enum E { A = 1; B = 2; }",
    "enum E {}",
    "struct A {}",
    "union U {}",
    "service S {}",
    "service S { void f(1: i32 a,) }",
    "service S { void f() throws (1: E e) } exception E { 1: i32 x }",
    "exception E { 1: i32 x } service S { void f() throws (1: E e) }",
    "typedef i32 T typedef T U struct A { 1: U u = 5 }",
    "const list<i32> L = [1 2 3]",
    "const map<i32,i32> M = {1:2 3:4}",
    "const string S = 'single'",
    "const i32 X = 1e3",
    "const double D = 1e3",
    "const double D = 1.",
    "const double D = .5",
    'const bool B = "true"',
    "struct A { 1: i32 a (x) }",
    'struct A { 1: i32 a } (a = "1"; b = "2")',
    "namespace py",
    "namespace 1 x",
    "struct A { 1: i32 a & }",
    "struct A { 1: A & a }",
    "service S { void f() } service T extends S { void f() }",
    "service A { void f() } service B extends A { void g() } service C extends B { void f() }",
    "service S extends S {}",
    "struct A { 1: i32 __init__ }",
    "enum E { A = 0x7fffffff }",
    "enum E { A = 0x80000000 }",
    "const i64 X = -9223372036854775808",
    "const i64 X = -9223372036854775809",
    "const i64 X = -0x8000000000000000",
    "struct a.b { 1: i32 x }",
    "struct A { 1: i32 a.b }",
    "const i32 a.b = 1",
    "struct A { 1: i32 from }",
    "struct A { 1: i32 list }",
    "service S { void f(1: i32 a) throws (1: i32 b) }",
    "service S { oneway void f() throws (1: E e) } exception E {}",
    "const list<i32> L = {}",
    "const map<i32, i32> M = []",
    'struct A { 1: i32 a } const A X = {"b": 1}',
    'struct A { 1: i32 a } const A X = {"a": 1} const A Y = X',
    "struct A { 1: i32 a = B } const i32 B = 1",
    "const i32 B = 1 struct A { 1: i32 a = B }",
    "enum E { A } struct S { 1: E e = A }",
    "enum E { A } struct S { 1: E e = E.A }",
    "enum E { A = 1 } const list<E> L = [0]",
    "enum E { A } const E X = 5",
    "enum E { A } const i32 X = 0 const E Y = X",
    'struct A { 1: i32 a, 2: A a2 = {"a": 1} }',
    "const map<E, i32> M = {} enum E { A }",
    "const map<E, i32> M = {E.A: 1} enum E { A }",
    'struct A { 1: B b = {"x": 1} } struct B { 1: i32 x }',
    "struct A { 1: list<B> b } struct B { 1: i32 x }",
    "const list<i32> Z = [X] const i32 X = 1",
    'const string X = "escaped\\nnewline"',
    'const string X = "real\nnewline"',
    'senum S { "a" }',
    "php_namespace x",
    "struct A { 1: i32 a, 1: i32 b }",
    "struct A { 1: i32 a } struct A { 1: i32 b }",
    "const i32 X = 1 const i32 X = 2",
    'const uuid U = "x"',
]


@pytest.mark.parametrize("snippet", SNIPPETS)
def test_acceptance_snippet_same_verdict_as_compiler(snippet: str, tmp_path: Path) -> None:
    compiler = thrift_compiler()
    assert compiler is not None
    idl = tmp_path / "snippet.thrift"
    idl.write_text(snippet + "\n", encoding="utf-8")
    verdict = subprocess.run(
        [compiler, "-gen", "py", "-out", str(tmp_path), str(idl)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if verdict.returncode == 0:
        generate_to_directory([idl], tmp_path / "out", backend="python")
    else:
        with pytest.raises(IdlError, match=rf"^{re.escape(str(idl))}:\d+:\d+: "):
            generate_to_directory([idl], tmp_path / "out", backend="python")

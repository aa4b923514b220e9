"""Recursive-descent parser for Thrift IDL, following the Apache compiler's grammar.

It accepts what ``thrift`` 0.17 accepts (annotations, ``&`` references, ``,``/``;``
separators, ``senum``, ``xsd_*`` modifiers, implicit field ids) and reports the first
problem as ``path:line:column: reason`` naming the offending token.
"""

from __future__ import annotations

from thriftbuild.codegen.errors import IdlError
from thriftbuild.codegen.idl.lexer import DEPRECATED, Token, iter_tokens, quote_literal
from thriftbuild.codegen.idl.syntax import (
    BASE_TYPES,
    Const,
    ConstValue,
    Document,
    Enum,
    EnumValue,
    Field,
    Function,
    Pos,
    Service,
    Struct,
    Typedef,
    TypeRef,
)

__all__ = ["MAX_NESTING", "parse"]

#: How deep containers may nest in a type (``list<list<...>>``), and brackets in a
#: constant value. Generated code reads and writes each container level in its own
#: ``for`` loop, and Python allows 20 nested loops in a function (one is taken by the
#: field loop); the compiler's own output fails to import from 20 levels on.
MAX_NESTING = 16

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1


def _describe(tok: Token) -> str:
    if tok.kind == "eof":
        return "end of file"
    if tok.kind == "string":
        return quote_literal(tok.value)
    return f"'{tok.value}'"


class _Parser:
    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self.tokens = iter_tokens(text, path)
        self.current = next(self.tokens)
        self.depth = 0
        self.doc = Document(path)

    # -- token helpers ---------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.current

    def advance(self) -> Token:
        tok = self.current
        if tok.kind != "eof":
            self.current = next(self.tokens)
        return tok

    def error(self, tok: Token, reason: str) -> IdlError:
        return IdlError(self.path, tok.line, tok.column, reason)

    def expected(self, what: str) -> IdlError:
        return self.error(self.tok, f"expected {what}, got {_describe(self.tok)}")

    def at(self, value: str) -> bool:
        tok = self.tok
        return tok.kind in ("symbol", "keyword") and tok.value == value

    def accept(self, value: str) -> bool:
        if self.at(value):
            self.advance()
            return True
        return False

    def expect(self, value: str) -> Token:
        if not self.at(value):
            raise self.expected(f"'{value}'")
        return self.advance()

    def name(self, what: str) -> Token:
        """An identifier that declares something: it may not contain a dot."""
        tok = self.ident(what)
        if "." in tok.value:
            raise self.error(tok, f"identifier '{tok.value}' cannot contain a dot")
        return tok

    def ident(self, what: str = "an identifier") -> Token:
        tok = self.tok
        if tok.kind != "ident":
            if tok.kind == "keyword":
                raise self.error(tok, f"'{tok.value}' is a reserved word; expected {what}")
            raise self.expected(what)
        if tok.value in DEPRECATED:
            raise self.error(
                tok,
                f"unsupported declaration '{tok.value}'; use "
                f"'namespace {DEPRECATED[tok.value]}' instead",
            )
        return self.advance()

    def separator(self) -> None:
        if not self.accept(","):
            self.accept(";")

    @staticmethod
    def pos(tok: Token) -> Pos:
        return Pos(tok.line, tok.column)

    def int_value(self, tok: Token) -> int:
        text = tok.value
        value = int(text, 16) if tok.kind == "hex" else int(text)
        if tok.kind == "hex" and abs(value) > _INT64_MAX:
            # The compiler reads the digits before the sign, so -0x8000... is too big.
            raise self.error(tok, f"integer constant {text} is too big for 64 bits")
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise self.error(tok, f"integer constant {text} is too big for 64 bits")
        return value

    # -- grammar -----------------------------------------------------------------------
    def document(self) -> Document:
        while self.header():
            pass
        while self.tok.kind != "eof":
            self.definition()
        return self.doc

    def header(self) -> bool:
        # Unlike definitions, headers take no ',' or ';' after them.
        tok = self.tok
        if self.accept("include"):
            lit = self.tok
            if lit.kind != "string":
                raise self.expected("a quoted file name after 'include'")
            self.advance()
            self.doc.includes.append((lit.value, self.pos(lit)))
            return True
        if self.accept("cpp_include"):
            if self.tok.kind != "string":
                raise self.expected("a quoted file name after 'cpp_include'")
            self.advance()
            return True
        if self.accept("namespace"):
            scope = "*" if self.accept("*") else self.ident("a language after 'namespace'").value
            name_tok = self.tok
            if name_tok.kind not in ("ident", "string", "keyword"):
                raise self.expected("a namespace name")
            self.advance()
            self.annotations()
            self.doc.namespaces[scope] = name_tok.value
            return True
        if tok.kind == "ident" and tok.value in DEPRECATED:
            self.ident()
        return False

    def definition(self) -> None:
        tok = self.tok
        if tok.kind == "keyword":
            handler = {
                "const": self.const,
                "typedef": self.typedef,
                "enum": self.enum,
                "senum": self.senum,
                "struct": self.struct,
                "union": self.struct,
                "exception": self.struct,
                "service": self.service,
            }.get(tok.value)
            if handler is not None:
                handler()
                return
            if tok.value in ("include", "cpp_include", "namespace"):
                raise self.error(tok, f"'{tok.value}' must come before all definitions")
        if tok.kind == "ident" and tok.value in DEPRECATED:
            self.ident()
        raise self.expected(
            "a definition (const, typedef, enum, struct, union, exception, service)"
        )

    def annotations(self) -> dict[str, str]:
        result: dict[str, str] = {}
        if not self.accept("("):
            return result
        while not self.accept(")"):
            key = self.tok
            if key.kind not in ("ident", "keyword"):
                raise self.expected("an annotation name or ')'")
            self.advance()
            value = "1"
            if self.accept("="):
                lit = self.tok
                if lit.kind != "string":
                    raise self.expected("a quoted annotation value")
                self.advance()
                value = lit.value
            result[key.value] = value
            self.separator()
        return result

    def nest(self, tok: Token, what: str) -> None:
        """Enter one container level; parsing stays shallow whatever the input."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(tok, f"{what} nested more than {MAX_NESTING} levels deep")

    def field_type(self) -> TypeRef:
        tok = self.tok
        if tok.kind == "keyword" and tok.value in BASE_TYPES:
            self.advance()
            name = {"byte": "i8", "slist": "string"}.get(tok.value, tok.value)
            return TypeRef(name, self.pos(tok), (), self.annotations())
        if tok.kind == "keyword" and tok.value in ("map", "set", "list"):
            self.advance()
            if tok.value != "list" and self.accept("cpp_type"):
                self.cpp_type_literal()
            self.expect("<")
            self.nest(tok, "containers")
            args = [self.field_type()]
            if tok.value == "map":
                self.expect(",")
                args.append(self.field_type())
            self.expect(">")
            self.depth -= 1
            if tok.value == "list" and self.accept("cpp_type"):
                self.cpp_type_literal()
            return TypeRef(tok.value, self.pos(tok), tuple(args), self.annotations())
        if tok.kind == "ident":
            self.ident()
            return TypeRef(tok.value, self.pos(tok), (), self.annotations())
        raise self.expected("a type")

    def cpp_type_literal(self) -> None:
        if self.tok.kind != "string":
            raise self.expected("a quoted type after 'cpp_type'")
        self.advance()

    def const_value(self) -> ConstValue:
        tok = self.tok
        pos = self.pos(tok)
        if tok.kind in ("int", "hex"):
            self.advance()
            return ConstValue("int", pos, self.int_value(tok))
        if tok.kind == "double":
            self.advance()
            return ConstValue("double", pos, float(tok.value))
        if tok.kind == "string":
            self.advance()
            return ConstValue("string", pos, tok.value)
        if tok.kind == "keyword" and tok.value in ("true", "false"):
            self.advance()
            return ConstValue("int", pos, 1 if tok.value == "true" else 0)
        if tok.kind == "ident":
            self.advance()
            return ConstValue("ident", pos, tok.value)
        if self.accept("["):
            self.nest(tok, "constant values")
            elements: list[ConstValue] = []
            while not self.accept("]"):
                elements.append(self.const_value())
                self.separator()
            self.depth -= 1
            return ConstValue("list", pos, elements)
        if self.accept("{"):
            self.nest(tok, "constant values")
            items: list[tuple[ConstValue, ConstValue]] = []
            while not self.accept("}"):
                key = self.const_value()
                self.expect(":")
                items.append((key, self.const_value()))
                self.separator()
            self.depth -= 1
            return ConstValue("map", pos, items)
        raise self.expected("a constant value")

    def declared(self, name_tok: Token, node: object) -> None:
        self.doc.order.append((name_tok.value, node))

    def const(self) -> None:
        self.advance()
        type_ = self.field_type()
        name = self.name("a constant name")
        self.expect("=")
        value = self.const_value()
        node = Const(name.value, type_, value, self.pos(name))
        self.doc.consts.append(node)
        self.declared(name, node)
        self.separator()

    def typedef(self) -> None:
        self.advance()
        type_ = self.field_type()
        name = self.name("a typedef name")
        self.annotations()
        node = Typedef(name.value, type_, self.pos(name))
        self.doc.typedefs.append(node)
        self.declared(name, node)
        self.separator()

    def enum(self) -> None:
        self.advance()
        name = self.name("an enum name")
        self.expect("{")
        values: list[EnumValue] = []
        next_value = 0
        while not self.accept("}"):
            vname = self.name("an enum value name or '}'")
            if self.accept("="):
                num = self.tok
                if num.kind not in ("int", "hex"):
                    raise self.expected("an integer enum value")
                self.advance()
                value = self.int_value(num)
                if not _INT32_MIN <= value <= _INT32_MAX:
                    raise self.error(num, f"enum value {num.value} does not fit in 32 bits")
            else:
                value = next_value
            next_value = value + 1
            self.annotations()
            values.append(EnumValue(vname.value, value, self.pos(vname)))
            self.separator()
        self.annotations()
        node = Enum(name.value, values, self.pos(name))
        self.doc.enums.append(node)
        self.declared(name, node)

    def senum(self) -> None:
        # The 0.17 compiler knows the word only to refuse it.
        raise self.error(self.tok, "'senum' is no longer supported; use 'string' instead")

    def fields(self, closer: str, in_args: bool = False) -> list[Field]:
        result: list[Field] = []
        next_implicit = -1
        while not self.accept(closer):
            start = self.tok
            explicit = False
            fid = 0
            if start.kind in ("int", "hex"):
                self.advance()
                fid = self.int_value(start)
                self.expect(":")
                explicit = fid > 0
            if fid > 32767:
                # The compiler only warns, then writes an id that does not fit in i16.
                raise self.error(start, f"field id {fid} is out of range (1..32767)")
            if not explicit:
                fid = next_implicit
                next_implicit -= 1
            requiredness = "default"
            if self.accept("required"):
                requiredness = "required"
            elif self.accept("optional"):
                requiredness = "optional"
            if in_args:
                # The compiler warns and ignores requiredness in argument lists.
                requiredness = "default"
            type_ = self.field_type()
            self.accept("&")
            name = self.name("a field name")
            default = None
            if self.accept("="):
                default = self.const_value()
            for word in ("xsd_optional", "xsd_nillable"):
                self.accept(word)
            if self.accept("xsd_attrs"):
                self.expect("{")
                self.fields("}")
            self.annotations()
            result.append(
                Field(fid, name.value, type_, requiredness, default, self.pos(name), explicit)
            )
            self.separator()
        return result

    def struct(self) -> None:
        kind = self.advance().value
        name = self.name(f"a {kind} name")
        self.accept("xsd_all")
        self.expect("{")
        fields = self.fields("}")
        annotations = self.annotations()
        node = Struct(kind, name.value, fields, self.pos(name), annotations)
        self.doc.structs.append(node)
        self.declared(name, node)

    def service(self) -> None:
        self.advance()
        name = self.name("a service name")
        extends = None
        extends_pos = None
        if self.accept("extends"):
            ext = self.ident("a service name after 'extends'")
            extends, extends_pos = ext.value, self.pos(ext)
        self.expect("{")
        functions: list[Function] = []
        while not self.accept("}"):
            functions.append(self.function())
        self.annotations()
        node = Service(name.value, extends, extends_pos, functions, self.pos(name))
        self.doc.services.append(node)
        self.declared(name, node)

    def function(self) -> Function:
        oneway = self.accept("oneway") or self.accept("async")
        returns: TypeRef | None = None
        if not self.accept("void"):
            returns = self.field_type()
        name = self.name("a function name")
        self.expect("(")
        args = self.fields(")", in_args=True)
        throws: list[Field] = []
        if self.accept("throws"):
            self.expect("(")
            throws = self.fields(")", in_args=True)
        self.annotations()
        self.separator()
        return Function(name.value, returns, args, throws, oneway, self.pos(name))


def parse(text: str, path: str) -> Document:
    """Parse IDL ``text``; ``path`` is how errors name the file.

    Raises:
        IdlError: the text is not valid Thrift IDL.
    """
    return _Parser(text, path).document()

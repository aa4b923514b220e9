"""Python source for one struct, union or exception class and its ``thrift_spec``."""

from __future__ import annotations

from thriftbuild.codegen.backends.python.codec import Codec
from thriftbuild.codegen.idl.resolved import RField, RStruct

__all__ = ["instance_name", "struct_class", "struct_spec"]

_FAST_READ = (
    "iprot._fast_decode is not None and isinstance(iprot.trans, "
    "TTransport.CReadableTransport) and {0}.thrift_spec is not None"
)


def instance_name(names: list[str]) -> str:
    """The name of a method's instance parameter: ``self`` unless a field takes it.

    The compiler always writes ``self``, so a field or argument named ``self`` makes
    its output a ``SyntaxError``; we pick the first free spelling instead.
    """
    candidate = "self"
    while candidate in names:
        candidate = "_" + candidate
    return candidate


def _docstring(fields: list[RField], indent: str) -> list[str]:
    if not fields:
        return []
    lines = [f'{indent}"""', f"{indent}Attributes:"]
    lines += [f"{indent} - {f.name}" for f in fields]
    return [*lines, "", f'{indent}"""']


def _default(f: RField) -> str:
    return f.default if f.default is not None else "None"


def struct_class(codec: Codec, struct: RStruct, slots: bool) -> list[str]:
    """The ``class`` statement for ``struct`` (``thrift_spec`` is assigned later)."""
    base = "TException" if struct.kind == "exception" else "object"
    name = struct.name
    fields = struct.fields
    by_id = struct.sorted_fields
    me = instance_name([f.name for f in fields])
    out = [f"class {name}({base}):", *_docstring(fields, "    ")]
    shadowing = struct.shadowing
    if slots:
        # A slot cannot share its name with a method (the compiler's output fails to
        # import then); such fields live in the instance __dict__ instead.
        out += ["", "    __slots__ = ("]
        out += [f"        {f.name!r}," for f in by_id if f.name not in shadowing]
        if shadowing:
            out.append("        '__dict__',")
        out += ["    )", ""]
    out.append("")
    if fields:
        params = "".join(f"{f.name}={_default(f)}, " for f in fields)
        out.append(f"    def __init__({me}, {params}):")
        for f in fields:
            if struct.immutable:
                out.append(f"        super({name}, {me}).__setattr__({f.name!r}, {f.name})")
            else:
                out.append(f"        {me}.{f.name} = {f.name}")
        out.append("")
    if struct.immutable:
        out += _immutable_methods(struct)
        out += _read_immutable(codec, struct)
    else:
        out += _read_mutable(codec, struct)
    out += _write(codec, struct)
    out += ["    def validate(self):"]
    for f in fields:
        if f.requiredness == "required":
            out += [
                f"        if self.{f.name} is None:",
                "            raise TProtocolException("
                f"message='Required field {f.name} is unset!')",
            ]
    out += ["        return", ""]
    if struct.kind == "exception":
        out += ["    def __str__(self):", "        return repr(self)", ""]
    out += _compare(slots, [f.name for f in by_id] if shadowing else None)
    return out


def _immutable_methods(struct: RStruct) -> list[str]:
    names = ", ".join(f"self.{f.name}" for f in struct.fields)
    hash_line = f"        return hash(self.__class__) ^ hash(({names}{', ' if names else ''}))"
    if struct.kind == "exception":
        # Only thrift fields are frozen: Python itself sets __traceback__, __cause__,
        # __context__ and __notes__ on exceptions (THRIFT-5715, contextlib on 3.11+).
        frozen = "(" + "".join(f"{f.name!r}, " for f in struct.fields) + ")"
        return [
            "    def __setattr__(self, name, value):",
            f"        if name in {frozen}:",
            '            raise TypeError("can\'t modify immutable instance")',
            f"        super({struct.name}, self).__setattr__(name, value)",
            "",
            "    def __delattr__(self, name):",
            f"        if name in {frozen}:",
            '            raise TypeError("can\'t modify immutable instance")',
            f"        super({struct.name}, self).__delattr__(name)",
            "",
            "    def __hash__(self):",
            hash_line,
            "",
        ]
    return [
        "    def __setattr__(self, *args):",
        '        raise TypeError("can\'t modify immutable instance")',
        "",
        "    def __delattr__(self, *args):",
        '        raise TypeError("can\'t modify immutable instance")',
        "",
        "    def __hash__(self):",
        hash_line,
        "",
    ]


def _field_dispatch(codec: Codec, struct: RStruct, target: str) -> list[str]:
    # One flat ``if`` per field, each ending the iteration, never an ``elif`` chain:
    # Python's parser nests each ``elif`` inside the one before, and gives up (with a
    # MemoryError on import) on structs of a few thousand fields.
    out: list[str] = []
    for f in struct.fields:
        out += [
            f"            if fid == {f.id}:",
            f"                if ftype == {codec.ttype(f.type)}:",
            *codec.read(f.type, target.format(f.name), "                    "),
            "                else:",
            "                    iprot.skip(ftype)",
            "                iprot.readFieldEnd()",
            "                continue",
        ]
    return [*out, "            iprot.skip(ftype)"]


def _read_loop_head() -> list[str]:
    return [
        "        iprot.readStructBegin()",
        "        while True:",
        "            (fname, ftype, fid) = iprot.readFieldBegin()",
        "            if ftype == TType.STOP:",
        "                break",
    ]


def _read_mutable(codec: Codec, struct: RStruct) -> list[str]:
    return [
        "    def read(self, iprot):",
        "        if " + _FAST_READ.format("self") + ":",
        "            iprot._fast_decode(self, iprot, [self.__class__, self.thrift_spec])",
        "            return",
        *_read_loop_head(),
        *_field_dispatch(codec, struct, "self.{0}"),
        "            iprot.readFieldEnd()",
        "        iprot.readStructEnd()",
        "",
    ]


def _read_immutable(codec: Codec, struct: RStruct) -> list[str]:
    # Locals get a prefix so that fields named like iprot or cls cannot shadow them.
    out = [
        "    @classmethod",
        "    def read(cls, iprot):",
        "        if " + _FAST_READ.format("cls") + ":",
        "            return iprot._fast_decode(None, iprot, [cls, cls.thrift_spec])",
        "        iprot.readStructBegin()",
    ]
    out += [f"        _v_{f.name} = {_default(f)}" for f in struct.fields]
    out += _read_loop_head()[1:]
    out += _field_dispatch(codec, struct, "_v_{0}")
    out += [
        "            iprot.readFieldEnd()",
        "        iprot.readStructEnd()",
        "        return cls(",
    ]
    out += [f"            {f.name}=_v_{f.name}," for f in struct.fields]
    return [*out, "        )", ""]


def _write(codec: Codec, struct: RStruct) -> list[str]:
    out = [
        "    def write(self, oprot):",
        "        if oprot._fast_encode is not None and self.thrift_spec is not None:",
        "            oprot.trans.write("
        "oprot._fast_encode(self, [self.__class__, self.thrift_spec]))",
        "            return",
        f"        oprot.writeStructBegin({struct.name!r})",
    ]
    for f in struct.sorted_fields:
        out += [
            f"        if self.{f.name} is not None:",
            f"            oprot.writeFieldBegin({f.name!r}, {codec.ttype(f.type)}, {f.id})",
            *codec.write(f.type, f"self.{f.name}", "            "),
            "            oprot.writeFieldEnd()",
        ]
    return [*out, "        oprot.writeFieldStop()", "        oprot.writeStructEnd()", ""]


def _compare(slots: bool, names: list[str] | None) -> list[str]:
    if slots and names is not None:
        listed = "(" + "".join(f"{n!r}, " for n in names) + ")"
        return [
            "    def __repr__(self):",
            "        L = ['%s=%r' % (key, getattr(self, key))",
            f"             for key in {listed}]",
            "        return '%s(%s)' % (self.__class__.__name__, ', '.join(L))",
            "",
            "    def __eq__(self, other):",
            "        if not isinstance(other, self.__class__):",
            "            return False",
            f"        for attr in {listed}:",
            "            if getattr(self, attr) != getattr(other, attr):",
            "                return False",
            "        return True",
            "",
            "    def __ne__(self, other):",
            "        return not (self == other)",
        ]
    if slots:
        return [
            "    def __repr__(self):",
            "        L = ['%s=%r' % (key, getattr(self, key))",
            "             for key in self.__slots__]",
            "        return '%s(%s)' % (self.__class__.__name__, ', '.join(L))",
            "",
            "    def __eq__(self, other):",
            "        if not isinstance(other, self.__class__):",
            "            return False",
            "        for attr in self.__slots__:",
            "            my_val = getattr(self, attr)",
            "            other_val = getattr(other, attr)",
            "            if my_val != other_val:",
            "                return False",
            "        return True",
            "",
            "    def __ne__(self, other):",
            "        return not (self == other)",
        ]
    return [
        "    def __repr__(self):",
        "        L = ['%s=%r' % (key, value)",
        "             for key, value in self.__dict__.items()]",
        "        return '%s(%s)' % (self.__class__.__name__, ', '.join(L))",
        "",
        "    def __eq__(self, other):",
        "        return isinstance(other, self.__class__) and self.__dict__ == other.__dict__",
        "",
        "    def __ne__(self, other):",
        "        return not (self == other)",
    ]


def struct_spec(codec: Codec, struct: RStruct) -> list[str]:
    """``all_structs.append(X)`` and the ``X.thrift_spec = (...)`` assignment."""
    out = [f"all_structs.append({struct.name})"]
    fields = struct.sorted_fields
    if not fields or fields[0].id < 0:
        # As in the compiler: no spec entries when implicit (negative) ids are used.
        return [*out, f"{struct.name}.thrift_spec = ()"]
    out.append(f"{struct.name}.thrift_spec = (")
    position = fields[0].id if fields[0].id == 0 else 0
    for f in fields:
        while position < f.id:
            out.append(f"    None,  # {position}")
            position += 1
        entry = (
            f"({f.id}, {codec.ttype(f.type)}, {f.name!r}, {codec.spec_args(f.type)}, "
            f"{_default(f)}, )"
        )
        out.append(f"    {entry},  # {f.id}")
        position += 1
    return [*out, ")"]

"""Values for generated Thrift classes, driven by their ``thrift_spec``.

Values are built as side-neutral trees (plain Python data, structs as
``("struct", ((name, value), ...))``) and realised as instances of one backend's
classes, so the same value can be encoded by code from two generators.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from thrift.Thrift import TType
from thrift.transport import TTransport

__all__ = [
    "OMITTED",
    "decode",
    "encode",
    "realize",
    "sample",
    "tree",
    "typed",
    "value_strategy",
]

_INT_BOUNDS = {
    TType.BYTE: 7,
    TType.I16: 15,
    TType.I32: 31,
    TType.I64: 63,
}
_CHARS = st.characters(blacklist_categories=("Cs",))


class _Omitted:
    """A struct field left out of the constructor call, so its default applies."""

    def __repr__(self) -> str:
        return "OMITTED"


#: In a neutral struct value: "do not pass this field" (realize() leaves it out).
OMITTED: Any = _Omitted()


def _strings(unit: st.SearchStrategy[Any], *, large: bool) -> st.SearchStrategy[Any]:
    """Short values, longer ones (past 8 bytes) and, if ``large``, some to 70 kB.

    Long values repeat a short unit: cheap to draw; the large ones pass the one- and
    two-byte varint lengths of the compact protocol.
    """
    repeated = st.tuples(unit.filter(len), st.integers(2, 40))
    options = [unit, repeated.map(lambda p: p[0] * p[1])]
    if large:
        big = st.tuples(unit.filter(len), st.integers(4_000, 70_000))
        options.append(big.map(lambda p: (p[0] * (p[1] // len(p[0]) + 1))[: p[1]]))
    return st.one_of(options)


#: Strings of top-level fields may be large; nested ones stay below 500 characters.
_TEXT = (
    _strings(st.text(alphabet=_CHARS, max_size=12), large=False),
    _strings(st.text(alphabet=_CHARS, max_size=12), large=True),
)
_BINARY = (
    _strings(st.binary(max_size=12), large=False),
    _strings(st.binary(max_size=12), large=True),
)
#: Largest container drawn at each nesting depth (deeper ones stay small to bound the size).
_CONTAINER_SIZES = (8, 3, 1)


def _hashable(ttype: int, spec: Any, seen: frozenset[type] = frozenset()) -> bool:
    """Whether values of this type can be set members or map keys in generated code."""
    if ttype == TType.STRUCT:
        cls = spec[0]
        if cls in seen:
            return True
        if vars(cls).get("__hash__") is None:
            return False
        return all(_hashable(e[1], e[3], seen | {cls}) for e in fields_of(cls))
    if ttype in (TType.LIST, TType.SET):
        return bool(spec[-1]) and _hashable(spec[0], spec[1], seen)
    return ttype != TType.MAP


def fields_of(cls: type) -> list[tuple[Any, ...]]:
    """The non-empty entries of ``cls.thrift_spec``."""
    return [entry for entry in (cls.thrift_spec or ()) if entry is not None]


def value_strategy(ttype: int, spec: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """A strategy for neutral values of one Thrift type."""
    if ttype == TType.BOOL:
        return st.booleans()
    if ttype in _INT_BOUNDS:
        bits = _INT_BOUNDS[ttype]
        return st.integers(-(2**bits), 2**bits - 1)
    if ttype == TType.DOUBLE:
        return st.floats(allow_nan=False)
    if ttype == TType.STRING:
        return (_BINARY if spec == "BINARY" else _TEXT)[depth == 0]
    if ttype == TType.STRUCT:
        return struct_strategy(spec[0], depth + 1)
    size = _CONTAINER_SIZES[depth] if depth < len(_CONTAINER_SIZES) else 0
    if ttype == TType.LIST:
        elem = value_strategy(spec[0], spec[1], depth + 1)
        return st.lists(elem, max_size=size).map(tuple)
    if ttype == TType.SET:
        if not _hashable(spec[0], spec[1]):
            return st.just(frozenset())
        return st.frozensets(value_strategy(spec[0], spec[1], depth + 1), max_size=size)
    if ttype == TType.MAP:
        if not _hashable(spec[0], spec[1]):
            return st.just(())
        keys = value_strategy(spec[0], spec[1], depth + 1)
        values = value_strategy(spec[2], spec[3], depth + 1)
        return st.dictionaries(keys, values, max_size=size).map(lambda d: tuple(d.items()))
    raise AssertionError(f"unknown TType {ttype}")


def struct_strategy(cls: type, depth: int = 0) -> st.SearchStrategy[Any]:
    """A strategy for neutral struct values of ``cls``: each field set, None or omitted."""
    # Built once per class and depth: hypothesis validates each new strategy object,
    # which otherwise costs more than drawing from it.
    known = _STRUCT_STRATEGIES.get((cls, depth))
    if known is None:
        known = _STRUCT_STRATEGIES[cls, depth] = _new_struct_strategy(cls, depth)
    return known


_STRUCT_STRATEGIES: dict[tuple[type, int], st.SearchStrategy[Any]] = {}


def _new_struct_strategy(cls: type, depth: int) -> st.SearchStrategy[Any]:
    entries = fields_of(cls)
    if depth > 3:
        return st.just(("struct", ()))
    parts = [
        st.one_of(st.just(OMITTED), st.none(), value_strategy(e[1], e[3], depth)).map(
            lambda v, name=e[2]: (name, v)
        )
        for e in entries
    ]
    return st.tuples(*parts).map(lambda items: ("struct", tuple(items)))


def realize(ttype: int, spec: Any, value: Any) -> Any:
    """Turn a neutral value into one made of the classes named by ``spec``."""
    if value is None:
        return None
    if ttype == TType.STRUCT:
        cls = spec[0]
        by_name = {e[2]: e for e in fields_of(cls)}
        kwargs = {
            name: realize(by_name[name][1], by_name[name][3], item)
            for name, item in value[1]
            if item is not OMITTED
        }
        return cls(**kwargs)
    if ttype == TType.LIST:
        items = [realize(spec[0], spec[1], v) for v in value]
        return tuple(items) if spec[-1] else items
    if ttype == TType.SET:
        items = [realize(spec[0], spec[1], v) for v in sorted(value, key=repr)]
        return frozenset(items) if spec[-1] else set(items)
    if ttype == TType.MAP:
        return {realize(spec[0], spec[1], k): realize(spec[2], spec[3], v) for k, v in value}
    return value


def tree(ttype: int, spec: Any, value: Any) -> Any:
    """The neutral, comparable form of a value of generated classes."""
    if value is None:
        return None
    if ttype == TType.STRUCT:
        cls = spec[0]
        return (
            "struct",
            cls.__name__,
            tuple((e[2], tree(e[1], e[3], getattr(value, e[2]))) for e in fields_of(cls)),
        )
    if ttype == TType.LIST:
        return ("list", tuple(tree(spec[0], spec[1], v) for v in value))
    if ttype == TType.SET:
        return ("set", tuple(sorted(repr(tree(spec[0], spec[1], v)) for v in value)))
    if ttype == TType.MAP:
        pairs = ((tree(spec[0], spec[1], k), tree(spec[2], spec[3], v)) for k, v in value.items())
        return ("map", tuple(sorted(pairs, key=repr)))
    return value


def struct_tree(obj: Any) -> Any:
    """:func:`tree` of a struct instance."""
    return tree(TType.STRUCT, [type(obj), None], obj)


def typed(value: Any) -> Any:
    """``value`` with the type of every part spelled out, so 1 != True != 1.0 and
    "x" != b"x" (equality alone, and the encoded bytes, hide those)."""
    if isinstance(value, type):
        return ("class", value.__name__)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(typed(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return (type(value).__name__, tuple(sorted(repr(typed(v)) for v in value)))
    if isinstance(value, dict):
        items = sorted(repr((typed(k), typed(v))) for k, v in value.items())
        return (type(value).__name__, tuple(items))
    if hasattr(value, "thrift_spec"):
        names = [spec[2] for spec in value.thrift_spec if spec is not None]
        return (type(value).__name__, tuple((n, typed(getattr(value, n))) for n in names))
    return (type(value).__name__, value)


def encode(obj: Any, factory: Any) -> bytes:
    """``obj`` (a generated struct) written with a protocol of ``factory``."""
    buffer = TTransport.TMemoryBuffer()
    type(obj).write(obj, factory.getProtocol(buffer))  # fields named write hide the method
    return buffer.getvalue()


def decode(cls: type, protocol: Any) -> Any:
    """Read one ``cls`` from ``protocol``, whether ``read`` is a classmethod or not."""
    if isinstance(vars(cls).get("read"), classmethod):
        return cls.read(protocol)
    obj = cls()
    cls.read(obj, protocol)
    return obj


def sample(ttype: int, spec: Any, depth: int = 0) -> Any:
    """A small fixed neutral value of a type (service calls use it)."""
    if ttype == TType.BOOL:
        return True
    if ttype in _INT_BOUNDS:
        return 7
    if ttype == TType.DOUBLE:
        return 2.5
    if ttype == TType.STRING:
        return b"\x00bin" if spec == "BINARY" else "t\u00e9xt"
    if ttype == TType.STRUCT:
        if depth > 2:
            return ("struct", ())
        return (
            "struct",
            tuple((e[2], sample(e[1], e[3], depth + 1)) for e in fields_of(spec[0])),
        )
    if depth > 2:
        return () if ttype != TType.SET else frozenset()
    if ttype == TType.LIST:
        return (sample(spec[0], spec[1], depth + 1),)
    if ttype == TType.SET:
        if not _hashable(spec[0], spec[1]):
            return frozenset()
        return frozenset([sample(spec[0], spec[1], depth + 1)])
    if ttype == TType.MAP:
        if not _hashable(spec[0], spec[1]):
            return ()
        return ((sample(spec[0], spec[1], depth + 1), sample(spec[2], spec[3], depth + 1)),)
    raise AssertionError(f"unknown TType {ttype}")

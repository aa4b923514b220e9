"""String and binary struct fields, written and read without a struct codec.

Apache's C codec copies string and binary values into its buffer one byte at a
time (~2 ns a byte: 137 us for 64 KiB), so large ones are written here, after the
rest of the struct as the C codec encoded it. Thrift decoders find fields by id, in
any order, so they may follow the others; only the stop byte must come last.

Structs of string and binary fields only (``echo(1: binary data)`` and its result)
are also read here: one pass over the fields instead of a bounds scan followed by
the C decoder.
"""

from __future__ import annotations

import struct
from typing import Any

from thriftbuild.wire.errors import WireError
from thriftbuild.wire.heads import BINARY, COMPACT
from thriftbuild.wire.varint import Incomplete, encode_varint, read_varint, unzigzag

__all__ = [
    "LARGE_STRING",
    "STRUCT_STOP",
    "StringField",
    "decode_string_struct",
    "encode_string_struct",
    "encode_string_value",
    "only_string_fields",
    "string_field_head",
    "string_field_ids",
    "string_fields",
    "take_large_strings",
]

#: The byte ending a struct, in both the binary and the compact protocol.
STRUCT_STOP = b"\x00"

_BINARY_STRING_HEAD = struct.Struct("!bhi")  # T_STRING, field id, byte length
_T_STRING = 11
_CT_BINARY = 8


def string_field_head(protocol: int, field_id: int, size: int) -> bytes:
    """The bytes before a ``size``-byte string/binary value of field ``field_id``.

    Args:
        protocol: :data:`BINARY` or :data:`COMPACT`.
        field_id: the field's id (an i16).
        size: the value's length in bytes (its UTF-8 encoding for a string).

    Raises:
        ValueError: an unknown protocol, or a field id or size out of range.
    """
    if not -32768 <= field_id <= 32767 or not 0 <= size <= 0x7FFFFFFF:
        raise ValueError(f"field {field_id} of {size} bytes cannot be encoded")
    if protocol == BINARY:
        return _BINARY_STRING_HEAD.pack(_T_STRING, field_id, size)
    if protocol == COMPACT:
        # The long form (type, then the zigzag varint id) needs no previous field id.
        zigzag = (field_id << 1) ^ (field_id >> 15)
        return bytes((_CT_BINARY,)) + encode_varint(zigzag & 0xFFFF) + encode_varint(size)
    raise ValueError(f"unknown protocol id {protocol}")


#: From this size on, :func:`take_large_strings` takes a string/binary field out of
#: the C codec's hands.
LARGE_STRING = 2048

# A string/binary field of a struct: (its index in thrift_spec, attribute, UTF-8 text).
StringField = tuple[int, str, bool]

_string_fields: dict[type, tuple[StringField, ...]] = {}


def string_fields(cls: type) -> tuple[StringField, ...]:
    """The ``string``/``binary`` fields of an Apache-generated struct class (cached)."""
    found = _string_fields.get(cls)
    if found is None:
        spec = getattr(cls, "thrift_spec", None) or ()
        found = tuple(
            (index, field[2], field[3] == "UTF8")
            for index, field in enumerate(spec)
            if field is not None and field[1] == _T_STRING and field[3] in ("UTF8", "BINARY")
        )
        _string_fields[cls] = found
    return found


def take_large_strings(
    obj: Any, thrift_spec: Any, fields: tuple[StringField, ...], protocol: int
) -> tuple[Any, list[bytes]] | None:
    """Split ``obj``'s large string/binary fields from the rest of its encoding.

    A value qualifies when it is at least :data:`LARGE_STRING` long and of the type
    its field declares (``str`` for a string, ``bytes`` for a binary); any other is
    left to the C codec, whose behaviour (and errors) it then keeps. ``obj`` is not
    changed.

    Returns:
        None when no field qualifies; else ``thrift_spec`` without those fields (for
        the C codec, whose output then ends with :data:`STRUCT_STOP`) and their
        encoding, to go after that output without its stop byte.
    """
    parts: list[bytes] | None = None
    reduced: list[Any] | None = None
    for index, name, text in fields:
        value = getattr(obj, name, None)
        if type(value) is not (str if text else bytes) or len(value) < LARGE_STRING:
            continue
        data: bytes = value.encode() if isinstance(value, str) else value
        if parts is None or reduced is None:
            parts, reduced = [], list(thrift_spec)
        parts.append(string_field_head(protocol, thrift_spec[index][0], len(data)))
        parts.append(data)
        reduced[index] = None
    if parts is None or reduced is None:
        return None
    return tuple(reduced), parts


_only_strings: dict[type, tuple[StringField, ...] | None] = {}


def only_string_fields(cls: type) -> tuple[StringField, ...] | None:
    """:func:`string_fields` of a struct class that has no other field, else None.

    Such a struct (``get(1: string key)``, ``echo(1: binary data)``) can be encoded
    whole by :func:`encode_string_struct`. Cached per class.
    """
    if cls in _only_strings:
        return _only_strings[cls]
    spec = getattr(cls, "thrift_spec", None) or ()
    fields = string_fields(cls)
    declared = [field for field in spec if field is not None]
    found = (
        fields
        if fields
        and len(fields) == len(declared)
        and all(spec[index][0] == index for index, _, _ in fields)
        else None
    )
    _only_strings[cls] = found
    return found


_CT_BINARY_HEADS = tuple(bytes(((delta << 4) | _CT_BINARY,)) for delta in range(16))
_CT_LONG = bytes((_CT_BINARY,))
_MAX_SIZE = 0x7FFFFFFF


def encode_string_struct(
    obj: Any, fields: tuple[StringField, ...], protocol: int
) -> list[bytes] | None:
    """The encoding of a struct whose fields are all ``fields`` (see
    :func:`only_string_fields`), byte for byte as Apache's C codec writes it.

    The C codec copies string and binary values one byte at a time (about 10
    instructions a byte); here each value is one part of the list, copied once
    when the caller joins the message.

    Returns:
        The parts, ending with :data:`STRUCT_STOP`; None when a value is not of the
        type its field declares (``str`` for a string, ``bytes`` for a binary) or
        is too long to encode: the C codec then keeps its own behaviour and errors.
    """
    parts: list[bytes] = []
    last = 0
    for field_id, name, text in fields:
        value = getattr(obj, name, None)
        if value is None:
            continue  # an unset field is not written
        field = _encoded_field(protocol, field_id, last, value, text)
        if field is None:
            return None
        parts += field
        last = field_id
    parts.append(STRUCT_STOP)
    return parts


def _encoded_field(
    protocol: int, field_id: int, last: int, value: Any, text: bool
) -> tuple[bytes, bytes] | None:
    """The head and the bytes of string (``text``) or binary field ``field_id`` set to
    ``value``, written after field ``last`` as the C codec writes it; None when
    ``value`` is not of the field's type or too long, or the protocol is unknown."""
    if text:
        if type(value) is not str:
            return None
        value = value.encode()
    elif type(value) is not bytes:
        return None
    size = len(value)
    if size > _MAX_SIZE:
        return None
    if protocol == BINARY:
        return _BINARY_STRING_HEAD.pack(_T_STRING, field_id, size), value
    if protocol == COMPACT:
        # The short form (the id as a delta from the previous one) when it fits, as
        # the C codec writes it; else the long form: the type, then the id zigzagged
        # (ids here are >= 0).
        delta = field_id - last
        if 0 < delta <= 15:
            return _CT_BINARY_HEADS[delta] + encode_varint(size), value
        return _CT_LONG + encode_varint(field_id << 1) + encode_varint(size), value
    return None


def encode_string_value(protocol: int, field_id: int, value: Any, text: bool) -> bytes | None:
    """The encoding of a struct holding one string (``text``) or binary field set to
    ``value``, byte for byte as Apache's C codec writes it (see
    :func:`encode_string_struct`); None when ``value`` is not of that type or too long.

    Raises:
        ValueError: an unknown protocol.
    """
    if protocol not in (BINARY, COMPACT):
        raise ValueError(f"unknown protocol id {protocol}")
    field = _encoded_field(protocol, field_id, 0, value, text)
    return None if field is None else b"".join((*field, STRUCT_STOP))


_string_ids: dict[type, dict[int, tuple[str, bool]] | None] = {}


def string_field_ids(cls: type) -> dict[int, tuple[str, bool]] | None:
    """:func:`only_string_fields` by field id: ``{id: (attribute, UTF-8 text)}``, or
    None when ``cls`` has other fields too (cached per class)."""
    if cls not in _string_ids:
        fields = only_string_fields(cls)
        _string_ids[cls] = (
            None if fields is None else {fid: (name, text) for fid, name, text in fields}
        )
    return _string_ids[cls]


def decode_string_struct(
    cls: type,
    fields: dict[int, tuple[str, bool]],
    data: bytes,
    pos: int,
    protocol: int,
    max_string: int,
) -> Any:
    """A ``cls`` read from the struct at ``data[pos:]``, as Apache's C decoder reads
    it: fields by id, unknown ones skipped, the last of a repeated id kept, anything
    after the stop byte ignored.

    ``fields``: :func:`string_field_ids` of ``cls``. Every length is checked against
    ``max_string`` and the bytes present before a value is copied.

    Returns:
        The object; None when the bytes hold anything else (a field of another type,
        a length out of bounds, a missing stop byte, text that is not UTF-8) or the
        protocol is neither binary nor compact: the C decoder then reads them, with
        its own errors.
    """
    if protocol == BINARY:
        return _binary_strings(cls, fields, data, pos, max_string)
    if protocol == COMPACT:
        return _compact_strings(cls, fields, data, pos, max_string)
    return None


def _set(obj: Any, field: tuple[str, bool], value: bytes) -> bool:
    """Store a field's value (as text when it is a string); False: not UTF-8."""
    name, text = field
    if text:
        try:
            setattr(obj, name, str(value, "utf-8"))
        except UnicodeDecodeError:
            return False
    else:
        setattr(obj, name, value)
    return True


def _binary_strings(
    cls: type, fields: dict[int, tuple[str, bool]], data: bytes, pos: int, max_string: int
) -> Any:
    obj = cls()
    end = len(data)
    unpack = _BINARY_STRING_HEAD.unpack_from
    while pos < end:
        ftype = data[pos]
        if ftype == 0:
            return obj
        if ftype != _T_STRING or pos + 7 > end:
            return None
        _, field_id, size = unpack(data, pos)
        start, pos = pos + 7, pos + 7 + size
        if size < 0 or size > max_string or pos > end:
            return None
        field = fields.get(field_id)
        if field is not None and not _set(obj, field, data[start:pos]):
            return None
    return None


def _compact_strings(
    cls: type, fields: dict[int, tuple[str, bool]], data: bytes, pos: int, max_string: int
) -> Any:
    obj = cls()
    end = len(data)
    last = 0
    try:
        while pos < end:
            head = data[pos]
            if head == 0:
                return obj
            if head & 0x0F != _CT_BINARY:
                return None
            if head >> 4:  # the short form: the id as a delta from the previous one
                field_id, pos = last + (head >> 4), pos + 1
            else:  # the long form: a zigzag varint i16
                zigzagged, pos = read_varint(data, pos + 1, 3)
                field_id = unzigzag(zigzagged)
            size = data[pos] if pos < end else 0x80
            if size < 0x80:
                pos += 1
            else:
                size, pos = read_varint(data, pos, 5)
            start, pos = pos, pos + size
            if not -32768 <= field_id <= 32767 or size > max_string or pos > end:
                return None
            field = fields.get(field_id)
            if field is not None and not _set(obj, field, data[start:pos]):
                return None
            last = field_id
    except (Incomplete, WireError):
        return None
    return None

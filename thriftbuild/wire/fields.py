"""Large string and binary struct fields, written without a struct codec.

Apache's C codec copies string and binary values into its buffer one byte at a
time (~2 ns a byte: 137 us for 64 KiB), so large ones are written here, after the
rest of the struct as the C codec encoded it. Thrift decoders find fields by id, in
any order, so they may follow the others; only the stop byte must come last.
"""

from __future__ import annotations

import struct
from typing import Any

from thriftbuild.wire.heads import BINARY, COMPACT
from thriftbuild.wire.varint import encode_varint

__all__ = [
    "LARGE_STRING",
    "STRUCT_STOP",
    "StringField",
    "encode_string_struct",
    "only_string_fields",
    "string_field_head",
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
            parts.append(_BINARY_STRING_HEAD.pack(_T_STRING, field_id, size))
        elif protocol == COMPACT:
            # The short form (the id as a delta from the previous one) when it fits,
            # as the C codec writes it.
            delta = field_id - last
            if 0 < delta <= 15:
                head = _CT_BINARY_HEADS[delta]
            else:  # the long form: the type, then the id zigzagged (ids here are >= 0)
                head = bytes((_CT_BINARY,)) + encode_varint(field_id << 1)
            parts.append(head + encode_varint(size))
            last = field_id
        else:
            return None
        parts.append(value)
    parts.append(STRUCT_STOP)
    return parts

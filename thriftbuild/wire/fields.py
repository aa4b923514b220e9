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

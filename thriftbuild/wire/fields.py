"""A string or binary struct field's header, written without a struct codec.

The runtime writes large ``string``/``binary`` arguments itself, after the rest of
the struct encoded by Apache's C codec (which copies such values one byte at a
time: ~2 ns a byte, 130 us for 64 KiB). Thrift decoders find fields by id, in any
order, so the fields may follow the others; only the stop byte must come last.
"""

from __future__ import annotations

import struct

from thriftbuild.wire.heads import BINARY, COMPACT
from thriftbuild.wire.varint import encode_varint

__all__ = ["STRUCT_STOP", "string_field_head"]

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

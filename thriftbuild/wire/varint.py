"""Unsigned LEB128 varints and zigzag, as THeader and the compact protocol use them."""

from __future__ import annotations

from thriftbuild.wire.errors import WireError

__all__ = ["Incomplete", "encode_varint", "read_varint", "unzigzag", "zigzag"]


class Incomplete(Exception):
    """More bytes are needed; ``needed`` is the buffer length that might suffice.

    Internal to the wire package: decoders turn it into "need N more" (incremental)
    or into a :class:`WireError` (a complete message that was cut short).
    """

    def __init__(self, needed: int) -> None:
        super().__init__(needed)
        self.needed = needed


def encode_varint(value: int) -> bytes:
    """``value`` (non-negative) as an unsigned varint."""
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_varint(buf: bytes | bytearray, pos: int, max_bytes: int = 10) -> tuple[int, int]:
    """Read a varint at ``pos``; returns ``(value, next position)``.

    Raises:
        Incomplete: the buffer ends inside the varint.
        WireError: the varint is longer than ``max_bytes`` (5 for 32-bit values).
    """
    result = shift = 0
    end = len(buf)
    start = pos
    while True:
        if pos >= end:
            raise Incomplete(pos + 1)
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        if pos - start >= max_bytes:
            raise WireError(f"varint longer than {max_bytes} bytes")
        shift += 7


def zigzag(value: int) -> int:
    """Zigzag-encode a signed integer (64-bit range)."""
    return (value << 1) ^ (value >> 63)


def unzigzag(value: int) -> int:
    """Decode a zigzag-encoded integer."""
    return (value >> 1) ^ -(value & 1)

"""THeader frames: encode, and parse one whole frame (info headers, zlib).

Layout, after the 4-byte frame length::

    magic 0x0FFF (u16) | flags (u16) | sequence id (i32) | header words (u16)
    header block (header words * 4 bytes):
        protocol id (varint) | transform count (varint) | transform ids (varints)
        info headers: type 1 (key/value) | count | (varint-length key, value)...
        zero padding to a multiple of 4
    payload (zlib-compressed when the zlib transform is listed)

Wire-compatible with Apache's ``THeaderTransport``; the zlib payload is inflated
with a bound, so a small compressed frame cannot make us allocate more than
``Limits.max_frame`` bytes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from thriftbuild.wire.errors import LimitExceededError, WireError
from thriftbuild.wire.limits import DEFAULT_LIMITS, Limits
from thriftbuild.wire.varint import Incomplete, encode_varint, read_varint

__all__ = ["HEADER_MAGIC", "ZLIB", "Frame", "encode_header_frame", "parse_header_frame"]

HEADER_MAGIC = 0x0FFF
ZLIB = 0x01
_KEY_VALUE = 0x01
_FIXED = struct.Struct("!iHHiH")  # length, magic, flags, seqid, header words
_AFTER_LENGTH = struct.Struct("!HHiH")
_FLAGS_SEQ = struct.Struct("!Hi")
_NO_HEADERS: Mapping[bytes, bytes] = MappingProxyType({})
# The header block every frame without headers or transforms carries, per protocol.
_PLAIN_BLOCKS = {b"\x00\x00\x00\x00": 0, b"\x02\x00\x00\x00": 2}


class Frame(NamedTuple):
    """One complete message taken off the wire.

    Attributes:
        payload: the Thrift message (head and body), transforms undone.
        protocol: the protocol id of the payload (``BINARY`` or ``COMPACT``).
        headers: THeader info headers (empty for other framings).
        seqid: the THeader frame's sequence id (0 for other framings).
        flags: the THeader flags (0 for other framings).
        zlib: whether the frame was zlib-compressed (answer the same way).
    """

    payload: bytes
    protocol: int
    headers: Mapping[bytes, bytes] = _NO_HEADERS
    seqid: int = 0
    flags: int = 0
    zlib: bool = False


_new_tuple = tuple.__new__


def plain_frame(payload: bytes, protocol: int) -> Frame:
    """``Frame(payload, protocol)`` (no THeader fields), built without the named
    tuple's Python-level constructor: every unframed and framed message is one."""
    return _new_tuple(Frame, (payload, protocol, _NO_HEADERS, 0, 0, False))


def header_block(
    protocol: int, headers: Mapping[bytes, bytes] | None = None, *, zlib: bool = False
) -> bytes:
    """The padded header block of a THeader frame."""
    block = bytearray(encode_varint(protocol))
    block += b"\x01\x01" if zlib else b"\x00"
    if headers:
        block += encode_varint(_KEY_VALUE) + encode_varint(len(headers))
        for key, value in headers.items():
            block += encode_varint(len(key)) + key + encode_varint(len(value)) + value
    block += b"\x00" * (-len(block) % 4)
    return bytes(block)


def encode_header_frame(
    payload: bytes,
    protocol: int,
    *,
    seqid: int = 0,
    headers: Mapping[bytes, bytes] | None = None,
    zlib: bool = False,
    flags: int = 0,
    limits: Limits = DEFAULT_LIMITS,
    block: bytes | None = None,
) -> bytes:
    """A complete THeader frame (length prefix included) carrying ``payload``.

    Args:
        payload: the Thrift message.
        protocol: its protocol id.
        seqid: the frame's sequence id (Apache copies the message's).
        headers: info headers (bytes keys and values).
        zlib: compress the payload.
        flags: the frame flags.
        limits: the frame limit to respect.
        block: a precomputed :func:`header_block` to use instead of the arguments
            above (a fast path for callers sending the same block every time).

    Raises:
        LimitExceededError: the frame would be over ``limits.max_frame``.
    """
    if block is None:
        block = header_block(protocol, headers, zlib=zlib)
    if zlib:
        payload = _compress(payload)
    if len(block) > 0x3FFFC:
        raise LimitExceededError("max_frame", len(block), 0x3FFFC, "THeader header block")
    size = 10 + len(block) + len(payload)
    if size > limits.max_frame:
        raise LimitExceededError("max_frame", size, limits.max_frame, "frame size")
    return _FIXED.pack(size, HEADER_MAGIC, flags, seqid, len(block) // 4) + block + payload


def _compress(payload: bytes) -> bytes:
    return zlib.compress(payload)


def parse_header_frame(frame: bytes, limits: Limits = DEFAULT_LIMITS) -> Frame:
    """Parse a THeader frame (the bytes after the length prefix).

    Raises:
        WireError: not a valid THeader frame; :class:`LimitExceededError` when its
            payload inflates past ``limits.max_frame``.
    """
    if frame[:2] == b"\x0f\xff" and frame[8:10] == b"\x00\x01":
        # Fast path: one header word holding only the protocol id (most replies).
        protocol = _PLAIN_BLOCKS.get(frame[10:14])
        if protocol is not None:
            flags, seqid = _FLAGS_SEQ.unpack_from(frame, 2)
            return Frame(frame[14:], protocol, _NO_HEADERS, seqid, flags)
    if len(frame) < 10:
        raise WireError(f"THeader frame of {len(frame)} bytes is shorter than its fixed part")
    magic, flags, seqid, words = _AFTER_LENGTH.unpack_from(frame)
    if magic != HEADER_MAGIC:
        raise WireError(f"not a THeader frame (magic 0x{magic:04x})")
    end = 10 + words * 4
    if end > len(frame):
        raise WireError("THeader header block is longer than its frame")
    try:
        protocol, pos = read_varint(frame, 10, 5)
        count, pos = read_varint(frame, pos, 5)
        compressed = False
        for _ in range(count):
            transform, pos = read_varint(frame, pos, 5)
            if transform != ZLIB:
                raise WireError(f"unknown THeader transform {transform}")
            compressed = True
        headers: dict[bytes, bytes] = {}
        while pos < end:
            kind, pos = read_varint(frame, pos, 5)
            if kind != _KEY_VALUE:
                break  # padding, or an info type we do not know: skip the rest
            pairs, pos = read_varint(frame, pos, 5)
            for _ in range(pairs):
                key, pos = _string(frame, pos, end, limits)
                value, pos = _string(frame, pos, end, limits)
                headers[key] = value
    except Incomplete:
        raise WireError("THeader header block ends inside a field") from None
    if pos > end:
        raise WireError("THeader headers run past their block")
    if protocol not in (0, 2):
        raise WireError(f"unknown THeader sub-protocol {protocol}")
    payload = frame[end:]
    if compressed:
        payload = inflate(payload, limits.max_frame)
    return Frame(payload, protocol, headers, seqid, flags, compressed)


def _string(frame: bytes, pos: int, end: int, limits: Limits) -> tuple[bytes, int]:
    size, pos = read_varint(frame, pos, 5)
    if size > limits.max_string:
        raise LimitExceededError("max_string", size, limits.max_string, "THeader header length")
    if pos + size > end:
        raise WireError("THeader header runs past its block")
    return frame[pos : pos + size], pos + size


def inflate(data: bytes, limit: int) -> bytes:
    """Decompress zlib ``data``, refusing to produce more than ``limit`` bytes.

    Raises:
        LimitExceededError: the output would exceed ``limit``.
        WireError: the data is not one complete zlib stream.
    """
    inflater = zlib.decompressobj()
    out = bytearray()
    pending = data
    try:
        while not inflater.eof:
            part = inflater.decompress(pending, limit + 1 - len(out))
            out += part
            if len(out) > limit:
                raise LimitExceededError("max_frame", len(out), limit, "decompressed payload")
            pending = inflater.unconsumed_tail
            if not part and not pending:
                raise WireError("zlib payload is truncated")
    except zlib.error as exc:
        raise WireError(f"bad zlib payload ({exc})") from exc
    if inflater.unused_data:
        raise WireError("zlib payload is followed by other bytes")
    return bytes(out)

"""Message heads: the name, type and sequence id before every Thrift message body.

One implementation for the binary protocol (strict and the older non-strict form)
and the compact protocol; THeader carries either inside its frames. Protocol ids are
THeader's sub-protocol ids: :data:`BINARY` (0) and :data:`COMPACT` (2).
"""

from __future__ import annotations

import enum
import struct
from typing import NamedTuple

from thriftbuild.wire.errors import LimitExceededError, ReplyMismatchError, WireError
from thriftbuild.wire.limits import DEFAULT_LIMITS, Limits
from thriftbuild.wire.varint import Incomplete, encode_varint, read_varint

__all__ = [
    "BINARY",
    "COMPACT",
    "MessageHead",
    "MessageType",
    "check_reply",
    "decode_head",
    "encode_head",
    "head_end",
    "head_parts",
    "seqid_bytes",
]

BINARY = 0
COMPACT = 2

_VERSION_1 = 0x80010000
_VERSION_MASK = 0xFFFF0000
_COMPACT_ID = 0x82
_COMPACT_VERSION = 0x01
_I32 = struct.Struct("!i")
_I32x2 = struct.Struct("!ii")
_VERSION_MASK_SIGNED = _VERSION_MASK - 0x100000000
_VERSION_1_SIGNED = _VERSION_1 - 0x100000000


class MessageType(enum.IntEnum):
    """Thrift message types (values as on the wire)."""

    CALL = 1
    REPLY = 2
    EXCEPTION = 3
    ONEWAY = 4


class MessageHead(NamedTuple):
    """A decoded message head."""

    name: str
    type: int
    seqid: int


def encode_head(protocol: int, name: str, mtype: int, seqid: int, *, strict: bool = True) -> bytes:
    """The head of a message, as ``protocol`` writes it.

    Args:
        protocol: :data:`BINARY` or :data:`COMPACT`.
        name: the method name.
        mtype: a :class:`MessageType`.
        seqid: the sequence id (a signed 32-bit integer).
        strict: binary only: write the versioned (strict) head, as every current
            implementation does; ``False`` for the old unversioned form.
    """
    raw = name.encode()
    if protocol == BINARY:
        if strict:
            return _I32.pack(_VERSION_1 - 0x100000000 | mtype) + _string(raw) + _I32.pack(seqid)
        return _string(raw) + bytes((mtype,)) + _I32.pack(seqid)
    if protocol == COMPACT:
        head = bytes((_COMPACT_ID, _COMPACT_VERSION | (mtype << 5)))
        return head + encode_varint(seqid & 0xFFFFFFFF) + encode_varint(len(raw)) + raw
    raise ValueError(f"unknown protocol id {protocol}")


# (protocol, name, type, strict) -> the head's bytes around its sequence id. Filled
# from service methods' names only (calls and replies), so it stays small; bounded
# all the same.
_parts: dict[tuple[int, str, int, bool], tuple[bytes, bytes]] = {}
_MAX_PARTS = 4096


def head_parts(protocol: int, name: str, mtype: int, *, strict: bool = True) -> tuple[bytes, bytes]:
    """The bytes of :func:`encode_head` before and after the sequence id (cached).

    The sequence id between them is 4 big-endian bytes in the binary protocol and an
    unsigned varint in the compact one: ``before + _I32.pack(seqid) + after`` is the
    binary head (``after`` is empty there).
    """
    key = (protocol, name, mtype, strict)
    found = _parts.get(key)
    if found is None:
        head = encode_head(protocol, name, mtype, 0, strict=strict)
        # compact: id, type/version byte, seqid varint (0: one byte), name
        found = (head[:-4], b"") if protocol == BINARY else (head[:2], head[3:])
        if len(_parts) >= _MAX_PARTS:
            _parts.clear()
        _parts[key] = found
    return found


def seqid_bytes(protocol: int, seqid: int) -> bytes:
    """The sequence id as a head carries it, between the :func:`head_parts`."""
    return _I32.pack(seqid) if protocol == BINARY else encode_varint(seqid & 0xFFFFFFFF)


def _string(raw: bytes) -> bytes:
    return _I32.pack(len(raw)) + raw


def _need(buf: bytes | bytearray, end: int) -> None:
    if end > len(buf):
        raise Incomplete(end)


def read_head(
    protocol: int, buf: bytes | bytearray, pos: int = 0, limits: Limits = DEFAULT_LIMITS
) -> tuple[MessageHead, int]:
    """Read a head at ``pos`` of a possibly incomplete buffer.

    Returns:
        The head and the position of the body.

    Raises:
        Incomplete: the buffer ends inside the head.
        WireError: not a message head of ``protocol``, or a name over the limits.
    """
    if protocol == BINARY:
        if len(buf) >= pos + 8:  # fast path: a whole strict head in the buffer
            first, size = _I32x2.unpack_from(buf, pos)
            end = pos + 8 + size
            if (
                first & _VERSION_MASK_SIGNED == _VERSION_1_SIGNED
                and 0 <= size <= limits.max_string
                and len(buf) >= end + 4
                and 1 <= first & 0xFF <= 4  # CALL .. ONEWAY
            ):
                name = bytes(buf[pos + 8 : end]).decode("utf-8", "replace")
                (seqid,) = _I32.unpack_from(buf, end)
                return MessageHead(name, first & 0xFF, seqid), end + 4
        _need(buf, pos + 4)
        (first,) = _I32.unpack_from(buf, pos)
        pos += 4
        if first < 0:
            if (first + 0x100000000) & _VERSION_MASK != _VERSION_1:
                raise WireError(f"bad binary message version 0x{first & 0xFFFFFFFF:08x}")
            mtype = first & 0xFF
            _need(buf, pos + 4)
            (size,) = _I32.unpack_from(buf, pos)
            pos += 4
            name, pos = _name(buf, pos, size, limits)
        else:
            name, pos = _name(buf, pos, first, limits)
            _need(buf, pos + 1)
            mtype = buf[pos]
            pos += 1
        _need(buf, pos + 4)
        (seqid,) = _I32.unpack_from(buf, pos)
        pos += 4
    elif protocol == COMPACT:
        _need(buf, pos + 2)
        if buf[pos] != _COMPACT_ID or buf[pos + 1] & 0x1F != _COMPACT_VERSION:
            raise WireError(f"bad compact message head 0x{bytes(buf[pos : pos + 2]).hex()}")
        mtype = buf[pos + 1] >> 5
        seqid, pos = read_varint(buf, pos + 2, 5)
        if seqid > 0xFFFFFFFF:
            raise WireError("compact sequence id does not fit 32 bits")
        if seqid > 0x7FFFFFFF:
            seqid -= 0x100000000
        size, pos = read_varint(buf, pos, 5)
        name, pos = _name(buf, pos, size, limits)
    else:
        raise ValueError(f"unknown protocol id {protocol}")
    if not MessageType.CALL <= mtype <= MessageType.ONEWAY:
        raise WireError(f"unknown message type {mtype}")
    return MessageHead(name, mtype, seqid), pos


def head_end(
    protocol: int, buf: bytes | bytearray, pos: int = 0, limits: Limits = DEFAULT_LIMITS
) -> int:
    """:func:`read_head`'s body position alone: the same checks, no name decoded."""
    if protocol == BINARY and len(buf) >= pos + 8:
        first, size = _I32x2.unpack_from(buf, pos)
        end: int = pos + 12 + size
        if (
            first & _VERSION_MASK_SIGNED == _VERSION_1_SIGNED
            and 0 <= size <= limits.max_string
            and len(buf) >= end
            and 1 <= first & 0xFF <= 4  # CALL .. ONEWAY
        ):
            return end
    return read_head(protocol, buf, pos, limits)[1]


def _name(buf: bytes | bytearray, pos: int, size: int, limits: Limits) -> tuple[str, int]:
    if size < 0:
        raise WireError(f"negative method name length {size}")
    if size > limits.max_string:
        raise LimitExceededError("max_string", size, limits.max_string, "method name length")
    end = pos + size
    _need(buf, end)
    return bytes(buf[pos:end]).decode("utf-8", "replace"), end


def decode_head(
    protocol: int, data: bytes | bytearray, limits: Limits = DEFAULT_LIMITS
) -> tuple[MessageHead, int]:
    """Read the head of a complete message; a truncated one is a :class:`WireError`.

    Returns:
        The head and the offset of the body in ``data``.
    """
    try:
        return read_head(protocol, data, 0, limits)
    except Incomplete:
        raise WireError(f"message of {len(data)} bytes ends inside its head") from None


def check_reply(head: MessageHead, name: str, seqid: int) -> None:
    """Check that ``head`` answers a call of ``name`` sent with ``seqid``.

    A ``REPLY`` must carry both; an ``EXCEPTION`` must carry the sequence id (servers
    answering an unknown method may name it differently).

    Raises:
        ReplyMismatchError: it answers some other request.
        WireError: it is not a reply at all (a ``CALL`` or ``ONEWAY``).
    """
    if head.type not in (MessageType.REPLY, MessageType.EXCEPTION):
        raise WireError(f"expected a reply, got message type {head.type} ({head.name!r})")
    if head.seqid != seqid or (head.name != name and head.type == MessageType.REPLY):
        raise ReplyMismatchError(name, seqid, head.name, head.seqid)

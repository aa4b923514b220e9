"""Find where a message ends without decoding it (for unframed streams).

An unframed message has no length prefix: its end is where its body's outermost
struct ends. :func:`message_end` walks the encoding -- binary or compact -- checking
every declared length, count and nesting depth against the :class:`Limits` and never
allocating anything of a declared size. It also validates: a message that scans
cleanly has well-formed field headers and lengths.
"""

from __future__ import annotations

import struct

from thriftbuild.wire.errors import LimitExceededError, WireError
from thriftbuild.wire.heads import BINARY, COMPACT, head_end
from thriftbuild.wire.limits import DEFAULT_LIMITS, Limits
from thriftbuild.wire.varint import Incomplete, read_varint

__all__ = ["binary_struct_end", "message_end", "struct_end"]

_I32 = struct.Struct("!i")

# Binary protocol TType -> fixed width in bytes.
_BINARY_FIXED = {2: 1, 3: 1, 4: 8, 6: 2, 8: 4, 10: 8, 16: 16}
_STRING, _STRUCT, _MAP, _SET, _LIST = 11, 12, 13, 14, 15

# Compact protocol type nibble -> fixed width (None: varint).
_C_TRUE, _C_FALSE, _C_BYTE, _C_DOUBLE, _C_BINARY = 1, 2, 3, 7, 8
_C_LIST, _C_SET, _C_MAP, _C_STRUCT, _C_UUID = 9, 10, 11, 12, 13
_C_VARINT = {4: 3, 5: 5, 6: 10}  # i16, i32, i64 -> longest varint


def message_end(
    protocol: int, buf: bytes | bytearray, pos: int = 0, limits: Limits = DEFAULT_LIMITS
) -> int:
    """The offset just past the message (head and body) starting at ``pos``.

    Raises:
        Incomplete: the buffer ends inside the message.
        WireError: the bytes are not a valid message, or exceed ``limits``.
    """
    pos = head_end(protocol, buf, pos, limits)
    if protocol == BINARY:
        return binary_struct_end(buf, pos, limits)
    return struct_end(protocol, buf, pos, limits)


def struct_end(
    protocol: int, buf: bytes | bytearray, pos: int = 0, limits: Limits = DEFAULT_LIMITS
) -> int:
    """The offset just past the struct starting at ``pos`` (see :func:`message_end`)."""
    if protocol == BINARY:
        return binary_struct_end(buf, pos, limits)
    if protocol == COMPACT:
        return _CompactScan(buf, limits).value(_C_STRUCT, pos, 1)
    raise ValueError(f"unknown protocol id {protocol}")


def binary_struct_end(buf: bytes | bytearray, pos: int, limits: Limits) -> int:
    """``_BinaryScan.value(_STRUCT, pos, 1)`` with its common fields inline.

    A message body's fields are mostly fixed-width or strings (every reply's
    ``success``): those are walked here, without building a scanner; the first
    other field hands the rest to :class:`_BinaryScan`, which raises the same errors
    (and asks for the same bytes) as it would have from the start.
    """
    end = len(buf)
    while True:
        if pos >= end:
            raise Incomplete(pos + 1)
        ftype = buf[pos]
        if ftype == 0:
            return pos + 1
        pos += 3  # type byte, i16 field id
        width = _BINARY_FIXED.get(ftype)
        if width is not None:
            pos += width
            if pos > end:
                raise Incomplete(pos)
        elif ftype == _STRING:
            if pos + 4 > end:
                raise Incomplete(pos + 4)
            (size,) = _I32.unpack_from(buf, pos)
            if size < 0:
                raise WireError(f"negative string length {size}")
            if size > limits.max_string:
                raise LimitExceededError("max_string", size, limits.max_string, "string length")
            pos += 4 + size
            if pos > end:
                raise Incomplete(pos)
        else:
            scan = _BinaryScan(buf, limits)
            pos = scan.value(ftype, pos, 2)
            return scan.value(_STRUCT, pos, 1)


class _Scan:
    def __init__(self, buf: bytes | bytearray, limits: Limits) -> None:
        self.buf = buf
        self.limits = limits

    def need(self, end: int) -> None:
        if end > len(self.buf):
            raise Incomplete(end)

    def length(self, size: int, what: str) -> int:
        if size < 0:
            raise WireError(f"negative {what} {size}")
        limit = "max_container" if what == "container size" else "max_string"
        maximum = getattr(self.limits, limit)
        if size > maximum:
            raise LimitExceededError(limit, size, maximum, what)
        return size

    def depth(self, depth: int) -> None:
        if depth > self.limits.max_depth:
            raise LimitExceededError("max_depth", depth, self.limits.max_depth, "nesting depth")


class _BinaryScan(_Scan):
    def i32(self, pos: int) -> int:
        self.need(pos + 4)
        value: int = _I32.unpack_from(self.buf, pos)[0]
        return value

    def value(self, ttype: int, pos: int, depth: int) -> int:
        width = _BINARY_FIXED.get(ttype)
        if width is not None:
            self.need(pos + width)
            return pos + width
        if ttype == _STRING:
            end = pos + 4 + self.length(self.i32(pos), "string length")
            self.need(end)
            return end
        self.depth(depth)
        buf = self.buf
        if ttype == _STRUCT:
            while True:
                self.need(pos + 1)
                ftype = buf[pos]
                if ftype == 0:
                    return pos + 1
                pos = self.value(ftype, pos + 3, depth + 1)  # type byte, i16 field id
        if ttype == _MAP:
            self.need(pos + 6)
            ktype, vtype = buf[pos], buf[pos + 1]
            count = self.length(self.i32(pos + 2), "container size")
            return self.items(pos + 6, count, (ktype, vtype), depth)
        if ttype in (_SET, _LIST):
            self.need(pos + 5)
            etype = buf[pos]
            count = self.length(self.i32(pos + 1), "container size")
            return self.items(pos + 5, count, (etype,), depth)
        raise WireError(f"unknown binary field type {ttype}")

    def items(self, pos: int, count: int, types: tuple[int, ...], depth: int) -> int:
        widths = [_BINARY_FIXED.get(t) for t in types]
        if count and all(w is not None for w in widths):
            end = pos + count * sum(w for w in widths if w is not None)
            self.need(end)
            return end
        for _ in range(count):
            for ttype in types:
                pos = self.value(ttype, pos, depth + 1)
        return pos


class _CompactScan(_Scan):
    def value(self, ctype: int, pos: int, depth: int) -> int:
        buf = self.buf
        if ctype in (_C_TRUE, _C_FALSE, _C_BYTE):
            self.need(pos + 1)
            return pos + 1
        longest = _C_VARINT.get(ctype)
        if longest is not None:
            return read_varint(buf, pos, longest)[1]
        if ctype == _C_DOUBLE:
            self.need(pos + 8)
            return pos + 8
        if ctype == _C_UUID:
            self.need(pos + 16)
            return pos + 16
        if ctype == _C_BINARY:
            size, pos = read_varint(buf, pos, 5)
            end = pos + self.length(size, "string length")
            self.need(end)
            return end
        self.depth(depth)
        if ctype == _C_STRUCT:
            while True:
                self.need(pos + 1)
                head = buf[pos]
                pos += 1
                if head == 0:
                    return pos
                ftype = head & 0x0F
                if head >> 4 == 0:  # no delta: the field id follows as a zigzag varint
                    pos = read_varint(buf, pos, 3)[1]
                if ftype in (_C_TRUE, _C_FALSE):
                    continue  # a bool field's value is its type nibble
                pos = self.value(ftype, pos, depth + 1)
        if ctype in (_C_LIST, _C_SET):
            self.need(pos + 1)
            head = buf[pos]
            pos += 1
            count, etype = head >> 4, head & 0x0F
            if count == 15:
                count, pos = read_varint(buf, pos, 5)
            self.length(count, "container size")
            return self.items(pos, count, (etype,), depth)
        if ctype == _C_MAP:
            count, pos = read_varint(buf, pos, 5)
            self.length(count, "container size")
            if count == 0:
                return pos
            self.need(pos + 1)
            kinds = buf[pos]
            return self.items(pos + 1, count, (kinds >> 4, kinds & 0x0F), depth)
        raise WireError(f"unknown compact field type {ctype}")

    def items(self, pos: int, count: int, types: tuple[int, ...], depth: int) -> int:
        # Bools in containers take one byte whichever nibble names their type.
        types = tuple(_C_TRUE if t == _C_FALSE else t for t in types)
        if count and all(t in (_C_TRUE, _C_BYTE) for t in types):
            end = pos + count * len(types)
            self.need(end)
            return end
        for _ in range(count):
            for ttype in types:
                pos = self.value(ttype, pos, depth + 1)
        return pos

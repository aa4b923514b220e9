"""Framings: encode a message, and incremental decoders that take bytes as they come.

Every decoder has the same shape (:class:`Decoder`): ``feed(data)`` returns the
messages that are now complete, in order, as :class:`~thriftbuild.wire.Frame`
values; between messages, ``need`` says how many more bytes are needed at least
before the next one can complete. A decoder holds at most one message's bytes
plus what was fed after it, and raises :class:`~thriftbuild.wire.WireError` (and
then stays failed) on bytes that cannot be valid or that exceed the limits.
"""

from __future__ import annotations

import enum
import struct
from typing import Protocol

from thriftbuild.wire.errors import LimitExceededError, WireError
from thriftbuild.wire.heads import BINARY, head_end
from thriftbuild.wire.limits import DEFAULT_LIMITS, Limits
from thriftbuild.wire.scan import binary_struct_end, message_end
from thriftbuild.wire.theader import Frame, parse_header_frame, plain_frame
from thriftbuild.wire.varint import Incomplete

__all__ = [
    "Decoder",
    "FramedDecoder",
    "Framing",
    "HeaderDecoder",
    "UnframedDecoder",
    "encode_framed",
    "framed_payload",
    "make_decoder",
]

_I32 = struct.Struct("!i")


class Framing(enum.IntEnum):
    """How messages are delimited on a connection."""

    UNFRAMED = 0  # "buffered": messages back to back, no length prefix
    FRAMED = 1  # a 4-byte big-endian length before each message
    HEADER = 2  # THeader frames


def encode_framed(payload: bytes, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """``payload`` with its 4-byte length prefix.

    Raises:
        LimitExceededError: the payload is over ``limits.max_frame``.
    """
    if len(payload) > limits.max_frame:
        raise LimitExceededError("max_frame", len(payload), limits.max_frame, "frame size")
    return _I32.pack(len(payload)) + payload


def framed_payload(data: bytes, limits: Limits = DEFAULT_LIMITS) -> bytes | None:
    """The payload of ``data`` when it is exactly one whole frame, else None.

    The hot path of a framed reply, which usually arrives whole in one read: what
    a :class:`FramedDecoder` holding nothing would return for ``data`` when that is
    one message, without building it. None means anything else -- part of a frame,
    more than one, a size that is not positive or over ``limits.max_frame`` -- and
    the caller feeds ``data`` to its decoder, which decides (and fails) as always.
    """
    if len(data) > 4:
        (size,) = _I32.unpack_from(data)
        if size == len(data) - 4 and size <= limits.max_frame:
            return data[4:]
    return None


class Decoder(Protocol):
    """An incremental decoder of one framing (see the module docstring)."""

    @property
    def need(self) -> int:
        """Bytes still needed, at least, before the next message can complete (>= 1)."""

    #: Bytes fed but not yet returned as part of a message.
    buffered: int

    def feed(self, data: bytes) -> list[Frame]:
        """Add ``data``; return the messages it completed."""


class _Base:
    """The shared buffering: chunks are joined only once a message can be complete."""

    _initial_need = 1

    def __init__(self, protocol: int, limits: Limits = DEFAULT_LIMITS) -> None:
        self.protocol = protocol
        self.limits = limits
        self._parts: list[bytes] = []
        #: Bytes fed but not yet returned as part of a message.
        self.buffered = 0
        self._needed = self._initial_need  # bytes needed before parsing again
        self._failed: WireError | None = None

    @property
    def need(self) -> int:
        return max(1, self._needed - self.buffered)

    def feed(self, data: bytes) -> list[Frame]:
        if self._failed is not None:
            raise WireError(f"decoder already failed: {self._failed}")
        if not data:
            return []
        self._parts.append(bytes(data))
        self.buffered += len(data)
        if self.buffered < self._needed:
            return []
        parts = self._parts
        buf = parts[0] if len(parts) == 1 else b"".join(parts)
        pos = 0
        out: list[Frame] = []
        try:
            while True:
                found = self._next(buf, pos)
                if found is None:
                    break
                frame, pos = found
                out.append(frame)
        except WireError as exc:
            self._failed = exc
            self._parts, self.buffered = [], 0
            raise
        rest = buf[pos:] if pos else buf
        self._parts = [rest] if rest else []
        self.buffered = len(rest)
        return out

    def _next(self, buf: bytes, pos: int) -> tuple[Frame, int] | None:
        """The message at ``pos`` and its end, or None after setting ``_needed``."""
        raise NotImplementedError


class FramedDecoder(_Base):
    """Decodes framed messages (4-byte length, then the message)."""

    _initial_need = 4

    def _frame(self, data: bytes) -> Frame:
        return plain_frame(data, self.protocol)

    def feed(self, data: bytes) -> list[Frame]:
        # The hot path of every framed or THeader reply, kept to few calls: most
        # feeds bring exactly one whole frame to an empty buffer.
        if self._failed is not None:
            raise WireError(f"decoder already failed: {self._failed}")
        if self.buffered:
            self._parts.append(bytes(data))
            self.buffered += len(data)
            if self.buffered < self._needed:
                return []
            buf = b"".join(self._parts)
        else:
            buf = bytes(data)
        out: list[Frame] = []
        pos = 0
        end = len(buf)
        limit = self.limits.max_frame
        try:
            while end - pos >= 4:
                (size,) = _I32.unpack_from(buf, pos)
                if not 0 < size <= limit:
                    if size <= 0:
                        raise WireError(f"bad frame size {size}")
                    raise LimitExceededError("max_frame", size, limit, "frame size")
                if end - pos < 4 + size:
                    self._needed = 4 + size
                    break
                out.append(self._frame(buf[pos + 4 : pos + 4 + size]))
                pos += 4 + size
            else:
                self._needed = 4
        except WireError as exc:
            self._failed = exc
            self._parts, self.buffered = [], 0
            raise
        if pos < end:
            rest = buf[pos:] if pos else buf
            self._parts, self.buffered = [rest], len(rest)
        elif self.buffered:
            self._parts, self.buffered = [], 0
        return out


class HeaderDecoder(FramedDecoder):
    """Decodes THeader frames (info headers and zlib undone, see ``theader``)."""

    def _frame(self, data: bytes) -> Frame:
        return parse_header_frame(data, self.limits)


class UnframedDecoder(_Base):
    """Decodes unframed messages by scanning each to its end (binary or compact).

    An unframed message is bounded by ``limits.max_frame`` like a frame.
    """

    def feed(self, data: bytes) -> list[Frame]:
        # The hot path of every unframed reply: one whole message fed to an empty
        # buffer is scanned once and returned as it came. Anything else -- part of
        # a message, more than one, bad bytes -- takes the general path, which
        # decides (and fails) exactly as if this one did not exist.
        if not self.buffered and self._failed is None:
            limits = self.limits
            try:
                if self.protocol == BINARY:  # message_end, one call fewer
                    end = binary_struct_end(data, head_end(BINARY, data, 0, limits), limits)
                else:
                    end = message_end(self.protocol, data, 0, limits)
            except (Incomplete, WireError):
                pass
            else:
                if end == len(data) and end <= limits.max_frame:
                    return [plain_frame(bytes(data), self.protocol)]
        return super().feed(data)

    def _next(self, buf: bytes, pos: int) -> tuple[Frame, int] | None:
        if pos == len(buf):
            self._needed = 1
            return None
        try:
            end = message_end(self.protocol, buf, pos, self.limits)
        except Incomplete as more:
            needed = more.needed - pos
            if needed > self.limits.max_frame:
                raise LimitExceededError(
                    "max_frame", needed, self.limits.max_frame, "unframed message size"
                ) from None
            self._needed = needed
            return None
        if end - pos > self.limits.max_frame:
            raise LimitExceededError(
                "max_frame", end - pos, self.limits.max_frame, "unframed message size"
            )
        return plain_frame(buf[pos:end], self.protocol), end


def make_decoder(framing: Framing, protocol: int, limits: Limits = DEFAULT_LIMITS) -> Decoder:
    """A decoder for ``framing``; ``protocol`` is the message protocol (any for THeader)."""
    if framing == Framing.UNFRAMED:
        return UnframedDecoder(protocol, limits)
    if framing == Framing.FRAMED:
        return FramedDecoder(protocol, limits)
    return HeaderDecoder(protocol, limits)

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
from thriftbuild.wire.limits import DEFAULT_LIMITS, Limits
from thriftbuild.wire.scan import message_end
from thriftbuild.wire.theader import Frame, parse_header_frame
from thriftbuild.wire.varint import Incomplete

__all__ = [
    "Decoder",
    "FramedDecoder",
    "Framing",
    "HeaderDecoder",
    "UnframedDecoder",
    "encode_framed",
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


class Decoder(Protocol):
    """An incremental decoder of one framing (see the module docstring)."""

    @property
    def need(self) -> int:
        """Bytes still needed, at least, before the next message can complete (>= 1)."""

    @property
    def buffered(self) -> int:
        """Bytes fed but not yet returned as part of a message."""

    def feed(self, data: bytes) -> list[Frame]:
        """Add ``data``; return the messages it completed."""


class _Base:
    def __init__(self, protocol: int, limits: Limits = DEFAULT_LIMITS) -> None:
        self.protocol = protocol
        self.limits = limits
        self._buf = bytearray()
        self._pos = 0  # start of the first unreturned byte in _buf
        self._needed = 1  # total bytes (from _pos) needed before parsing again
        self._failed: WireError | None = None

    @property
    def need(self) -> int:
        return max(1, self._needed - (len(self._buf) - self._pos))

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> list[Frame]:
        if self._failed is not None:
            raise WireError(f"decoder already failed: {self._failed}")
        self._buf += data
        out: list[Frame] = []
        try:
            while len(self._buf) - self._pos >= self._needed:
                frame = self._next()
                if frame is None:
                    break
                out.append(frame)
                self._needed = 1
        except WireError as exc:
            self._failed = exc
            raise
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        return out

    def _next(self) -> Frame | None:
        raise NotImplementedError


class FramedDecoder(_Base):
    """Decodes framed messages (4-byte length, then the message)."""

    def __init__(self, protocol: int, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__(protocol, limits)
        self._needed = 4

    def _frame_bytes(self) -> bytes | None:
        buf, pos = self._buf, self._pos
        if len(buf) - pos < 4:
            self._needed = 4
            return None
        (size,) = _I32.unpack_from(buf, pos)
        if size <= 0:
            raise WireError(f"bad frame size {size}")
        if size > self.limits.max_frame:
            raise LimitExceededError("max_frame", size, self.limits.max_frame, "frame size")
        end = pos + 4 + size
        if len(buf) < end:
            self._needed = 4 + size
            return None
        frame = bytes(buf[pos + 4 : end])
        self._pos = end
        self._needed = 4
        return frame

    def _next(self) -> Frame | None:
        frame = self._frame_bytes()
        return None if frame is None else Frame(frame, self.protocol)


class HeaderDecoder(FramedDecoder):
    """Decodes THeader frames (info headers and zlib undone, see ``theader``)."""

    def _next(self) -> Frame | None:
        frame = self._frame_bytes()
        return None if frame is None else parse_header_frame(frame, self.limits)


class UnframedDecoder(_Base):
    """Decodes unframed messages by scanning each to its end (binary or compact).

    An unframed message is bounded by ``limits.max_frame`` like a frame.
    """

    def _next(self) -> Frame | None:
        buf, pos = self._buf, self._pos
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
        self._pos = end
        return Frame(bytes(buf[pos:end]), self.protocol)


def make_decoder(framing: Framing, protocol: int, limits: Limits = DEFAULT_LIMITS) -> Decoder:
    """A decoder for ``framing``; ``protocol`` is the message protocol (any for THeader)."""
    if framing == Framing.UNFRAMED:
        return UnframedDecoder(protocol, limits)
    if framing == Framing.FRAMED:
        return FramedDecoder(protocol, limits)
    return HeaderDecoder(protocol, limits)

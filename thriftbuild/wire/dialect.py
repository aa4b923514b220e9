"""Dialects: which framing and protocol a connection speaks, detected from its bytes.

A server accepting every client type (as Apache's THeader server and baseplate's
do) looks at the first bytes of a connection: :func:`detect` returns the
:class:`Dialect`, ``None`` while it needs more bytes, or raises
:class:`~thriftbuild.wire.WireError` for bytes no Thrift client sends. The dialect
then gives the connection's decoder and frames its replies the way the client
speaks (:meth:`Dialect.frame`). :class:`AutoDecoder` does both in one object.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

from thriftbuild.wire.errors import WireError
from thriftbuild.wire.framing import Decoder, Framing, encode_framed, make_decoder
from thriftbuild.wire.heads import BINARY, COMPACT, MessageType
from thriftbuild.wire.limits import DEFAULT_LIMITS, Limits
from thriftbuild.wire.theader import HEADER_MAGIC, Frame, encode_header_frame
from thriftbuild.wire.varint import Incomplete, read_varint

__all__ = ["AutoDecoder", "Dialect", "detect"]

_I32 = struct.Struct("!i")
_CALL_TYPES = (MessageType.CALL, MessageType.ONEWAY)


@dataclass(frozen=True)
class Dialect:
    """A framing and a protocol.

    Attributes:
        framing: :class:`~thriftbuild.wire.Framing`.
        protocol: ``BINARY`` or ``COMPACT`` (for THeader: the first frame's; each
            frame names its own).
        strict: binary only: whether message heads carry the version word.
    """

    framing: Framing
    protocol: int
    strict: bool = True

    def decoder(self, limits: Limits = DEFAULT_LIMITS) -> Decoder:
        """A fresh incremental decoder for this dialect."""
        return make_decoder(self.framing, self.protocol, limits)

    def frame(
        self,
        payload: bytes,
        *,
        protocol: int | None = None,
        seqid: int = 0,
        headers: Mapping[bytes, bytes] | None = None,
        zlib: bool = False,
        limits: Limits = DEFAULT_LIMITS,
    ) -> bytes:
        """``payload`` framed as this dialect sends it (headers and zlib: THeader only)."""
        if self.framing == Framing.UNFRAMED:
            return payload
        if self.framing == Framing.FRAMED:
            return encode_framed(payload, limits)
        return encode_header_frame(
            payload,
            self.protocol if protocol is None else protocol,
            seqid=seqid,
            headers=headers,
            zlib=zlib,
            limits=limits,
        )


def _looks_like_name(raw: bytes | bytearray) -> bool:
    return bool(raw) and all(0x21 <= b < 0x7F for b in raw)


def _nonstrict_head(buf: bytes | bytearray, pos: int, limits: Limits) -> bool | None:
    """Whether a non-strict binary call head starts at ``pos`` (None: need more)."""
    if len(buf) < pos + 4:
        return None
    (size,) = _I32.unpack_from(buf, pos)
    if not 0 < size <= min(limits.max_string, 4096):
        return False
    if len(buf) < pos + 4 + size + 1:
        return None
    return _looks_like_name(buf[pos + 4 : pos + 4 + size]) and buf[pos + 4 + size] in _CALL_TYPES


def detect(data: bytes | bytearray, limits: Limits = DEFAULT_LIMITS) -> Dialect | None:
    """The dialect of a connection whose first bytes are ``data``.

    Recognises binary (strict and non-strict) and compact, each unframed or framed,
    and THeader (with either sub-protocol).

    Returns:
        The dialect, or ``None`` when more bytes are needed to decide.

    Raises:
        WireError: no Thrift client starts a connection with these bytes.
    """
    if not data:
        return None
    first = data[0]
    if first == 0x80:  # strict binary: version word 0x8001....
        if len(data) < 2:
            return None
        if data[1] != 0x01:
            raise WireError(f"bad binary version 0x{bytes(data[:2]).hex()}")
        return Dialect(Framing.UNFRAMED, BINARY)
    if first == 0x82:  # compact protocol id
        if len(data) < 2:
            return None
        if data[1] & 0x1F != 0x01:
            raise WireError(f"bad compact version 0x{data[1]:02x}")
        return Dialect(Framing.UNFRAMED, COMPACT)
    # Otherwise the first word is a frame size or a non-strict binary name length.
    if len(data) < 6:
        return None
    (size,) = _I32.unpack_from(data)
    if size <= 0:
        raise WireError(f"not a Thrift connection (first word {size})")
    if data[4] == 0x80 and data[5] == 0x01:
        return Dialect(Framing.FRAMED, BINARY)
    if data[4] == 0x82 and data[5] & 0x1F == 0x01:
        return Dialect(Framing.FRAMED, COMPACT)
    if (data[4] << 8 | data[5]) == HEADER_MAGIC:
        if len(data) < 14:
            return None
        try:
            protocol, _ = read_varint(data, 14, 5)
        except Incomplete:
            return None
        if protocol not in (BINARY, COMPACT):
            raise WireError(f"unknown THeader sub-protocol {protocol}")
        return Dialect(Framing.HEADER, protocol)
    unframed = _nonstrict_head(data, 0, limits)
    if unframed:
        return Dialect(Framing.UNFRAMED, BINARY, strict=False)
    framed = _nonstrict_head(data, 4, limits)
    if framed:
        return Dialect(Framing.FRAMED, BINARY, strict=False)
    if unframed is None or framed is None:
        return None
    raise WireError(f"not a Thrift connection (starts 0x{bytes(data[:8]).hex()})")


class AutoDecoder:
    """A server connection's decoder: detects the dialect, then decodes messages.

    Attributes:
        dialect: the detected dialect, or ``None`` until enough bytes arrived.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.dialect: Dialect | None = None
        self._decoder: Decoder | None = None
        self._head = bytearray()

    @property
    def need(self) -> int:
        """Bytes still needed, at least, before the next message can complete."""
        return 1 if self._decoder is None else self._decoder.need

    @property
    def buffered(self) -> int:
        """Bytes fed but not yet returned as part of a message."""
        return len(self._head) if self._decoder is None else self._decoder.buffered

    def feed(self, data: bytes) -> list[Frame]:
        """Add ``data``; return the messages it completed (see :class:`Decoder`)."""
        if self._decoder is not None:
            return self._decoder.feed(data)
        self._head += data
        dialect = detect(self._head, self.limits)
        if dialect is None:
            if len(self._head) > 4 + 4096 + 16:
                raise WireError("no Thrift dialect recognised in the first bytes")
            return []
        self.dialect = dialect
        self._decoder = dialect.decoder(self.limits)
        head, self._head = bytes(self._head), bytearray()
        return self._decoder.feed(head)

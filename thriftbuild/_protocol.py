"""The protocols the pool speaks over a :class:`~thriftbuild._transport.Channel`.

They are the C-accelerated binary and compact protocols with two additions: a call
can be made in one step through the generated ``<method>_args``/``<method>_result``
classes (:meth:`_DirectCalls.invoke`), and every reply is checked against its
request (sequence id and method name), which Apache's generated clients never do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from thrift.protocol.TBinaryProtocol import (
    TBinaryProtocolAccelerated,
    TBinaryProtocolAcceleratedFactory,
    TBinaryProtocolFactory,
)
from thrift.protocol.TCompactProtocol import (
    TCompactProtocolAccelerated,
    TCompactProtocolAcceleratedFactory,
    TCompactProtocolFactory,
)
from thrift.protocol.THeaderProtocol import THeaderProtocolFactory
from thrift.protocol.TProtocol import TProtocolException
from thrift.Thrift import TApplicationException, TMessageType
from thrift.transport.TTransport import TFramedTransportFactory

from thriftbuild._transport import (
    _BINARY_VERSION_1,
    _I32,
    _MAX_FRAME,
    FRAMED,
    HEADER,
    HEADER_BINARY,
    HEADER_COMPACT,
    UNFRAMED,
    Channel,
    _U32x2,
    _varint,
)
from thriftbuild.errors import ResponseMismatchError

# Protocol id and version|type byte of a compact message header, by message type.
_COMPACT_TYPES = {ttype: bytes((0x82, 0x01 | (ttype << 5))) for ttype in range(1, 5)}

__all__ = [
    "CheckedProtocol",
    "FastBinaryProtocol",
    "FastCompactProtocol",
    "HeaderBinaryProtocol",
    "HeaderCompactProtocol",
    "MethodInfo",
    "framing_for",
    "make_protocol",
]


def _check_reply(expect: tuple[str, int] | None, name: str, ttype: int, seqid: int) -> None:
    if expect is None:
        raise ResponseMismatchError(
            f"unexpected message {name!r} (seqid {seqid}) with no call in progress"
        )
    want_name, want_seqid = expect
    if seqid != want_seqid or (name != want_name and not (ttype == TMessageType.EXCEPTION)):
        raise ResponseMismatchError(
            f"response {name!r} seqid {seqid} does not answer {want_name!r} seqid {want_seqid}",
            method=want_name,
        )


class MethodInfo:
    """What a direct call needs to know about one service method.

    Built from the generated module's ``<method>_args`` / ``<method>_result``
    classes; :meth:`FastBinaryProtocol.invoke` uses it to do what the generated
    ``Client.<method>()`` does, in one step.
    """

    __slots__ = (
        "args_cls",
        "args_spec",
        "binary_heads",
        "compact_name",
        "exceptions",
        "name",
        "oneway",
        "result_cls",
        "result_spec",
        "returns",
    )

    def __init__(self, name: str, args_cls: Any, result_cls: Any | None) -> None:
        self.name = name
        raw = name.encode()
        self.binary_heads: dict[int, bytes] = {}  # message type -> header up to the seqid
        self.compact_name = _varint(len(raw)) + raw
        self.args_cls = args_cls
        self.args_spec = [args_cls, args_cls.thrift_spec]
        self.oneway = result_cls is None
        self.result_cls = result_cls
        self.result_spec = None if result_cls is None else [result_cls, result_cls.thrift_spec]
        spec: tuple[Any, ...] = () if result_cls is None else tuple(result_cls.thrift_spec)
        self.returns = bool(spec) and spec[0] is not None
        self.exceptions = tuple(field[2] for field in spec[1:] if field is not None)

    def unpack(self, result: Any) -> Any:
        """The call's value from a decoded ``<method>_result``, as generated code does."""
        if self.returns and result.success is not None:
            return result.success
        for name in self.exceptions:
            exc = getattr(result, name)
            if exc is not None:
                raise exc
        if self.returns:
            raise TApplicationException(
                TApplicationException.MISSING_RESULT, f"{self.name} failed: unknown result"
            )
        return None


class _DirectCalls:
    """``invoke``: one call without the generated client's layers (fast protocols).

    The reply's message header is predictable, byte for byte: the method's name, the
    REPLY type and the sequence id just sent. So it is read in one piece and compared
    with the expected bytes, which is both the fastest parse and the seqid/name check.
    """

    channel: Channel
    expect: tuple[str, int] | None
    _fast_encode: Any
    _fast_decode: Any

    write_head: Callable[[str, int, int], None]
    seq_bytes: Callable[[int], bytes]  # the sequence id as the message header holds it
    message_head: Callable[[MethodInfo, int, bytes], bytes]

    def invoke(
        self, info: MethodInfo, args: tuple[Any, ...], kwargs: dict[str, Any], seqid: int
    ) -> Any:
        """Call ``info``'s method with ``args`` under ``seqid`` and return its value."""
        body = self._fast_encode(info.args_cls(*args, **kwargs), info.args_spec)
        channel = self.channel
        channel.seq_id = seqid
        self.expect = None  # the reply is checked here, not by readMessageBegin
        seq = self.seq_bytes(seqid)
        if info.oneway:
            channel.send_message(self.message_head(info, TMessageType.ONEWAY, seq) + body)
            return None
        channel.send_message(self.message_head(info, TMessageType.CALL, seq) + body)
        want = self.message_head(info, TMessageType.REPLY, seq)
        got = channel.readAll(len(want))
        if got != want:
            if got == self.message_head(info, TMessageType.EXCEPTION, seq):
                exc = TApplicationException()
                exc.read(self)
                raise exc
            raise ResponseMismatchError(
                f"reply header {got.hex()} does not answer {info.name!r} seqid {seqid} "
                f"(expected {want.hex()})",
                method=info.name,
            )
        result = info.result_cls()  # type: ignore[misc]  # not None: not oneway
        self._fast_decode(result, self, info.result_spec)
        return info.unpack(result)


class FastBinaryProtocol(_DirectCalls, TBinaryProtocolAccelerated):  # type: ignore[misc]
    """Accelerated binary protocol that checks each reply against its request."""

    supports_headers = False

    def __init__(self, channel: Channel) -> None:
        super().__init__(channel, strictRead=True, strictWrite=True)
        self.channel = channel
        self.expect: tuple[str, int] | None = None
        self.direct = self._fast_encode is not None and self._fast_decode is not None

    def write_head(self, name: str, ttype: int, seqid: int) -> None:
        raw = name.encode()
        head = _U32x2.pack(_BINARY_VERSION_1 | ttype, len(raw))
        self.channel.write(head + raw + _I32.pack(seqid))

    seq_bytes = staticmethod(_I32.pack)

    @staticmethod
    def message_head(info: MethodInfo, ttype: int, seq: bytes) -> bytes:
        prefix = info.binary_heads.get(ttype)
        if prefix is None:
            raw = info.name.encode()
            prefix = _U32x2.pack(_BINARY_VERSION_1 | ttype, len(raw)) + raw
            info.binary_heads[ttype] = prefix
        return prefix + seq

    def writeMessageBegin(self, name: str, ttype: int, seqid: int) -> None:
        self.channel.seq_id = seqid
        self.write_head(name, ttype, seqid)
        self.expect = (name, seqid) if ttype == TMessageType.CALL else None

    def readMessageBegin(self) -> tuple[str, int, int]:
        channel = self.channel
        version, size = _U32x2.unpack(channel.readAll(8))
        if version & 0xFFFF0000 != _BINARY_VERSION_1 or size > _MAX_FRAME:
            raise TProtocolException(TProtocolException.BAD_VERSION, "bad binary message header")
        rest = channel.readAll(size + 4)
        name = rest[:size].decode("utf-8", "replace")
        ttype = version & 0xFF
        (seqid,) = _I32.unpack_from(rest, size)
        expect, self.expect = self.expect, None
        _check_reply(expect, name, ttype, seqid)
        return name, ttype, seqid


class FastCompactProtocol(_DirectCalls, TCompactProtocolAccelerated):  # type: ignore[misc]
    """Accelerated compact protocol that checks each reply against its request."""

    supports_headers = False

    def write_head(self, name: str, ttype: int, seqid: int) -> None:
        self.channel.write(self._head(name, ttype, seqid))

    @staticmethod
    def _head(name: str, ttype: int, seqid: int) -> bytes:
        raw = name.encode()
        head = bytes((0x82, 0x01 | (ttype << 5))) + _varint(seqid & 0xFFFFFFFF)
        return head + _varint(len(raw)) + raw

    @staticmethod
    def seq_bytes(seqid: int) -> bytes:
        return _varint(seqid & 0xFFFFFFFF)

    @staticmethod
    def message_head(info: MethodInfo, ttype: int, seq: bytes) -> bytes:
        return _COMPACT_TYPES[ttype] + seq + info.compact_name

    def __init__(self, channel: Channel) -> None:
        super().__init__(channel)
        self.channel = channel
        self.expect: tuple[str, int] | None = None
        self.direct = self._fast_encode is not None and self._fast_decode is not None

    def writeMessageBegin(self, name: str, ttype: int, seqid: int) -> None:
        self.channel.seq_id = seqid
        super().writeMessageBegin(name, ttype, seqid)
        self.expect = (name, seqid) if ttype == TMessageType.CALL else None

    def readMessageBegin(self) -> tuple[str, int, int]:
        read = self.channel.readAll
        proto_id, ver_type = read(2)
        if proto_id != 0x82 or ver_type & 0x1F != 0x01:
            raise TProtocolException(TProtocolException.BAD_VERSION, "bad compact message header")
        seqid = _read_stream_varint(read)
        if seqid > 0x7FFFFFFF:
            seqid -= 0x100000000
        size = _read_stream_varint(read)
        if size > _MAX_FRAME:
            raise TProtocolException(TProtocolException.SIZE_LIMIT, "message name too long")
        name = read(size).decode("utf-8", "replace")
        ttype = ver_type >> 5
        expect, self.expect = self.expect, None
        _check_reply(expect, name, ttype, seqid)
        return name, ttype, seqid


def _read_stream_varint(read: Callable[[int], bytes]) -> int:
    result = shift = 0
    while True:
        (byte,) = read(1)
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result
        shift += 7
        if shift > 35:
            raise TProtocolException(TProtocolException.INVALID_DATA, "varint too long")


class HeaderBinaryProtocol(FastBinaryProtocol):
    """Binary protocol in THeader frames; supports request headers."""

    supports_headers = True

    def set_header(self, key: bytes, value: bytes) -> None:
        self.channel.set_header(key, value)

    def get_headers(self) -> dict[bytes, bytes]:
        return self.channel.read_headers


class HeaderCompactProtocol(FastCompactProtocol):
    """Compact protocol in THeader frames; supports request headers."""

    supports_headers = True

    def set_header(self, key: bytes, value: bytes) -> None:
        self.channel.set_header(key, value)

    def get_headers(self) -> dict[bytes, bytes]:
        return self.channel.read_headers


class CheckedProtocol:
    """Wraps a protocol we have no fast twin for, adding the reply check."""

    supports_headers = False
    direct = False  # no fast codec to call directly: use the generated client

    def __init__(self, inner: Any, channel: Channel) -> None:
        self._inner = inner
        self.channel = channel
        self.trans = inner.trans
        self._fast_encode = getattr(inner, "_fast_encode", None)
        self._fast_decode = getattr(inner, "_fast_decode", None)
        self.expect: tuple[str, int] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def writeMessageBegin(self, name: str, ttype: int, seqid: int) -> None:
        self._inner.writeMessageBegin(name, ttype, seqid)
        self.expect = (name, seqid) if ttype == TMessageType.CALL else None

    def readMessageBegin(self) -> tuple[str, int, int]:
        name, ttype, seqid = self._inner.readMessageBegin()
        expect, self.expect = self.expect, None
        _check_reply(expect, name, ttype, seqid)
        return name, ttype, seqid


def framing_for(protocol_factory: Any, transport_factory: Any) -> int:
    """The framing implied by a protocol factory and a transport factory (or name)."""
    if isinstance(protocol_factory, THeaderProtocolFactory):
        return HEADER
    if transport_factory in (None, "buffered", "unframed") or (
        type(transport_factory).__name__ == "TBufferedTransportFactory"
    ):
        return UNFRAMED
    if transport_factory == "framed" or isinstance(transport_factory, TFramedTransportFactory):
        return FRAMED
    raise ValueError(
        f"unsupported transport {transport_factory!r}; use 'buffered' or 'framed' "
        "(or thrift's TBufferedTransportFactory / TFramedTransportFactory)"
    )


def make_protocol(channel: Channel, protocol_factory: Any) -> Any:
    """A reply-checking protocol over ``channel`` equivalent to ``protocol_factory``'s."""
    if isinstance(protocol_factory, THeaderProtocolFactory):
        if protocol_factory.default_protocol == HEADER_COMPACT:
            channel.set_protocol_id(HEADER_COMPACT)
            return HeaderCompactProtocol(channel)
        channel.set_protocol_id(HEADER_BINARY)
        return HeaderBinaryProtocol(channel)
    if isinstance(protocol_factory, (TBinaryProtocolFactory, TBinaryProtocolAcceleratedFactory)):
        return FastBinaryProtocol(channel)
    if isinstance(protocol_factory, (TCompactProtocolFactory, TCompactProtocolAcceleratedFactory)):
        return FastCompactProtocol(channel)
    return CheckedProtocol(protocol_factory.getProtocol(channel), channel)

"""The protocols the pool speaks over a :class:`~thriftbuild.client.channel.Channel`.

They are the C-accelerated binary and compact protocols with two additions: a call
can be made in one step through the generated ``<method>_args``/``<method>_result``
classes (:meth:`_DirectCalls.invoke`), and every reply is checked against its
request (sequence id and method name), which Apache's generated clients never do.
Message heads are the wire core's (:mod:`thriftbuild.wire`); so is the check.
"""

from __future__ import annotations

from typing import Any

from thrift.protocol.TBinaryProtocol import (
    TBinaryProtocolAccelerated,
    TBinaryProtocolAcceleratedFactory,
    TBinaryProtocolFactory,
)
from thrift.protocol.TCompactProtocol import VALUE_WRITE as _COMPACT_VALUE_WRITE
from thrift.protocol.TCompactProtocol import (
    TCompactProtocolAccelerated,
    TCompactProtocolAcceleratedFactory,
    TCompactProtocolFactory,
)
from thrift.protocol.THeaderProtocol import THeaderProtocolFactory
from thrift.Thrift import TApplicationException, TMessageType
from thrift.transport.TTransport import TFramedTransportFactory, TTransportException

from thriftbuild import wire
from thriftbuild.client.channel import Channel
from thriftbuild.errors import ResponseMismatchError

__all__ = [
    "CheckedProtocol",
    "FastBinaryProtocol",
    "FastCompactProtocol",
    "HeaderBinaryProtocol",
    "HeaderCompactProtocol",
    "framing_for",
    "make_protocol",
]


def _mismatch(channel: Channel, exc: wire.WireError) -> ResponseMismatchError:
    channel.close()  # whatever is still in flight on it belongs to another request
    return ResponseMismatchError(
        f"{exc} (from {channel.endpoint}; connection closed)",
        endpoint=channel.endpoint,
        method=channel.method,
    )


class _DirectCalls:
    """``invoke``: one call without the generated client's layers (fast protocols).

    The reply's message head is predictable, byte for byte: the method's name, the
    REPLY type and the sequence id just sent. So it is read in one piece and compared
    with the expected bytes, which is both the fastest parse and the seqid/name check.
    """

    channel: Channel
    expect: tuple[str, int, int] | None
    protocol_id: int
    _fast_encode: Any
    _fast_decode: Any
    _raw_decode: Any
    _plans: dict[type, _Plan]

    def invoke(self, method: wire.Method, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Call ``method`` with ``args`` under a fresh sequence id and return its value."""
        args_cls = method.args_cls
        plan = self._plans.get(args_cls) or _plan(method, self.protocol_id, self._plans)
        args_spec, result_spec, strings, call_head, reply_head, tail, whole = plan
        obj = args_cls(*args, **kwargs)
        channel = self.channel
        self.expect = None  # the reply is checked here, not by readMessageBegin
        seqid = channel.seq_id = (channel.seq_id + 1) & 0x7FFFFFFF  # next_seqid()
        seq = wire.seqid_bytes(self.protocol_id, seqid)
        parts = None
        if whole is not None and result_spec is not None:
            # Only string/binary arguments: encoded here, each value copied once
            # (the C codec copies them a byte at a time), same bytes (wire.fields).
            parts = wire.encode_string_struct(obj, whole, self.protocol_id)
        if parts is not None:
            channel.awaiting = True
            channel.send_message(b"".join((call_head, seq, tail, *parts)))
        else:
            large = None
            if strings:  # large string/binary arguments are written here (wire.fields)
                large = wire.take_large_strings(obj, args_spec[1], strings, self.protocol_id)
            if result_spec is None or large is not None:
                if not self._send_general(method, obj, plan, seq, large):
                    return None  # oneway: no reply
            else:  # a two-way call without large strings
                channel.awaiting = True
                channel.send_message(call_head + seq + tail + self._fast_encode(obj, args_spec))
        want = reply_head + seq + tail
        got = channel.readAll(len(want))
        if got != want:
            self._unexpected_head(channel, method, seqid, got)
        result = method.result_cls()  # type: ignore[misc]  # not None: not oneway
        try:
            self._raw_decode(result, self, result_spec)
        except TTransportException:
            raise
        except Exception as exc:
            channel.undecodable(exc)
        channel.awaiting = False
        if method.returns:  # unpack_result's common case, without its call
            value = result.success
            if value is not None:
                return value
        return wire.unpack_result(method, result)

    def _send_general(
        self,
        method: wire.Method,
        obj: Any,
        plan: _Plan,
        seq: bytes,
        large: tuple[Any, list[bytes]] | None,
    ) -> bool:
        """Send a oneway call or one with large strings; whether a reply is due."""
        args_spec, result_spec, _, call_head, _, tail, _ = plan
        channel = self.channel
        if large is None:
            body = self._fast_encode(obj, args_spec)
        else:
            body = self._fast_encode(obj, [args_spec[0], large[0]])
        if result_spec is None:
            head = wire.encode_head(
                self.protocol_id, method.name, TMessageType.ONEWAY, channel.seq_id
            )
        else:
            head = call_head + seq + tail
            channel.awaiting = True
        if large is not None:
            # The C codec's struct without its stop byte, then the large fields.
            channel.send_message(b"".join((head, body[:-1], *large[1], wire.STRUCT_STOP)))
        else:
            channel.send_message(head + body)
        return result_spec is not None

    def _unexpected_head(
        self, channel: Channel, method: wire.Method, seqid: int, got: bytes
    ) -> None:
        """Not the expected head's bytes: parse what came and check it.

        Returns when it is the expected reply encoded differently (e.g. non-strict
        binary); raises for an exception or a mismatch.
        """
        channel.unread(got)
        found = channel.read_head(self.protocol_id)
        try:
            wire.check_reply(found, method.name, seqid)
        except wire.WireError as exc:
            raise _mismatch(channel, exc) from exc
        if found.type == TMessageType.EXCEPTION:
            error = TApplicationException()
            try:
                error.read(self)
            except TTransportException:
                raise
            except Exception as exc:
                channel.undecodable(exc)
            channel.awaiting = False
            raise error


def _checked(protocol: Any, head: wire.MessageHead) -> tuple[str, int, int]:
    """``head`` as ``readMessageBegin`` returns it, once checked against the call.

    The generated client gets back the sequence id it wrote; the wire carried the
    runtime's own (``expect``), which is what the reply must match.
    """
    expect, protocol.expect = protocol.expect, None
    if expect is None:
        raise _mismatch(
            protocol.channel,
            wire.WireError(f"unexpected message {head.name!r} with no call in progress"),
        )
    name, seqid, theirs = expect
    try:
        wire.check_reply(head, name, seqid)
    except wire.WireError as exc:
        raise _mismatch(protocol.channel, exc) from exc
    return head.name, head.type, theirs


def _call_seqid(protocol: Any, name: str, ttype: int, seqid: int) -> int:
    """The sequence id to write for a message the generated client begins.

    Calls get a fresh one from the runtime (Apache's clients always write 0, so
    theirs cannot tell a late reply from the awaited one) and the connection is
    marked as awaiting the reply until it has been read to its end.
    """
    channel: Channel = protocol.channel
    if ttype == TMessageType.CALL:
        channel.method = name  # errors from here on name it
        ours = channel.next_seqid()
        protocol.expect = (name, ours, seqid)
        channel.awaiting = True
        return ours
    protocol.expect = None
    channel.seq_id = seqid
    return seqid


def _guarded_decode(channel: Channel, decode: Any) -> Any:
    """``decode`` (the C codec) with any failure turned into :class:`ProtocolError`."""

    def guarded(obj: Any, trans: Any, spec: Any) -> Any:
        try:
            return decode(obj, trans, spec)
        except TTransportException:
            raise  # ours, from the channel: already names endpoint and method
        except Exception as exc:
            channel.undecodable(exc)

    return guarded


#: What ``invoke`` needs of one method in one protocol, computed once: the C codec's
#: type specs of its argument and result (None: oneway) classes, the argument
#: struct's string/binary fields, its CALL and REPLY heads around the sequence
#: id -- ``call_head + seq + tail`` (``wire.head_parts``) -- and the same fields
#: again when the argument struct has no other (``wire.only_string_fields``).
_Plan = tuple[
    list[Any],
    list[Any] | None,
    tuple[wire.StringField, ...],
    bytes,
    bytes,
    bytes,
    tuple[wire.StringField, ...] | None,
]

# By protocol, then by argument class (types hash by identity, fast).
_plans: dict[int, dict[type, _Plan]] = {wire.BINARY: {}, wire.COMPACT: {}}


def _plan(method: wire.Method, protocol: int, plans: dict[type, _Plan]) -> _Plan:
    """Build (and cache in ``plans``) ``method``'s plan for ``protocol``."""
    result = method.result_cls
    call_head, tail = wire.head_parts(protocol, method.name, TMessageType.CALL)
    reply_head, _ = wire.head_parts(protocol, method.name, TMessageType.REPLY)
    plan: _Plan = (
        [method.args_cls, method.args_cls.thrift_spec],  # type: ignore[attr-defined]
        None if result is None else [result, result.thrift_spec],  # type: ignore[attr-defined]
        wire.string_fields(method.args_cls),
        call_head,
        reply_head,
        tail,  # after the id: the same in both heads (compact: the name)
        wire.only_string_fields(method.args_cls),
    )
    plans[method.args_cls] = plan
    return plan


class _Checked(_DirectCalls):
    """Message heads through the wire core, each reply checked against its call."""

    def _attach(self, channel: Channel) -> None:
        self.channel = channel
        self.expect: tuple[str, int, int] | None = None
        self._plans = _plans[self.protocol_id]
        self.direct = self._fast_encode is not None and self._fast_decode is not None
        self._raw_decode = self._fast_decode  # invoke() guards its own call
        if self._fast_decode is not None:
            self._fast_decode = _guarded_decode(channel, self._fast_decode)

    def _wrote_head(self) -> None:
        """Bring the Apache protocol's own state in line after a head we wrote."""

    def writeMessageBegin(self, name: str, ttype: int, seqid: int) -> None:
        seqid = _call_seqid(self, name, ttype, seqid)
        self.channel.write(wire.encode_head(self.protocol_id, name, ttype, seqid))
        self._wrote_head()

    def readMessageBegin(self) -> tuple[str, int, int]:
        return _checked(self, self.channel.read_head(self.protocol_id))

    def readMessageEnd(self) -> None:
        super().readMessageEnd()  # type: ignore[misc]  # Apache's protocol, next in the MRO
        self.channel.awaiting = False  # the reply was read to its end


class FastBinaryProtocol(_Checked, TBinaryProtocolAccelerated):  # type: ignore[misc]
    """Accelerated binary protocol that checks each reply against its request."""

    supports_headers = False
    protocol_id = wire.BINARY

    def __init__(self, channel: Channel) -> None:
        limits = channel.limits
        super().__init__(
            channel,
            strictRead=True,
            strictWrite=True,
            string_length_limit=limits.max_string,
            container_length_limit=limits.max_container,
        )
        self._attach(channel)


class FastCompactProtocol(_Checked, TCompactProtocolAccelerated):  # type: ignore[misc]
    """Accelerated compact protocol that checks each reply against its request."""

    supports_headers = False
    protocol_id = wire.COMPACT

    def __init__(self, channel: Channel) -> None:
        limits = channel.limits
        super().__init__(
            channel,
            string_length_limit=limits.max_string,
            container_length_limit=limits.max_container,
        )
        self._attach(channel)

    def _wrote_head(self) -> None:
        self.state = _COMPACT_VALUE_WRITE  # what Apache's writeMessageEnd expects


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
        self.expect: tuple[str, int, int] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def writeMessageBegin(self, name: str, ttype: int, seqid: int) -> None:
        self._inner.writeMessageBegin(name, ttype, _call_seqid(self, name, ttype, seqid))

    def readMessageBegin(self) -> tuple[str, int, int]:
        try:
            name, ttype, seqid = self._inner.readMessageBegin()
        except TTransportException:
            raise
        except Exception as exc:
            self.channel.undecodable(exc)
        return _checked(self, wire.MessageHead(name, ttype, seqid))

    def readMessageEnd(self) -> None:
        self._inner.readMessageEnd()
        self.channel.awaiting = False


def framing_for(protocol_factory: Any, transport_factory: Any) -> wire.Framing:
    """The framing implied by a protocol factory and a transport factory (or name)."""
    if isinstance(protocol_factory, THeaderProtocolFactory):
        return wire.Framing.HEADER
    if transport_factory in (None, "buffered", "unframed") or (
        type(transport_factory).__name__ == "TBufferedTransportFactory"
    ):
        return wire.Framing.UNFRAMED
    if transport_factory == "framed" or isinstance(transport_factory, TFramedTransportFactory):
        return wire.Framing.FRAMED
    raise ValueError(
        f"unsupported transport {transport_factory!r}; use 'buffered' or 'framed' "
        "(or thrift's TBufferedTransportFactory / TFramedTransportFactory)"
    )


def make_protocol(channel: Channel, protocol_factory: Any) -> Any:
    """A reply-checking protocol over ``channel`` equivalent to ``protocol_factory``'s."""
    if isinstance(protocol_factory, THeaderProtocolFactory):
        if protocol_factory.default_protocol == wire.COMPACT:
            channel.set_protocol_id(wire.COMPACT)
            return HeaderCompactProtocol(channel)
        channel.set_protocol_id(wire.BINARY)
        return HeaderBinaryProtocol(channel)
    if isinstance(protocol_factory, (TBinaryProtocolFactory, TBinaryProtocolAcceleratedFactory)):
        return FastBinaryProtocol(channel)
    if isinstance(protocol_factory, (TCompactProtocolFactory, TCompactProtocolAcceleratedFactory)):
        return FastCompactProtocol(channel)
    return CheckedProtocol(protocol_factory.getProtocol(channel), channel)

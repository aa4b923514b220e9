"""The sans-I/O Thrift wire core: bytes in, bytes out, no sockets, no event loop.

Everything in thriftbuild that speaks Thrift -- the blocking client, asyncio, the
servers -- frames, decodes and checks messages with this package and only does the
I/O itself. Nothing here imports ``socket``, ``select``, ``ssl`` or ``asyncio``.

Client side::

    from thriftbuild import wire

    payload = wire.encode_call(method, wire.COMPACT, seqid, args)
    data = wire.encode_header_frame(payload, wire.COMPACT, seqid=seqid)
    ...send data...
    decoder = wire.HeaderDecoder(wire.COMPACT, limits)
    for frame in decoder.feed(received):          # complete messages only
        value = wire.decode_reply(method, frame.protocol, frame.payload, seqid, limits)

Server side::

    decoder = wire.AutoDecoder(limits)            # detects the client's dialect
    for frame in decoder.feed(received):
        head, body = wire.decode_head(frame.protocol, frame.payload, limits)
        args = wire.decode_args(method, frame.protocol, frame.payload, body, limits)
        ...
        reply = wire.encode_reply(method, frame.protocol, head.seqid, result)
        send(decoder.dialect.frame(reply, protocol=frame.protocol, seqid=frame.seqid,
                                   zlib=frame.zlib))

Every failure -- garbage, truncation, a length over the :class:`Limits`, a reply
that answers another request -- raises :class:`WireError` (or a subclass); the I/O
layers translate it at one boundary. Limits are checked before allocation.
"""

from __future__ import annotations

from thriftbuild.wire.calls import (
    APACHE,
    THRIFTPY2,
    Method,
    StructCodec,
    decode_args,
    decode_reply,
    encode_call,
    encode_exception,
    encode_reply,
    unpack_result,
)
from thriftbuild.wire.dialect import AutoDecoder, Dialect, detect
from thriftbuild.wire.errors import LimitExceededError, ReplyMismatchError, WireError
from thriftbuild.wire.fields import (
    LARGE_STRING,
    STRUCT_STOP,
    StringField,
    decode_string_struct,
    encode_string_struct,
    encode_string_value,
    only_string_fields,
    string_field_head,
    string_field_ids,
    string_fields,
    take_large_strings,
)
from thriftbuild.wire.framing import (
    Decoder,
    FramedDecoder,
    Framing,
    HeaderDecoder,
    UnframedDecoder,
    encode_framed,
    framed_payload,
    make_decoder,
)
from thriftbuild.wire.heads import (
    BINARY,
    COMPACT,
    MessageHead,
    MessageType,
    check_reply,
    decode_head,
    encode_head,
    head_parts,
    read_head,
    seqid_bytes,
)
from thriftbuild.wire.limits import DEFAULT_LIMITS, Limits
from thriftbuild.wire.scan import message_end
from thriftbuild.wire.theader import (
    Frame,
    encode_header_frame,
    header_block,
    inflate,
    parse_header_frame,
)
from thriftbuild.wire.varint import Incomplete, encode_varint, read_varint

__all__ = [
    "APACHE",
    "BINARY",
    "COMPACT",
    "DEFAULT_LIMITS",
    "LARGE_STRING",
    "STRUCT_STOP",
    "THRIFTPY2",
    "AutoDecoder",
    "Decoder",
    "Dialect",
    "Frame",
    "FramedDecoder",
    "Framing",
    "HeaderDecoder",
    "Incomplete",
    "LimitExceededError",
    "Limits",
    "MessageHead",
    "MessageType",
    "Method",
    "ReplyMismatchError",
    "StringField",
    "StructCodec",
    "UnframedDecoder",
    "WireError",
    "check_reply",
    "decode_args",
    "decode_head",
    "decode_reply",
    "decode_string_struct",
    "detect",
    "encode_call",
    "encode_exception",
    "encode_framed",
    "encode_head",
    "encode_header_frame",
    "encode_reply",
    "encode_string_struct",
    "encode_string_value",
    "encode_varint",
    "framed_payload",
    "head_parts",
    "header_block",
    "inflate",
    "make_decoder",
    "message_end",
    "only_string_fields",
    "parse_header_frame",
    "read_head",
    "read_varint",
    "seqid_bytes",
    "string_field_head",
    "string_field_ids",
    "string_fields",
    "take_large_strings",
    "unpack_result",
]

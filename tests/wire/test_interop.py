"""Our wire bytes against Apache Thrift's own transports and protocols, both ways.

No sockets: Apache's server protocol and generated client run over in-memory bytes.
For every dialect: a call we encode is served by Apache's THeader server (which
answers each client in its own dialect) and its reply decoded by us; a call Apache's
client encodes is decoded by us, and our reply read back by Apache's client.
"""

from __future__ import annotations

from typing import Any

import pytest
from thrift.Thrift import TApplicationException

from tests.support.servers import EchoHandler
from tests.wire.apache import DIALECTS, Duplex, client_protocol, server_protocol
from thriftbuild import wire
from thriftbuild.service import service_view

TEXT = "héllo, wörld " * 50  # long enough to be worth compressing


def _serve(echo: Any, request: bytes) -> bytes:
    duplex = Duplex(request)
    prot = server_protocol(duplex)
    echo.service.Processor(EchoHandler(echo.ttypes)).process(prot, prot)
    return duplex.written()


def _one(decoder: Any, data: bytes) -> wire.Frame:
    frames = [frame for byte in range(len(data)) for frame in decoder.feed(data[byte : byte + 1])]
    assert len(frames) == 1
    assert decoder.buffered == 0
    return frames[0]


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_our_call_served_by_apache_and_its_reply_decoded_by_us(echo: Any, name: str) -> None:
    dialect, zlib = DIALECTS[name]
    method = service_view(echo.service)["echo"]
    payload = wire.encode_call(method, dialect.protocol, 41, (TEXT,))
    headers = {b"request-id": b"r-1"} if dialect.framing == wire.Framing.HEADER else None
    request = dialect.frame(payload, seqid=41, headers=headers, zlib=zlib)
    if zlib:
        assert len(request) < len(payload)

    reply = _serve(echo, request)

    frame = _one(dialect.decoder(), reply)
    assert frame.protocol == dialect.protocol
    value = wire.decode_reply(method, frame.protocol, frame.payload, 41)
    assert value == TEXT
    assert type(value) is str


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_apache_call_decoded_by_us_and_our_reply_read_by_apache(echo: Any, name: str) -> None:
    dialect, zlib = DIALECTS[name]
    view = service_view(echo.service)
    duplex = Duplex()
    prot = client_protocol(name, duplex)
    if dialect.framing == wire.Framing.HEADER:
        prot.trans.set_header(b"request-id", b"r-2")
    client = echo.service.Client(prot)
    client.send_echo(TEXT)
    request = duplex.written()

    decoder = wire.AutoDecoder()
    frame = _one(decoder, request)
    assert decoder.dialect == dialect
    assert frame.zlib is zlib
    if dialect.framing == wire.Framing.HEADER:
        assert dict(frame.headers) == {b"request-id": b"r-2"}
    head, body = wire.decode_head(frame.protocol, frame.payload)
    assert head == wire.MessageHead("echo", wire.MessageType.CALL, head.seqid)
    args = wire.decode_args(view["echo"], frame.protocol, frame.payload, body)
    assert args == echo.service.echo_args(text=TEXT)

    result = echo.service.echo_result(success=args.text)
    reply = wire.encode_reply(view["echo"], frame.protocol, head.seqid, result)
    framed = dialect.frame(reply, protocol=frame.protocol, seqid=frame.seqid, zlib=frame.zlib)
    client = echo.service.Client(client_protocol(name, Duplex(framed)))
    assert client.recv_echo() == TEXT


@pytest.mark.parametrize("name", ["header-compact", "framed-binary", "unframed-compact"])
def test_declared_and_application_exceptions_from_apache_raise_from_decode_reply(
    echo: Any, name: str
) -> None:
    dialect, _ = DIALECTS[name]
    view = service_view(echo.service)
    request = dialect.frame(wire.encode_call(view["fail"], dialect.protocol, 3, ("no", 7)))
    frame = _one(dialect.decoder(), _serve(echo, request))
    with pytest.raises(echo.ttypes.EchoError) as raised:
        wire.decode_reply(view["fail"], frame.protocol, frame.payload, 3)
    assert (raised.value.message, raised.value.code) == ("no", 7)

    # An unknown method: Apache answers with an EXCEPTION message.
    unknown = wire.Method("nope", echo.service.ping_args, echo.service.ping_result, False, ())
    request = dialect.frame(wire.encode_call(unknown, dialect.protocol, 4))
    frame = _one(dialect.decoder(), _serve(echo, request))
    with pytest.raises(TApplicationException) as app:
        wire.decode_reply(unknown, frame.protocol, frame.payload, 4)
    assert app.value.type == TApplicationException.UNKNOWN_METHOD


def test_nonstrict_binary_heads_are_detected_and_read(echo: Any) -> None:
    method = service_view(echo.service)["echo"]
    payload = wire.encode_call(method, wire.BINARY, 9, ("x",), strict=False)
    for data, framing in (
        (payload, wire.Framing.UNFRAMED),
        (wire.encode_framed(payload), wire.Framing.FRAMED),
    ):
        dialect = wire.detect(data)
        assert dialect == wire.Dialect(framing, wire.BINARY, strict=False)
        frame = _one(dialect.decoder(), data)
        head, _ = wire.decode_head(wire.BINARY, frame.payload)
        assert head == wire.MessageHead("echo", wire.MessageType.CALL, 9)


def test_reply_check_rejects_other_seqid_and_other_name(echo: Any) -> None:
    view = service_view(echo.service)
    result = echo.service.echo_result(success="a")
    reply = wire.encode_reply(view["echo"], wire.COMPACT, 5, result)
    assert wire.decode_reply(view["echo"], wire.COMPACT, reply, 5) == "a"
    with pytest.raises(wire.ReplyMismatchError) as wrong_seqid:
        wire.decode_reply(view["echo"], wire.COMPACT, reply, 6)
    assert (wrong_seqid.value.seqid, wrong_seqid.value.expected_seqid) == (5, 6)
    renamed = wire.Method("other", view["echo"].args_cls, view["echo"].result_cls, True, ())
    with pytest.raises(wire.ReplyMismatchError):
        wire.decode_reply(renamed, wire.COMPACT, reply, 5)


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
@pytest.mark.parametrize("field_id", [-32768, -1, 0, 1, 15, 16, 300, 32767])
def test_string_field_head_read_by_apache(protocol: int, field_id: int) -> None:
    from thrift.protocol.TBinaryProtocol import TBinaryProtocol
    from thrift.protocol.TCompactProtocol import TCompactProtocol
    from thrift.Thrift import TType
    from thrift.transport.TTransport import TMemoryBuffer

    value = "stéreo ☃".encode() * 300
    data = wire.string_field_head(protocol, field_id, len(value)) + value + wire.STRUCT_STOP
    buf = TMemoryBuffer(data)
    prot: Any = (TBinaryProtocol if protocol == wire.BINARY else TCompactProtocol)(buf)
    prot.readStructBegin()
    _, ttype, fid = prot.readFieldBegin()
    assert (ttype, fid) == (TType.STRING, field_id)
    got = prot.readBinary()
    assert type(got) is bytes and got == value
    prot.readFieldEnd()
    assert prot.readFieldBegin()[1] == TType.STOP
    prot.readStructEnd()
    assert buf.cstringio_buf.read() == b""


def test_string_field_head_out_of_range() -> None:
    with pytest.raises(ValueError, match="cannot be encoded"):
        wire.string_field_head(wire.BINARY, 40000, 1)
    with pytest.raises(ValueError, match="cannot be encoded"):
        wire.string_field_head(wire.COMPACT, 1, -1)
    with pytest.raises(ValueError, match="unknown protocol"):
        wire.string_field_head(7, 1, 1)


@pytest.mark.parametrize("name", ["unframed-binary", "framed-compact", "header-binary"])
def test_large_strings_written_after_the_codec_fields_read_by_apache(echo: Any, name: str) -> None:
    # Calls, replies and exceptions whose string/binary fields reach LARGE_STRING:
    # Apache's server and client read every field back; the encoded objects are
    # left unchanged.
    dialect, _ = DIALECTS[name]
    view = service_view(echo.service)
    text = ("grüße ☃ " * wire.LARGE_STRING)[: wire.LARGE_STRING]  # more bytes than chars
    request = dialect.frame(wire.encode_call(view["fail"], dialect.protocol, 5, (text, -7)))
    frame = _one(dialect.decoder(), _serve(echo, request))
    with pytest.raises(echo.ttypes.EchoError) as raised:
        wire.decode_reply(view["fail"], frame.protocol, frame.payload, 5)
    assert (raised.value.message, raised.value.code) == (text, -7)

    data = bytes(range(256)) * 300
    result = echo.service.echo_bytes_result(success=data)
    reply = wire.encode_reply(view["echo_bytes"], dialect.protocol, 6, result)
    assert result.success is data
    client = echo.service.Client(client_protocol(name, Duplex(dialect.frame(reply, seqid=6))))
    got = client.recv_echo_bytes()
    assert type(got) is bytes and got == data

    error = echo.ttypes.EchoError(message=text, code=3)
    failed = echo.service.fail_result(err=error)  # the string is one level down: kept
    reply = wire.encode_reply(view["fail"], dialect.protocol, 7, failed)
    client = echo.service.Client(client_protocol(name, Duplex(dialect.frame(reply, seqid=7))))
    with pytest.raises(echo.ttypes.EchoError) as raised:
        client.recv_fail()
    assert (raised.value.message, raised.value.code) == (text, 3)
    assert error.message is text


def test_string_fields_lists_only_string_and_binary_fields(echo: Any) -> None:
    assert wire.string_fields(echo.service.fail_args) == ((1, "message", True),)
    assert wire.string_fields(echo.service.echo_bytes_args) == ((1, "data", False),)
    assert wire.string_fields(echo.service.sleep_args) == ()
    assert wire.string_fields(echo.service.echo_bytes_result) == ((0, "success", False),)

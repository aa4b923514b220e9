"""decode_reply's two paths: the expected-head comparison and the full parse, with and
without the second scan, give the same values and the same errors."""

from __future__ import annotations

from typing import Any

import pytest
from thrift.Thrift import TApplicationException

from thriftbuild import wire
from thriftbuild.service import service_view


def _reply(echo: Any, protocol: int, seqid: int, result: Any, *, strict: bool = True) -> bytes:
    view = service_view(echo.service)
    head = wire.encode_head(protocol, "echo", wire.MessageType.REPLY, seqid, strict=strict)
    return head + view["echo"].codec.encode(result, protocol)


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
@pytest.mark.parametrize("scanned", [False, True])
def test_reply_values_and_mismatches(echo: Any, protocol: int, scanned: bool) -> None:
    method = service_view(echo.service)["echo"]
    ok = _reply(echo, protocol, 7, echo.service.echo_result(success="hi"))
    assert wire.decode_reply(method, protocol, ok, 7, scanned=scanned) == "hi"
    with pytest.raises(wire.ReplyMismatchError):
        wire.decode_reply(method, protocol, ok, 8, scanned=scanned)
    other = wire.encode_head(protocol, "ping", wire.MessageType.REPLY, 7) + ok[-2:]
    with pytest.raises(wire.ReplyMismatchError):
        wire.decode_reply(method, protocol, other, 7, scanned=scanned)
    exc = TApplicationException(TApplicationException.INTERNAL_ERROR, "boom")
    failed = wire.encode_exception("echo", protocol, 7, exc)
    with pytest.raises(TApplicationException) as raised:
        wire.decode_reply(method, protocol, failed, 7, scanned=scanned)
    assert (raised.value.type, raised.value.message) == (6, "boom")


def test_non_strict_binary_reply_takes_the_full_parse(echo: Any) -> None:
    method = service_view(echo.service)["echo"]
    old = _reply(echo, wire.BINARY, 3, echo.service.echo_result(success="x"), strict=False)
    assert wire.decode_reply(method, wire.BINARY, old, 3) == "x"


def test_unscanned_body_is_still_bounded(echo: Any) -> None:
    method = service_view(echo.service)["echo"]
    head = wire.encode_head(wire.BINARY, "echo", wire.MessageType.REPLY, 1)
    huge = head + b"\x0b\x00\x00" + (1 << 30).to_bytes(4, "big")  # success: 1 GiB string
    with pytest.raises(wire.LimitExceededError):
        wire.decode_reply(method, wire.BINARY, huge, 1, wire.Limits(max_string=1024))

"""One service view for Apache-generated modules and thriftpy2 services."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.support.servers import ECHO_IDL
from thriftbuild import wire
from thriftbuild.service import service_view

METHODS = ["bump", "echo", "echo_bytes", "fail", "header", "notify", "ping", "sleep"]


def _thriftpy2() -> Any:
    if os.environ.get("CI"):
        import thriftpy2
    else:
        thriftpy2 = pytest.importorskip("thriftpy2")
    return thriftpy2.load(str(ECHO_IDL), module_name="echo_tp2_thrift")


def test_apache_module_and_its_classes_give_the_same_view(echo: Any) -> None:
    view = service_view(echo.service)
    assert list(view) == METHODS
    assert service_view(echo.service.Client).methods == view.methods
    assert service_view(echo.service.Processor).methods == view.methods
    assert view.kind == "apache"
    assert view["notify"].oneway and view["notify"].result_cls is None
    assert view["fail"].exceptions == ("err",) and not view["fail"].returns
    assert view["echo"].returns and view["echo"].args_cls is echo.service.echo_args


def test_thriftpy2_service_view_matches_the_apache_one(echo: Any) -> None:
    module = _thriftpy2()
    view = service_view(module.Echo)
    apache = service_view(echo.service)
    assert view.kind == "thriftpy2"
    assert list(view) == list(apache)
    for name in view:
        ours, theirs = view[name], apache[name]
        assert (ours.oneway, ours.returns, ours.exceptions) == (
            theirs.oneway,
            theirs.returns,
            theirs.exceptions,
        ), name


@pytest.mark.parametrize("protocol", [wire.BINARY, wire.COMPACT])
def test_thriftpy2_calls_decode_as_apache_calls_and_back(echo: Any, protocol: int) -> None:
    tp2 = service_view(_thriftpy2().Echo)
    apache = service_view(echo.service)
    call = wire.encode_call(tp2["fail"], protocol, 8, ("bad", 3))
    head, body = wire.decode_head(protocol, call)
    assert head == wire.MessageHead("fail", wire.MessageType.CALL, 8)
    args = wire.decode_args(apache["fail"], protocol, call, body)
    assert (args.message, args.code) == ("bad", 3)

    result = echo.service.fail_result(err=echo.ttypes.EchoError(message="bad", code=3))
    reply = wire.encode_reply(apache["fail"], protocol, 8, result)
    with pytest.raises(Exception) as raised:
        wire.decode_reply(tp2["fail"], protocol, reply, 8)
    assert type(raised.value).__name__ == "EchoError"
    assert (raised.value.message, raised.value.code) == ("bad", 3)  # type: ignore[attr-defined]


def test_not_a_service_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="not a Thrift service"):
        service_view(int)


def test_views_give_handler_parameters_and_declared_exceptions(echo: Any) -> None:
    for view in (service_view(echo.service), service_view(_thriftpy2().Echo)):
        assert view.params["fail"] == ("message", "code")
        assert view.params["ping"] == ()
        assert [(name, cls.__name__) for name, cls in view.raises["fail"]] == [("err", "EchoError")]
        assert view.raises["echo"] == ()
    apache_err = service_view(echo.service).raises["fail"][0][1]
    assert apache_err is echo.ttypes.EchoError


def test_apache_parameters_follow_declaration_order_not_field_ids(tmp_path: Any) -> None:
    from tests.support.servers import generate, import_service

    idl = tmp_path / "order.thrift"
    idl.write_text("service Order { i32 sub(2: i32 minuend, 1: i32 subtrahend) }\n")
    module = import_service(tmp_path / "out", generate(idl, tmp_path / "out"), "Order")
    assert service_view(module.service).params["sub"] == ("minuend", "subtrahend")

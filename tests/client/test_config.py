from __future__ import annotations

import datetime
import pickle
import socket

import pytest

from thriftbuild.client import thrift_pool_from_config
from thriftbuild.config import Endpoint, InternetAddress, Option, Timespan, parse_options
from thriftbuild.errors import ClientConfigError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1 second", 1.0),
        ("1.5 seconds", 1.5),
        ("500 milliseconds", 0.5),
        ("2 minutes", 120.0),
        ("1 hour", 3600.0),
        ("500ms", 0.5),
        ("1.5s", 1.5),
        ("  3 min ", 180.0),
        ("0 seconds", 0.0),
        (".25 s", 0.25),
        ("1 day", 86400.0),
    ],
)
def test_timespan_valid_text_parses(text: str, seconds: float) -> None:
    assert Timespan(text) == datetime.timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("-1 second", "negative"),
        ("-0.5s", "negative"),
        ("1", "unit"),
        ("seconds", "time span"),
        ("1 fortnight", "unknown unit"),
        ("1 second 2", "time span"),
        ("1e3 ms", "time span"),
        ("", "time span"),
        ("nan seconds", "time span"),
    ],
)
def test_timespan_junk_or_negative_rejected(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Timespan(text)


def test_endpoint_host_port_parses() -> None:
    ep = Endpoint("localhost:9090")
    assert ep.family == socket.AF_INET
    assert ep.address == InternetAddress("localhost", 9090)
    assert str(ep) == "localhost:9090"


def test_endpoint_ipv6_in_brackets_parses() -> None:
    ep = Endpoint("[::1]:9090")
    assert ep.family == socket.AF_INET6
    assert ep.address == InternetAddress("::1", 9090)
    assert str(ep) == "[::1]:9090"


@pytest.mark.parametrize("text", ["unix:/tmp/x.sock", "/tmp/x.sock"])
def test_endpoint_unix_forms_parse_to_path(text: str) -> None:
    ep = Endpoint(text)
    assert ep.family == socket.AF_UNIX
    assert ep.address == "/tmp/x.sock"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("host:0", "outside 1-65535"),
        ("host:65536", "outside 1-65535"),
        ("host:http", "not a number"),
        ("::1:9090", "brackets"),
        ("[::1]9090", r"\[address\]:port"),
        ("[nonsense]:80", "not an IPv6 address"),
        ("hostonly", "host:port"),
        (":9090", "host:port"),
        ("unix:", "socket path"),
    ],
)
def test_endpoint_bad_text_rejected_with_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Endpoint(text)


def test_parse_options_bad_value_names_full_key_and_value() -> None:
    spec = {"timeout": Option(Timespan)}
    with pytest.raises(ClientConfigError) as info:
        parse_options({"foo.timeout": "-1 second"}, "foo.", spec)
    assert info.value.key == "foo.timeout"
    assert str(info.value) == "foo.timeout = '-1 second': a time span must not be negative"


def test_parse_options_missing_required_key_named() -> None:
    with pytest.raises(ClientConfigError, match=r"^foo\.endpoint: required"):
        parse_options({}, "foo.", {"endpoint": Option(Endpoint, required=True)})


def test_client_config_error_pickles() -> None:
    err = ClientConfigError("a.b", "x", "bad")
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.key, copy.value, copy.reason, str(copy)) == ("a.b", "x", "bad", str(err))


def test_pool_from_config_defaults_match_seed_api() -> None:
    pool = thrift_pool_from_config({"foo.endpoint": "127.0.0.1:9"}, "foo.", metrics=False)
    assert (pool.size, pool.max_age, pool.timeout, pool.max_retries) == (10, 60.0, 1.0, 3)
    assert str(pool.endpoint) == "127.0.0.1:9"


def test_pool_from_config_reads_every_key() -> None:
    cfg = {
        "svc.endpoint": "[::1]:9090",
        "svc.size": "4",
        "svc.max_age": "30 seconds",
        "svc.timeout": "250 milliseconds",
        "svc.max_retries": "5",
        "svc.protocol": "binary",
        "svc.transport": "framed",
    }
    pool = thrift_pool_from_config(cfg, "svc.", metrics=False)
    assert (pool.size, pool.max_age, pool.timeout, pool.max_retries) == (4, 30.0, 0.25, 5)
    assert pool.endpoint.family == socket.AF_INET6
    assert not pool.headers_supported


def test_pool_from_config_kwargs_win_over_config() -> None:
    cfg = {"svc.endpoint": "127.0.0.1:1", "svc.size": "4", "svc.timeout": "2 seconds"}
    pool = thrift_pool_from_config(cfg, "svc", size=2, timeout=0.5, max_retries=1, metrics=False)
    assert (pool.size, pool.timeout, pool.max_retries) == (2, 0.5, 1)


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("size", "zero", "not an integer"),
        ("size", "0", "at least 1"),
        ("timeout", "soon", "time span"),
        ("max_age", "-3 minutes", "negative"),
        ("endpoint", "::1:80", "brackets"),
        ("protocol", "json", "expected one of"),
        ("transport", "zlib", "buffered or framed"),
    ],
)
def test_pool_from_config_bad_value_names_key(key: str, value: str, reason: str) -> None:
    cfg = {"svc.endpoint": "127.0.0.1:1", f"svc.{key}": value}
    with pytest.raises(ClientConfigError, match=reason) as info:
        thrift_pool_from_config(cfg, "svc.", metrics=False)
    assert info.value.key == f"svc.{key}"
    assert info.value.value == value


def test_pool_from_config_missing_endpoint_named() -> None:
    with pytest.raises(ClientConfigError, match=r"svc\.endpoint: required"):
        thrift_pool_from_config({}, "svc.", metrics=False)

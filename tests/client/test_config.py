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
        ("size", "0", "from 1 to"),
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


# -- every key, any value: a pool or the config error naming key and value ------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from thriftbuild.client import MultiEndpointPool, ThriftConnectionPool  # noqa: E402

KEYS = [
    "endpoint",
    "size",
    "max_age",
    "timeout",
    "max_retries",
    "max_connection_attempts",
    "protocol",
    "transport",
    "tls.ca",
    "tls.cert",
    "tls.key",
    "tls.verify",
]
VALUES = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.text(alphabet="0123456789 .:,[]abcms-x\x00", max_size=20),
    st.sampled_from(
        [
            "0 s",
            "1 ms",
            "10**12",
            str(10**12),
            str(10**20),
            "a..b:80",
            ".:80",
            "x" * 64 + ".example:80",
            "127.0.0.1:0",
            "[::1]:9090,127.0.0.1:1",
            "true",
            "-1",
        ]
    ),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from(KEYS), value=VALUES)
def test_every_key_any_value_gives_a_pool_or_the_config_error(key: str, value: object) -> None:
    app_config: dict[str, object] = {"svc.endpoint": "127.0.0.1:9090", f"svc.{key}": value}
    try:
        pool = thrift_pool_from_config(app_config, "svc.", metrics=False)  # type: ignore[arg-type]
    except ClientConfigError as exc:
        assert exc.key.startswith("svc.")
        assert exc.key in str(exc)
        if exc.key == f"svc.{key}" and value is not None and str(value).strip():
            assert exc.value is value  # the raw value, as given
        return
    assert isinstance(pool, (ThriftConnectionPool, MultiEndpointPool))
    pool.close()


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("timeout", "0 s", "more than 0"),
        ("size", str(10**12), "from 1 to 10000"),
        ("size", 10**20, "from 1 to 10000"),
        ("tls.ca", "/tmp/ca\x00.pem", "NUL"),
        ("endpoint", "a..b:80", "not a valid host name"),
        ("endpoint", ".:80", "not a valid host name"),
        ("endpoint", "x" * 64 + ".example:80", "not a valid host name"),
        ("size", [1], "expected a string"),
    ],
)
def test_config_values_that_slipped_through_are_config_errors(
    key: str, value: object, reason: str
) -> None:
    config = {"svc.endpoint": "127.0.0.1:9090", f"svc.{key}": value}
    with pytest.raises(ClientConfigError, match=reason) as raised:
        thrift_pool_from_config(config, "svc.", metrics=False)  # type: ignore[arg-type]
    assert raised.value.key == f"svc.{key}"


def test_dict_config_numbers_are_accepted() -> None:
    pool = thrift_pool_from_config(
        {"svc.endpoint": "127.0.0.1:9090", "svc.size": 3, "svc.max_retries": 2},  # type: ignore[dict-item]
        "svc.",
        metrics=False,
    )
    assert isinstance(pool, ThriftConnectionPool)
    assert (pool.size, pool.max_connection_attempts) == (3, 2)

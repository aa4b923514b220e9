"""Config keys of a client: ``thrift_pool_from_config`` and the TLS context.

Parsing of the values themselves (time spans, endpoints, integers) is shared with
every runtime layer in :mod:`thriftbuild.config`; this module knows the keys of a
blocking client pool and builds the pool they describe.
"""

from __future__ import annotations

import datetime
import ssl
from collections.abc import Mapping
from typing import Any

from thrift.protocol.THeaderProtocol import THeaderProtocolFactory
from thrift.transport.THeaderTransport import THeaderSubprotocolID

from thriftbuild import config
from thriftbuild.client.multi import MultiEndpointPool, parse_endpoints
from thriftbuild.client.pool import DEFAULT_PROTOCOL_FACTORY, ThriftConnectionPool
from thriftbuild.errors import ClientConfigError

__all__ = ["MAX_ATTEMPTS", "MAX_SIZE", "MAX_SPAN", "thrift_pool_from_config"]

#: Sane ranges of the numeric keys: ``size`` 1-10,000 connections, ``max_retries``
#: 1-100 attempts, ``timeout`` above 0 and ``max_age`` from 0, both up to a day.
MAX_SIZE = 10_000
MAX_ATTEMPTS = 100
MAX_SPAN = 86_400.0


def _protocol_by_name(text: str) -> Any:
    from thrift.protocol.TBinaryProtocol import TBinaryProtocolAcceleratedFactory
    from thrift.protocol.TCompactProtocol import TCompactProtocolAcceleratedFactory

    factories = {
        "header": DEFAULT_PROTOCOL_FACTORY,
        "header-compact": DEFAULT_PROTOCOL_FACTORY,
        "header-binary": THeaderProtocolFactory(default_protocol=THeaderSubprotocolID.BINARY),
        "binary": TBinaryProtocolAcceleratedFactory(),
        "compact": TCompactProtocolAcceleratedFactory(),
    }
    try:
        return factories[text.strip().lower()]
    except KeyError:
        raise ValueError("expected one of: " + ", ".join(factories)) from None


def _transport_by_name(text: str) -> str:
    value = text.strip().lower()
    if value not in ("buffered", "framed"):
        raise ValueError("expected buffered or framed")
    return value


def _tls_context(
    app_config: Mapping[str, str], prefix: str, options: Mapping[str, Any]
) -> ssl.SSLContext:
    """The client TLS context the ``tls.*`` keys ask for (any of them turns TLS on)."""

    def fail(key: str, reason: str) -> ClientConfigError:
        return ClientConfigError(prefix + key, app_config.get(prefix + key), reason)

    try:
        context = ssl.create_default_context(cafile=options.get("tls.ca"))
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise fail("tls.ca", f"cannot load CA certificates: {exc}") from exc
    if "tls.key" in options and "tls.cert" not in options:
        raise fail("tls.key", "tls.key needs tls.cert (the client certificate)")
    if "tls.cert" in options:
        try:
            context.load_cert_chain(options["tls.cert"], options.get("tls.key"))
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise fail("tls.cert", f"cannot load the client certificate: {exc}") from exc
    if options.get("tls.verify") is False:
        # Encrypted but unauthenticated, as asked; never a silent downgrade to plaintext.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _endpoints(text: str) -> config.EndpointConfiguration | list[config.EndpointConfiguration]:
    if "," in text:
        return parse_endpoints(text)
    return config.Endpoint(text)


def thrift_pool_from_config(
    app_config: Mapping[str, str], prefix: str, **kwargs: Any
) -> ThriftConnectionPool | MultiEndpointPool:
    """Make a :class:`ThriftConnectionPool` from ``prefix``-ed keys of a flat config.

    Keys: ``endpoint`` (required; several, comma-separated, for a balanced pool),
    ``size`` (default 10), ``max_age`` (Timespan, default 1 minute), ``timeout``
    (Timespan, default 1 second), ``max_retries`` or
    ``max_connection_attempts`` (default 3), ``protocol`` (``header``,
    ``header-binary``, ``binary``, ``compact``), ``transport`` (``buffered``,
    ``framed``), and for TLS ``tls.ca`` (CA bundle; the system's if omitted),
    ``tls.cert`` and ``tls.key`` (client certificate) and ``tls.verify`` (default
    true); any ``tls.*`` key turns TLS on. Keyword arguments win over the config.
    Numbers must be in the ranges of :data:`MAX_SIZE`, :data:`MAX_ATTEMPTS` and
    :data:`MAX_SPAN`; host names must be valid (IDNA).

    Args:
        app_config: the flat application config.
        prefix: the section, e.g. ``"foo."`` (the dot is added when missing).
        **kwargs: passed to :class:`ThriftConnectionPool`, overriding the config.

    Returns:
        The pool: a :class:`ThriftConnectionPool`, or for a comma-separated list of
        endpoints a :class:`~thriftbuild.client.MultiEndpointPool` (``size`` per
        endpoint, calls balanced round-robin, failing hosts ejected for a while).

    Raises:
        ClientConfigError: a key is missing or invalid; it names the key and value.
    """
    if not prefix.endswith("."):
        prefix += "."
    spec = {
        "endpoint": config.Option(_endpoints, required="endpoint" not in kwargs),
        "size": config.Option(config.IntegerIn(1, MAX_SIZE)),
        "max_age": config.Option(config.TimespanIn(0, MAX_SPAN, allow_zero=True)),
        "timeout": config.Option(config.TimespanIn(0, MAX_SPAN)),
        "max_retries": config.Option(config.IntegerIn(1, MAX_ATTEMPTS)),
        "max_connection_attempts": config.Option(config.IntegerIn(1, MAX_ATTEMPTS)),
        "protocol": config.Option(_protocol_by_name),
        "transport": config.Option(_transport_by_name),
        "tls.ca": config.Option(config.Path),
        "tls.cert": config.Option(config.Path),
        "tls.key": config.Option(config.Path),
        "tls.verify": config.Option(config.Boolean),
    }
    options = config.parse_options(app_config, prefix, spec)
    if "max_retries" in options and "max_connection_attempts" in options:
        raise ClientConfigError(
            prefix + "max_retries",
            app_config.get(prefix + "max_retries"),
            "set max_retries or max_connection_attempts, not both",
        )
    params: dict[str, Any] = {
        "endpoint": options.get("endpoint"),
        "size": options.get("size", 10),
        "max_age": options.get("max_age", datetime.timedelta(minutes=1)),
        "timeout": options.get("timeout", datetime.timedelta(seconds=1)),
        "max_connection_attempts": options.get(
            "max_connection_attempts", options.get("max_retries", 3)
        ),
    }
    if "protocol" in options:
        params["protocol_factory"] = options["protocol"]
    if "transport" in options:
        params["transport_factory"] = options["transport"]
    if any(key.startswith("tls.") for key in options):
        params["ssl_context"] = _tls_context(app_config, prefix, options)
    if "max_retries" in kwargs:
        params.pop("max_connection_attempts")
    params.update(kwargs)
    if isinstance(params["endpoint"], list):
        return MultiEndpointPool(params.pop("endpoint"), **params)
    return ThriftConnectionPool(**params)

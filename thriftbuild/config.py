"""Parsing of client settings: time spans, endpoints and prefixed config keys.

An application config is a flat mapping of dotted keys to strings, as an INI file
or baseplate's ``app_config`` gives it::

    foo.endpoint = [::1]:9090
    foo.timeout = 500 milliseconds

Parsers here take one string and raise :class:`ValueError` with a reason;
:func:`parse_options` adds the full key and the value, so the user sees
``foo.timeout = '-1 second': must not be negative``.
"""

from __future__ import annotations

import datetime
import ipaddress
import math
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from thriftbuild.errors import ClientConfigError

__all__ = [
    "Boolean",
    "Endpoint",
    "EndpointConfiguration",
    "Integer",
    "IntegerIn",
    "InternetAddress",
    "Option",
    "Path",
    "PositiveInteger",
    "Timespan",
    "TimespanIn",
    "parse_options",
]

_UNITS = {
    "ms": 0.001,
    "msec": 0.001,
    "msecs": 0.001,
    "millisecond": 0.001,
    "milliseconds": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hrs": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
}

# A sign is matched so that "-1 second" gets a precise message instead of "junk".
_TIMESPAN_RE = re.compile(r"^\s*([+-]?)(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]+)\s*$")


def Timespan(text: str) -> datetime.timedelta:
    """Parse a time span such as ``1 second``, ``1.5 seconds``, ``500ms`` or ``2 minutes``.

    Units: milliseconds (``ms``), seconds (``s``), minutes (``m``, ``min``), hours
    (``h``) and days (``d``), singular or plural. Fractions are allowed; negative
    spans, a missing unit and anything else are rejected.

    Args:
        text: the span as written in the config.

    Returns:
        The span as a :class:`datetime.timedelta`.

    Raises:
        ValueError: the text is not a non-negative span with a known unit.
    """
    match = _TIMESPAN_RE.match(text)
    if match is None:
        raise ValueError(
            "not a time span; write a number and a unit, e.g. '1 second' or '500 milliseconds'"
        )
    sign, number, unit = match.groups()
    if sign == "-":
        raise ValueError("a time span must not be negative")
    scale = _UNITS.get(unit.lower())
    if scale is None:
        raise ValueError(
            f"unknown unit {unit!r}; use milliseconds, seconds, minutes, hours or days"
        )
    seconds = float(number) * scale
    if not math.isfinite(seconds) or seconds > 10**9:
        raise ValueError("time span is too large")
    return datetime.timedelta(seconds=seconds)


class InternetAddress(NamedTuple):
    """A host (name, IPv4 or IPv6 literal without brackets) and a TCP port."""

    host: str
    port: int


@dataclass(frozen=True)
class EndpointConfiguration:
    """Where a service listens.

    Attributes:
        family: ``socket.AF_INET`` (host name or IPv4), ``socket.AF_INET6`` or
            ``socket.AF_UNIX``.
        address: an :class:`InternetAddress`, or the socket path for ``AF_UNIX``.
    """

    family: socket.AddressFamily
    address: InternetAddress | str

    def __str__(self) -> str:
        if isinstance(self.address, str):
            return f"unix:{self.address}"
        if self.family == socket.AF_INET6:
            return f"[{self.address.host}]:{self.address.port}"
        return f"{self.address.host}:{self.address.port}"


def _parse_port(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"port {text!r} is not a number")
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is outside 1-65535")
    return port


def Endpoint(text: str) -> EndpointConfiguration:
    """Parse ``host:port``, ``[v6 address]:port``, ``unix:/path`` or ``/path``.

    Args:
        text: the endpoint as written in the config.

    Returns:
        The parsed :class:`EndpointConfiguration`.

    Raises:
        ValueError: the text is none of the accepted forms, or the port is out of range.
    """
    text = text.strip()
    if "," in text:
        raise ValueError(
            "one endpoint expected here, not a comma-separated list "
            "(MultiEndpointPool takes several; thrift_pool_from_config picks it for a list)"
        )
    if text.startswith("unix:"):
        path = text[len("unix:") :]
        if not path:
            raise ValueError("unix: needs a socket path, e.g. unix:/run/svc.sock")
        return EndpointConfiguration(socket.AF_UNIX, path)
    if text.startswith("/"):
        return EndpointConfiguration(socket.AF_UNIX, text)
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError("an IPv6 endpoint is written [address]:port, e.g. [::1]:9090")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address") from None
        return EndpointConfiguration(socket.AF_INET6, InternetAddress(host, _parse_port(rest[1:])))
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError("expected host:port, [v6 address]:port, unix:/path or an absolute path")
    if ":" in host:
        raise ValueError(f"put an IPv6 address in brackets: [{host}]:{port}")
    return EndpointConfiguration(
        socket.AF_INET, InternetAddress(_check_host(host), _parse_port(port))
    )


def _check_host(host: str) -> str:
    """``host`` if it is an IPv4 address or a valid (IDNA) host name."""
    try:
        ipaddress.IPv4Address(host)
        return host
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if not name or len(name) > 253 or not all(labels):
        raise ValueError(f"{host!r} is not a valid host name (empty label or too long)")
    for label in labels:
        try:
            encoded = label.encode("idna")
        except UnicodeError as exc:
            raise ValueError(f"{host!r} is not a valid host name ({exc})") from None
        if len(encoded) > 63 or encoded.startswith(b"-") or encoded.endswith(b"-"):
            raise ValueError(f"{host!r} is not a valid host name (label {label!r})")
        if not all(c.isalnum() or c in "-_" for c in encoded.decode("ascii")):
            raise ValueError(f"{host!r} is not a valid host name (character in {label!r})")
    return host


def Integer(text: str) -> int:
    """Parse a base-10 integer."""
    try:
        return int(text.strip(), 10)
    except ValueError:
        raise ValueError("not an integer") from None


def PositiveInteger(text: str) -> int:
    """Parse an integer that is at least 1."""
    value = Integer(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def IntegerIn(low: int, high: int) -> Callable[[str], int]:
    """A parser of integers from ``low`` to ``high``."""

    def parse(text: str) -> int:
        value = Integer(text)
        if not low <= value <= high:
            raise ValueError(f"must be from {low} to {high}")
        return value

    return parse


def TimespanIn(
    low: float, high: float, *, allow_zero: bool = False
) -> Callable[[str], datetime.timedelta]:
    """A parser of time spans above ``low`` (or equal, with ``allow_zero``) up to ``high``
    seconds."""

    def parse(text: str) -> datetime.timedelta:
        span = Timespan(text)
        seconds = span.total_seconds()
        if seconds > high or seconds < low or (seconds == low and not allow_zero):
            lowest = "0" if allow_zero else f"more than {low:g} s"
            raise ValueError(f"must be {lowest} to {high:g} s")
        return span

    return parse


def Path(text: str) -> str:
    """A file path (no NUL characters)."""
    if "\0" in text:
        raise ValueError("a path must not contain NUL characters")
    return text


def Boolean(text: str) -> bool:
    """Parse ``true``/``false`` (also ``yes``/``no``, ``on``/``off``, ``1``/``0``)."""
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise ValueError("expected true or false")


@dataclass(frozen=True)
class Option:
    """One key of a prefixed config section.

    Attributes:
        parser: turns the raw string into a value, raising ``ValueError``.
        required: whether a missing key is an error.
    """

    parser: Callable[[str], Any]
    required: bool = False


def parse_options(
    app_config: Mapping[str, str], prefix: str, spec: Mapping[str, Option]
) -> dict[str, Any]:
    """Read the keys ``prefix + name`` for each option in ``spec``.

    Args:
        app_config: the flat application config.
        prefix: the section, with its trailing dot, e.g. ``"foo."``.
        spec: option name to :class:`Option`.

    Returns:
        Parsed values of the keys present (missing optional keys are left out).

    Raises:
        ClientConfigError: a required key is missing or a value does not parse;
            the error names the full key and the raw value.
    """
    values: dict[str, Any] = {}
    for name, option in spec.items():
        key = prefix + name
        raw: object = app_config.get(key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if option.required:
                raise ClientConfigError(key, raw, "required but not set")
            continue
        if isinstance(raw, (bool, int, float)):
            text = str(raw).lower() if isinstance(raw, bool) else str(raw)  # dict configs
        elif isinstance(raw, str):
            text = raw
        else:
            raise ClientConfigError(key, raw, f"expected a string, not {type(raw).__name__}")
        if "\0" in text:
            raise ClientConfigError(key, raw, "must not contain NUL characters")
        try:
            values[name] = option.parser(text)
        except (ValueError, OverflowError, UnicodeError) as exc:
            raise ClientConfigError(key, raw, str(exc)) from exc
    return values

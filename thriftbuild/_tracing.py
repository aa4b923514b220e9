"""OpenTelemetry client spans, when opentelemetry-api is installed and configured.

Each call attempt becomes a ``CLIENT`` span named ``<client name>/<method>`` with the
RPC semantic-convention attributes; on THeader connections the trace context is
propagated in the request headers (``traceparent``), which baseplate servers read.
Without opentelemetry-api, or while no tracer provider is configured, nothing
happens and calls pay for one check.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Tracing", "load"]


class Tracing:
    """Spans for one proxy's calls.

    Args:
        trace: the ``opentelemetry.trace`` module.
        propagate: the ``opentelemetry.propagate`` module.
        provider: a tracer provider to use instead of the global one.
    """

    def __init__(self, trace: Any, propagate: Any, provider: Any = None) -> None:
        self._trace = trace
        self._inject: Callable[[dict[str, str]], None] = propagate.inject
        self._provider = provider
        self._fixed = None if provider is None else provider.get_tracer("thriftbuild")
        self._current: Any = None
        self._current_provider: Any = None
        self._recheck_at = 0.0

    def tracer(self) -> Any:
        """The tracer to use now, or ``None`` while no provider is configured."""
        if self._provider is not None:
            return self._fixed
        now = time.monotonic()
        if now < self._recheck_at:
            return self._current
        # Asking for the global provider costs more than a call's other overhead, so
        # it is looked up at most once a second: a provider configured later is
        # picked up within a second.
        self._recheck_at = now + 1.0
        provider = self._trace.get_tracer_provider()
        if isinstance(provider, self._trace.ProxyTracerProvider):
            self._current = None  # the API alone, no SDK set up: spans would go nowhere
        elif provider is not self._current_provider:
            self._current = provider.get_tracer("thriftbuild")
            self._current_provider = provider
        return self._current

    def span(self, tracer: Any, client: str, method: str, endpoint: str) -> Any:
        """Start a CLIENT span for one attempt (a context manager)."""
        host, _, port = endpoint.rpartition(":")
        attributes: dict[str, Any] = {
            "rpc.system": "thrift",
            "rpc.service": client,
            "rpc.method": method,
            "server.address": host.strip("[]") or endpoint,
        }
        if port.isdigit():
            attributes["server.port"] = int(port)
        return tracer.start_as_current_span(
            f"{client}/{method}",
            kind=self._trace.SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )

    def headers(self) -> dict[str, str]:
        """The current trace context as request headers."""
        carrier: dict[str, str] = {}
        self._inject(carrier)
        return carrier

    def failed(self, span: Any, exc: BaseException, expected: bool) -> None:
        """Mark ``span`` with ``exc``; an IDL-declared exception is not an error."""
        status = self._trace.Status
        code = self._trace.StatusCode
        if expected:
            span.set_attribute("rpc.thrift.exception", type(exc).__name__)
            span.set_status(status(code.OK))
            return
        span.record_exception(exc)
        span.set_status(status(code.ERROR, f"{type(exc).__name__}: {exc}"))


def load(provider: Any = None) -> Tracing | None:
    """A :class:`Tracing`, or ``None`` when opentelemetry-api is not installed."""
    try:
        trace = importlib.import_module("opentelemetry.trace")
        propagate = importlib.import_module("opentelemetry.propagate")
    except ImportError:
        return None
    return Tracing(trace, propagate, provider)

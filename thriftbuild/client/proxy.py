"""The pooled client proxy, its factories and ``configure_context``.

A proxy has the generated client's methods; each call checks a connection out of
the pool, runs the generated method on it and gives the connection back, reusable
only if the exchange completed (a result or an IDL exception). With
:meth:`PooledClientProxy.retrying`, failed calls are tried again when that is
safe: always when the request provably never reached the server, and for
maybe-executed failures only when the method is marked idempotent.
"""

from __future__ import annotations

import inspect
import math
import sys
import time
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from thrift.transport.TTransport import TTransportException

from thriftbuild import _tracing, wire
from thriftbuild.client.base import Pool, is_idl_exception
from thriftbuild.client.settings import thrift_pool_from_config
from thriftbuild.errors import RetriesExhaustedError, ThriftClientError
from thriftbuild.metrics import CallInstruments, ClientMetrics, default_metrics
from thriftbuild.retry import RetryPolicy
from thriftbuild.service import service_view

__all__ = [
    "ClientContext",
    "PooledClientProxy",
    "ThriftClient",
    "ThriftContextFactory",
    "configure_context",
]

_monotonic = time.monotonic


def service_methods(client_cls: type) -> list[str]:
    """The service methods of a generated ``Client`` class (those of its ``Iface``s)."""
    names: list[str] = []
    found = False
    for base in inspect.getmro(client_cls):
        if base.__name__ == "Iface":
            found = True
            for name, value in vars(base).items():
                if inspect.isfunction(value) and not name.startswith("_") and name not in names:
                    names.append(name)
    if not found:
        raise TypeError(f"{client_cls!r} is not a generated Thrift client: it has no Iface base")
    return sorted(names)


def _retryable(exc: Exception, method: str, idempotent: frozenset[str] | bool) -> bool:
    if is_idl_exception(exc) or not isinstance(exc, TTransportException):
        return False
    if isinstance(exc, ThriftClientError) and not exc.request_sent:
        return True  # the server never saw it: safe for any method
    return idempotent is True or (idempotent is not False and method in idempotent)


def _idempotent_set(value: bool | Iterable[str] | None) -> frozenset[str] | bool:
    if value is None or value is False:
        return False
    if value is True:
        return True
    return frozenset(value)


class PooledClientProxy:
    """Acts like the generated client; every call goes through the pool.

    Instances are made by :class:`ThriftContextFactory`; the service's methods are
    added to a subclass per client class.
    """

    _method_names: tuple[str, ...] = ()

    def __init__(
        self,
        factory: ThriftContextFactory,
        name: str,
        policy: RetryPolicy | None = None,
        idempotent: frozenset[str] | bool = False,
    ) -> None:
        self._factory = factory
        self._pool = factory.pool
        self._client_cls = factory.client_cls
        self._name = name
        self._policy = policy
        self._idempotent = idempotent
        self._calls = factory._instruments(name)
        self._headers = factory.pool.headers_supported
        self._direct = factory.direct
        self._tracing = factory.tracing

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name!r} via {self._pool!r}>"

    @property
    def pool(self) -> Pool:
        """The connection pool this proxy calls through."""
        return self._pool

    def __enter__(self) -> PooledClientProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def retrying(
        self,
        attempts: int | None = None,
        budget: float | None = None,
        backoff: float | None = None,
        *,
        idempotent: bool | Iterable[str] | None = None,
        max_backoff: float = 1.0,
    ) -> PooledClientProxy:
        """A proxy whose calls retry transient failures (usable in a ``with`` block).

        ``with proxy.retrying(attempts=3) as svc: svc.ping()`` works as in baseplate;
        the proxy is its own context manager (a generator-based one would fail on
        Apache's immutable generated exceptions), so it can also be kept and reused.

        Args:
            attempts: the most tries per call, counting the first (a hard cap);
                3 when neither ``attempts`` nor ``budget`` is given.
            budget: seconds a call may take over all its tries; each try's socket
                timeout is ``min(pool timeout, time left)``.
            backoff: first pause between tries in seconds, doubling after.
            idempotent: ``True`` if every method may safely run twice, or the names
                of those that may; only these are retried after a failure that may
                have reached the server (a read timeout, EOF after sending).
                Defaults to the factory's setting.
            max_backoff: the longest pause.

        Returns:
            The retrying proxy.
        """
        if attempts is None and budget is None:
            attempts = 3
        policy = RetryPolicy.new(attempts, budget, backoff, max_backoff=max_backoff)
        marked = self._idempotent if idempotent is None else _idempotent_set(idempotent)
        return type(self)(self._factory, self._name, policy, marked)

    def _invoke(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        policy = self._policy
        if policy is None:
            return self._traced(method, args, kwargs, None)
        last: Exception | None = None
        tries = 0
        maybe_sent = False
        for attempt in policy.schedule():
            if attempt.pause:
                time.sleep(attempt.pause)
            tries += 1
            try:
                return self._traced(method, args, kwargs, attempt.time_left)
            except Exception as exc:
                if not _retryable(exc, method, self._idempotent):
                    raise
                last = exc
                maybe_sent = maybe_sent or getattr(exc, "request_sent", True)
        endpoint = str(self._pool.endpoint)
        detail = f": {last}" if last is not None else ""
        raise RetriesExhaustedError(
            f"{self._name}.{method}() on {endpoint} failed after {tries} "
            f"attempt{'s' if tries != 1 else ''}{detail}",
            endpoint=endpoint,
            method=method,
            request_sent=maybe_sent,
            type=getattr(last, "type", TTransportException.UNKNOWN),
        ) from last

    def _traced(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], time_left: float | None
    ) -> Any:
        tracing = self._tracing
        tracer = None if tracing is None else tracing.tracer()
        if tracer is None:
            return self._attempt(method, args, kwargs, time_left)
        assert tracing is not None
        with tracing.span(tracer, self._name, method, str(self._pool.endpoint)) as span:
            headers = tracing.headers() if self._headers else None
            try:
                return self._attempt(method, args, kwargs, time_left, headers)
            except BaseException as exc:
                tracing.failed(span, exc, is_idl_exception(exc))
                raise

    def _attempt(
        self,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        time_left: float | None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        pool = self._pool
        calls = self._calls
        start = _monotonic()
        timeout = pool.timeout
        if time_left is not None and time_left < timeout:
            timeout = time_left
        deadline = start + timeout
        waited: float | None = None
        try:
            conn = pool.checkout(deadline, start, timed=calls is None, method=method)
            if calls is not None:
                waited = _monotonic() - start
            try:
                channel = conn.channel
                # begin_call(), inlined: bound this call's I/O, name it in errors.
                channel.deadline = deadline
                channel.method = method
                channel.sent = False
                protocol = conn.protocol
                if self._headers:
                    budget_ms = math.ceil((deadline - _monotonic()) * 1000)
                    channel.budget_ms = budget_ms if budget_ms > 0 else 1
                    if headers:
                        for key, value in headers.items():
                            channel.set_header(key.encode(), value.encode())
                info = self._direct.get(method) if protocol.direct else None
                if info is not None:
                    result = protocol.invoke(info, args, kwargs)
                else:
                    client = conn.clients.get(self._client_cls)
                    if client is None:
                        client = conn.clients[self._client_cls] = self._client_cls(protocol)
                    result = getattr(client, method)(*args, **kwargs)
            except BaseException as exc:
                # Reusable only if the exchange completed: an IDL exception.
                pool.checkin(conn, is_idl_exception(exc))
                raise
            pool.checkin(conn, True)
        except BaseException as exc:
            if calls is not None:
                calls[method].record(_monotonic() - start, exc, waited)
            raise
        if calls is not None:
            calls[method].record(_monotonic() - start, None, waited)
        return result


def _make_method(name: str, doc: str | None) -> Callable[..., Any]:
    def method(self: PooledClientProxy, *args: Any, **kwargs: Any) -> Any:
        if self._policy is None:
            tracing = self._tracing
            if tracing is None or tracing.tracer() is None:  # the common case, fewer frames
                return self._attempt(name, args, kwargs, None)
        return self._invoke(name, args, kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = doc
    return method


_proxy_classes: dict[type, type[PooledClientProxy]] = {}


def direct_calls(client_cls: type, names: Iterable[str]) -> dict[str, wire.Method]:
    """Methods the proxy may call without the generated client's layers.

    A method qualifies when ``client_cls`` runs the generated code unchanged (it is
    not overridden in a subclass) and the service view of its module has it.
    """
    module = sys.modules.get(client_cls.__module__)
    generated = getattr(module, "Client", None)
    if module is None or generated is None:
        return {}
    try:
        view = service_view(module)
    except TypeError:
        return {}
    return {
        name: view[name]
        for name in names
        if name in view and getattr(client_cls, name, None) is getattr(generated, name, None)
    }


def _proxy_class(client_cls: type) -> type[PooledClientProxy]:
    cls = _proxy_classes.get(client_cls)
    if cls is None:
        names = service_methods(client_cls)
        namespace: dict[str, Any] = {"_method_names": tuple(names)}
        for name in names:
            if hasattr(PooledClientProxy, name):
                raise TypeError(f"service method {name!r} clashes with the proxy's own API")
            namespace[name] = _make_method(name, getattr(client_cls, name).__doc__)
        cls = type(f"{client_cls.__module__}.PooledClient", (PooledClientProxy,), namespace)
        _proxy_classes[client_cls] = cls
    return cls


class ThriftContextFactory:
    """Makes pooled proxies for one generated client class (baseplate's API).

    Args:
        pool: the connection pool.
        client_cls: a generated client class, e.g. ``Echo.Client``.
        idempotent: ``True`` if every method may safely run twice, or the names of
            those that may (used by :meth:`PooledClientProxy.retrying`).
        metrics: a :class:`~thriftbuild.metrics.ClientMetrics`, ``None`` for the
            default registry when prometheus_client is installed, or ``False``.
        tracing: ``None`` for OpenTelemetry client spans whenever opentelemetry-api
            is installed and a tracer provider is configured, a tracer provider to
            use instead of the global one, or ``False`` for none.
    """

    def __init__(
        self,
        pool: Pool,
        client_cls: type,
        *,
        idempotent: bool | Iterable[str] | None = None,
        metrics: ClientMetrics | bool | None = None,
        tracing: Any = None,
    ) -> None:
        self.pool = pool
        self.client_cls = client_cls
        self.idempotent = _idempotent_set(idempotent)
        self.proxy_cls = _proxy_class(client_cls)
        self.direct = direct_calls(client_cls, self.proxy_cls._method_names)
        self.tracing = None if tracing is False else _tracing.load(tracing or None)
        resolved = default_metrics() if metrics is None or metrics is True else metrics
        self._metrics: ClientMetrics | None = resolved or None
        self._by_name: dict[str, dict[str, CallInstruments] | None] = {}

    def _instruments(self, name: str) -> dict[str, CallInstruments] | None:
        if self._metrics is None:
            return None
        calls = self._by_name.get(name)
        if calls is None:
            self.pool.adopt_name(name)  # the pool's gauges under the proxy's name
            metrics = self._metrics
            calls = {m: metrics.call(name, m) for m in self.proxy_cls._method_names}
            self._by_name[name] = calls
        return calls

    def make_object_for_context(self, name: str, span: Any = None) -> PooledClientProxy:
        """A proxy named ``name`` (the label of its metrics); ``span`` is ignored."""
        return self.proxy_cls(self, name, None, self.idempotent)

    def proxy(self, name: str | None = None) -> PooledClientProxy:
        """A proxy; ``name`` defaults to the pool's name."""
        return self.make_object_for_context(name or self.pool.name)


class ThriftClient:
    """Config-driven client spec for :func:`configure_context` (baseplate's API).

    Args:
        client_cls: a generated client class, e.g. ``Echo.Client``.
        **kwargs: pool options overriding the config (see
            :func:`~thriftbuild.client.thrift_pool_from_config`), plus ``idempotent``,
            ``metrics`` and ``tracing`` for :class:`ThriftContextFactory`.
    """

    def __init__(self, client_cls: type, **kwargs: Any) -> None:
        self.client_cls = client_cls
        self.kwargs = kwargs

    def parse(self, key_path: str, app_config: Mapping[str, str]) -> ThriftContextFactory:
        """Build the factory from the keys under ``key_path + "."``."""
        kwargs = dict(self.kwargs)
        idempotent = kwargs.pop("idempotent", None)
        metrics = kwargs.pop("metrics", None)
        tracing = kwargs.pop("tracing", None)
        kwargs.setdefault("name", key_path)
        kwargs.setdefault("metrics", metrics)
        pool = thrift_pool_from_config(app_config, key_path + ".", **kwargs)
        return ThriftContextFactory(
            pool, self.client_cls, idempotent=idempotent, metrics=metrics, tracing=tracing
        )


class ClientContext(types.SimpleNamespace):
    """The object :func:`configure_context` returns: one attribute per client."""


def configure_context(
    app_config: Mapping[str, str], spec: Mapping[str, Any], *, _prefix: str = ""
) -> ClientContext:
    """Build clients from config, like baseplate's ``configure_context``.

    Args:
        app_config: the flat application config (``foo.endpoint = ...``).
        spec: attribute name to :class:`ThriftClient` (or a ready
            :class:`ThriftContextFactory`, or a nested mapping for dotted sections).

    Returns:
        An object whose attribute ``foo`` is the pooled proxy for ``spec["foo"]``.
    """
    context = ClientContext()
    for attr, item in spec.items():
        key_path = _prefix + attr
        if isinstance(item, Mapping):
            value: Any = configure_context(app_config, item, _prefix=key_path + ".")
        elif isinstance(item, ThriftContextFactory):
            value = item.make_object_for_context(key_path)
        elif hasattr(item, "parse"):
            value = item.parse(key_path, app_config).make_object_for_context(key_path)
        else:
            raise TypeError(f"{key_path}: expected a ThriftClient, not {item!r}")
        setattr(context, attr, value)
    return context

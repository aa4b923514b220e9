"""Request handling without I/O: a request's bytes in, its reply's bytes out.

A :class:`Dispatcher` binds a service (Apache-generated or thriftpy2, through
:func:`thriftbuild.service.service_view`) to a handler -- a plain object with one
method per API (aiothrift's "Dispatcher"), an Apache ``Processor`` or a thriftpy2
``TProcessor``. For every complete request a :class:`ServerConnection` decodes, it
gives a :class:`Call`: the handler method, its arguments and the
:class:`~thriftbuild.dispatch.Request`. The driver -- a thread, a greenlet or an
asyncio task -- runs the handler however suits it, then :meth:`Dispatcher.finish`
maps the outcome and returns the reply framed in the client's dialect.
:meth:`Dispatcher.handle` does both for synchronous drivers.

Outcomes, as Apache's generated processors map them:

* a return value: a ``REPLY`` with ``success`` set;
* an exception the IDL declares for the method: a ``REPLY`` with that field set;
* a ``TApplicationException`` (Apache's, thriftpy2's, or aio's ``ThriftAppError``):
  an ``EXCEPTION`` message with its type and message;
* anything else: an ``EXCEPTION`` message ``TApplicationException(INTERNAL_ERROR)``
  and one log line with the traceback on the ``thriftbuild.server`` logger;
* oneway methods: no reply whatever happens (failures are logged).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from thriftbuild import wire
from thriftbuild.dispatch.request import Request, _current, deadline_from, decode_headers
from thriftbuild.server_metrics import ServerMetrics, default_server_metrics
from thriftbuild.service import ServiceView, service_view

__all__ = ["Call", "Dispatcher"]

log = logging.getLogger("thriftbuild.server")

# TApplicationException type codes (the same in every Thrift implementation).
UNKNOWN_METHOD = 1
INTERNAL_ERROR = 6
_UNKNOWN = "<unknown>"


class Call:
    """One request, decoded and ready to run.

    Attributes:
        request: what the handler can read through ``current_request()``.
        handler: the handler's bound method, or ``None`` (the reply is already
            decided: unknown or unimplemented method).
        args: the positional arguments, in the order the service's own
            processor would pass them.
        is_coroutine: ``handler`` is an ``async def``: await it; otherwise call it
            (from a worker thread when the driver must not block).
        oneway: no reply is sent.
    """

    __slots__ = (
        "_dialect",
        "_frame",
        "args",
        "handler",
        "is_coroutine",
        "method",
        "oneway",
        "request",
        "started",
    )

    def __init__(
        self,
        request: Request,
        method: wire.Method | None,
        handler: Callable[..., Any] | None,
        args: tuple[Any, ...],
        frame: wire.Frame,
        dialect: wire.Dialect,
    ) -> None:
        self.request = request
        self.method = method
        self.handler = handler
        self.args = args
        self.is_coroutine = handler is not None and inspect.iscoroutinefunction(handler)
        self.oneway = method is not None and method.oneway
        self.started = time.perf_counter()
        self._frame = frame
        self._dialect = dialect

    @contextlib.contextmanager
    def active(self) -> Iterator[Request]:
        """Make :func:`~thriftbuild.dispatch.current_request` return this request.

        Drivers wrap the handler's execution in it (the ``await`` of a coroutine
        handler, or the call in the worker thread).
        """
        token = _current.set(self.request)
        try:
            yield self.request
        finally:
            _current.reset(token)

    def invoke(self) -> Any:
        """Call a plain handler here, with the request active; returns its value."""
        assert self.handler is not None
        with self.active():
            return self.handler(*self.args)


class Dispatcher:
    """Binds a service to a handler and turns requests into replies.

    Args:
        service: an Apache-generated service module (or one of its classes) or a
            thriftpy2 service; may be omitted when ``handler`` is a processor.
        handler: an object with one method per API (plain or ``async def``), an
            Apache ``Processor`` or a thriftpy2 ``TProcessor`` (its handler is used).
        limits: bounds on every request read (frame, string, container sizes).
        metrics: where to record; ``None`` for prometheus_client's default registry
            when it is installed, ``False`` to record nothing.

    Raises:
        TypeError: no service could be found for ``handler``.
    """

    def __init__(
        self,
        service: Any,
        handler: Any,
        *,
        limits: wire.Limits = wire.DEFAULT_LIMITS,
        metrics: ServerMetrics | bool | None = None,
    ) -> None:
        service, handler = _unwrap(service, handler)
        self.view: ServiceView = service_view(service)
        self.handler = handler
        self.limits = limits
        if metrics is None or metrics is True:
            metrics = default_server_metrics()
        self.metrics: ServerMetrics | None = metrics or None
        self.name = self.view.name
        self._bound: dict[str, Callable[..., Any] | None] = {}
        self._codec = wire.THRIFTPY2 if self.view.kind == "thriftpy2" else wire.APACHE
        self._in_flight = None if self.metrics is None else self.metrics.in_flight(self.name)
        #: Requests finished (replied to or not), for drivers that recycle after N.
        self.handled = 0
        self._active: dict[Call, float] = {}  # begun, not finished -> perf_counter start

    def oldest_active(self) -> float | None:
        """``time.perf_counter()`` at which the longest-running unfinished call began.

        ``None`` when no call is in progress. Lets a driver notice a handler stuck
        past a deadline (gunicorn's ``--timeout``) whatever runs it.
        """
        started = list(self._active.values())  # one C-level copy: safe across threads
        return min(started) if started else None

    # -- requests ---------------------------------------------------------------------

    def begin(self, frame: wire.Frame, dialect: wire.Dialect, peer: Any = None) -> Call:
        """Decode one request.

        Raises:
            WireError: the message is not a call, or its arguments do not decode
                (the connection should be closed).
        """
        received = time.monotonic()
        head, body = wire.decode_head(frame.protocol, frame.payload, self.limits)
        if head.type not in (wire.MessageType.CALL, wire.MessageType.ONEWAY):
            raise wire.WireError(f"expected a call, got message type {head.type} ({head.name!r})")
        headers = decode_headers(frame.headers) if frame.headers else {}
        request = Request(
            self.name,
            head.name,
            head.seqid,
            headers,
            deadline_from(headers, received) if headers else None,
            peer,
            received,
        )
        method = self.view.methods.get(head.name)
        if method is None:
            return Call(request, None, None, (), frame, dialect)
        args = wire.decode_args(method, frame.protocol, frame.payload, body, self.limits)
        handler = self._handler_for(head.name)
        values = tuple(getattr(args, name) for name in self.view.params[head.name])
        if self._in_flight is not None:
            self._in_flight.inc()
        call = Call(request, method, handler, values, frame, dialect)
        self._active[call] = call.started
        return call

    def _handler_for(self, name: str) -> Callable[..., Any] | None:
        try:
            return self._bound[name]
        except KeyError:
            found = getattr(self.handler, name, None)
            bound = self._bound[name] = found if callable(found) else None
            return bound

    def finish(
        self, call: Call, value: Any = None, error: BaseException | None = None
    ) -> bytes | None:
        """The framed reply to ``call`` given its handler's outcome (``None``: send nothing).

        Args:
            call: from :meth:`begin`.
            value: what the handler returned.
            error: what it raised instead (``CancelledError`` and other
                ``BaseException``\\ s record ``cancelled`` and give no reply).
        """
        method, request = call.method, call.request
        self.handled += 1
        if method is None:
            reply = self._app_error(call, UNKNOWN_METHOD, f"Unknown function {request.method}")
            self._record(_UNKNOWN, "unknown_method", call)
            return reply
        self._active.pop(call, None)
        if self._in_flight is not None:
            self._in_flight.dec()
        if call.handler is None:
            message = f"{self.name}.{request.method} is not implemented by the handler"
            log.error("%s", message)
            self._record(request.method, "internal_error", call)
            return None if call.oneway else self._app_error(call, INTERNAL_ERROR, message)
        if error is not None and not isinstance(error, Exception):
            self._record(request.method, "cancelled", call)
            return None
        if call.oneway:
            if error is not None:
                log.error("%s.%s (oneway) failed", self.name, request.method, exc_info=error)
            self._record(request.method, "success" if error is None else "oneway_error", call)
            return None
        if error is None:
            outcome = "success"
            result = (
                _new_result(method, "success", value) if method.returns else _new_result(method)
            )
        else:
            field = self._declared_field(request.method, error)
            if field is not None:
                outcome = "declared_exception"
                result = _new_result(method, field, error)
            else:
                app = _app_exception_args(error)
                if app is not None:
                    self._record(request.method, "application_exception", call)
                    return self._app_error(call, *app)
                log.error("%s.%s failed", self.name, request.method, exc_info=error)
                self._record(request.method, "internal_error", call)
                return self._app_error(call, INTERNAL_ERROR, "Internal error")
        try:
            payload = wire.encode_reply(method, call._frame.protocol, request.seqid, result)
        except Exception as exc:  # a handler returned a value its IDL type cannot hold
            log.error("%s.%s: cannot encode the reply", self.name, request.method, exc_info=exc)
            self._record(request.method, "internal_error", call)
            return self._app_error(call, INTERNAL_ERROR, "Internal error: cannot encode result")
        self._record(request.method, outcome, call)
        return self._frame(call, payload)

    def handle(self, call: Call) -> bytes | None:
        """Run ``call``'s handler in this thread and return the framed reply.

        For synchronous drivers (threads, gevent). A coroutine handler is run to
        completion with :func:`asyncio.run` in this thread.
        """
        try:
            if call.handler is None:
                value = None
            elif call.is_coroutine:
                import asyncio

                with call.active():
                    value = asyncio.run(call.handler(*call.args))
            else:
                value = call.invoke()
        except BaseException as exc:
            reply = self.finish(call, error=exc)
            if not isinstance(exc, Exception):
                raise
            return reply
        return self.finish(call, value)

    # -- helpers ----------------------------------------------------------------------

    def _declared_field(self, name: str, error: BaseException) -> str | None:
        for field, cls in self.view.raises[name]:
            if isinstance(error, cls):
                return field
        return None

    def _app_error(self, call: Call, kind: int, message: str) -> bytes:
        exc = self._codec.app_exception(kind, message)
        request = call.request
        payload = wire.encode_exception(
            request.method, call._frame.protocol, request.seqid, exc, self._codec
        )
        return self._frame(call, payload)

    def _frame(self, call: Call, payload: bytes) -> bytes:
        frame = call._frame
        return call._dialect.frame(
            payload, protocol=frame.protocol, seqid=frame.seqid, zlib=frame.zlib
        )

    def _record(self, method: str, outcome: str, call: Call) -> None:
        if self.metrics is not None:
            seconds = time.perf_counter() - call.started
            self.metrics.record(self.name, method, outcome, seconds)


def _new_result(method: wire.Method, field: str | None = None, value: Any = None) -> Any:
    assert method.result_cls is not None
    result = method.result_cls()
    if field is not None:
        setattr(result, field, value)
    return result


def _app_exception_args(error: BaseException) -> tuple[int, str] | None:
    """``(type, message)`` when ``error`` is an application exception of any runtime."""
    names = ("TApplicationException", "ThriftAppError")
    if not any(cls.__name__ in names for cls in type(error).__mro__):
        return None
    kind = getattr(error, "type", None)
    message = getattr(error, "message", None)
    if not isinstance(kind, int):
        return None
    return kind, message if isinstance(message, str) else str(error)


def _unwrap(service: Any, handler: Any) -> tuple[Any, Any]:
    """The service and the handler object, when ``handler`` is a processor."""
    if hasattr(handler, "_processMap") and hasattr(handler, "_handler"):  # Apache Processor
        return (type(handler) if service is None else service), handler._handler
    if hasattr(handler, "_service") and hasattr(handler, "_handler"):  # thriftpy2 TProcessor
        return (handler._service if service is None else service), handler._handler
    if service is None:
        raise TypeError(
            f"no service given and {handler!r} is not an Apache Processor or a thriftpy2 TProcessor"
        )
    return service, handler

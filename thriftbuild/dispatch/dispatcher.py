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

import inspect
import itertools
import logging
import operator
import struct
import time
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from thriftbuild import wire
from thriftbuild.dispatch.request import Request, _current, deadline_from, decode_headers
from thriftbuild.server_metrics import ServerMetrics, default_server_metrics
from thriftbuild.service import ServiceView, service_view
from thriftbuild.wire.calls import args_decoder, result_encoder, success_encoder

__all__ = ["Call", "Dispatcher"]

log = logging.getLogger("thriftbuild.server")

# TApplicationException type codes (the same in every Thrift implementation).
UNKNOWN_METHOD = 1
INTERNAL_ERROR = 6
_UNKNOWN = "<unknown>"
_CALL_TYPES = (wire.MessageType.CALL, wire.MessageType.ONEWAY)
_NO_HEADERS: Mapping[str, str] = types.MappingProxyType({})
_REPLY = int(wire.MessageType.REPLY)  # a plain int: enum members cost a lookup each
_CALL, _ONEWAY = int(wire.MessageType.CALL), int(wire.MessageType.ONEWAY)
_BINARY = wire.BINARY
_I32 = struct.Struct("!i")
_FRAMED = wire.Framing.FRAMED
# Request(...) without its generated __new__ frame (the fields are positional).
_new_tuple = tuple.__new__
_new_object = object.__new__
# What Dialect.frame allows a framed reply (it frames with the default limits: what a
# client reads by default, whatever this server accepts); a longer one takes that
# path and fails there as it always did.
_MAX_REPLY_FRAME = wire.DEFAULT_LIMITS.max_frame
_STOP = b"\x00"  # an empty struct: its STOP byte alone (binary and compact alike)


class _Plan:
    """What every request to one method needs, worked out on its first request.

    The handler's bound method and whether it is a coroutine function, how to take
    its arguments out of the decoded ``<method>_args``, the reply head's fixed
    part, the metric children -- none of it changes between requests.
    """

    __slots__ = (
        "args",
        "bare",
        "decoders",
        "encoders",
        "finishers",
        "handler",
        "is_coroutine",
        "method",
        "name",
        "oneway",
        "recorders",
        "success_encoders",
        "void_framed",
    )

    def __init__(self, view: ServiceView, handler: Any, name: str) -> None:
        self.name = name
        self.method: wire.Method | None = view.methods.get(name)
        found = getattr(handler, name, None) if self.method is not None else None
        self.handler: Callable[..., Any] | None = found if callable(found) else None
        self.is_coroutine = self.handler is not None and inspect.iscoroutinefunction(self.handler)
        self.oneway = self.method is not None and self.method.oneway
        params = view.params.get(name, ())
        self.args = _extractor(params)
        # No parameters: a call sending none (its body a STOP byte) needs no decoding.
        self.bare = not params
        self.recorders: dict[str, Callable[[float], None]] = {}
        self.finishers: dict[str, Callable[[float], None]] = {}
        # Protocol -> the method's argument decoder / result encoder (see wire.calls).
        self.decoders: dict[int, Callable[[bytes, int], Any]] = {}
        self.encoders: dict[int, Callable[[Any], bytes]] = {}
        # Protocol -> the encoder of a returned value without a result struct, for a
        # method whose result is one string/binary success (None: other methods).
        self.success_encoders: dict[int, Callable[[Any], bytes | None] | None] = {}
        # A void method's framed binary reply around its sequence id (made on first use).
        self.void_framed: tuple[bytes, bytes] | None = None


def _extractor(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A function giving the handler's positional arguments from an ``_args`` struct."""
    if not names:
        return lambda args: ()
    if len(names) == 1:
        (name,) = names
        return lambda args: (getattr(args, name),)
    return operator.attrgetter(*names)


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
        started: ``time.monotonic()`` when the request was complete (as
            ``request.received``).
    """

    __slots__ = (
        "_dialect",
        "_frame",
        "_plan",
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
        plan: _Plan,
        args: tuple[Any, ...],
        frame: wire.Frame,
        dialect: wire.Dialect,
    ) -> None:
        # Dispatcher.begin sets these same fields itself, without calling this.
        self.request = request
        self.method = plan.method
        self.handler = plan.handler
        self.args = args
        self.is_coroutine = plan.is_coroutine
        self.oneway = plan.oneway
        self.started = request.received
        self._plan = plan
        self._frame = frame
        self._dialect = dialect

    @contextmanager
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
        handler = self.handler
        assert handler is not None
        token = _current.set(self.request)
        try:
            return handler(*self.args)
        finally:
            _current.reset(token)


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
        # Method name -> plan. Names the service does not have share one plan, so a
        # client sending random names cannot grow this.
        self._plans: dict[str, _Plan] = {}
        # A strict binary call head up to its sequence id -> the method's plan, for
        # every method called so far: most requests are recognised by one lookup.
        self._heads: dict[bytes, _Plan] = {}
        self._longest_head = 0
        self._unknown = _Plan(self.view, handler, _UNKNOWN)
        self._codec = wire.THRIFTPY2 if self.view.kind == "thriftpy2" else wire.APACHE
        self._in_flight = None if self.metrics is None else self.metrics.in_flight_adder(self.name)
        #: Requests finished (replied to or not), for drivers that recycle after N.
        self.handled = 0
        # Counts finishes: next() is atomic under the GIL where `handled += 1` from
        # several threads could lose increments.
        self._finished = itertools.count(1)
        #: Called (no arguments) each time :attr:`handled` grows, in the finishing thread.
        self.on_finish: Callable[[], None] | None = None
        self._active: dict[Call, float] = {}  # begun, not finished -> monotonic start

    def oldest_active(self) -> float | None:
        """``time.monotonic()`` at which the longest-running unfinished call began.

        ``None`` when no call is in progress. Lets a driver notice a handler stuck
        past a deadline (gunicorn's ``--timeout``) whatever runs it.
        """
        started = list(self._active.values())  # one C-level copy: safe across threads
        return min(started) if started else None

    # -- requests ---------------------------------------------------------------------

    def _plan(self, name: str) -> _Plan:
        plan = self._plans.get(name)
        if plan is None:
            if name not in self.view.methods:
                return self._unknown
            plan = self._plans[name] = _Plan(self.view, self.handler, name)
            for mtype in (_CALL, _ONEWAY):  # clients mark oneway calls either way
                head = wire.head_parts(_BINARY, name, mtype)[0]
                self._heads[head] = plan
                self._longest_head = max(self._longest_head, len(head))
        return plan

    def begin(self, frame: wire.Frame, dialect: wire.Dialect, peer: Any = None) -> Call:
        """Decode one request.

        Raises:
            WireError: the message is not a call, or its arguments do not decode
                (the connection should be closed).
        """
        received = time.monotonic()
        protocol, payload = frame.protocol, frame.payload
        plan = None
        if protocol == _BINARY and len(payload) >= 12:
            # A known method's strict head is its bytes up to the sequence id (what
            # wire.head_parts encodes): a match is the whole head check, and tells
            # the name and type without decoding them. Anything else reads the head.
            end = 8 + _I32.unpack_from(payload, 4)[0]
            if end <= self._longest_head and len(payload) >= end + 4:
                plan = self._heads.get(payload[:end])
        if plan is not None:
            name = plan.name
            (seqid,) = _I32.unpack_from(payload, end)
            body = end + 4
        else:
            head, body = wire.decode_head(protocol, payload, self.limits)
            if head.type not in _CALL_TYPES:
                raise wire.WireError(
                    f"expected a call, got message type {head.type} ({head.name!r})"
                )
            name, seqid = head.name, head.seqid
            plan = self._plans.get(name) or self._plan(name)
        if frame.headers:
            headers: Mapping[str, str] = decode_headers(frame.headers)
            deadline = deadline_from(headers, received)
        else:
            headers, deadline = _NO_HEADERS, None
        request = _new_tuple(Request, (self.name, name, seqid, headers, deadline, peer, received))
        method = plan.method
        if method is None:
            return Call(request, plan, (), frame, dialect)
        if len(payload) == body + 1 and payload.endswith(_STOP):
            # No arguments sent (every call of a method without parameters): what
            # decoding gives, without a decoder.
            args = () if plan.bare else plan.args(method.args_cls())
        else:
            decode = plan.decoders.get(protocol)
            if decode is None:
                decode = plan.decoders[protocol] = args_decoder(method, protocol, self.limits)
            args = plan.args(decode(payload, body))
        # Call(request, plan, args, frame, dialect) without the class call: a Python
        # __init__ goes through type_call and slot_tp_init, which cost more than the
        # stores themselves (the same fields, in the same order).
        call = _new_object(Call)
        call.request = request
        call.method = method
        call.handler = plan.handler
        call.args = args
        call.is_coroutine = plan.is_coroutine
        call.oneway = plan.oneway
        call.started = received
        call._plan = plan
        call._frame = frame
        call._dialect = dialect
        if self._in_flight is not None:
            self._in_flight(1)
        self._active[call] = received
        return call

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
        plan, request = call._plan, call.request
        method = plan.method
        self.handled = next(self._finished)
        if self.on_finish is not None:
            self.on_finish()
        if method is None:
            reply = self._app_error(call, UNKNOWN_METHOD, f"Unknown function {request.method}")
            self._record(call, "unknown_method")
            return reply
        self._active.pop(call, None)
        # From here every path records through _done: the in-flight gauge's decrement
        # goes with the outcome's count (one locked section).
        if plan.handler is None:
            message = f"{self.name}.{request.method} is not implemented by the handler"
            log.error("%s", message)
            self._done(call, "internal_error")
            return None if plan.oneway else self._app_error(call, INTERNAL_ERROR, message)
        if error is not None and not isinstance(error, Exception):
            self._done(call, "cancelled")
            return None
        if plan.oneway:
            if error is not None:
                log.error("%s.%s (oneway) failed", self.name, request.method, exc_info=error)
            self._done(call, "success" if error is None else "oneway_error")
            return None
        assert method.result_cls is not None
        protocol = call._frame.protocol
        if error is None and not method.returns:
            if protocol == _BINARY and call._dialect.framing is _FRAMED:
                # The whole framed reply but its sequence id is the same every time.
                framed = plan.void_framed or self._void_framed(plan)
                if self.metrics is not None:  # _done(call, "success"), one frame fewer
                    done = plan.finishers.get("success") or self._finisher(plan, "success")
                    done(time.monotonic() - call.started)
                return b"".join((framed[0], _I32.pack(request.seqid), framed[1]))
            # A void method's result struct is empty: its STOP byte, encoded alike
            # by every codec and protocol.
            outcome, body = "success", _STOP
        else:
            encoded = None
            if error is None:
                outcome = "success"
                if protocol in plan.success_encoders:
                    encode_value = plan.success_encoders[protocol]
                else:
                    encode_value = success_encoder(method, protocol)
                    plan.success_encoders[protocol] = encode_value
                if encode_value is not None:  # None back: not the declared type (below)
                    encoded = encode_value(value)
            if encoded is None:
                result = method.result_cls()
                if error is None:
                    result.success = value
                else:
                    field = self._declared_field(request.method, error)
                    if field is None:
                        return self._failed(call, error)
                    outcome = "declared_exception"
                    setattr(result, field, error)
                encode = plan.encoders.get(protocol)
                if encode is None:
                    encode = plan.encoders[protocol] = result_encoder(method, protocol)
                try:
                    encoded = encode(result)
                except Exception as exc:  # a handler returned a value its IDL type cannot hold
                    log.error(
                        "%s.%s: cannot encode the reply", self.name, request.method, exc_info=exc
                    )
                    self._done(call, "internal_error")
                    return self._app_error(
                        call, INTERNAL_ERROR, "Internal error: cannot encode result"
                    )
            body = encoded
        before, after = wire.head_parts(protocol, plan.name, _REPLY)  # cached by wire
        seqid = wire.seqid_bytes(protocol, request.seqid)
        self._done(call, outcome)
        if call._dialect.framing is _FRAMED:
            # The frame's length prefix joined with the rest: one copy of the body.
            size = len(before) + len(seqid) + len(after) + len(body)
            if size <= _MAX_REPLY_FRAME:
                return b"".join((_I32.pack(size), before, seqid, after, body))
        return self._frame(call, b"".join((before, seqid, after, body)))

    def _void_framed(self, plan: _Plan) -> tuple[bytes, bytes]:
        """``plan``'s void reply, framed binary, split around the sequence id."""
        before, after = wire.head_parts(_BINARY, plan.name, _REPLY)
        size = len(before) + 4 + len(after) + len(_STOP)
        plan.void_framed = (_I32.pack(size) + before, after + _STOP)
        return plan.void_framed

    def _failed(self, call: Call, error: BaseException) -> bytes:
        """The reply to a handler that raised something its IDL does not declare."""
        name = call.request.method
        app = _app_exception_args(error)
        if app is not None:
            self._done(call, "application_exception")
            return self._app_error(call, *app)
        log.error("%s.%s failed", self.name, name, exc_info=error)
        self._done(call, "internal_error")
        return self._app_error(call, INTERNAL_ERROR, "Internal error")

    def handle(self, call: Call) -> bytes | None:
        """Run ``call``'s handler in this thread and return the framed reply.

        For synchronous drivers (threads, gevent). A coroutine handler is run to
        completion with :func:`asyncio.run` in this thread.
        """
        handler = call.handler
        value: Any = None
        error: BaseException | None = None
        token = _current.set(call.request)
        try:
            if handler is None:
                pass
            elif call.is_coroutine:
                import asyncio

                value = asyncio.run(handler(*call.args))
            else:
                value = handler(*call.args)
        except BaseException as exc:
            error = exc
        finally:
            _current.reset(token)
        if error is None:
            return self.finish(call, value)
        reply = self.finish(call, error=error)
        if not isinstance(error, Exception):
            raise error
        return reply

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
            payload,
            protocol=frame.protocol,
            seqid=frame.seqid,
            zlib=frame.zlib,
        )

    def _done(self, call: Call, outcome: str) -> None:
        """Take a begun call off the in-flight gauge and record its outcome."""
        if self.metrics is None:
            return
        plan = call._plan
        done = plan.finishers.get(outcome) or self._finisher(plan, outcome)
        done(time.monotonic() - call.started)

    def _finisher(self, plan: _Plan, outcome: str) -> Callable[[float], None]:
        """``plan``'s recorder of ``outcome`` that also ends the call's in-flight count."""
        assert self.metrics is not None
        done = self.metrics.recorder(self.name, plan.name, outcome, finishing=True)
        plan.finishers[outcome] = done
        return done

    def _record(self, call: Call, outcome: str) -> None:
        metrics = self.metrics
        if metrics is None:
            return
        plan = call._plan
        record = plan.recorders.get(outcome)
        if record is None:
            record = plan.recorders[outcome] = metrics.recorder(self.name, plan.name, outcome)
        record(time.monotonic() - call.started)


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

"""Thrift request handling shared by every server: no sockets, no event loop.

The asyncio server (:mod:`thriftbuild.aio`) and the gunicorn workers drive the same
pieces:

* :class:`Dispatcher` -- a service (Apache-generated or thriftpy2) bound to a
  handler (a plain object, an Apache ``Processor`` or a thriftpy2 ``TProcessor``);
  decodes requests, maps outcomes to replies, records server metrics;
* :class:`ServerConnection` -- one client connection's bytes in, :class:`Call`\\ s
  out, the dialect detected from the first bytes (binary or compact, framed or
  unframed, THeader) and used for the replies;
* :class:`Call` -- a decoded request: the handler method, its arguments, whether
  it is a coroutine; run it however the driver runs code, then
  ``dispatcher.finish(call, value)`` (or ``error=``) gives the reply bytes;
  ``dispatcher.handle(call)`` does both in the calling thread;
* :func:`current_request` -- inside a handler, the :class:`Request` it serves:
  THeader headers and the caller's deadline (``Deadline-Budget``).
"""

from __future__ import annotations

from thriftbuild.dispatch.connection import ServerConnection
from thriftbuild.dispatch.dispatcher import Call, Dispatcher
from thriftbuild.dispatch.request import DEADLINE_HEADER, Request, current_request

__all__ = [
    "DEADLINE_HEADER",
    "Call",
    "Dispatcher",
    "Request",
    "ServerConnection",
    "current_request",
]

"""Serve Thrift with gunicorn: the ``gunicorn_thrift`` command and worker classes.

``gunicorn_thrift module:app -k WORKER`` (or ``python -m thriftbuild.gunicorn``);
the worker classes also work as ``gunicorn -k thriftbuild.gunicorn.<Worker>``:

* ``thrift_sync`` / ``thriftpy_sync``: :class:`ThriftSyncWorker`,
  :class:`ThriftpySyncWorker` (a thread per connection; with ``--threads 0``
  one epoll loop running every call);
* ``thrift_gevent`` / ``thriftpy_gevent``: :class:`ThriftGeventWorker`,
  :class:`ThriftpyGeventWorker` (a greenlet per connection);
* ``thrift_asyncio``: :class:`ThriftAsyncioWorker` (:mod:`thriftbuild.aio`'s server).

The classes are imported on first use, so ``import thriftbuild.gunicorn`` never
imports gevent.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ThriftAsyncioWorker",
    "ThriftGeventWorker",
    "ThriftSyncWorker",
    "ThriftpyGeventWorker",
    "ThriftpySyncWorker",
]

_WHERE = {
    "ThriftSyncWorker": "thriftbuild.gunicorn.workers",
    "ThriftpySyncWorker": "thriftbuild.gunicorn.workers",
    "ThriftGeventWorker": "thriftbuild.gunicorn.geventworkers",
    "ThriftpyGeventWorker": "thriftbuild.gunicorn.geventworkers",
    "ThriftAsyncioWorker": "thriftbuild.gunicorn.aioworker",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

"""The Thrift settings, as flags and config-file keys (gunicorn_thrift's names).

Importing this module registers them with gunicorn (its ``Setting`` classes
register themselves), so ``gunicorn_thrift`` and ``python -m thriftbuild.gunicorn``
accept them on the command line and in ``-c`` config files. Under plain
``gunicorn -k thriftbuild.gunicorn.<Worker>`` the configuration is parsed before
the worker class is imported, so the workers read every setting through
:func:`setting`, which falls back to its default.
"""

from __future__ import annotations

from typing import Any

from gunicorn import config as gconfig

__all__ = ["DEFAULTS", "setting"]


def _seconds(value: Any) -> float | None:
    """A positive number of seconds (fractions allowed), or None."""
    if value is None or value == "":
        return None
    seconds = float(value)
    if not seconds > 0:
        raise ValueError(f"expected a positive number of seconds, not {value!r}")
    return seconds


def _optional_string(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"not a string: {value!r}")
    return value.strip() or None


def _non_negative_float(value: Any) -> float:
    seconds = float(value)
    if seconds < 0:
        raise ValueError(f"expected a number of seconds >= 0, not {value!r}")
    return seconds


class ThriftTransportFactory(gconfig.Setting):  # type: ignore[misc]
    name = "thrift_transport_factory"
    section = "Thrift"
    cli = ["--thrift-transport-factory"]
    meta = "MODULE:FACTORY"
    validator = _optional_string
    default = None
    desc = """\
        The transport factory whose framing the port speaks (gunicorn_thrift's setting).

        Buffered factories mean unframed messages, framed factories framed ones.
        Default: Apache's ``TBufferedTransportFactory`` for the ``thrift_*`` workers,
        thriftpy2's ``TBufferedTransportFactory`` for the ``thriftpy_*`` workers.
        Names under ``thriftpy.`` resolve to ``thriftpy2.``.
        """


class ThriftProtocolFactory(gconfig.Setting):  # type: ignore[misc]
    name = "thrift_protocol_factory"
    section = "Thrift"
    cli = ["--thrift-protocol-factory"]
    meta = "MODULE:FACTORY"
    validator = _optional_string
    default = None
    desc = """\
        The protocol factory whose protocol the port speaks (gunicorn_thrift's setting).

        Binary and compact factories (accelerated or Cython ones included); Apache's
        ``THeaderProtocolFactory`` accepts every dialect. Default: Apache's
        ``TBinaryProtocolAcceleratedFactory`` for the ``thrift_*`` workers,
        thriftpy2's ``TBinaryProtocolFactory`` for the ``thriftpy_*`` workers.
        """


class ThriftAutoDialect(gconfig.Setting):  # type: ignore[misc]
    name = "thrift_auto_dialect"
    section = "Thrift"
    cli = ["--thrift-auto-dialect"]
    validator = gconfig.validate_bool
    action = "store_true"
    default = False
    desc = """\
        Accept every dialect on the one port, detected per connection.

        Binary or compact, framed or unframed, and THeader (thriftbuild's client
        pool speaks THeader by default); replies use the client's dialect. The
        factory settings are then ignored. Off by default, so a configuration
        written for gunicorn_thrift keeps meaning what it meant.
        """


class ThriftClientTimeout(gconfig.Setting):  # type: ignore[misc]
    name = "thrift_client_timeout"
    section = "Thrift"
    cli = ["--thrift-client-timeout"]
    meta = "SECONDS"
    validator = _seconds
    type = float
    default = None
    desc = """\
        Close a connection whose client sent nothing for this many seconds.

        Fractions allowed. Counted only between requests (and within a request
        being received), never while a call is being handled. Default: no limit.
        """


class ThriftProcessorAsFactory(gconfig.Setting):  # type: ignore[misc]
    name = "thrift_processor_as_factory"
    section = "Thrift"
    cli = ["--thrift-processor-as-factory"]
    validator = gconfig.validate_bool
    action = "store_true"
    default = False
    desc = """\
        The app is an object whose ``get_processor()`` returns the processor.

        (gunicorn_thrift's setting; a zero-argument callable app is called anyway.)
        """


class GeventCheckInterval(gconfig.Setting):  # type: ignore[misc]
    name = "gevent_check_interval"
    section = "Thrift"
    cli = ["--gevent-check-interval"]
    meta = "SECONDS"
    validator = _non_negative_float
    type = float
    default = 0
    desc = """\
        gevent workers: log a greenlet that blocks the event loop this long.

        ``0`` (the default) turns the check off.
        """


class ThriftMetricsBind(gconfig.Setting):  # type: ignore[misc]
    name = "thrift_metrics_bind"
    section = "Thrift"
    cli = ["--thrift-metrics-bind"]
    meta = "HOST:PORT"
    validator = _optional_string
    default = None
    desc = """\
        Serve the workers' Prometheus metrics at ``http://HOST:PORT/metrics``.

        Served by the master process from prometheus_client's multiprocess
        directory: ``PROMETHEUS_MULTIPROC_DIR`` must name an empty directory
        when gunicorn starts.
        """


class OnConnected(gconfig.Setting):  # type: ignore[misc]
    name = "on_connected"
    section = "Server Hooks"
    validator = gconfig.validate_callable(2)
    type = callable

    def on_connected(worker: Any, addr: Any) -> None:
        pass

    default = staticmethod(on_connected)
    desc = """\
        Called with the worker and the client's address when a client connects.
        """


class PostConnectClosed(gconfig.Setting):  # type: ignore[misc]
    name = "post_connect_closed"
    section = "Server Hooks"
    validator = gconfig.validate_callable(1)
    type = callable

    def post_connect_closed(worker: Any) -> None:
        pass

    default = staticmethod(post_connect_closed)
    desc = """\
        Called with the worker after a client connection is closed.
        """


class OnTDecodeException(gconfig.Setting):  # type: ignore[misc]
    name = "on_tdecode_exception"
    section = "Server Hooks"
    validator = gconfig.validate_callable(1)
    type = callable

    def on_tdecode_exception(err: Any) -> None:
        pass

    default = staticmethod(on_tdecode_exception)
    desc = """\
        Called with the error when a client sends bytes that are no valid request.
        """


class WorkerTerm(gconfig.Setting):  # type: ignore[misc]
    name = "worker_term"
    section = "Server Hooks"
    validator = gconfig.validate_callable(1)
    type = callable

    def worker_term(worker: Any) -> None:
        pass

    default = staticmethod(worker_term)
    desc = """\
        Called with the worker when it receives SIGTERM, before it shuts down.
        """


_CLASSES = (
    ThriftTransportFactory,
    ThriftProtocolFactory,
    ThriftAutoDialect,
    ThriftClientTimeout,
    ThriftProcessorAsFactory,
    GeventCheckInterval,
    ThriftMetricsBind,
    OnConnected,
    PostConnectClosed,
    OnTDecodeException,
    WorkerTerm,
)

#: Each Thrift setting's default.
DEFAULTS: dict[str, Any] = {cls.name: cls.default for cls in _CLASSES}


def setting(cfg: Any, name: str) -> Any:
    """The value of Thrift setting ``name`` in ``cfg``, its default when not registered."""
    if name in cfg.settings:
        return cfg.settings[name].get()
    return DEFAULTS[name]

"""The ``gunicorn_thrift`` command: gunicorn's process management around a Thrift app.

``gunicorn_thrift module:app -k WORKER`` (also ``python -m thriftbuild.gunicorn``),
where ``app`` is an Apache ``Processor``, a thriftpy2 ``TProcessor``, or a
zero-argument factory returning one (called in each worker, after the fork).
Every gunicorn flag and config-file key works, plus the Thrift settings of
:mod:`thriftbuild.gunicorn.settings`.
"""

from __future__ import annotations

import sys
from typing import Any

import gunicorn.workers
from gunicorn.app.base import Application
from gunicorn.errors import AppImportError

from thriftbuild.gunicorn import settings
from thriftbuild.gunicorn.factories import resolve_name

__all__ = ["WORKERS", "ThriftApplication", "load_object", "processor_of", "run"]

#: The worker names ``-k`` accepts, as gunicorn_thrift named them, plus ours.
WORKERS = {
    "thrift_sync": "thriftbuild.gunicorn.workers.ThriftSyncWorker",
    "thriftpy_sync": "thriftbuild.gunicorn.workers.ThriftpySyncWorker",
    "thrift_gevent": "thriftbuild.gunicorn.geventworkers.ThriftGeventWorker",
    "thriftpy_gevent": "thriftbuild.gunicorn.geventworkers.ThriftpyGeventWorker",
    "thrift_asyncio": "thriftbuild.gunicorn.aioworker.ThriftAsyncioWorker",
}

gunicorn.workers.SUPPORTED_WORKERS.update(WORKERS)


def load_object(uri: str) -> Any:
    """Import ``module:name`` (a dotted attribute path is allowed after the colon)."""
    import importlib

    module, sep, name = uri.partition(":")
    if not sep or not module or not name:
        raise AppImportError(f"{uri!r}: expected module:app")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AppImportError(f"no {name!r} in module {module!r}") from None
    return obj


def _is_processor(obj: Any) -> bool:
    apache = hasattr(obj, "_processMap") and hasattr(obj, "_handler")
    thriftpy2 = hasattr(obj, "_service") and hasattr(obj, "_handler")
    return apache or thriftpy2


def processor_of(app: Any, *, as_factory: bool = False) -> Any:
    """The processor ``app`` stands for: itself, ``app.get_processor()``, or ``app()``.

    Raises:
        AppImportError: ``app`` is none of these, or its factory returned no processor.
    """
    if as_factory and hasattr(app, "get_processor"):
        app = app.get_processor()
    elif not _is_processor(app) and callable(app):
        app = app()
    if not _is_processor(app):
        raise AppImportError(
            f"{app!r} is not an Apache Processor (Service.Processor(handler)) or a "
            "thriftpy2 TProcessor, nor a zero-argument factory returning one"
        )
    return app


class ThriftApplication(Application):  # type: ignore[misc]
    """gunicorn's ``Application`` for a Thrift processor (see the module docstring)."""

    def init(self, parser: Any, opts: Any, args: list[str]) -> dict[str, Any]:
        if len(args) != 1:
            parser.error("give the Thrift app as module:app")
        self.app_uri = args[0]
        self.cfg.set("default_proc_name", args[0])
        # gunicorn's own default is its HTTP "sync" worker; config files and flags win.
        return {"worker_class": "thrift_sync"}

    def load_config(self) -> None:
        super().load_config()
        for name in ("thrift_transport_factory", "thrift_protocol_factory"):
            value = self.cfg.settings[name].get()
            if value is not None:
                self.cfg.set(name, resolve_name(value))

    def load(self) -> Any:
        """The imported app object (processors are resolved in each worker)."""
        self.chdir()
        return load_object(self.app_uri)

    def chdir(self) -> None:
        import os

        os.chdir(self.cfg.chdir)
        if self.cfg.chdir not in sys.path:
            sys.path.insert(0, self.cfg.chdir)

    def run(self) -> None:
        bind = settings.setting(self.cfg, "thrift_metrics_bind")
        if bind:
            from thriftbuild.gunicorn.exposition import serve_metrics

            serve_metrics(self.cfg, bind)
        super().run()


def run(prog: str | None = None) -> None:
    """The ``gunicorn_thrift`` console script."""
    ThriftApplication("%(prog)s [OPTIONS] MODULE:APP", prog=prog).run()

"""The app the gunicorn tests serve: the Echo service with a handler tests can steer.

Copied next to the generated ``echo_thrift`` package; files in the working
directory (``SVC_DIR``) let a test see and steer calls in other processes:

* ``sleep(ms)`` writes ``started-<pid>``; ``ms < 0`` waits for a ``release`` file;
* ``bump(key)`` returns the serving worker's pid (``"block-hub"``: block the
  gevent hub for a second first);
* ``echo("boom")`` raises an exception the IDL does not declare.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from echo_thrift import Echo, ttypes

from thriftbuild.dispatch import current_request

HERE = Path(os.environ.get("SVC_DIR", "."))


def _real_sleep() -> Any:
    try:
        from gevent import monkey

        return monkey.get_original("time", "sleep")
    except ImportError:
        return time.sleep


class Handler:
    def ping(self) -> None:
        pass

    def echo(self, text: str) -> str:
        if text == "boom":
            raise RuntimeError("the handler broke")
        return text

    def echo_bytes(self, data: bytes) -> bytes:
        return data

    def sleep(self, ms: int) -> int:
        (HERE / f"started-{os.getpid()}").touch()
        if ms >= 0:
            time.sleep(ms / 1000)
            return ms
        deadline = time.monotonic() + 120
        while not (HERE / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        return ms

    def fail(self, message: str, code: int) -> None:
        raise ttypes.EchoError(message=message, code=code)

    def header(self, name: str) -> str:
        if name == "thread-name":  # which thread runs plain handlers
            return threading.current_thread().name
        request = current_request()
        return "" if request is None else request.headers.get(name, "")

    def bump(self, key: str) -> int:
        if key == "block-hub":
            _real_sleep()(1.0)
        return os.getpid()

    def notify(self, message: str) -> None:
        pass


class AsyncHandler(Handler):
    async def bump(self, key: str) -> int:  # type: ignore[override]
        return os.getpid()


app = Echo.Processor(Handler())


def factory() -> Any:
    """A zero-argument factory (called in each worker)."""
    return Echo.Processor(Handler())


def async_factory() -> Any:
    return Echo.Processor(AsyncHandler())


def thriftpy_app() -> Any:
    """A thriftpy2 TProcessor for the same IDL."""
    import thriftpy2
    from thriftpy2.thrift import TProcessor

    module = thriftpy2.load(str(HERE / "echo.thrift"), module_name="echopy_thrift")
    return TProcessor(module.Echo, Handler())


def __getattr__(name: str) -> Any:
    if name == "thriftpy_processor":  # a TProcessor object (built on first access)
        return thriftpy_app()
    raise AttributeError(name)

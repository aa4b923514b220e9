"""Shared pieces of the asyncio tests: the Echo service in both flavours, servers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import types
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import pytest

from tests.support.handlers import AsyncEchoHandler
from tests.support.servers import ECHO_IDL
from thriftbuild import aio

T = TypeVar("T")


def run(awaitable: Awaitable[T], timeout: float = 120) -> T:
    """Run a test coroutine on a fresh loop; a hang fails instead of stalling CI."""

    async def bounded() -> T:
        return await asyncio.wait_for(awaitable, timeout)

    return asyncio.run(bounded())


@contextlib.asynccontextmanager
async def aio_server(
    service: Any, handler: Any, address: Any = ("127.0.0.1", 0), **kwargs: Any
) -> AsyncIterator[aio.Server]:
    """Our server on an ephemeral port, always closed."""
    kwargs.setdefault("metrics", False)
    server = await aio.create_server(service, handler, address, **kwargs)
    try:
        yield server
    finally:
        server.close(grace=kwargs.get("grace", 5.0))
        await server.wait_closed()


@pytest.fixture
def handler(echo: types.SimpleNamespace) -> AsyncEchoHandler:
    return AsyncEchoHandler(echo.ttypes)


def thriftpy2_echo() -> Any:
    """The Echo service loaded by thriftpy2 (required in CI)."""
    if os.environ.get("CI"):
        import thriftpy2
    else:
        thriftpy2 = pytest.importorskip("thriftpy2")
    return thriftpy2.load(str(ECHO_IDL), module_name="echo_aio_thrift")

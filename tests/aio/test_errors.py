"""The aio error family: one base, the runtime's concepts kept, everything pickles."""

from __future__ import annotations

import asyncio
import inspect
import pickle

import pytest
from thrift.Thrift import TApplicationException

from thriftbuild import aio, errors

SAMPLES = [
    aio.ThriftError("bad reply"),
    aio.ConnectionClosedError("connection to h:1 lost", endpoint="h:1", method="ping"),
    aio.PoolClosedError("the pool for h:1 is closed"),
    aio.AioTimeoutError("Echo.ping to h:1 took longer than 1.0s"),
    aio.ThriftAppError(TApplicationException.BAD_SEQUENCE_ID, "h:1: seqid 2 answers 1"),
]


@pytest.mark.parametrize("exc", SAMPLES, ids=lambda e: type(e).__name__)
def test_aio_errors_pickle_and_share_one_base(exc: Exception) -> None:
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is type(exc) and str(copy) == str(exc)
    assert isinstance(copy, aio.ThriftError)
    for name in ("endpoint", "method", "type", "message"):
        assert getattr(copy, name, None) == getattr(exc, name, None)


def test_each_concept_keeps_its_runtime_class() -> None:
    assert issubclass(aio.ConnectionClosedError, errors.ConnectionLostError)
    assert issubclass(aio.ThriftAppError, TApplicationException)
    assert issubclass(aio.AioTimeoutError, asyncio.TimeoutError)


def test_every_aio_error_class_is_sampled() -> None:
    classes = {
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.ThriftError)
    }
    assert classes == {type(exc) for exc in SAMPLES}

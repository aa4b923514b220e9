"""The Echo service as gunicorn_thrift serves it on Python 3 (a thriftpy2 processor).

``gunicorn_thrift benchmarks.worker.gunicorn_thrift_app:app -k thriftpy_sync ...``
with ``BENCH_ECHO_IDL`` naming ``echo.thrift``.
"""

from __future__ import annotations

import os

import thriftpy2
from thriftpy2.thrift import TProcessor

from benchmarks.worker.servers import EchoHandler

echo_thrift = thriftpy2.load(os.environ["BENCH_ECHO_IDL"], module_name="echo_thrift")
app = TProcessor(echo_thrift.Echo, EchoHandler())

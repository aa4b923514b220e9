"""The Echo service as an Apache ``Processor``, for gunicorn workers that serve one
(``BENCH_GEN`` names the directory holding the generated ``echo_thrift``)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.environ["BENCH_GEN"])

from echo_thrift import Echo

from benchmarks.worker.servers import EchoHandler

app = Echo.Processor(EchoHandler())

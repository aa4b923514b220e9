"""A client process: ``python -m benchmarks.worker CONTEXT_JSON``.

Runs one measurement and prints one JSON object on its last stdout line:
``calls``, ``seconds``, ``rate`` (calls per second), ``cpu`` (this process's CPU
seconds in the window), and for ``profile`` runs ``server_cpu`` and ``top``.
"""

from __future__ import annotations

import json
import os
import sys

from benchmarks.worker.context import Context
from benchmarks.worker.measure import run


def main(argv: list[str]) -> int:
    ctx = Context.from_json(argv[1])
    if ctx.cpus:
        os.sched_setaffinity(0, ctx.cpus)
    result = run(ctx)
    sys.stdout.flush()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

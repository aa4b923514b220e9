"""thriftbuild's benchmark suite: ``python -m benchmarks`` (see benchmarks/README.md).

Every side of thriftbuild against its peers and a floor, in one run, interleaved
over rounds; results in ``benchmarks/results/`` and the README's Performance
section. Nothing here is a test: no timing is ever asserted.
"""

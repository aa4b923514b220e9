"""Client benchmark: our pooled proxy vs the raw Apache client vs baseplate's pool.

Every client calls the same server in the same run: ``benchmarks/echo_server.c``, a
small C server compiled on the fly, so the numbers measure client-side cost rather
than a Python server's. Scenarios: ``ping()`` and a 1 KiB ``echo_bytes()``, from one
thread and from eight. Clients:

* ``raw socket``: pre-encoded request bytes over a plain socket; the ceiling for
  any Python client, and the unit of every ratio below.
* ``apache binary`` / ``apache header``: Apache's generated client on one
  persistent connection per thread (binary + buffered; THeader + compact).
* ``thriftpy2 cybin``: thriftpy2's cython binary client, one connection per thread.
* ``ours binary`` / ``ours header``: our pooled proxy (pool of 8, metrics on, as
  users get it); ``-metrics`` rows have metrics off.
* ``baseplate header``: baseplate's ``ThriftConnectionPool`` + proxy (its THeader
  default), run in a virtualenv of its own with baseplate from PyPI.

Usage::

    python benchmarks/bench_client.py              # everything (creates the venv once)
    python benchmarks/bench_client.py --calls 5000 --rounds 1 --skip-baseplate

Not a test: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
IDL = ROOT / "fixtures" / "services" / "echo.thrift"
PAYLOAD = bytes(range(256)) * 4  # 1 KiB
THREADS = (1, 8)
POOL_SIZE = 8
DEFAULT_VENV = Path.home() / ".cache" / "thriftbuild-bench" / "baseplate"

Call = Callable[[], Any]


# -- setup -------------------------------------------------------------------------------


def generate(out: Path) -> str:
    """Build the Echo IDL with our build step (``python -m thriftbuild generate``)."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "thriftbuild", "generate", "--out", str(out), str(IDL)]
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    return f"{IDL.stem}_thrift"


def load_service(out: Path, package: str) -> types.SimpleNamespace:
    if str(out) not in sys.path:
        sys.path.insert(0, str(out))
    return types.SimpleNamespace(service=importlib.import_module(f"{package}.Echo"))


def start_server(workdir: Path) -> tuple[subprocess.Popen[str], int]:
    binary = workdir / "echo_server"
    cc = os.environ.get("CC", "cc")
    src = str(HERE / "echo_server.c")
    subprocess.run([cc, "-O2", "-pthread", "-o", str(binary), src], check=True)
    proc = subprocess.Popen([str(binary), "0"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("LISTENING "):
        proc.kill()
        raise RuntimeError(f"benchmark server did not start: {line!r}")
    return proc, int(line.split()[1])


# -- measuring ---------------------------------------------------------------------------


def measure(per_thread: Callable[[], Call], threads: int, calls: int) -> float:
    """Calls per second of ``threads`` threads sharing ``calls`` calls.

    One thread runs its calls in batches of 1,000 and reports its best batch, which
    filters out the noise of a shared machine; several threads run four rounds of a
    quarter of the calls each and report the best.
    """
    fns = [per_thread() for _ in range(threads)]
    for fn in fns:
        for _ in range(200):
            fn()
    if threads == 1:
        fn = fns[0]
        best = float("inf")
        for _ in range(max(1, calls // 1000)):
            start = time.perf_counter()
            for _ in range(1000):
                fn()
            best = min(best, time.perf_counter() - start)
        return 1000 / best
    # Several threads: four shorter runs, the best one (again against noise).
    each = max(1, calls // threads // 4)
    best_rate = 0.0
    for _ in range(4):
        barrier = threading.Barrier(threads + 1)

        def run(fn: Call, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            for _ in range(each):
                fn()

        workers = [threading.Thread(target=run, args=(fn,)) for fn in fns]
        for worker in workers:
            worker.start()
        barrier.wait()
        start = time.perf_counter()
        for worker in workers:
            worker.join()
        best_rate = max(best_rate, each * threads / (time.perf_counter() - start))
    return best_rate


# -- clients -----------------------------------------------------------------------------


def _op(client: Any, op: str) -> Call:
    if op == "ping":
        return client.ping  # type: ignore[no-any-return]
    return lambda: client.echo_bytes(PAYLOAD)


def raw_socket(port: int, op: str) -> Callable[[], Call]:
    from thrift.protocol.TBinaryProtocol import TBinaryProtocol
    from thrift.Thrift import TMessageType
    from thrift.transport.TTransport import TMemoryBuffer

    buf = TMemoryBuffer()
    prot = TBinaryProtocol(buf)
    prot.writeMessageBegin(op if op == "ping" else "echo_bytes", TMessageType.CALL, 0)
    if op == "ping":
        prot.writeStructBegin("a")
    else:
        prot.writeStructBegin("a")
        prot.writeFieldBegin("data", 11, 1)
        prot.writeBinary(PAYLOAD)
        prot.writeFieldEnd()
    prot.writeFieldStop()
    prot.writeStructEnd()
    request = buf.getvalue()
    # The reply has the request's shape (REPLY instead of CALL, result field 0
    # instead of argument field 1), hence its length.
    reply_len = len(request)

    def per_thread() -> Call:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        send, recv = sock.sendall, sock.recv

        def call() -> None:
            send(request)
            got = len(recv(65536))
            while got < reply_len:
                got += len(recv(65536))

        return call

    return per_thread


def apache(port: int, op: str, svc: Any, kind: str) -> Callable[[], Call]:
    from thrift.protocol.TBinaryProtocol import TBinaryProtocolAccelerated
    from thrift.protocol.THeaderProtocol import THeaderProtocol
    from thrift.transport.THeaderTransport import THeaderClientType, THeaderSubprotocolID
    from thrift.transport.TSocket import TSocket
    from thrift.transport.TTransport import TBufferedTransport

    def per_thread() -> Call:
        sock = TSocket("127.0.0.1", port)
        if kind == "binary":
            trans = TBufferedTransport(sock)
            prot = TBinaryProtocolAccelerated(trans)
        else:
            trans = sock
            prot = THeaderProtocol(sock, [THeaderClientType.HEADERS], THeaderSubprotocolID.COMPACT)
        trans.open()
        sock.handle.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _op(svc.service.Client(prot), op)

    return per_thread


def thriftpy2_cybin(port: int, op: str) -> Callable[[], Call]:
    import thriftpy2
    from thriftpy2.protocol import TCyBinaryProtocolFactory
    from thriftpy2.rpc import make_client
    from thriftpy2.transport import TCyBufferedTransportFactory

    module = thriftpy2.load(str(IDL), module_name="echo_bench_thrift")

    def per_thread() -> Call:
        client = make_client(
            module.Echo,
            "127.0.0.1",
            port,
            proto_factory=TCyBinaryProtocolFactory(),
            trans_factory=TCyBufferedTransportFactory(),
        )
        return _op(client, op)

    return per_thread


def ours(port: int, op: str, svc: Any, kind: str, metrics: bool) -> Callable[[], Call]:
    from thrift.protocol.TBinaryProtocol import TBinaryProtocolAcceleratedFactory

    from thriftbuild import ThriftConnectionPool, ThriftContextFactory

    kwargs: dict[str, Any] = {"size": POOL_SIZE, "metrics": None if metrics else False}
    if kind == "binary":
        kwargs["protocol_factory"] = TBinaryProtocolAcceleratedFactory()
    pool = ThriftConnectionPool(f"127.0.0.1:{port}", **kwargs)
    factory = ThriftContextFactory(pool, svc.service.Client, metrics=None if metrics else False)
    proxy = factory.proxy(f"bench_{kind}")
    return lambda: _op(proxy, op)


def baseplate_header(port: int, op: str, svc: Any) -> Callable[[], Call]:
    from baseplate import Baseplate
    from baseplate.clients.thrift import ThriftClient

    bp = Baseplate({"bench.endpoint": f"127.0.0.1:{port}", "bench.size": str(POOL_SIZE)})
    bp.configure_context({"bench": ThriftClient(svc.service.Client)})

    open_contexts = []  # referenced, so the request contexts stay open

    def per_thread() -> Call:
        # A request context stays open for the thread's calls, as in a server.
        cm = bp.server_context("bench")
        open_contexts.append(cm)
        context = cm.__enter__()
        return _op(context.bench, op)

    return per_thread


# -- running -----------------------------------------------------------------------------

SCENARIOS = [(op, threads) for op in ("ping", "echo") for threads in THREADS]


def run_clients(
    clients: dict[str, Callable[[str], Callable[[], Call]]], calls: int, rounds: int
) -> dict[str, dict[str, float]]:
    """Best-of-``rounds`` calls/s per client and scenario, clients interleaved."""
    results: dict[str, dict[str, float]] = {name: {} for name in clients}
    for op, threads in SCENARIOS:
        key = f"{op}/{threads}t"
        makers = {name: make(op) for name, make in clients.items()}
        for _ in range(rounds):
            for name, per_thread in makers.items():
                rate = measure(per_thread, threads, calls)
                results[name][key] = max(results[name].get(key, 0.0), rate)
    return results


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} with baseplate from PyPI (once)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "baseplate"], check=True)
    return python


def print_table(results: dict[str, dict[str, float]]) -> None:
    base = results["raw socket"]
    print(f"{'client':<24}" + "".join(f"{k:>22}" for k in base))
    for name, row in results.items():
        cells = "".join(
            f"{row[k]:>12,.0f} ({row[k] / base[k]:.2f}x)" if k in row else f"{'-':>22}"
            for k in base
        )
        print(f"{name:<24}{cells}")
    print("\n(calls per second; in brackets: relative to a raw-socket round trip)\n")

    def ratio(a: str, b: str) -> str:
        if a not in results or b not in results:
            return "n/a"
        return "  ".join(f"{k} {results[a][k] / results[b][k]:.2f}x" for k in base)

    print("ours binary / apache binary:     ", ratio("ours binary", "apache binary"))
    print("ours header / apache header:     ", ratio("ours header", "apache header"))
    print("ours header / baseplate header:  ", ratio("ours header", "baseplate header"))
    print("ours binary / thriftpy2 cybin:   ", ratio("ours binary", "thriftpy2 cybin"))
    print("ours binary -metrics / apache:   ", ratio("ours binary -metrics", "apache binary"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000, help="calls per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="best of this many rounds")
    parser.add_argument("--skip-baseplate", action="store_true")
    parser.add_argument("--baseplate-venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--gen", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--package", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker == "baseplate":  # inside baseplate's venv
        svc = load_service(args.gen, args.package)
        clients = {"baseplate header": lambda op: baseplate_header(args.port, op, svc)}
        print(json.dumps(run_clients(clients, args.calls, args.rounds)))
        return

    workdir = Path(tempfile.mkdtemp(prefix="thriftbuild-bench-"))
    proc = None
    try:
        package = generate(workdir / "gen")
        svc = load_service(workdir / "gen", package)
        proc, port = start_server(workdir)
        clients: dict[str, Callable[[str], Callable[[], Call]]] = {
            "raw socket": lambda op: raw_socket(port, op),
            "apache binary": lambda op: apache(port, op, svc, "binary"),
            "apache header": lambda op: apache(port, op, svc, "header"),
            "ours binary": lambda op: ours(port, op, svc, "binary", True),
            "ours binary -metrics": lambda op: ours(port, op, svc, "binary", False),
            "ours header": lambda op: ours(port, op, svc, "header", True),
            "ours header -metrics": lambda op: ours(port, op, svc, "header", False),
        }
        try:
            import thriftpy2  # noqa: F401 - optional peer
        except ImportError:
            print("thriftpy2 not installed: skipping its client", file=sys.stderr)
        else:
            clients["thriftpy2 cybin"] = lambda op: thriftpy2_cybin(port, op)
        results = run_clients(clients, args.calls, args.rounds)
        if not args.skip_baseplate:
            python = ensure_venv(args.baseplate_venv)
            cmd = [
                str(python),
                __file__,
                "--worker=baseplate",
                f"--port={port}",
                f"--gen={workdir / 'gen'}",
                f"--package={package}",
                f"--calls={args.calls}",
                f"--rounds={args.rounds}",
            ]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            results.update(json.loads(done.stdout.strip().splitlines()[-1]))
        print(
            f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, "
            f"{args.calls} calls per measurement, best of {args.rounds}\n"
        )
        print_table(results)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

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
* ``ours@REV ...`` (with ``--baseline REV``): our proxy as it was at git revision
  ``REV``, run from an export of that revision in a subprocess, against the same
  server in the same run -- the before/after comparison of a change.

``--server python`` serves Apache's own Python ``TThreadedServer`` (binary +
buffered, in a subprocess) instead of the C server: a server with Python's costs.

Usage::

    python benchmarks/bench_client.py              # everything (creates the venv once)
    python benchmarks/bench_client.py --calls 5000 --rounds 1 --skip-baseplate
    python benchmarks/bench_client.py --skip-baseplate --baseline main \
        --server python --scenarios ping/8t,echo/8t --clients "apache binary,ours binary"

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


def python_server(port_file: Path, gen: Path, package: str) -> None:
    """Serve Echo with Apache's ``TThreadedServer`` (binary, buffered); the port goes
    to ``port_file`` once listening."""
    from thrift.protocol.TBinaryProtocol import TBinaryProtocolAcceleratedFactory
    from thrift.server.TServer import TThreadedServer
    from thrift.transport.TSocket import TServerSocket
    from thrift.transport.TTransport import TBufferedTransportFactory

    svc = load_service(gen, package)

    class Handler:
        def ping(self) -> None:
            return None

        def echo_bytes(self, data: bytes) -> bytes:
            return data

    transport = TServerSocket(host="127.0.0.1", port=0)
    transport.listen()
    port = transport.handle.getsockname()[1]
    transport.listen = lambda: None  # already listening: serve() must not rebind
    server = TThreadedServer(
        svc.service.Processor(Handler()),
        transport,
        TBufferedTransportFactory(),
        TBinaryProtocolAcceleratedFactory(),
        daemon=True,
    )
    port_file.write_text(str(port))
    server.serve()


def start_python_server(workdir: Path, package: str) -> tuple[subprocess.Popen[str], int]:
    port_file = workdir / "python-server.port"
    cmd = [
        sys.executable,
        __file__,
        "--worker=python-server",
        f"--gen={workdir / 'gen'}",
        f"--package={package}",
        f"--port-file={port_file}",
    ]
    proc = subprocess.Popen(cmd, text=True)
    deadline = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the Python benchmark server did not start")
        time.sleep(0.05)
    return proc, int(port_file.read_text())


def export_revision(revision: str, target: Path) -> Path:
    """The tracked tree of ``revision`` exported to ``target`` (for --baseline)."""
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", revision], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


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
    clients: dict[str, Callable[[str], Callable[[], Call]]],
    calls: int,
    rounds: int,
    scenarios: list[tuple[str, int]] = SCENARIOS,
) -> dict[str, dict[str, float]]:
    """Best-of-``rounds`` calls/s per client and scenario, clients interleaved."""
    results: dict[str, dict[str, float]] = {name: {} for name in clients}
    for op, threads in scenarios:
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


def print_table(results: dict[str, dict[str, float]], baseline: str | None) -> None:
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
    if baseline:
        for kind in ("binary", "header"):
            label = f"ours {kind} / ours@{baseline} {kind}:"
            print(f"{label:<33}", ratio(f"ours {kind}", f"ours@{baseline} {kind}"))


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
    parser.add_argument("--port-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--label", default="", help=argparse.SUPPRESS)
    parser.add_argument(
        "--baseline", help="also run our client as of this git revision (before/after)"
    )
    parser.add_argument(
        "--server", choices=("c", "python"), default="c", help="the server to call (default c)"
    )
    parser.add_argument("--scenarios", help="comma-separated, e.g. ping/8t,echo/1t (default all)")
    parser.add_argument("--clients", help="comma-separated client names (default all)")
    args = parser.parse_args()
    scenarios = SCENARIOS
    if args.scenarios:
        scenarios = []
        for item in args.scenarios.split(","):
            op, _, threads = item.strip().partition("/")
            scenarios.append((op, int(threads.rstrip("t"))))

    if args.worker == "python-server":
        python_server(args.port_file, args.gen, args.package)
        return
    if args.worker == "ours":  # PYTHONPATH puts an exported revision first (--baseline)
        import thriftbuild

        print(f"baseline thriftbuild from {thriftbuild.__file__}", file=sys.stderr)
        svc = load_service(args.gen, args.package)
        ours_clients = {
            f"ours{args.label} binary": lambda op: ours(args.port, op, svc, "binary", True),
        }
        if args.server != "python":  # Apache's Python server here speaks binary only
            ours_clients[f"ours{args.label} header"] = lambda op: ours(
                args.port, op, svc, "header", True
            )
        print(json.dumps(run_clients(ours_clients, args.calls, args.rounds, scenarios)))
        return

    if args.worker == "baseplate":  # inside baseplate's venv
        svc = load_service(args.gen, args.package)
        clients = {"baseplate header": lambda op: baseplate_header(args.port, op, svc)}
        print(json.dumps(run_clients(clients, args.calls, args.rounds, scenarios)))
        return

    workdir = Path(tempfile.mkdtemp(prefix="thriftbuild-bench-"))
    proc = None
    try:
        package = generate(workdir / "gen")
        svc = load_service(workdir / "gen", package)
        if args.server == "python":
            proc, port = start_python_server(workdir, package)
        else:
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
        if args.clients:
            wanted = {name.strip() for name in args.clients.split(",")}
            clients = {name: make for name, make in clients.items() if name in wanted}
            clients.setdefault("raw socket", lambda op: raw_socket(port, op))
        old = export_revision(args.baseline, workdir / "baseline") if args.baseline else None
        results: dict[str, dict[str, float]] = {}
        # Rounds interleave this tree's clients with the baseline's, so that a busy
        # moment on a shared machine hits both sides alike.
        for _ in range(args.rounds):
            rows = run_clients(clients, args.calls, 1, scenarios)
            if old is not None:
                cmd = [
                    sys.executable,
                    __file__,  # this script, importing thriftbuild from the old tree
                    "--worker=ours",
                    f"--label=@{args.baseline}",
                    f"--port={port}",
                    f"--gen={workdir / 'gen'}",
                    f"--package={package}",
                    f"--calls={args.calls}",
                    "--rounds=1",
                    f"--server={args.server}",
                ]
                if args.scenarios:
                    cmd.append(f"--scenarios={args.scenarios}")
                env = dict(os.environ, PYTHONPATH=str(old))
                done = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if done.returncode != 0:
                    raise RuntimeError(f"the baseline run failed:\n{done.stderr}")
                rows.update(json.loads(done.stdout.strip().splitlines()[-1]))
            for name, row in rows.items():
                best = results.setdefault(name, {})
                for key, rate in row.items():
                    best[key] = max(best.get(key, 0.0), rate)
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
            if args.scenarios:
                cmd.append(f"--scenarios={args.scenarios}")
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            results.update(json.loads(done.stdout.strip().splitlines()[-1]))
        print(
            f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, "
            f"{args.calls} calls per measurement, best of {args.rounds}, "
            f"{'Apache TThreadedServer (Python)' if args.server == 'python' else 'C'} server\n"
        )
        print_table(results, args.baseline)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

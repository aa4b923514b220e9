"""Processes of a run: the workspace, long-lived servers, client processes.

Servers are started once per run, each in a session of its own (so stopping one
stops every process it forked), and are ready when a real call gets the expected
reply. Client processes run ``python -m benchmarks.worker`` in the contender's
environment and print one JSON result.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from benchmarks import baseline, peers
from benchmarks.registry import ServerSpec
from benchmarks.worker import wire
from benchmarks.worker.context import Context

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
ECHO_IDL = ROOT / "fixtures" / "services" / "echo.thrift"


class MeasurementError(RuntimeError):
    """A client or server process failed; the measurement is recorded as failed."""


@dataclasses.dataclass
class Workspace:
    """Paths and interpreters shared by every row of a run.

    Attributes:
        workdir: a temporary directory removed after the run.
        gen: holds ``echo_thrift``, generated once by ``python -m thriftbuild
            generate`` (the compiler when installed, else the Python backend).
    """

    workdir: Path
    gen: Path = dataclasses.field(init=False)
    pythons: dict[str, Path] = dataclasses.field(default_factory=dict)
    unavailable: dict[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.gen = self.workdir / "gen"
        self.pythons["project"] = Path(sys.executable)

    def generate_echo(self) -> None:
        cmd = [sys.executable, "-m", "thriftbuild", "generate", "-q", "--out", str(self.gen)]
        subprocess.run([*cmd, str(ECHO_IDL)], check=True, cwd=ROOT)

    def python(self, env: str) -> Path:
        """The interpreter of ``env`` (``project`` or a peer), made on first use."""
        if env in self.unavailable:
            raise MeasurementError(self.unavailable[env])
        if env not in self.pythons:
            try:
                if env.startswith(baseline.PREFIX):
                    self.pythons[env] = baseline.ensure(env[len(baseline.PREFIX) :])
                else:
                    self.pythons[env] = peers.ensure(env)
            except peers.PeerUnavailable as exc:
                self.unavailable[env] = str(exc)
                raise MeasurementError(str(exc)) from exc
        return self.pythons[env]

    def values(self, env: str, port: int = 0) -> dict[str, str]:
        """Placeholder values for a command run in ``env``: ``{python}``, ``{bin}``
        (its scripts), ``{port}``, ``{gen}``, ``{idl}``, ``{root}``, ``{workdir}``."""
        python = self.python(env)
        return {
            "python": str(python),
            "bin": str(python.parent),
            "port": str(port),
            "gen": str(self.gen),
            "idl": str(ECHO_IDL),
            "root": str(ROOT),
            "workdir": str(self.workdir),
        }


def child_cwd() -> Path:
    """The import directory and working directory of every client and server process:
    a directory holding only ``benchmarks`` (a link to this package), made on first use.

    Not the checkout itself: its ``thriftbuild`` would come before the one installed in
    the contender's environment (``ours@REV`` then ran this checkout's code; gunicorn
    also puts its working directory on the path).
    """
    digest = hashlib.sha256(str(ROOT).encode()).hexdigest()[:10]
    directory = peers.CACHE / f"imports-{digest}"
    link = directory / "benchmarks"
    if not link.is_symlink():
        directory.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another run made it meanwhile
            link.symlink_to(HERE, target_is_directory=True)
    return directory


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every child: ``benchmarks`` importable (and not the rest of
    the checkout, see :func:`child_cwd`), no user site."""
    env = dict(os.environ)
    imports = str(child_cwd())
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [imports, env.get("PYTHONPATH")]))
    env["PYTHONNOUSERSITE"] = "1"
    env.update(extra or {})
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def compile_echo_server(workdir: Path) -> Path:
    """``benchmarks/echo_server.c`` built with ``$CC`` (default ``cc``), -O2."""
    binary = workdir / "echo_server"
    cc = os.environ.get("CC", "cc")
    source = HERE / "echo_server.c"
    subprocess.run([cc, "-O2", "-pthread", "-o", str(binary), str(source)], check=True)
    return binary


@dataclasses.dataclass
class RunningServer:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # forked children left behind


def _answers(port: int, protocol: str, transport: str) -> bool:
    try:
        with wire.connect(port, timeout=2.0) as sock:
            request = wire.request_bytes("ping", 0, protocol, transport)
            reply = wire.reply_bytes("ping", 0, protocol, transport)
            wire.RawExchange(sock, request, reply).call()
            return True
    except OSError:
        return False


def start_server(
    name: str, spec: ServerSpec, space: Workspace, timeout: float = 60.0
) -> RunningServer:
    """Start ``spec`` on a free port; return once a ping gets the right reply."""
    port = free_port()
    values = space.values(spec.env, port)
    argv = [arg.format(**values) for arg in spec.argv]
    extra_env = {key: value.format(**values) for key, value in spec.extra_env.items()}
    log = space.workdir / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=child_env(extra_env),
            cwd=child_cwd(),
            start_new_session=True,
        )
    server = RunningServer(name, port, process, log)
    deadline = time.monotonic() + timeout
    while not _answers(port, spec.ready_protocol, spec.ready_transport):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            tail = log.read_text(errors="replace")[-2000:]
            raise MeasurementError(f"server {name} did not answer on port {port}:\n{tail}")
        time.sleep(0.05)
    return server


def _parse(out: str, err: str, what: str) -> dict[str, Any]:
    lines = out.strip().splitlines()
    if not lines:
        raise MeasurementError(f"{what} printed no result:\n{err[-2000:]}")
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def run_worker(python: Path, ctx: Context, timeout: float) -> dict[str, Any]:
    """Run one client process to completion; its result."""
    argv = [str(python), "-m", "benchmarks.worker", ctx.to_json()]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env=child_env(), cwd=child_cwd()
        )
    except subprocess.TimeoutExpired as exc:
        raise MeasurementError(f"{ctx.factory} did not finish within {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise MeasurementError(f"{ctx.factory} failed:\n{done.stderr[-2000:]}")
    return _parse(done.stdout, done.stderr, ctx.factory)


def _read_line(proc: subprocess.Popen[str], deadline: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
    return proc.stdout.readline().strip() if ready else ""


def run_load_clients(
    python: Path, contexts: list[Context], warmup: float, timeout: float
) -> list[dict[str, Any]]:
    """Run ``load`` client processes over one shared window; their results, in order.

    Each client connects and prints ``READY``; once all have, each is sent ``GO
    <start>`` (a ``time.monotonic()`` value, the same clock in every process) with
    ``warmup`` seconds to spare, and counts its calls from then on.
    """
    procs = [
        subprocess.Popen(
            [str(python), "-m", "benchmarks.worker", ctx.to_json()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
            cwd=child_cwd(),
        )
        for ctx in contexts
    ]
    deadline = time.monotonic() + timeout
    try:
        for proc in procs:
            if _read_line(proc, deadline) != "READY":
                err = proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
                raise MeasurementError(f"a client did not connect:\n{err[-2000:]}")
        start = time.monotonic() + warmup
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(f"GO {start!r}\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            try:
                out, err = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired as exc:
                raise MeasurementError(f"a client did not finish within {timeout:.0f} s") from exc
            if proc.returncode != 0:
                raise MeasurementError(f"a client failed:\n{err[-2000:]}")
            results.append(_parse(out, err, "client"))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def servers_stopped_at_exit() -> Iterator[list[RunningServer]]:
    """A list to put running servers in; all are stopped when the block ends."""
    running: list[RunningServer] = []
    try:
        yield running
    finally:
        for server in running:
            server.stop()

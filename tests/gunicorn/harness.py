"""Real gunicorn processes for the tests: started on 127.0.0.1:0, polled, always stopped.

:class:`Gunicorn` runs ``python -m thriftbuild.gunicorn`` (or any command) in a
work directory holding the generated Echo package and ``svc_app.py``, with a
config file whose hooks leave files behind (``ready-<pid>``, ``term-<pid>``,
``connected``), so tests wait for events instead of sleeping.

The master runs in a session (and process group) of its own, so :meth:`Gunicorn.stop`
can kill and wait out every process gunicorn left behind (workers stuck in a call,
workers orphaned by a dead master) on every exit path: a failed assertion inside the
``with`` block, a failed readiness poll, an interrupt.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from thrift.protocol.TBinaryProtocol import TBinaryProtocolAccelerated
from thrift.transport import TSocket, TSSLSocket
from thrift.transport.TTransport import TBufferedTransport

from tests.support.servers import ECHO_IDL, generate, wait_until

HERE = Path(__file__).parent

HOOKS = """
import os, pathlib
_dir = pathlib.Path(os.environ["SVC_DIR"])
control_socket_disable = True  # gunicorn >= 24; ignored by older ones
def post_worker_init(worker):
    (_dir / f"ready-{os.getpid()}").touch()
def worker_term(worker):
    (_dir / f"term-{os.getpid()}").touch()
def on_connected(worker, addr):
    with open(_dir / "connected", "a") as f:
        f.write(f"{os.getpid()} {addr[0]}\\n")
"""


def prepare(workdir: Path) -> Path:
    """Generate the Echo package into ``workdir`` and put the test app beside it."""
    generate(ECHO_IDL, workdir)
    shutil.copy(HERE / "svc_app.py", workdir / "svc_app.py")
    shutil.copy(ECHO_IDL, workdir / "echo.thrift")
    return workdir


class Gunicorn:
    """One gunicorn master with its workers; see the module docstring."""

    def __init__(
        self,
        workdir: Path,
        app: str,
        *args: str,
        workers: int = 1,
        config: str = "",
        python: str = sys.executable,
        command: list[str] | None = None,
        env: dict[str, str] | None = None,
        ready_timeout: float = 30,
    ) -> None:
        self.workdir = workdir
        self.expected = workers
        self.ready_timeout = ready_timeout
        conf = workdir / f"gconf-{time.monotonic_ns()}.py"
        conf.write_text(HOOKS + config)
        self.log_path = workdir / f"gunicorn-{time.monotonic_ns()}.log"
        base = command or [python, "-m", "thriftbuild.gunicorn"]
        self.argv = [*base, app, "-c", str(conf), "-b", "127.0.0.1:0", "-w", str(workers), *args]
        self.env = {**os.environ, "SVC_DIR": str(workdir), "PYTHONPATH": _pythonpath(workdir)}
        self.env.update(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> Gunicorn:
        """Start gunicorn and wait for it to listen with every worker booted.

        On any failure (gunicorn exiting, a readiness poll timing out) everything it
        started is stopped before the error propagates.
        """
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> Gunicorn:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() kills what is left
            )
        found: list[str] = []

        def listening() -> bool:
            self._check_running()
            found[:] = re.findall(r"Listening at: \w+://127\.0\.0\.1:(\d+)", self.log)
            return bool(found)

        wait_until(listening, self.ready_timeout, "gunicorn to listen")
        self.port = int(found[0])
        self.wait_workers(self.expected, self.ready_timeout)
        return self

    def wait_workers(self, n: int, timeout: float = 30) -> set[int]:
        """Wait until ``n`` workers are booted and alive; returns their pids."""
        try:
            wait_until(lambda: self._count_live() == n, timeout, f"{n} live workers")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; log:\n{self.log}") from None
        return self.live_workers()

    def _count_live(self) -> int:
        self._check_running()
        return len(self.live_workers())

    def _check_running(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"gunicorn exited ({self.proc.returncode}):\n{self.log}")

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def booted(self) -> list[int]:
        """Every worker pid that finished booting, in order."""
        files = sorted(self.workdir.glob("ready-*"), key=lambda p: p.stat().st_mtime_ns)
        return [int(p.name.split("-")[1]) for p in files]

    def live_workers(self) -> set[int]:
        return {pid for pid in self.booted() if _alive(pid) and pid in self._children()}

    def _children(self) -> set[int]:
        assert self.proc is not None
        with contextlib.suppress(OSError):
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
            return {int(pid) for pid in text.split()}
        return set()

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 60) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        """Stop gunicorn gracefully, then kill and wait out anything left in its group.

        Safe to call at any point and more than once: after a failed start, after the
        master exited by itself (its workers may live on), or while a worker is stuck.
        """
        proc = self.proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(40)  # gunicorn's graceful timeout is 30 s
        finally:
            # Whatever the graceful stop did (or an interrupt cut it short), nothing of
            # this gunicorn outlives the test: the master's group is its own session's.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
            wait_until(lambda: not group_members(proc.pid), 30, "gunicorn's processes to go")

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def group_members(pgid: int) -> set[int]:
    """Pids of the live (not zombie) processes in process group ``pgid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command: state, ppid, pgrp, ...
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            found.add(int(entry.name))
    return found


def _pythonpath(workdir: Path) -> str:
    root = str(HERE.parents[1])
    parts = [str(workdir), root, os.environ.get("PYTHONPATH", "")]
    return os.pathsep.join(p for p in parts if p)


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def echo_module(workdir: Path) -> Any:
    """The generated Echo service module, imported in the test process."""
    if str(workdir) not in sys.path:
        sys.path.insert(0, str(workdir))
    import importlib

    return importlib.import_module("echo_thrift.Echo")


@contextlib.contextmanager
def client(workdir: Path, port: int, *, cafile: Path | None = None) -> Iterator[Any]:
    """An Apache Echo client over buffered binary (TLS when ``cafile`` is given)."""
    Echo = echo_module(workdir)
    if cafile is None:
        sock: Any = TSocket.TSocket("127.0.0.1", port)
    else:
        sock = TSSLSocket.TSSLSocket("127.0.0.1", port, ca_certs=str(cafile))
    sock.setTimeout(60_000)
    transport = TBufferedTransport(sock)
    transport.open()
    try:
        yield Echo.Client(TBinaryProtocolAccelerated(transport))
    finally:
        transport.close()


def raw(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    return sock


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the server closed ``sock`` (EOF or reset), waiting up to its timeout."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def poll(predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
    wait_until(predicate, timeout, what)


def need_gevent() -> None:
    try:
        import gevent  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("gevent is required in CI")
        pytest.skip("gevent not installed")

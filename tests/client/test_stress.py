"""Stress: 32 callers x 2,000 calls through one pool of 8 while the server is killed
and restarted twice; then the same under gevent with monkey-patching.

Run as a script (``python tests/test_stress.py OUT PACKAGE``) after
``gevent.monkey.patch_all()`` for the gevent variant, so one body serves both.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

# Run as a script (the gevent test does), ``tests`` must be importable from the root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pytest
from thrift.transport.TTransport import TTransportException

from tests.support import servers as rs
from thriftbuild import ThriftConnectionPool, ThriftContextFactory

THREADS = 32
CALLS = 2000
SIZE = 8
TIMEOUT = 1.0
# Scheduling slack on a shared 2-core machine: 33 threads contend for one GIL.
SLACK = 1.5


def _pool(endpoint: str) -> ThriftConnectionPool:
    return ThriftConnectionPool(endpoint, size=SIZE, timeout=TIMEOUT, metrics=False)


def run_stress(echo: Any, threads: int = THREADS, calls: int = CALLS) -> dict[str, Any]:
    """Hammer one pool while the server is killed twice; returns what happened."""
    server = rs.ServerProcess(echo.out, echo.package).start()
    # Warm up lazily created process resources, then count descriptors.
    warm = _pool(server.endpoint)
    ThriftContextFactory(warm, echo.service.Client, metrics=False).proxy("warm").ping()
    warm.close()
    server.kill()
    fds_before = rs.open_fds()

    server.start()
    pool = _pool(server.endpoint)
    proxy = ThriftContextFactory(pool, echo.service.Client, metrics=False).proxy("stress")
    lock = threading.Lock()
    done = [0]
    failures: collections.Counter[str] = collections.Counter()
    foreign: list[str] = []  # failures that are not TTransportException
    wrong: list[tuple[str, str]] = []  # answers to somebody else's call
    slowest = [0.0]
    stop_at = time.monotonic() + 150  # a bound in time as well as in count

    def worker(n: int) -> None:
        for i in range(calls):
            if time.monotonic() > stop_at:
                return
            text = f"{n}:{i}"
            start = time.monotonic()
            outcome = None
            try:
                got = proxy.echo(text)
                if got != text:
                    outcome = ("wrong", got)
            except TTransportException as exc:
                outcome = ("failed", type(exc).__name__)
            except Exception as exc:
                outcome = ("foreign", repr(exc))
            elapsed = time.monotonic() - start
            with lock:
                done[0] += 1
                slowest[0] = max(slowest[0], elapsed)
                if outcome is None:
                    continue
                if outcome[0] == "wrong":
                    wrong.append((text, outcome[1]))
                elif outcome[0] == "failed":
                    failures[outcome[1]] += 1
                else:
                    foreign.append(outcome[1])

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    restarts = 0
    total = threads * calls
    try:
        for k in (1, 2):
            rs.wait_until(
                lambda k=k: done[0] >= total * k // 3 or not any(t.is_alive() for t in workers),
                timeout=150,
                what="progress before a restart",
            )
            server.kill()
            server.start()
            restarts += 1
    finally:
        for thread in workers:
            thread.join(180)
        pool.close()
        server.kill()
    return {
        "done": done[0],
        "restarts": restarts,
        "failures": dict(failures),
        "foreign": foreign[:10],
        "wrong": wrong[:10],
        "slowest": slowest[0],
        "checkedout": pool.checkedout,
        "fds_before": fds_before,
        "fds_after": rs.open_fds(),
        "alive": sum(t.is_alive() for t in workers),
    }


def check(result: dict[str, Any], calls_expected: int) -> None:
    assert result["alive"] == 0
    assert result["done"] == calls_expected
    assert result["restarts"] == 2
    assert result["foreign"] == []  # every failure is a TTransportException
    assert result["wrong"] == []  # nobody got another call's answer
    assert result["slowest"] <= TIMEOUT + SLACK  # no call waited past its timeout
    assert result["checkedout"] == 0
    assert result["fds_after"] == result["fds_before"]


def test_stress_threads_server_killed_twice_pool_stays_correct(echo: Any) -> None:
    result = run_stress(echo)
    print("stress (threads):", result)
    check(result, THREADS * CALLS)


def test_stress_gevent_monkey_patched_pool_stays_correct(echo: Any) -> None:
    pytest.importorskip("gevent")
    code = (
        "from gevent import monkey; monkey.patch_all()\n"
        "import runpy, sys\n"
        f"sys.argv = ['test_stress.py', {str(echo.out)!r}, {echo.package!r}]\n"
        f"runpy.run_path({__file__!r}, run_name='__main__')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print("stress (gevent):", result)
    check(result["stress"], THREADS * CALLS)
    assert result["cancel"] == {
        "timeout_closed": True,
        "kill_closed": True,
        "after": "after",
        "waiters_killed_checkedout": 0,
        "waiters_killed_waiting": 0,
        "accepted": 3,
    }


def gevent_cancellation(echo: Any) -> dict[str, Any]:
    """gevent.Timeout and greenlet kills mid-call and while waiting for a slot."""
    import gevent

    with rs.echo_server(echo) as server:
        pool = ThriftConnectionPool(server.endpoint, size=1, timeout=5, metrics=False)
        proxy = ThriftContextFactory(pool, echo.service.Client, metrics=False).proxy("g")
        proxy.ping()
        try:
            with gevent.Timeout(0.05):
                proxy.sleep(300)
        except gevent.Timeout:
            pass
        timeout_closed = pool.idle == 0 and pool.checkedout == 0
        caller = gevent.spawn(proxy.sleep, 300)
        server.handler.sleeping.clear()
        rs.wait_until(server.handler.sleeping.is_set, what="the call to reach the server")
        caller.kill()  # raises GreenletExit inside the call
        kill_closed = pool.idle == 0 and pool.checkedout == 0
        after = proxy.echo("after")
        # Greenlets killed while waiting for a slot must not leak it (baseplate's
        # stdlib-queue pool did under gevent).
        held = pool.checkout()
        waiters = [gevent.spawn(proxy.ping) for _ in range(5)]
        rs.wait_until(lambda: pool.waiting == 5, what="five waiters")
        gevent.killall(waiters)
        pool.checkin(held, True)
        result = {
            "timeout_closed": timeout_closed,
            "kill_closed": kill_closed,
            "after": after,
            "waiters_killed_checkedout": pool.checkedout,
            "waiters_killed_waiting": pool.waiting,
            "accepted": server.accepted,
        }
        pool.close()
        return result


def _main() -> None:
    out, package = Path(sys.argv[1]), sys.argv[2]
    service = rs.import_service(out, package, "Echo")
    result = {"cancel": gevent_cancellation(service), "stress": run_stress(service)}
    print(json.dumps(result))


if __name__ == "__main__":
    _main()

"""The measuring loops of a client process: threads, asyncio tasks, server load.

Every loop runs calls for ``warmup`` seconds, then counts calls for ``duration``
seconds or ``max_calls`` calls, whichever ends first. The clock is read once per
call: its cost is in every contender's numbers alike, and it is small next to a
round trip.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import os
import pstats
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks.worker import wire
from benchmarks.worker.context import Context

Result = dict[str, Any]


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) used so far by process ``pid``."""
    with open(f"/proc/{pid}/stat") as stat:  # noqa: PTH123 - a /proc read, not a path
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _loop(call: Callable[[], object], until: float, limit: int) -> int:
    now = time.perf_counter
    done = 0
    while done < limit:
        call()
        done += 1
        if now() >= until:
            break
    return done


def _threads(ctx: Context) -> Result:
    per_thread = ctx.resolve()(ctx)
    calls = [per_thread() for _ in range(ctx.threads)]
    counts = [0] * ctx.threads
    limit = max(1, ctx.max_calls // ctx.threads)
    barrier = threading.Barrier(ctx.threads + 1)
    window: list[float] = []

    def body(index: int) -> None:
        barrier.wait()
        start, end = window
        _loop(calls[index], start, 10**9)  # warm-up
        counts[index] = _loop(calls[index], end, limit)

    workers = [threading.Thread(target=body, args=(i,)) for i in range(ctx.threads)]
    for worker in workers:
        worker.start()
    start = time.perf_counter() + ctx.warmup
    window[:] = [start, start + ctx.duration]
    barrier.wait()
    time.sleep(max(0.0, start - time.perf_counter()))
    cpu0, server0 = time.process_time(), _server_cpu(ctx)
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    result = _result(sum(counts), elapsed, time.process_time() - cpu0)
    if ctx.server_pid:
        result["server_cpu"] = _server_cpu(ctx) - server0
    if ctx.profile:
        result["top"] = _profile(calls[0], ctx)
    return result


def _server_cpu(ctx: Context) -> float:
    return process_cpu(ctx.server_pid) if ctx.server_pid else 0.0


def _profile(call: Callable[[], object], ctx: Context) -> str:
    """A second window under cProfile; its top functions by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    _loop(call, time.perf_counter() + ctx.duration, ctx.max_calls)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    return out.getvalue()


def _result(calls: int, seconds: float, cpu: float) -> Result:
    return {"calls": calls, "seconds": seconds, "rate": calls / seconds, "cpu": cpu}


def _new_loop(name: str) -> asyncio.AbstractEventLoop:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def _async(ctx: Context) -> Result:
    loop = _new_loop(ctx.loop)
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_async_main(ctx))
    finally:
        loop.close()


async def _async_main(ctx: Context) -> Result:
    call: Callable[[], Awaitable[object]] = await ctx.resolve()(ctx)
    limit = max(1, ctx.max_calls // ctx.tasks)
    now = time.perf_counter
    start = now() + ctx.warmup
    end = start + ctx.duration

    async def task() -> int:
        while now() < start:
            await call()
        done = 0
        while done < limit:
            await call()
            done += 1
            if now() >= end:
                break
        return done

    runners = [asyncio.ensure_future(task()) for _ in range(ctx.tasks)]
    await asyncio.sleep(max(0.0, start - now()))
    cpu0 = time.process_time()
    counts = await asyncio.gather(*runners)
    return _result(sum(counts), now() - start, time.process_time() - cpu0)


def _load(ctx: Context) -> Result:
    """``connections`` persistent raw clients of a server row, a thread each.

    Connects them all, says ``READY`` on stdout, and waits for ``GO <start>`` on
    stdin (the harness sends it once every client process is connected), so that
    every client counts over the same window whatever its start-up took. Calls
    before ``start`` are the warm-up. ``per_connection`` holds each client's count;
    a starved one counts 0.
    """
    request = wire.request_bytes(ctx.op, ctx.size, ctx.protocol, ctx.transport)
    reply = wire.reply_bytes(ctx.op, ctx.size, ctx.protocol, ctx.transport)
    socks = [wire.connect(ctx.port, timeout=30.0) for _ in range(ctx.connections)]
    print("READY", flush=True)
    word, start = sys.stdin.readline().split()
    if word != "GO":
        raise SystemExit(f"expected GO <start>, got {word!r}")
    start_at = float(start)
    end = start_at + ctx.duration
    counts = [0] * len(socks)
    failures: list[BaseException] = []

    def client(index: int) -> None:
        sock, now, done = socks[index], time.monotonic, 0
        exchange = wire.RawExchange(sock, request, reply)
        try:
            while now() < start_at:
                sock.settimeout(max(0.01, end - now()))
                exchange.call()
            while done < ctx.max_calls and now() < end:
                sock.settimeout(max(0.01, end - now()))
                exchange.call()
                done += 1
        except TimeoutError:
            pass  # the window ended while this client waited: what it did counts
        except BaseException as exc:  # a broken reply fails the measurement
            failures.append(exc)
        counts[index] = done

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(socks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    total = sum(counts)
    return {
        "calls": total,
        "seconds": ctx.duration,
        "rate": total / ctx.duration,
        "cpu": 0.0,
        "per_connection": counts,
    }


MODES: dict[str, Callable[[Context], Result]] = {
    "threads": _threads,
    "async": _async,
    "load": _load,
}


def run(ctx: Context) -> Result:
    """Run the measurement ``ctx.mode`` names."""
    return MODES[ctx.mode](ctx)

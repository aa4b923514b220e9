"""Which plain (non-``async``) handler methods the asyncio server runs on its loop.

Handing a call to a handler thread costs a thread switch and a hand-over of the
GIL per call (futex calls, a context switch): for a handler that returns in a
microsecond, several times the handler itself, and the reason a trivially fast
plain handler was slower on our server than on aiothrift's, which runs every
handler on the loop (and lets a slow one stall every connection).

So a method earns the loop: its calls run in handler threads, timed, and once
:data:`PROVE` of them in a row each returned within :data:`LIMIT`, its calls run
on the loop, still timed. A call there that takes :data:`BLOCKED` or more
blocked every other connection: its method runs in the threads for the rest of
the server's life. A call that takes :data:`SLOW` or more is not always the
handler's doing -- the OS preempting the loop's thread, a garbage collection, a
handler thread taking the GIL for a switch interval -- so only a second one
within :data:`HOLD` seconds sends the method back to the threads, where it must
prove itself again, over twice as many calls in a row each time it was sent
back within :data:`HOLD` seconds of earning the loop (up to
``PROVE << MAX_LEVEL``); one that kept the loop longer than that loses one
doubling instead. Such noise, rare, costs a few dozen calls in the threads now
and then.

What it gives up: a handler that is slow (or blocks) from its first calls on
never runs on the loop, but one that was fast for long and then blocks holds the
loop for that one call, once per method and server (a handler that waits for
the loop itself -- ``run_coroutine_threadsafe(...).result()`` -- takes far longer
than :data:`LIMIT` in a thread, so it never gets there).
"""

from __future__ import annotations

import logging
import time

try:
    import resource
except ImportError:  # pragma: no cover - not on Windows
    resource = None  # type: ignore[assignment]

__all__ = [
    "BLOCKED",
    "HOLD",
    "LIMIT",
    "MAX_LEVEL",
    "PROVE",
    "SLOW",
    "InlineGuard",
    "PreemptionWatch",
]

log = logging.getLogger("thriftbuild.server")

#: Seconds a plain handler call may take and still count as fast: a hundred times
#: a trivial handler's run time, well under a thread hand-off's latency.
LIMIT = 0.0001

#: Fast calls in a row, in handler threads, before a method first runs on the loop.
PROVE = 64

#: Seconds a call on the loop may take without counting as slow there: what a
#: call may wait for a handler thread when every awake one is busy
#: (:data:`~thriftbuild.aio._handler_threads.STALL`); preemption of the loop's
#: thread and the GIL taken by a handler thread cost about this much now and then.
SLOW = 0.001

#: Seconds a call on the loop may take before its method goes back to the threads
#: for good: twice CPython's default GIL switch interval, longer than the pause a
#: handler thread taking the GIL away imposes.
BLOCKED = 0.01

#: Seconds within which a second slow call on the loop sends its method back to
#: the threads; and on the loop after which that no longer doubles the next proof.
HOLD = 1.0

#: The most doublings of :data:`PROVE` (a quarter of a million calls in a row).
MAX_LEVEL = 12


class InlineGuard:
    """The server's record of which plain handler methods run on the loop.

    Methods are named by the request's method name (one service per server).
    :meth:`timed` is called from handler threads, :meth:`slow` on the loop; their
    races only ever lose a count (one more or one fewer fast call in a row).
    """

    __slots__ = ("_blocked", "_level", "_promoted", "_streak", "_strike", "inline")

    def __init__(self) -> None:
        #: The methods whose calls run on the loop now.
        self.inline: set[str] = set()
        self._streak: dict[str, int] = {}
        self._level: dict[str, int] = {}  # PROVE doubled this many times
        self._promoted: dict[str, float] = {}  # time.monotonic() it last earned the loop
        self._strike: dict[str, float] = {}  # time.monotonic() of its last slow call on the loop
        self._blocked: set[str] = set()  # held the loop BLOCKED or more: threads for good

    def timed(self, method: str, seconds: float) -> None:
        """A call of ``method`` took ``seconds`` in a handler thread."""
        if seconds >= LIMIT or method in self._blocked:
            self._streak[method] = 0
            return
        streak = self._streak.get(method, 0) + 1
        self._streak[method] = streak
        if streak >= PROVE << self._level.get(method, 0) and method not in self.inline:
            self._promoted[method] = time.monotonic()
            self.inline.add(method)

    def slow(self, method: str, seconds: float) -> None:
        """A call of ``method`` on the loop took ``seconds`` (``>= SLOW``)."""
        if seconds >= BLOCKED:
            self.inline.discard(method)
            self._blocked.add(method)
            log.warning(
                "plain handler %s held the event loop for %.1f ms: it runs in handler "
                "threads from now on",
                method,
                seconds * 1000,
            )
            return
        now = time.monotonic()
        last, self._strike[method] = self._strike.get(method, -HOLD), now
        if now - last >= HOLD:
            return  # the first slow call in a while: maybe not the handler's doing
        self.inline.discard(method)
        self._streak[method] = 0
        level = self._level.get(method, 0)
        if now - self._promoted.get(method, 0.0) < HOLD:
            level = min(level + 1, MAX_LEVEL)
        else:
            level = max(level - 1, 0)
        self._level[method] = level
        log.debug(
            "plain handler %s took %.1f ms on the event loop: back to handler threads "
            "until %d calls in a row there are fast",
            method,
            seconds * 1000,
            PROVE << level,
        )


_RUSAGE_THREAD = getattr(resource, "RUSAGE_THREAD", None)  # Linux


class PreemptionWatch:
    """Tells a slow call the OS preempted from one that blocked, on one thread.

    On a busy machine the scheduler takes the CPU from the loop's thread for a tick
    (4 ms at 250 Hz) now and then: a quick call running then looks slow, though
    moving its method to the threads would not help. The kernel counts a thread's
    voluntary context switches (it waited: I/O, a lock, a sleep, the GIL) apart
    from the involuntary ones (preempted), and its CPU time. :meth:`mark` before
    calls (once per batch: a system call); :meth:`preempted` after a slow one.
    Without ``RUSAGE_THREAD`` (not Linux) it never answers yes.
    """

    __slots__ = ("_mark",)

    def __init__(self) -> None:
        self._mark: tuple[int, int, float] | None = None

    def mark(self) -> None:
        """Remember this thread's context switches and CPU time so far."""
        if _RUSAGE_THREAD is not None:
            usage = resource.getrusage(_RUSAGE_THREAD)
            self._mark = (usage.ru_nvcsw, usage.ru_nivcsw, usage.ru_utime + usage.ru_stime)

    def preempted(self, cpu_below: float = SLOW / 2) -> bool:
        """Whether, since :meth:`mark`, this thread was preempted, never waited, and
        ran under ``cpu_below`` seconds of CPU: the calls were quick, the OS slow."""
        if self._mark is None or _RUSAGE_THREAD is None:
            return False
        usage = resource.getrusage(_RUSAGE_THREAD)
        voluntary, involuntary, cpu = self._mark
        return (
            usage.ru_nvcsw == voluntary
            and usage.ru_nivcsw > involuntary
            and usage.ru_utime + usage.ru_stime - cpu < cpu_below
        )

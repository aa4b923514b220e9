"""The threads that run an asyncio server's plain (non-``async``) handler methods.

Two kinds of work are handed over: :meth:`HandlerThreads.run` runs one call and
gives its outcome to the loop through an asyncio future; :meth:`HandlerThreads.submit`
runs a job that needs nothing back -- the server's connections use it to let a
thread answer their calls from start to reply (see ``server.py``), so the common
case costs the loop no future, no task switch and no wake-up at all.

``loop.run_in_executor`` costs, per call, a ``concurrent.futures.Future``, a
work item, an asyncio future chained to it by callbacks on both sides, one
``call_soon_threadsafe`` wake-up of the loop per result -- and, like any pool that
wakes a thread per call, a thread switch per call: a burst of requests wakes as
many threads, which then queue for the GIL one after the other.

Here a job costs a deque append, and threads are woken sparingly -- and late: a
wake-up waits until the loop has run its other ready callbacks (up to
:data:`DEFER`), so the thread takes the GIL as the loop polls instead of
fighting the loop for it. A job is left
to a thread already awake when one will take it: one woken but not busy yet, or
one in a job that started less than :data:`STALL` seconds ago (most likely about
to finish and take the next job with no wake-up at all). Otherwise -- no thread
awake, or every awake thread in a job for ``STALL`` or more -- another thread is
woken (or started, up to ``size``). Jobs left to busy threads are checked by a
loop timer, armed only then: one still waiting after ``STALL`` gets another
thread. So a burst of quick calls is served by one thread in one go, and a job
never waits behind a slow handler for much more than ``STALL`` while a thread is
free. :meth:`~HandlerThreads.run`'s outcomes are appended to a deque, and the loop
is woken only if no wake-up is pending already, so results finished together are
delivered in one loop iteration.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from thriftbuild.dispatch import Call

__all__ = ["STALL", "HandlerThreads", "default_size"]

#: What a finished call gives back: ``(value, None)`` or ``(None, exception)``.
Outcome = tuple[Any, BaseException | None]
Job = Callable[[], None]

log = logging.getLogger("thriftbuild.server")

#: Seconds a handler may run before calls queued behind it get another thread.
#: Far above a fast handler's run time (microseconds), far below what a client
#: notices; a fifth of CPython's default GIL switch interval.
STALL = 0.001

#: Seconds a thread's wake-up may wait for the loop to run out of ready callbacks
#: (see :meth:`HandlerThreads._wake_when_idle`).
DEFER = 0.0002


def default_size() -> int:
    """``min(32, cpus + 4)``, as ``concurrent.futures.ThreadPoolExecutor``."""
    return min(32, (os.cpu_count() or 1) + 4)


class HandlerThreads:
    """Up to ``size`` daemon threads, started as jobs need them, serving one loop.

    Only the loop's thread calls :meth:`run`, :meth:`submit` and :meth:`close`.

    Args:
        size: the most threads (and so the most plain handlers running at once).
        loop: the event loop the outcomes are delivered to.
    """

    def __init__(self, size: int, loop: asyncio.AbstractEventLoop) -> None:
        if size < 1:
            raise ValueError(f"handler_threads must be at least 1 (or 0: none), not {size}")
        self.size = size
        self._loop = loop
        self._jobs: collections.deque[Job] = collections.deque()
        self._outcomes: collections.deque[tuple[asyncio.Future[Outcome], Outcome]] = (
            collections.deque()
        )
        self._threads: list[threading.Thread] = []
        # Guards _jobs (taking), _sleepers, _spare, _running, _started and _closed
        # between the loop and the threads; held for a few bytecodes at a time.
        self._mutex = threading.Lock()
        self._sleepers: list[threading.Lock] = []  # one held lock per sleeping thread
        self._spare = 0  # awake threads not in a job: they take one before sleeping
        self._running = 0  # threads in a job
        self._started = 0.0  # time.monotonic() the latest job started
        self._stall_timer: asyncio.TimerHandle | None = None
        # A delivery is scheduled on the loop. Read and set by the handler threads
        # without a lock: a lost race costs one extra, empty delivery, never a lost
        # outcome, because _deliver clears it before it takes the outcomes.
        self._wake_pending = False
        self._closed = False
        self._wake_by = 0.0  # a wake-up is deferred until then at the latest (loop only)
        #: Told how long each :meth:`run` call's handler took: ``timing(method, seconds)``.
        self.timing: Callable[[str, float], None] | None = None

    @property
    def threads(self) -> int:
        """How many threads have been started so far."""
        return len(self._threads)

    def run(self, call: Call) -> asyncio.Future[Outcome]:
        """Start ``call``'s handler on a thread; the future gives ``(value, error)``.

        Cancelling the future does not stop the handler; its outcome is dropped.
        """
        future: asyncio.Future[Outcome] = self._loop.create_future()

        def job() -> None:
            started = time.perf_counter()
            try:
                outcome: Outcome = (call.invoke(), None)
            except BaseException as exc:  # delivered to the connection, which maps it
                outcome = (None, exc)
            if self.timing is not None:
                self.timing(call.request.method, time.perf_counter() - started)
            self._outcomes.append((future, outcome))
            if not self._wake_pending:
                self._wake_pending = True
                with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                    self._loop.call_soon_threadsafe(self._deliver)

        self.submit(job)
        return future

    def submit(self, job: Job) -> None:
        """Run ``job()`` on a thread. It must not raise (what it raises is logged)."""
        if self._closed:
            raise RuntimeError("the server's handler threads are shut down")
        with self._mutex:
            self._jobs.append(job)
            if len(self._jobs) <= self._spare:
                return  # an awake thread takes it
            if not self._spare and (not self._running or time.monotonic() - self._started >= STALL):
                if not self._wake_by:
                    self._wake_by = time.monotonic() + DEFER
                    self._loop.call_soon(self._wake_when_idle)
                return
        # An awake thread most likely takes this job in a moment: one about to
        # take jobs, or in a job that started just now. Make sure someone does.
        if self._stall_timer is None:
            self._stall_timer = self._loop.call_later(STALL, self._check_stalled)

    def _wake_when_idle(self) -> None:
        """Wake a thread for the waiting jobs once the loop is about to poll.

        A thread woken while the loop still runs callbacks (the other requests
        of the same poll) would wait for the GIL, take it at the loop's next
        system call and hand it back at its own: a few futex calls and context
        switches per call. Woken as the loop goes to poll, it finds the GIL free
        and runs the whole batch. The loop's queue of ready callbacks is
        asyncio's private ``_ready``; on a loop without it, or after ``DEFER``,
        the thread is woken at once.
        """
        ready = getattr(self._loop, "_ready", None)
        if ready and time.monotonic() < self._wake_by:
            self._loop.call_soon(self._wake_when_idle)
            return
        self._wake_by = 0.0
        with self._mutex:
            if len(self._jobs) > self._spare:
                self._wake()
            more = len(self._jobs) > self._spare
        if more and self._stall_timer is None:
            self._stall_timer = self._loop.call_later(STALL, self._check_stalled)

    def close(self) -> None:
        """Let every thread exit once the jobs already handed over are done."""
        if self._closed:
            return
        with self._mutex:
            self._closed = True
            while self._sleepers:  # each one wakes, finds no job and exits
                self._spare += 1
                self._sleepers.pop().release()
        if self._stall_timer is not None and not self._jobs:
            self._stall_timer.cancel()
            self._stall_timer = None

    def _wake(self) -> None:
        """Wake a sleeping thread, or start one while under ``size`` (mutex held)."""
        if self._sleepers:
            self._spare += 1
            self._sleepers.pop().release()
        elif len(self._threads) < self.size:
            self._spare += 1
            thread = threading.Thread(
                target=self._work,
                name=f"thriftbuild-handler-{len(self._threads)}",
                daemon=True,  # a handler stuck past the grace period must not block exit
            )
            self._threads.append(thread)
            thread.start()

    def _check_stalled(self) -> None:
        """Jobs have waited ``STALL`` with no thread free: wake one more."""
        self._stall_timer = None
        with self._mutex:
            if len(self._jobs) > self._spare:
                self._wake()
            # Check again while jobs wait and one more thread could take them.
            again = self._jobs and (self._sleepers or len(self._threads) < self.size)
        if again:
            self._stall_timer = self._loop.call_later(STALL, self._check_stalled)

    def _work(self) -> None:
        mutex, jobs = self._mutex, self._jobs
        asleep = threading.Lock()
        asleep.acquire()  # released by whoever wakes this thread
        finished = False  # this thread has just finished a job
        while True:  # counted in _spare here
            with mutex:
                if finished:
                    self._running -= 1
                    finished = False
                else:
                    self._spare -= 1
                if jobs:
                    job: Job | None = jobs.popleft()
                    self._running += 1
                    self._started = time.monotonic()
                elif self._closed:
                    return
                else:
                    self._sleepers.append(asleep)
                    job = None
            if job is None:
                asleep.acquire()  # woken: counted in _spare again
                continue
            try:
                job()
            except BaseException:  # a bug in the job: keep the thread serving
                log.exception("a handler thread's job failed")
            del job  # hold nothing while waiting for work
            finished = True

    def _deliver(self) -> None:
        self._wake_pending = False
        outcomes = self._outcomes
        while outcomes:
            future, outcome = outcomes.popleft()
            if not future.done():
                future.set_result(outcome)

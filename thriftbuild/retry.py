"""Retry policy: how many attempts, within what time budget, with what pause between.

:class:`RetryPolicy` is an immutable value. Iterating it runs one retry loop: each
step yields the time left in the budget (or ``None`` without a budget) and the loop
ends after ``attempts`` steps or when the budget is spent, whichever comes first::

    for time_left in RetryPolicy.new(attempts=3, budget=0.5):
        try:
            return do_call(timeout=time_left)
        except TransientError:
            continue

Unlike baseplate's policy, ``attempts`` is a hard cap whether or not a budget is
given, and pauses never sleep past the budget.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """How a failed call is tried again.

    Attributes:
        attempts: the most tries in total, counting the first; ``None`` for no cap
            (then a budget should bound the loop).
        budget: seconds from the first try after which no new try starts; ``None``
            for no limit.
        backoff: pause before the second try, in seconds, doubling before each
            later try up to ``max_backoff``; ``None`` or ``0`` for no pause.
        max_backoff: the longest single pause.
        jitter: scale each pause by a random factor in [0.5, 1) so that clients
            failing together do not retry together.
    """

    attempts: int | None = 1
    budget: float | None = None
    backoff: float | None = None
    max_backoff: float = 1.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.attempts is not None and self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {self.attempts}")
        if self.budget is not None and not self.budget > 0:
            raise ValueError(f"budget must be positive, not {self.budget}")
        if self.backoff is not None and self.backoff < 0:
            raise ValueError(f"backoff must not be negative, not {self.backoff}")
        if self.attempts is None and self.budget is None:
            raise ValueError("give attempts or a budget; a retry loop needs a bound")

    @classmethod
    def new(
        cls,
        attempts: int | None = None,
        budget: float | None = None,
        backoff: float | None = None,
        *,
        max_backoff: float = 1.0,
        jitter: bool = True,
    ) -> RetryPolicy:
        """Build a policy with baseplate's signature.

        Args:
            attempts: the most tries, counting the first; ``None`` means no cap when a
                budget is given, and one try otherwise.
            budget: seconds the whole loop may take.
            backoff: first pause in seconds, doubled before each later try.
            max_backoff: the longest single pause.
            jitter: randomise pauses in [0.5, 1) of their nominal length.

        Returns:
            The policy.
        """
        if attempts is None and budget is None:
            attempts = 1
        return cls(attempts, budget, backoff, max_backoff, jitter)

    def pause(self, retry: int) -> float:
        """Nominal pause before retry number ``retry`` (1 for the second try), in seconds."""
        if not self.backoff:
            return 0.0
        return float(min(self.max_backoff, self.backoff * 2 ** (retry - 1)))

    def __iter__(self) -> Iterator[float | None]:
        return self.run()

    def run(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Iterator[float | None]:
        """Run one retry loop.

        Args:
            clock: a monotonic clock in seconds.
            sleep: how to pause (gevent-patched ``time.sleep`` cooperates).

        Yields:
            Before each try, the seconds left in the budget, or ``None`` without one.
        """
        deadline = None if self.budget is None else clock() + self.budget
        tries = 0
        while True:
            remaining = None if deadline is None else deadline - clock()
            if remaining is not None and remaining <= 0:
                return
            tries += 1
            yield remaining
            if self.attempts is not None and tries >= self.attempts:
                return
            delay = self.pause(tries)
            if delay and self.jitter:
                delay *= random.uniform(0.5, 1.0)
            if delay:
                if deadline is not None and clock() + delay >= deadline:
                    return  # the pause alone would spend the budget
                sleep(delay)

"""Per-user rate limiting shared by both platforms."""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Callable


class RateLimiter:
    """Sliding window: at most `count` commands per `seconds` for each key (a reader id).

    Args:
        count: commands allowed in any window of `seconds`.
        seconds: window length.
        clock: monotonic clock, replaceable in tests.
    """

    def __init__(self, count: int, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.count = count
        self.seconds = seconds
        self._clock = clock
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Record one command by `key`; returns 0 if allowed, else seconds to wait (nothing recorded)."""
        now = self._clock()
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            while calls and calls[0] <= now - self.seconds:
                calls.popleft()
            if len(calls) >= self.count:
                return max(0.1, calls[0] + self.seconds - now)
            calls.append(now)
            if len(self._calls) > 10_000:  # forget idle readers so memory stays bounded
                self._prune(now)
            return 0.0

    def _prune(self, now: float) -> None:
        for key in [k for k, c in self._calls.items() if not c or c[-1] <= now - self.seconds]:
            del self._calls[key]


class NoLimit:
    """Stand-in when RAREREADS_RATE_LIMIT is off."""

    def hit(self, key: str) -> float:
        """Always allowed."""
        return 0.0


def slow_down_text(wait: float) -> str:
    """The friendly reply to a reader who is going too fast."""
    seconds = max(1, math.ceil(wait))
    return f"Slow down a little: try again in {seconds} second{'s' if seconds != 1 else ''}. 📚"

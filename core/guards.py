"""Guards: per-user limits (kept in memory) and the retry backoff of work that failed (outbox
messages, stored webhook pushes). Outages of sources are kept by ``core.sources.SourceHealth``.

Imports: the standard library only.
"""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import timedelta

__all__ = ["SlidingWindow", "retry_backoff"]


class SlidingWindow:
    """Counts events per key inside a moving time window (per-user limits)."""

    def __init__(self, limit: int, window: float) -> None:
        self._limit = limit
        self._window = window
        self._events: dict[str, deque[float]] = defaultdict(deque)

    def hit(self, key: str, now: float) -> bool:
        """Record one event; False when the key is over its limit (the event is not counted)."""
        events = self._events[key]
        while events and events[0] <= now - self._window:
            events.popleft()
        if len(events) >= self._limit:
            return False
        events.append(now)
        return True

    def retry_after(self, key: str, now: float) -> float:
        events = self._events.get(key)
        return max(0.0, events[0] + self._window - now) if events else 0.0

    def clear(self, key: str) -> None:
        self._events.pop(key, None)


def retry_backoff(attempts: int, base: timedelta, cap: timedelta) -> timedelta:
    """How long to wait after ``attempts`` failed tries: ``base`` doubling per try, at most
    ``cap``."""
    return min(base * (1 << max(0, min(attempts, 20))), cap)

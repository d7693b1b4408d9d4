"""Guards: outage reporting per source and per-user limits (kept in memory), and the retry
backoff of work that failed (outbox messages, stored webhook pushes)."""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from datetime import timedelta

__all__ = ["SlidingWindow", "SourceHealth", "retry_backoff"]

log = logging.getLogger(__name__)


class SourceHealth:
    """The one place that reports a source's outage (WARNING): once down, once back up.

    The rule, with hysteresis both ways: a source is *failing* after ``fail_after``
    consecutive failed calls and *recovered* after ``recover_after`` consecutive successful
    calls; anything in between changes nothing. A call is one request of the service to a
    source (a ``track`` batch, an order lookup) and fails when it raises a ``ProviderError``
    (the HTTP layer's retries are already spent) or every number in it came back as one.
    Every path that calls a source reports here: polls, /track and refreshes, order lookups
    and the webhook sink (``core.service.ParcelService.track_batch``). The clients' own
    ``core.providers.http.ProviderHealth`` logs at DEBUG only.
    """

    def __init__(self, fail_after: int, recover_after: int) -> None:
        self._fail_after = max(1, fail_after)
        self._recover_after = max(1, recover_after)
        self._failures: dict[str, int] = {}
        self._successes: dict[str, int] = {}
        self._failing: set[str] = set()

    @property
    def failing(self) -> frozenset[str]:
        return frozenset(self._failing)

    def failure(self, source: str, err: BaseException) -> None:
        self._successes.pop(source, None)
        count = self._failures[source] = self._failures.get(source, 0) + 1
        if source not in self._failing and count >= self._fail_after:
            self._failing.add(source)
            log.warning(
                "source %s is failing (%d failed calls in a row, last %s); "
                "parcels are retried later",
                source,
                count,
                type(err).__name__,
            )

    def success(self, source: str) -> None:
        self._failures.pop(source, None)
        if source not in self._failing:
            return
        count = self._successes[source] = self._successes.get(source, 0) + 1
        if count >= self._recover_after:
            self._failing.discard(source)
            del self._successes[source]
            log.warning("source %s recovered (%d good calls in a row)", source, count)


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

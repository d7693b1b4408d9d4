"""Clocks: the wall clock, and a demo clock that runs faster and can be moved forward.

The demo clock lets the sandbox compress days into minutes (``speed``) and lets a person or a
test jump ahead (``advance``). Its state is two numbers, so the runtime can persist it and a
restart continues in the same virtual time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["DemoClock", "SystemClock"]


class SystemClock:
    """The real wall clock (aware UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class DemoClock:
    """Virtual time = ``anchor`` + (real time since ``anchor``) × ``speed`` + ``offset``.

    ``real`` is injectable so tests can drive it; it must return aware UTC datetimes.
    """

    def __init__(
        self,
        *,
        speed: float = 1.0,
        anchor: datetime | None = None,
        offset: timedelta = timedelta(0),
        real: Callable[[], datetime] | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        real = real or SystemClock().now
        self._real = real
        self.speed = speed
        self.anchor = anchor or real()
        self.offset = offset

    def now(self) -> datetime:
        elapsed = self._real() - self.anchor
        return self.anchor + elapsed * self.speed + self.offset

    def advance(self, delta: timedelta) -> datetime:
        """Jump ``delta`` ahead (never back); returns the new virtual time."""
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        self.offset += delta
        return self.now()

"""The outside sources the service calls: the named providers, which one tracks each carrier,
and the one record of their health.

What lives here:

- ``Routing``: the tracking sources in the order they are tried and, per carrier, the first
  one that supports it. The composition root builds it once; the provider router
  (``core.providers.router``) sends each number where it says, and the service batches and
  judges health per source by it.
- ``SourceHealth``: the one outage report per source, with hysteresis both ways.
- ``Sources``: the three together with the shop (the order source), as the service and the
  composition root see them.

Imports: the standard library and the core's ``models``, ``errors`` and ``ports`` only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core.ports import OrderSource, TrackingProvider

__all__ = ["Routing", "SourceHealth", "Sources"]

log = logging.getLogger(__name__)


class SourceHealth:
    """The one place that keeps and reports a source's outage (WARNING): once down, once up.

    The rule, with hysteresis both ways: a source is *failing* after ``fail_after``
    consecutive failed calls and *recovered* after ``recover_after`` consecutive successful
    calls; anything in between changes nothing. A call is one request of the service to a
    source (a ``track`` batch, an order lookup) and fails when it raises a ``ProviderError``
    (the HTTP layer's retries are already spent) or every number in it came back as one.
    Every path that calls a source reports here: polls, /track and refreshes, order lookups
    and pushes that register parcels (``core.refresh.Refresher.track_batch``).
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


class Routing:
    """The tracking sources in the order they are tried; each carrier goes to the first whose
    ``supports(carrier)`` is true.

    A provider's ``supports`` answer never changes while it runs, so the choice is made once
    per carrier and remembered (a poll routes tens of thousands of numbers). ``Routing.only``
    sends every carrier to one source, which answers for itself what it does not track.
    """

    def __init__(self, sources: Sequence[TrackingProvider]) -> None:
        if not sources:
            raise ValueError("Routing needs at least one tracking source")
        self._sources = tuple(sources)
        self._chosen: dict[str, TrackingProvider | None] = {}
        self._sole: TrackingProvider | None = None

    @classmethod
    def only(cls, source: TrackingProvider) -> Routing:
        """Every carrier to ``source``."""
        routing = cls([source])
        routing._sole = source
        return routing

    @property
    def sources(self) -> tuple[TrackingProvider, ...]:
        return self._sources

    def source_for(self, carrier: str) -> TrackingProvider | None:
        """The source that tracks ``carrier``, or None when none does."""
        if self._sole is not None:
            return self._sole
        try:
            return self._chosen[carrier]
        except KeyError:
            chosen = next((s for s in self._sources if s.supports(carrier)), None)
            self._chosen[carrier] = chosen
            return chosen


class Sources:
    """Every source the service calls, by name, with their shared health record.

    ``routing`` names the tracking source behind each carrier (batches and outages are per
    source); ``shop`` is the order source, when there is one. ``health`` follows every source
    by its ``name``.
    """

    def __init__(
        self,
        routing: Routing,
        *,
        shop: OrderSource | None = None,
        health: SourceHealth | None = None,
    ) -> None:
        self.routing = routing
        self.shop = shop
        self.health = health or SourceHealth(3, 5)

    @property
    def failing(self) -> frozenset[str]:
        """Names of the sources now considered failing (``SourceHealth``)."""
        return self.health.failing

    @property
    def names(self) -> tuple[str, ...]:
        """Every source's name: the tracking sources in order, then the shop."""
        named = [source.name for source in self.routing.sources]
        if self.shop is not None:
            named.append(self.shop.name)
        return tuple(dict.fromkeys(named))

    def states(self) -> dict[str, str]:
        """Each source's state by name: "ok" or "failing"."""
        failing = self.health.failing
        return {name: "failing" if name in failing else "ok" for name in self.names}

    def tracking(self, name: str) -> TrackingProvider | None:
        """The tracking source called ``name``, or None."""
        return next((s for s in self.routing.sources if s.name == name), None)

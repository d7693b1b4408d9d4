"""``SandboxProvider``: the sandbox carrier, a ``TrackingProvider`` over the journeys."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core.budgets import SANDBOX_MEMO_BYTES, entries
from core.carriers import normalise
from core.cooperative import Breather
from core.errors import ProviderUnavailable, ShipmentNotFound
from core.models import ShipmentKey, TrackBatch, TrackingEvent, TrackRequest
from core.providers.sandbox.journey import Built, as_utc, build_visible
from core.providers.sandbox.scenarios import ERROR_TRIGGER, PROVIDER

if TYPE_CHECKING:
    # Only the Clock protocol's shape is needed; importing ports at run time would pull in
    # the reply layer for nothing.
    from core.ports import Clock

__all__ = ["SandboxProvider"]

logger = logging.getLogger(__name__)

# Bounds SandboxProvider's memory of recent answers (about 1,700 bytes a parcel); when full the
# oldest answer makes room, one at a time: forgetting them all at once freed some 20,000
# answers in one go, a 10 ms pause of the event loop in the middle of a poll.
_RECENT_LIMIT = entries(SANDBOX_MEMO_BYTES, 1700)


class SandboxProvider:
    """A ``TrackingProvider`` for simulated parcels of any carrier; needs no keys or network.

    ``speed`` is virtual seconds per real second (1440: a day per minute). The start of a
    request without ``first_seen`` is remembered per instance from the first time it is seen.
    Requests whose number contains ``ERR`` come back as ``ShipmentNotFound`` in
    ``TrackBatch.errors``; setting ``unavailable`` makes ``track`` raise ``ProviderUnavailable``.
    Larger batches than ``max_batch`` are accepted too.
    """

    name = PROVIDER
    max_batch = 100

    def __init__(self, clock: Clock, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError("speed must be a positive number")
        self._clock = clock
        self.speed = speed
        self.unavailable = False
        self._first_seen: dict[ShipmentKey, datetime] = {}
        # The last answer per (carrier, number) that passed the error check.
        self._recent: OrderedDict[tuple[str, str], Built] = OrderedDict()

    def supports(self, carrier: str) -> bool:
        """Every carrier: the sandbox simulates any number."""
        return True

    async def track(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        """Snapshots for every request; a bad number goes to ``errors``, never raises."""
        if self.unavailable:
            raise ProviderUnavailable(provider=self.name)
        now = self._clock.now()
        batch = TrackBatch()
        recent = self._recent
        speed = self.speed
        # Most polls find a parcel's visible scans unchanged: the last answer is reused (same
        # scan objects, new check time) while the clock stays within its span (``Built``).
        reuse = now.tzinfo is UTC
        breathe = Breather()
        for request in requests:
            await breathe()
            key = request.key
            built = recent.get((request.carrier, request.number))
            if built is None:
                number = normalise(request.number)
                if not number or ERROR_TRIGGER in number:
                    batch.errors[key] = ShipmentNotFound()
                    continue
            start = request.first_seen or self._first_seen.setdefault(key, now)
            if reuse and built is not None and built.covers(start, now, speed):
                batch.shipments[key] = built.shipment.rechecked(now, as_utc(start))
                continue
            known: tuple[TrackingEvent, ...] = ()
            if built is not None and built.start == start and built.speed == speed:
                known = built.shipment.events
            try:
                built = build_visible(request, start, now, speed, known)
            except (OverflowError, ValueError):
                # Only absurd inputs get here (a start near the end of the calendar).
                batch.errors[key] = ShipmentNotFound()
                continue
            batch.shipments[key] = built.shipment
            place = request.carrier, request.number
            if len(recent) >= _RECENT_LIMIT and place not in recent:
                recent.popitem(last=False)
            recent[place] = built
        logger.debug(
            "sandbox tracked %s parcels, %s errors", len(batch.shipments), len(batch.errors)
        )
        return batch

"""Arrival windows on every snapshot: a ``TrackingProvider`` that adds our ETA to another's.

``EstimatingProvider`` wraps the real provider. Each parcel it returns gets the window to show:
the carrier's ETA when it is present and recent, combined with ours (``core.eta.model.combine``).
Every delivered parcel becomes a new observation, stored and learned from, so estimates get
better with use.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from core.budgets import ETA_MEMO_BYTES, entries
from core.cooperative import Breather, let_go
from core.eta.model import EstimateInputs, EtaModel, combine, estimate_inputs, observation_from
from core.incidents import never_handed_over
from core.models import Eta, Shipment, ShipmentKey, Status, TrackBatch, TrackRequest
from core.ports import Clock, ObservationRepository, TrackingProvider

__all__ = ["EstimatingProvider"]

log = logging.getLogger(__name__)


# Bounds the last windows remembered (about 250 bytes a parcel); when a batch would not fit,
# it starts over.
_SEEN_LIMIT = entries(ETA_MEMO_BYTES, 250)

FRESH_FOR = timedelta(minutes=15)
"""How long a window that has already begun stands for a parcel whose estimate inputs did not
change (its start moved up to the moment): a carrier pushing a parcel's scans minutes apart
does not have its estimate worked out at each. Windows are read in whole days."""


@dataclass(frozen=True, slots=True)
class _Seen:
    """What an estimate was computed from; the same inputs give the same window."""

    status: Status
    inputs: EstimateInputs | None
    carrier_eta: Eta | None
    estimate: Eta | None
    at: datetime


class EstimatingProvider:
    """A ``TrackingProvider`` that delegates to ``inner`` and sets each parcel's ``eta``.

    Guarantees: the batch's keys and errors are exactly ``inner``'s; only ``Shipment.eta``
    changes. A delivered parcel is added to ``observations`` once (the repository ignores a
    parcel it already holds) and to the model.
    """

    def __init__(
        self,
        inner: TrackingProvider,
        model: EtaModel,
        clock: Clock,
        observations: ObservationRepository | None = None,
    ) -> None:
        self._inner = inner
        self._model = model
        self._clock = clock
        self._observations = observations
        self._seen: dict[ShipmentKey, _Seen] = {}
        self._observed: set[ShipmentKey] = set()
        self.name = inner.name
        self.max_batch = inner.max_batch

    def supports(self, carrier: str) -> bool:
        return self._inner.supports(carrier)

    async def track(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        batch = await self._inner.track(requests)
        enriched = await self.enrich(list(batch.shipments.values()))
        return TrackBatch(shipments={s.key: s for s in enriched}, errors=batch.errors)

    async def enrich(self, shipments: Sequence[Shipment]) -> list[Shipment]:
        """Set each parcel's window and learn from the delivered ones (pushed parcels too)."""
        now = self._clock.now()
        done: list[Shipment] = []
        breathe = Breather()  # estimating is the costly part of a batch of pushes
        seen = self._seen
        if len(seen) + len(shipments) > _SEEN_LIMIT:
            # Starting over frees a hundred thousand windows when full: a fresh memo takes the
            # old one's place at once, and the old one is let go in slices.
            self._seen = {}
            await let_go(seen, breathe)
        for shipment in shipments:
            await breathe()
            done.append(self._with_eta(shipment.key, shipment, now))
        for shipment in done:
            if shipment.status is Status.DELIVERED and shipment.key not in self._observed:
                await self._learn(shipment.key, shipment)
        return done

    def _with_eta(self, key: ShipmentKey, shipment: Shipment, now: datetime) -> Shipment:
        if shipment.is_final or never_handed_over(shipment, now):
            # A label never scanned long past its limit gets no estimate sliding day by day:
            # the parcel was probably never handed over (an incident says so instead).
            self._seen.pop(key, None)
            return shipment if shipment.eta is None else replace(shipment, eta=None)
        inputs = estimate_inputs(shipment)
        seen = self._seen.get(key)
        # Estimating costs far more than a poll's or a push's other work. When nothing the
        # estimate reads has changed (a new scan on the way usually changes none of it), the
        # last answer stands while its window is still ahead of us, and for FRESH_FOR once it
        # has begun (its start moved up to now, as a new estimate's would be).
        if (
            seen is not None
            and seen.status is shipment.status
            and seen.inputs == inputs
            and seen.carrier_eta == shipment.eta
            and (
                seen.estimate is None
                or seen.estimate.earliest >= now
                or (now - seen.at < FRESH_FOR and seen.estimate.latest >= now)
            )
        ):
            estimate = _from(seen.estimate, now)
        else:
            own = self._model.estimate_shipment(shipment, now=now)
            estimate = combine(shipment.eta, own, now)
            self._seen[key] = _Seen(shipment.status, inputs, shipment.eta, estimate, now)
        return replace(shipment, eta=estimate)

    async def _learn(self, key: ShipmentKey, shipment: Shipment) -> None:
        self._observed.add(key)
        obs = observation_from(shipment)
        if obs is None:
            return
        if self._observations is not None and not await self._observations.add(obs, key):
            return
        self._model.observe(obs)
        log.debug("learned a delivery of %s", key)


def _from(estimate: Eta | None, now: datetime) -> Eta | None:
    """``estimate`` starting no earlier than ``now`` (the same object when it does)."""
    if estimate is None or estimate.earliest >= now:
        return estimate
    return replace(estimate, earliest=now, most_likely=max(estimate.most_likely, now))

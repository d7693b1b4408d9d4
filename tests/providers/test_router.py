"""ProviderRouter: routing by carrier, batching by max_batch, partial failures."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from core.errors import CarrierNotDetected, ProviderUnavailable, TrackingError
from core.models import Shipment, Status, TrackBatch, TrackRequest
from core.ports import TrackingProvider
from core.providers.router import ProviderRouter
from tests.providers.conftest import req


class RecordingProvider:
    """Answers every request with an in-transit snapshot and records the batches it got."""

    def __init__(
        self,
        name: str,
        carriers: set[str] | None,
        max_batch: int = 40,
        *,
        fail: bool = False,
    ) -> None:
        self.name = name
        self.carriers = carriers
        self.max_batch = max_batch
        self.fail = fail
        self.batches: list[list[TrackRequest]] = []

    def supports(self, carrier: str) -> bool:
        return self.carriers is None or carrier in self.carriers

    async def track(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        assert len(requests) <= self.max_batch
        self.batches.append(list(requests))
        if self.fail:
            raise ProviderUnavailable(provider=self.name)
        batch = TrackBatch()
        for r in requests:
            batch.shipments[r.key] = Shipment(
                r.carrier, r.number, Status.IN_TRANSIT, provider=self.name
            )
        return batch


async def test_routes_to_the_first_supporting_provider_in_batches() -> None:
    ups_only = RecordingProvider("upsy", {"ups"}, max_batch=2)
    anything = RecordingProvider("all", None, max_batch=3)
    router = ProviderRouter([ups_only, anything])
    assert isinstance(router, TrackingProvider)
    requests = [req(f"U{i}", "ups") for i in range(5)] + [req(f"F{i}", "fedex") for i in range(4)]
    batch = await router.track(requests)
    assert len(batch.shipments) == 9
    assert not batch.errors
    assert [len(b) for b in ups_only.batches] == [2, 2, 1]
    assert [len(b) for b in anything.batches] == [3, 1]
    assert {s.provider for k, s in batch.shipments.items() if k.carrier == "ups"} == {"upsy"}


async def test_unsupported_carriers_are_error_entries() -> None:
    router = ProviderRouter([RecordingProvider("usps", {"usps"})])
    batch = await router.track([req("A", "usps"), req("B", "martian_post")])
    assert set(batch.shipments) == {req("A", "usps").key}
    assert isinstance(batch.errors[req("B", "martian_post").key], CarrierNotDetected)
    assert not router.supports("martian_post")


async def test_a_failing_provider_fails_only_its_numbers() -> None:
    broken = RecordingProvider("broken", {"ups"}, fail=True)
    fine = RecordingProvider("fine", None)
    batch = await ProviderRouter([broken, fine]).track([req("A", "ups"), req("B", "usps")])
    assert set(batch.shipments) == {req("B", "usps").key}
    error: TrackingError = batch.errors[req("A", "ups").key]  # type: ignore[assignment]
    assert isinstance(error, ProviderUnavailable)


async def test_every_batch_failing_raises() -> None:
    router = ProviderRouter([RecordingProvider("broken", None, fail=True)])
    with pytest.raises(ProviderUnavailable):
        await router.track([req("A", "ups")])


async def test_duplicates_are_tracked_once() -> None:
    provider = RecordingProvider("p", None)
    await ProviderRouter([provider]).track([req("A", "ups"), req("A", "ups")])
    assert provider.batches == [[req("A", "ups")]]


def test_needs_a_provider() -> None:
    with pytest.raises(ValueError):
        ProviderRouter([])

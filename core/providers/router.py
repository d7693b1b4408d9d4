"""Routes each number to the source ``core.sources.Routing`` names for its carrier."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from core.errors import CarrierNotDetected, ProviderError
from core.models import TrackBatch, TrackRequest
from core.ports import TrackingProvider
from core.providers._common import chunked, dedupe_requests, merge_chunks
from core.sources import Routing

__all__ = ["ProviderRouter"]

log = logging.getLogger(__name__)


class ProviderRouter:
    """A ``TrackingProvider`` made of others, tried in the order given.

    Each request goes to the first provider whose ``supports(carrier)`` is true (``routing``,
    the same object the service batches and judges sources by), split into
    that provider's ``max_batch``; all batches run concurrently and their results merge.
    Requests no provider supports become ``CarrierNotDetected`` entries. A batch whose provider
    fails turns into error entries for its numbers; only when every batch failed does the
    router raise (the first failure), as the protocol asks of a failing source.
    """

    name = "router"

    def __init__(self, providers: Sequence[TrackingProvider], *, max_batch: int = 1000) -> None:
        if not providers:
            raise ValueError("ProviderRouter needs at least one provider")
        self.routing = Routing(providers)
        self._providers = self.routing.sources
        self.max_batch = max_batch

    @property
    def providers(self) -> tuple[TrackingProvider, ...]:
        return self._providers

    def supports(self, carrier: str) -> bool:
        return self.routing.source_for(carrier) is not None

    async def track(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        batch = TrackBatch()
        routed: dict[int, list[TrackRequest]] = {}
        for request in dedupe_requests(requests):
            provider = self.routing.source_for(request.carrier)
            if provider is None:
                batch.errors[request.key] = CarrierNotDetected()
                continue
            routed.setdefault(self._providers.index(provider), []).append(request)
        jobs: list[tuple[TrackingProvider, list[TrackRequest]]] = []
        for index, items in routed.items():
            provider = self._providers[index]
            jobs.extend((provider, chunk) for chunk in chunked(items, max(1, provider.max_batch)))
        results = await asyncio.gather(
            *(provider.track(chunk) for provider, chunk in jobs), return_exceptions=True
        )

        def failed(index: int, error: ProviderError) -> None:
            provider, chunk = jobs[index]
            log.info("%s failed a batch of %d: %s", provider.name, len(chunk), error)

        return merge_chunks(
            [chunk for _, chunk in jobs],
            results,
            batch,
            on_failure=failed,
            # A provider that forgets a number must not make it vanish from the answer.
            unanswered=lambda index: ProviderError(provider=jobs[index][0].name),
        )

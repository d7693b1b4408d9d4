"""``AfterShipClient``: the thin I/O class over the AfterShip Tracking API (batches, creation,
the ``x-ratelimit-*`` pacing). The package's only module that does I/O.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from core.errors import ProviderAuthError, ProviderError, ProviderUnavailable, TrackingError
from core.models import Shipment, TrackBatch, TrackRequest
from core.pacing import SlidingWindow
from core.ports import Clock, Pacer
from core.providers._common import (
    chunked,
    dedupe_requests,
    merge_chunks,
    not_found_snapshot,
    text_of,
)
from core.providers.aftership.parse import parse_tracking
from core.providers.aftership.units import (
    API_VERSION,
    BASE_URL,
    MAX_BATCH,
    PROVIDER,
    SLUGS,
    create_error,
)
from core.providers.http import (
    HttpResult,
    ProviderTransport,
    RetryPolicy,
    Sleep,
    retry_after_seconds,
)

__all__ = ["AfterShipClient"]

log = logging.getLogger(__name__)


def _meta_code(result: HttpResult) -> int | None:
    if isinstance(result.data, Mapping):
        meta = result.data.get("meta")
        if isinstance(meta, Mapping) and isinstance(meta.get("code"), int):
            return int(meta["code"])
    return None


def _unwrap(data: object) -> Mapping[str, Any] | None:
    """The tracking object in ``data`` (flat from 2024-07, ``data.tracking`` before)."""
    if not isinstance(data, Mapping):
        return None
    inner = data.get("tracking")
    if isinstance(inner, Mapping):
        return inner
    return data if "tracking_number" in data else None


class AfterShipClient:
    """``TrackingProvider`` over the AfterShip Tracking API."""

    name = PROVIDER
    max_batch = MAX_BATCH

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str = BASE_URL,
        version: str = API_VERSION,
        rate: float = 10.0,
        limiter: Pacer | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        timeout: float | None = None,
        max_header_wait: float = 60.0,
    ) -> None:
        self._io = ProviderTransport(
            http, PROVIDER, retry=retry, clock=clock, sleep=sleep, timeout=timeout
        )
        self._key = api_key
        self._base = f"{base_url.rstrip('/')}/{version}"
        # Versions up to 2024-04 wrap the request body in {"tracking": …}.
        self._wrapped = version <= "2024-04"
        calls = max(1, round(rate))
        self._limiter: Pacer = limiter or SlidingWindow(calls, calls / rate, spacing=1.0 / rate)
        self._max_header_wait = max_header_wait
        self._resume_at = 0.0

    def supports(self, carrier: str) -> bool:
        """Every carrier: without a slug AfterShip detects the courier itself."""
        return True

    async def _before_attempt(self) -> None:
        wait = self._resume_at - time.monotonic()
        if wait > 0:
            await self._io.sleep(min(wait, self._max_header_wait))

    def _note_headers(self, headers: Mapping[str, str]) -> None:
        remaining = headers.get("x-ratelimit-remaining")
        if remaining is not None and remaining.strip() == "0":
            wait = retry_after_seconds({"x-ratelimit-reset": headers.get("x-ratelimit-reset", "")})
            if wait is None:
                wait = 1.0
            self._resume_at = time.monotonic() + min(wait, self._max_header_wait)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> HttpResult:
        content = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        result = await self._io.request(
            method,
            self._base + path,
            params=params,
            headers={"as-api-key": self._key, "content-type": "application/json"},
            content=content,
            before_attempt=self._before_attempt,
            pacer=self._limiter,
        )
        self._note_headers(result.headers)
        if result.status in (401, 403) or _meta_code(result) in (401, 403):
            error = ProviderAuthError(provider=PROVIDER)
            log.warning("%s refused the API key (HTTP %s)", PROVIDER, result.status)
            raise error
        return result

    async def track(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        """Snapshots for every request (creating unknown numbers), or per-number errors."""
        chunks = chunked(dedupe_requests(requests), MAX_BATCH)
        results: list[TrackBatch | BaseException] = []
        # One chunk after the other: the rate-limit headers of one answer pace the next call.
        for chunk in chunks:
            try:
                results.append(await self._track_chunk(chunk))
            except ProviderError as err:
                results.append(err)
        return merge_chunks(chunks, results)

    async def _track_chunk(self, chunk: list[TrackRequest]) -> TrackBatch:
        numbers = ",".join(dict.fromkeys(str(r.number) for r in chunk))
        result = await self._request(
            "GET", "/trackings", params={"tracking_numbers": numbers, "limit": "200"}
        )
        if not 200 <= result.status < 300:
            raise ProviderUnavailable(provider=PROVIDER)
        data = result.data.get("data") if isinstance(result.data, Mapping) else None
        trackings: list[Mapping[str, Any]] = []
        if isinstance(data, Mapping):
            raw_list = data.get("trackings")
            if isinstance(raw_list, list):
                trackings = [t for t in raw_list if isinstance(t, Mapping)]
        now = self._io.clock.now()
        batch = TrackBatch()
        for request in chunk:
            found = self._match(request, trackings)
            if found is not None:
                batch.shipments[request.key] = parse_tracking(found, request, now)
        missing = [r for r in chunk if r.key not in batch.shipments]
        for request in missing:
            try:
                outcome = await self._create(request, now)
            except ProviderAuthError:
                raise
            except ProviderError as err:
                batch.errors[request.key] = err
                continue
            if isinstance(outcome, Shipment):
                batch.shipments[request.key] = outcome
            else:
                batch.errors[request.key] = outcome
        return batch

    @staticmethod
    def _match(
        request: TrackRequest, trackings: Sequence[Mapping[str, Any]]
    ) -> Mapping[str, Any] | None:
        same = [t for t in trackings if text_of(t, "tracking_number").upper() == request.number]
        slug = SLUGS.get(request.carrier)
        if slug:
            for tracking in same:
                if text_of(tracking, "slug") == slug:
                    return tracking
        return same[0] if same else None

    async def _create(self, request: TrackRequest, now: datetime) -> Shipment | TrackingError:
        """Start tracking a number; a fresh tracking is a not-found snapshot."""
        item: dict[str, Any] = {"tracking_number": str(request.number)}
        slug = SLUGS.get(request.carrier)
        if slug:
            item["slug"] = slug
        body = {"tracking": item} if self._wrapped else item
        result = await self._request("POST", "/trackings", body=body)
        tracking = _unwrap(result.data.get("data") if isinstance(result.data, Mapping) else None)
        if 200 <= result.status < 300 and tracking is not None:
            return parse_tracking(tracking, request, now)
        error = create_error(_meta_code(result))
        if error is not None:
            return error
        return not_found_snapshot(request, now, PROVIDER)

"""AfterShip Tracking API (dated versions, default 2025-04): a ``TrackingProvider``.

Only built when an API key is configured. Numbers are looked up in batches with
``GET /trackings?tracking_numbers=a,b,…``; numbers AfterShip does not know yet are created
with ``POST /trackings`` and read as not found until the first checkpoint. Tags and subtags
become ``Status``/``IncidentReason`` here (statuses.md §3); unknown subtags fall back to their
tag. ``latest_estimated_delivery`` is the ETA. The ``x-ratelimit-*`` headers pace the client:
when ``remaining`` hits 0 it waits for ``reset`` before the next call.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from aiolimiter import AsyncLimiter

from core.errors import (
    CarrierNotDetected,
    InvalidInput,
    ProviderAuthError,
    ProviderError,
    ProviderUnavailable,
    TrackingError,
)
from core.models import (
    Eta,
    IncidentReason,
    Shipment,
    Status,
    TrackBatch,
    TrackingEvent,
    TrackingNumber,
    TrackRequest,
)
from core.ports import Clock
from core.providers._common import (
    carrier_eta,
    chunked,
    decode_push,
    dedupe_requests,
    join_parts,
    merge_chunks,
    not_found_snapshot,
    text_of,
    timeline,
)
from core.providers.http import (
    HttpResult,
    ProviderTransport,
    RetryPolicy,
    Sleep,
    parse_time,
    proof_from_text,
    retry_after_seconds,
)

__all__ = [
    "API_VERSION",
    "BASE_URL",
    "MAX_BATCH",
    "SLUGS",
    "SUBTAG_MAP",
    "TAG_MAP",
    "AfterShipClient",
    "WebhookEvent",
    "carrier_from_slug",
    "map_tag",
    "parse_tracking",
    "parse_webhook",
    "verify_webhook_signature",
    "webhook_signature",
]

log = logging.getLogger(__name__)

BASE_URL = "https://api.aftership.com/tracking"
API_VERSION = "2025-04"
MAX_BATCH = 25
PROVIDER = "aftership"

# Catalogue code → AfterShip courier slug; unlisted carriers are left to AfterShip's detection.
SLUGS: Mapping[str, str] = {
    "usps": "usps",
    "ups": "ups",
    "fedex": "fedex",
    "dhl": "dhl",
    "canada_post": "canada-post",
    "china_post": "china-post",
    "australia_post": "australia-post",
    "royal_mail": "royal-mail",
    "yunexpress": "yunexpress",
    "dpd": "dpd",
    "purolator": "purolator",
    "ontrac": "ontrac",
    "lasership": "lasership",
}
_SLUG_CARRIERS: Mapping[str, str] = {slug: code for code, slug in SLUGS.items()}


def carrier_from_slug(slug: str) -> str:
    """Our catalogue code for an AfterShip slug, or "" when it is not in the table."""
    return _SLUG_CARRIERS.get(slug.strip().lower(), "")


_S = Status
_R = IncidentReason

TAG_MAP: Mapping[str, tuple[Status, IncidentReason | None]] = {
    "Pending": (_S.NOT_FOUND, None),
    "InfoReceived": (_S.INFO_RECEIVED, None),
    "InTransit": (_S.IN_TRANSIT, None),
    "OutForDelivery": (_S.OUT_FOR_DELIVERY, None),
    "AvailableForPickup": (_S.AVAILABLE_FOR_PICKUP, None),
    "AttemptFail": (_S.DELIVERY_FAILED, _R.OTHER),
    "Delivered": (_S.DELIVERED, None),
    "Exception": (_S.EXCEPTION, _R.OTHER),
    "Expired": (_S.EXPIRED, None),
}

SUBTAG_MAP: Mapping[str, tuple[Status, IncidentReason | None]] = {
    **{f"Pending_00{i}": (_S.NOT_FOUND, None) for i in range(1, 7)},
    "InfoReceived_001": (_S.INFO_RECEIVED, None),
    **{f"InTransit_{i:03d}": (_S.IN_TRANSIT, None) for i in range(1, 12)},
    "OutForDelivery_001": (_S.OUT_FOR_DELIVERY, None),
    # Before AvailableForPickup existed, "ready to pick up" lived under OutForDelivery.
    "OutForDelivery_002": (_S.AVAILABLE_FOR_PICKUP, None),
    "OutForDelivery_003": (_S.OUT_FOR_DELIVERY, None),
    "OutForDelivery_004": (_S.OUT_FOR_DELIVERY, None),
    "AvailableForPickup_001": (_S.AVAILABLE_FOR_PICKUP, None),
    "AttemptFail_001": (_S.DELIVERY_FAILED, _R.OTHER),
    "AttemptFail_002": (_S.DELIVERY_FAILED, _R.RECIPIENT_UNAVAILABLE),
    "AttemptFail_003": (_S.DELIVERY_FAILED, _R.RECIPIENT_UNAVAILABLE),
    **{f"Delivered_00{i}": (_S.DELIVERED, None) for i in range(1, 6)},
    "Exception_001": (_S.EXCEPTION, _R.OTHER),
    "Exception_002": (_S.EXCEPTION, _R.RECIPIENT_MOVED),
    "Exception_003": (_S.EXCEPTION, _R.REFUSED),
    "Exception_004": (_S.EXCEPTION, _R.CUSTOMS_HOLD),
    "Exception_005": (_S.EXCEPTION, _R.CARRIER_DELAY),
    "Exception_006": (_S.EXCEPTION, _R.DUTIES_DUE),
    "Exception_007": (_S.EXCEPTION, _R.ADDRESS_ISSUE),
    "Exception_008": (_S.EXCEPTION, _R.PICKUP_MISSED),
    "Exception_009": (_S.EXCEPTION, _R.REJECTED_BY_CARRIER),
    "Exception_010": (_S.EXCEPTION, _R.RETURNING),
    "Exception_011": (_S.EXCEPTION, _R.RETURNED),
    "Exception_012": (_S.EXCEPTION, _R.DAMAGED),
    "Exception_013": (_S.EXCEPTION, _R.LOST),
    "Exception_014": (_S.EXCEPTION, _R.OTHER),
    "Exception_015": (_S.EXCEPTION, _R.OTHER),
    "Exception_016": (_S.EXCEPTION, _R.CARRIER_DELAY),
    "Exception_017": (_S.EXCEPTION, _R.WEATHER_DELAY),
    "Exception_018": (_S.EXCEPTION, _R.CUSTOMS_HOLD),
    "Exception_019": (_S.EXCEPTION, _R.CARRIER_DELAY),
    "Exception_020": (_S.EXCEPTION, _R.CANCELLED),
    "Exception_021": (_S.EXCEPTION, _R.DESTROYED),
    "Expired_001": (_S.EXPIRED, None),
}


def map_tag(tag: str, subtag: str = "") -> tuple[Status, IncidentReason | None]:
    """AfterShip tag + subtag → our status and reason; unknown subtags go by their prefix."""
    mapped = SUBTAG_MAP.get(subtag)
    if mapped is None:
        mapped = TAG_MAP.get(subtag.split("_", 1)[0]) or TAG_MAP.get(tag)
    return mapped if mapped is not None else (Status.IN_TRANSIT, None)


def _has_offset(text: str) -> bool:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False


def _checkpoint_time(raw: Mapping[str, Any]) -> datetime | None:
    # checkpoint_time is carrier-local; without an offset it cannot be placed in UTC, so the
    # time AfterShip recorded the scan is the better clock.
    local = text_of(raw, "checkpoint_time")
    if local and _has_offset(local):
        return parse_time(local)
    return parse_time(raw.get("created_at")) or parse_time(local)


def _parse_checkpoint(raw: Mapping[str, Any]) -> TrackingEvent | None:
    when = _checkpoint_time(raw)
    if when is None:
        return None
    tag, subtag = text_of(raw, "tag"), text_of(raw, "subtag")
    status, reason = map_tag(tag, subtag)
    location = text_of(raw, "location") or join_parts(
        text_of(raw, "city"),
        text_of(raw, "state"),
        text_of(raw, "country_region") or text_of(raw, "country_iso3"),
    )
    return TrackingEvent(
        time=when,
        status=status,
        description=text_of(raw, "message") or text_of(raw, "subtag_message"),
        location=location,
        raw_code=subtag or tag,
        incident=reason,
    )


def _eta(raw: Mapping[str, Any]) -> Eta | None:
    latest = raw.get("latest_estimated_delivery")
    if isinstance(latest, Mapping):
        point = parse_time(latest.get("datetime"))
        low = parse_time(latest.get("datetime_min")) or point
        high = parse_time(latest.get("datetime_max")) or point
        if low is not None and high is not None:
            return carrier_eta(low, high, point)
    for key in ("courier_estimated_delivery_date", "aftership_estimated_delivery_date"):
        edd = raw.get(key)
        if not isinstance(edd, Mapping):
            continue
        point = parse_time(edd.get("estimated_delivery_date"))
        low = parse_time(edd.get("estimated_delivery_date_min")) or point
        high = parse_time(edd.get("estimated_delivery_date_max")) or point
        if low is None or high is None:
            continue
        confidence = edd.get("confidence_code")
        return carrier_eta(
            low,
            high,
            point,
            confidence=float(confidence) / 100.0
            if isinstance(confidence, int | float) and 0 < confidence <= 100
            else 0.8,
        )
    return None


def parse_tracking(
    raw: Mapping[str, Any], request: TrackRequest | None = None, now: datetime | None = None
) -> Shipment:
    """A tracking object → ``Shipment`` (keyed like ``request`` when given).

    Pending trackings have no checkpoints; that is a not-found snapshot, not an error.
    """
    number = TrackingNumber(
        str(request.number) if request else text_of(raw, "tracking_number").upper()
    )
    carrier = request.carrier if request else carrier_from_slug(text_of(raw, "slug"))
    ordered = timeline(
        _parse_checkpoint(checkpoint)
        for checkpoint in raw.get("checkpoints") or []
        if isinstance(checkpoint, Mapping)
    )
    status, reason = map_tag(text_of(raw, "tag"), text_of(raw, "subtag"))
    delivered_at = None
    proof = None
    if status is Status.DELIVERED:
        delivered_at = parse_time(raw.get("shipment_delivery_date")) or (
            ordered[-1].time if ordered else None
        )
        proof = proof_from_text(
            ordered[-1].description if ordered else "", text_of(raw, "signed_by")
        )
    return Shipment(
        carrier=carrier,
        number=number,
        status=status,
        events=ordered,
        eta=_eta(raw),
        promised_by=parse_time(raw.get("order_promised_delivery_date")),
        checked_at=now,
        delivered_at=delivered_at,
        proof=proof,
        incident=reason,
        provider=PROVIDER,
        shipped_at=next((e.time for e in ordered if e.status is Status.IN_TRANSIT), None),
        first_seen=request.first_seen if request else None,
        origin=text_of(raw, "origin_country_region") or text_of(raw, "origin_country_iso3"),
        destination=text_of(raw, "destination_country_region")
        or text_of(raw, "destination_country_iso3"),
    )


def webhook_signature(secret: str, body: bytes) -> str:
    """Base64 HMAC-SHA256 of the raw body keyed by the webhook secret."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_webhook_signature(secret: str, body: bytes, header: str) -> bool:
    """Constant-time check of the ``aftership-hmac-sha256`` header."""
    return hmac.compare_digest(webhook_signature(secret, body).encode(), header.strip().encode())


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A decoded webhook: ``event_id`` dedupes, ``tracking`` is the tracking object."""

    event: str
    event_id: str
    number: TrackingNumber
    carrier: str
    first_in_tag: bool = False
    tracking: Mapping[str, Any] = field(default_factory=dict, repr=False)
    sent_at: datetime | None = None
    """When AfterShip sent it (``ts``), for the receiver's freshness check."""

    def shipment(self, carrier: str | None = None, now: datetime | None = None) -> Shipment:
        request = TrackRequest(self.number, carrier if carrier is not None else self.carrier)
        return parse_tracking(self.tracking, request, now)


def parse_webhook(body: bytes) -> WebhookEvent:
    """Decode a webhook body; raise ``ValueError`` when it is not an AfterShip tracking push."""
    doc, msg = decode_push(body, "msg", "not an AfterShip webhook")
    number = text_of(msg, "tracking_number").upper()
    if not number:
        raise ValueError("webhook without a tracking number")
    return WebhookEvent(
        event=text_of(doc, "event"),
        event_id=text_of(doc, "event_id"),
        number=TrackingNumber(number),
        carrier=carrier_from_slug(text_of(msg, "slug")),
        first_in_tag=bool(doc.get("is_tracking_first_tag")),
        tracking=msg,
        sent_at=_sent_at(doc.get("ts")),
    )


def _sent_at(value: object) -> datetime | None:
    """``ts`` (Unix seconds) as an aware time; None when absent or not a plausible number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


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


def _create_error(code: int | None) -> TrackingError | None:
    """The per-number error of a failed create; None means it exists (fine)."""
    if code == 4003:
        return None
    if code in (4005, 4017):
        return InvalidInput(
            "That number is not in a format the carrier uses. Check it and send it again."
        )
    if code in (4010, 4011, 4012):
        return CarrierNotDetected()
    return ProviderUnavailable(provider=PROVIDER)


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
        limiter: AsyncLimiter | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        timeout: float | None = None,
        max_header_wait: float = 60.0,
    ) -> None:
        self._io = ProviderTransport(
            http, PROVIDER, retry=retry, clock=clock, sleep=sleep, timeout=timeout
        )
        self.health = self._io.health
        self._key = api_key
        self._base = f"{base_url.rstrip('/')}/{version}"
        # Versions up to 2024-04 wrap the request body in {"tracking": …}.
        self._wrapped = version <= "2024-04"
        self._limiter = limiter or AsyncLimiter(1, 1.0 / rate)
        self._max_header_wait = max_header_wait
        self._resume_at = 0.0

    def supports(self, carrier: str) -> bool:
        """Every carrier: without a slug AfterShip detects the courier itself."""
        return True

    async def _before_attempt(self) -> None:
        wait = self._resume_at - time.monotonic()
        if wait > 0:
            await self._io.sleep(min(wait, self._max_header_wait))
        await self._limiter.acquire()

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
        )
        self._note_headers(result.headers)
        if result.status in (401, 403) or _meta_code(result) in (401, 403):
            error = self._io.failed(ProviderAuthError(provider=PROVIDER))
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
        error = _create_error(_meta_code(result))
        if error is not None:
            return error
        return not_found_snapshot(request, now, PROVIDER)

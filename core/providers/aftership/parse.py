"""AfterShip trackings → ``Shipment`` (checkpoints, ETA, proof of delivery). Pure; no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core.models import Eta, Shipment, Status, TrackingEvent, TrackingNumber, TrackRequest
from core.providers._common import carrier_eta, join_parts, text_of, timeline
from core.providers.aftership.units import PROVIDER, carrier_from_slug, map_tag
from core.providers.http import parse_time, proof_from_text

__all__ = ["parse_tracking"]


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

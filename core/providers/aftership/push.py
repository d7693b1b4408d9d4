"""AfterShip webhooks: a raw body → ``WebhookEvent``. Pure; the signature is checked first
(``signing``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.models import Shipment, TrackingNumber, TrackRequest
from core.providers._common import decode_push, text_of
from core.providers.aftership.parse import parse_tracking
from core.providers.aftership.units import carrier_from_slug

__all__ = ["WebhookEvent", "parse_webhook"]


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

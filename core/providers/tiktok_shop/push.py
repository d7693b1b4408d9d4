"""TikTok Shop webhooks: a raw body → ``WebhookEvent``. Pure; the signature is checked first
(``signing``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.models import OrderStatus
from core.providers._common import text_of
from core.providers.http import parse_time
from core.providers.tiktok_shop.units import map_order_status

__all__ = ["WebhookEvent", "parse_webhook"]


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A decoded TikTok Shop push. ``notification_id`` is "" on older payloads."""

    type: int
    notification_id: str
    shop_id: str
    timestamp: datetime | None
    order_id: str = ""
    order_status: OrderStatus | None = None
    package_ids: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict, repr=False)


def parse_webhook(body: bytes) -> WebhookEvent:
    """Decode a push body; raise ``ValueError`` when it is not a TikTok Shop event."""
    doc = json.loads(body)
    if not isinstance(doc, Mapping) or not isinstance(doc.get("type"), int):
        raise ValueError("not a TikTok Shop webhook")
    data = doc.get("data")
    data = data if isinstance(data, Mapping) else {}
    packages = tuple(
        text_of(p, "package_id") for p in data.get("package_list") or [] if isinstance(p, Mapping)
    )
    status_text = text_of(data, "order_status")
    return WebhookEvent(
        type=int(doc["type"]),
        notification_id=text_of(doc, "tts_notification_id"),
        shop_id=text_of(doc, "shop_id"),
        timestamp=parse_time(doc.get("timestamp")),
        order_id=text_of(data, "order_id"),
        order_status=map_order_status(status_text) if status_text else None,
        package_ids=tuple(p for p in packages if p),
        data=data,
    )

"""AfterShip Tracking API (dated versions, default 2025-04): a ``TrackingProvider``.

Only built when an API key is configured. Numbers are looked up in batches with
``GET /trackings?tracking_numbers=a,b,…``; numbers AfterShip does not know yet are created
with ``POST /trackings`` and read as not found until the first checkpoint. Tags and subtags
become ``Status``/``IncidentReason`` here (statuses.md §3); unknown subtags fall back to their
tag. ``latest_estimated_delivery`` is the ETA. The ``x-ratelimit-*`` headers pace the client:
when ``remaining`` hits 0 it waits for ``reset`` before the next call.

Inside (private: outside this package import only what this module exports, import-linter
holds it): ``units`` (slugs, tags and subtags → our enums and errors), ``parse`` (trackings →
``Shipment``), ``push`` (webhook bodies), ``signing`` (webhook signatures) and ``client``
(``AfterShipClient``, the only I/O). The package may import the standard library,
``core.models``/``errors``/``ports``, the shared ``core.providers.http`` and ``_common``,
httpx; nothing from storage or bots.
"""

from __future__ import annotations

from core.providers.aftership.client import AfterShipClient
from core.providers.aftership.parse import parse_tracking
from core.providers.aftership.push import WebhookEvent, parse_webhook
from core.providers.aftership.signing import verify_webhook_signature, webhook_signature
from core.providers.aftership.units import (
    API_VERSION,
    BASE_URL,
    MAX_BATCH,
    SLUGS,
    SUBTAG_MAP,
    TAG_MAP,
    carrier_from_slug,
    map_tag,
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

"""TikTok Shop Partner API (202309): orders, packages and TikTok's own tracking events.

Pure ``build_*``/``parse_*``/``sign_*`` functions plus :class:`TikTokShopClient`, an
``OrderSource``. Signing follows the documented algorithm byte for byte: the signature covers
the exact body bytes that go on the wire, so bodies are serialised once and sent as
``content=``. Large ids stay strings. Seller tokens expire at absolute Unix timestamps; the
client refreshes them ahead of time and hands every new pair to ``on_token_refresh`` so the
caller can persist it (the refresh token may rotate).

Inside (private: outside this package import only what this module exports, import-linter
holds it): ``units`` (order statuses, shipping providers, error codes → our enums),
``signing`` (request and webhook signatures), ``parse`` (answers → orders, index entries,
packages, tokens), ``push`` (webhook bodies) and ``client`` (``TikTokShopClient``, the only
I/O). The package may import the standard library, ``core.models``/``errors``/``ports``, the
shared ``core.providers.http`` and ``_common``, and httpx; nothing from storage or bots.
"""

from __future__ import annotations

from core.providers.tiktok_shop.client import TikTokShopClient
from core.providers.tiktok_shop.parse import (
    IndexEntry,
    PackageInfo,
    SearchPage,
    Shop,
    TokenSet,
    parse_index_entries,
    parse_order,
    parse_orders,
    parse_package,
    parse_search_page,
    parse_shops,
    parse_token,
    parse_tracking,
)
from core.providers.tiktok_shop.push import WebhookEvent, parse_webhook
from core.providers.tiktok_shop.signing import (
    SignedRequest,
    build_base_string,
    build_request,
    sign,
    verify_webhook_signature,
)
from core.providers.tiktok_shop.units import (
    API_BASE,
    AUTH_BASE,
    DEFAULT_VERSIONS,
    MAX_ORDER_IDS,
    ORDER_SHIPMENT_STATUS,
    PROVIDER_CARRIERS,
    carrier_for_provider,
    map_order_status,
)

__all__ = [
    "API_BASE",
    "AUTH_BASE",
    "DEFAULT_VERSIONS",
    "MAX_ORDER_IDS",
    "ORDER_SHIPMENT_STATUS",
    "PROVIDER_CARRIERS",
    "IndexEntry",
    "PackageInfo",
    "SearchPage",
    "Shop",
    "SignedRequest",
    "TikTokShopClient",
    "TokenSet",
    "WebhookEvent",
    "build_base_string",
    "build_request",
    "carrier_for_provider",
    "map_order_status",
    "parse_index_entries",
    "parse_order",
    "parse_orders",
    "parse_package",
    "parse_search_page",
    "parse_shops",
    "parse_token",
    "parse_tracking",
    "parse_webhook",
    "sign",
    "verify_webhook_signature",
]

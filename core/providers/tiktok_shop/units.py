"""TikTok Shop's vocabulary → our closed types: order statuses, shipping-provider names,
API versions and error codes. Pure data and functions; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from core.models import OrderStatus, Status

__all__ = [
    "API_BASE",
    "AUTH_BASE",
    "DEFAULT_VERSIONS",
    "MAX_ORDER_IDS",
    "ORDER_SHIPMENT_STATUS",
    "PROVIDER",
    "PROVIDER_CARRIERS",
    "carrier_for_provider",
    "map_order_status",
]

API_BASE = "https://open-api.tiktokglobalshop.com"
AUTH_BASE = "https://auth.tiktok-shops.com"
MAX_ORDER_IDS = 50
PROVIDER = "tiktok_shop"

DEFAULT_VERSIONS: Mapping[str, str] = {
    "authorization": "202309",
    "order": "202309",
    "fulfillment": "202309",
    "event": "202309",
    "logistics": "202309",
}

# Envelope codes (providers.md §1.6).
TOKEN_EXPIRED = 105002
RATE_LIMITED = 36009002
TRANSIENT = frozenset({36009003, 36009007})
AUTH_CODES = frozenset({106001, 105005, 106013, 101000})
AMBIGUOUS = 36009004

AUTH_MESSAGE = "The shop connection needs to be renewed. The bot's operator has been told."

_ORDER_STATUSES: Mapping[str, OrderStatus] = {
    "UNPAID": OrderStatus.UNPAID,
    "ON_HOLD": OrderStatus.ON_HOLD,
    "AWAITING_SHIPMENT": OrderStatus.AWAITING_SHIPMENT,
    "PARTIALLY_SHIPPING": OrderStatus.PARTIALLY_SHIPPING,
    "AWAITING_COLLECTION": OrderStatus.AWAITING_COLLECTION,
    "IN_TRANSIT": OrderStatus.IN_TRANSIT,
    "DELIVERED": OrderStatus.DELIVERED,
    "COMPLETED": OrderStatus.COMPLETED,
    "CANCELLED": OrderStatus.CANCELLED,
    "CANCEL": OrderStatus.CANCELLED,  # the order-status webhook spells it this way
}

# Shipment state implied by an order status before an aggregator knows the parcel.
ORDER_SHIPMENT_STATUS: Mapping[OrderStatus, Status] = {
    OrderStatus.AWAITING_COLLECTION: Status.INFO_RECEIVED,
    OrderStatus.IN_TRANSIT: Status.IN_TRANSIT,
    OrderStatus.PARTIALLY_SHIPPING: Status.IN_TRANSIT,
    OrderStatus.DELIVERED: Status.DELIVERED,
    OrderStatus.COMPLETED: Status.DELIVERED,
}


def map_order_status(raw: str) -> OrderStatus | None:
    """TikTok's order status word (statuses.md §6), or None when unknown."""
    return _ORDER_STATUSES.get(raw.strip().upper())


# TikTok shipping-provider names → catalogue codes. Matched on the normalised name first, then
# on whole words, so "UPS SurePost" is UPS but "Groups" is nothing.
PROVIDER_CARRIERS: Mapping[str, str] = {
    "usps": "usps",
    "united states postal service": "usps",
    "ups": "ups",
    "fedex": "fedex",
    "federal express": "fedex",
    "dhl": "dhl",
    "dhl express": "dhl",
    "dhl ecommerce": "dhl",
    "j&t express": "jt_express",
    "j t express": "jt_express",
    "jt express": "jt_express",
    "j&t": "jt_express",
    "ontrac": "ontrac",
    "lasership": "lasership",
    "amazon": "amazon",
    "amazon logistics": "amazon",
    "amazon shipping": "amazon",
    "yunexpress": "yunexpress",
    "yun express": "yunexpress",
    "canada post": "canada_post",
    "purolator": "purolator",
    "royal mail": "royal_mail",
    "evri": "evri",
    "yodel": "yodel",
    "dpd": "dpd",
    "gofo": "gofo",
    "gofo express": "gofo",
    "speedee": "speedee",
    "spee-dee": "speedee",
    "china post": "china_post",
    "australia post": "australia_post",
    "flash express": "flash_express",
    "ninja van": "ninja_van",
    "kerry express": "kerry_express",
}


def carrier_for_provider(name: str) -> str:
    """Our catalogue code for a TikTok shipping-provider name, or "" when unknown."""
    norm = re.sub(r"\s+", " ", name.strip().lower())
    if not norm:
        return ""
    if norm in PROVIDER_CARRIERS:
        return PROVIDER_CARRIERS[norm]
    words = f" {re.sub(r'[^a-z0-9&]+', ' ', norm)} "
    for known in sorted(PROVIDER_CARRIERS, key=len, reverse=True):
        if f" {known} " in words:
            return PROVIDER_CARRIERS[known]
    return ""

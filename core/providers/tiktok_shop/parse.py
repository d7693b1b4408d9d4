"""TikTok Shop answers → domain objects: tokens, shops, orders, the tracking-number index,
packages and TikTok's own tracking events. Pure functions; large ids stay strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.errors import ProviderUnavailable
from core.models import Order, OrderId, Status, TrackingEvent, TrackingNumber, TrackRequest
from core.providers._common import text_of
from core.providers.http import first_time, parse_time
from core.providers.tiktok_shop.units import PROVIDER, carrier_for_provider, map_order_status

__all__ = [
    "IndexEntry",
    "PackageInfo",
    "SearchPage",
    "Shop",
    "TokenSet",
    "parse_index_entries",
    "parse_order",
    "parse_orders",
    "parse_package",
    "parse_search_page",
    "parse_shops",
    "parse_token",
    "parse_tracking",
]


@dataclass(frozen=True, slots=True)
class TokenSet:
    """A seller's token pair with absolute expiry times (aware UTC). Never printed."""

    access_token: str = field(repr=False)
    access_expires_at: datetime
    refresh_token: str = field(repr=False)
    refresh_expires_at: datetime
    open_id: str = ""
    seller_name: str = ""


def parse_token(data: Mapping[str, Any]) -> TokenSet:
    """The ``data`` of a token get/refresh answer; ``*_expire_in`` are absolute timestamps."""
    try:
        access = str(data["access_token"])
        refresh = str(data["refresh_token"])
        access_at = parse_time(int(data["access_token_expire_in"]))
        refresh_at = parse_time(int(data["refresh_token_expire_in"]))
    except (KeyError, TypeError, ValueError) as err:
        raise ProviderUnavailable(provider=PROVIDER) from err
    if access_at is None or refresh_at is None or not access or not refresh:
        raise ProviderUnavailable(provider=PROVIDER)
    return TokenSet(
        access_token=access,
        access_expires_at=access_at,
        refresh_token=refresh,
        refresh_expires_at=refresh_at,
        open_id=str(data.get("open_id") or ""),
        seller_name=str(data.get("seller_name") or ""),
    )


@dataclass(frozen=True, slots=True)
class Shop:
    """An authorized shop; ``cipher`` goes with every shop-scoped request."""

    id: str
    name: str
    region: str
    cipher: str = field(repr=False)
    code: str = ""


def parse_shops(data: Mapping[str, Any]) -> list[Shop]:
    """Shops from ``GET /authorization/{v}/shops``."""
    shops = []
    for raw in data.get("shops") or []:
        if not isinstance(raw, Mapping) or not raw.get("cipher"):
            continue
        shops.append(
            Shop(
                id=str(raw.get("id") or ""),
                name=str(raw.get("name") or ""),
                region=str(raw.get("region") or ""),
                cipher=str(raw["cipher"]),
                code=str(raw.get("code") or ""),
            )
        )
    return shops


def _phone_last4(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return digits[-4:] if len(digits) >= 4 else ""


def _shipped_numbers(
    raw: Mapping[str, Any],
) -> Iterator[tuple[str, str, Mapping[str, Any] | None]]:
    """(number, carrier, line item) for each distinct tracking number an order object names.

    Line items first (multi-package orders carry their numbers there), then the order-level
    number with ``None`` as its item.
    """
    seen: set[str] = set()
    for item in raw.get("line_items") or []:
        if not isinstance(item, Mapping):
            continue
        number = _normalise_number(text_of(item, "tracking_number"))
        if number and number not in seen:
            seen.add(number)
            yield number, carrier_for_provider(text_of(item, "shipping_provider_name")), item
    number = _normalise_number(text_of(raw, "tracking_number"))
    if number and number not in seen:
        yield number, carrier_for_provider(text_of(raw, "shipping_provider")), None


def parse_order(raw: Mapping[str, Any], shop: str) -> Order | None:
    """One order object → ``Order`` with one ``TrackRequest`` per distinct tracking number.

    Multi-package orders carry their numbers on the line items; the order-level
    ``tracking_number`` is the fallback. Returns None for entries without an id or with an
    unknown status.
    """
    order_id = text_of(raw, "id")
    status = map_order_status(text_of(raw, "status"))
    if not order_id or status is None:
        return None
    label_time = parse_time(raw.get("rts_time"))
    shipments: list[TrackRequest] = []
    for number, carrier, item in _shipped_numbers(raw):
        # A line item's own label time wins; the order's is the fallback.
        item_time = parse_time(item.get("rts_time")) if item is not None else None
        shipments.append(
            TrackRequest(TrackingNumber(number), carrier, first_seen=item_time or label_time)
        )
    address = raw.get("recipient_address")
    address = address if isinstance(address, Mapping) else {}
    return Order(
        order_id=OrderId(order_id),
        shop=shop,
        status=status,
        shipments=tuple(shipments),
        placed_at=parse_time(raw.get("create_time")),
        promised_by=first_time(raw, "delivery_option_required_delivery_time", "delivery_due_time"),
        postcode=text_of(address, "postal_code"),
        phone_last4=_phone_last4(text_of(address, "phone_number")),
        country=text_of(address, "region_code").upper(),
    )


def _normalise_number(number: str) -> str:
    return re.sub(r"[\s-]+", "", number).upper()


def parse_orders(data: Mapping[str, Any], shop: str) -> dict[OrderId, Order]:
    """Orders from ``GET /order/{v}/orders`` (or a search page), keyed by id."""
    orders: dict[OrderId, Order] = {}
    for raw in data.get("orders") or []:
        if isinstance(raw, Mapping):
            order = parse_order(raw, shop)
            if order is not None:
                orders[order.order_id] = order
    return orders


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One row of the tracking number → order index (TikTok cannot search by number)."""

    number: TrackingNumber
    carrier: str
    shop_id: str
    order_id: OrderId
    package_id: str = ""


def parse_index_entries(raw: Mapping[str, Any], shop_id: str) -> list[IndexEntry]:
    """Every (tracking number, package) an order object mentions."""
    order_id = text_of(raw, "id")
    if not order_id:
        return []
    packages = [p for p in raw.get("packages") or [] if isinstance(p, Mapping)]
    # The order-level number belongs to the order's package when it has exactly one.
    order_package = text_of(packages[0], "id") if len(packages) == 1 else ""
    return [
        IndexEntry(
            number=TrackingNumber(number),
            carrier=carrier,
            shop_id=shop_id,
            order_id=OrderId(order_id),
            package_id=text_of(item, "package_id") if item is not None else order_package,
        )
        for number, carrier, item in _shipped_numbers(raw)
    ]


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of ``orders/search``."""

    orders: dict[OrderId, Order]
    entries: list[IndexEntry]
    next_page_token: str
    total_count: int


def parse_search_page(data: Mapping[str, Any], shop_id: str) -> SearchPage:
    """A search page: its orders, their index rows and the next page token ("" at the end)."""
    raws = [r for r in data.get("orders") or [] if isinstance(r, Mapping)]
    entries = [entry for raw in raws for entry in parse_index_entries(raw, shop_id)]
    try:
        total = int(data.get("total_count") or 0)
    except (TypeError, ValueError):
        total = 0
    return SearchPage(
        orders=parse_orders(data, shop_id),
        entries=entries,
        next_page_token=str(data.get("next_page_token") or ""),
        total_count=total,
    )


def parse_tracking(
    data: Mapping[str, Any], status: Status = Status.IN_TRANSIT
) -> tuple[TrackingEvent, ...]:
    """TikTok's own tracking events, oldest first.

    They are free text (statuses.md §6): shown as they are, each tagged with ``status`` (the
    state implied by the order) rather than parsed into states.
    """
    events = []
    for raw in data.get("tracking") or []:
        if not isinstance(raw, Mapping):
            continue
        when = parse_time(raw.get("update_time_millis"))
        description = text_of(raw, "description")
        if when is None or not description:
            continue
        code = raw.get("action_code")
        events.append(
            TrackingEvent(
                time=when,
                status=status,
                description=description,
                raw_code="" if code is None else str(code),
            )
        )
    events.sort(key=lambda e: e.time)
    return tuple(events)


@dataclass(frozen=True, slots=True)
class PackageInfo:
    """The fields of a package detail the bot uses."""

    package_id: str
    status: str
    number: TrackingNumber
    carrier: str
    provider_name: str
    order_ids: tuple[OrderId, ...]
    last_mile_number: str = ""
    updated_at: datetime | None = None


def parse_package(data: Mapping[str, Any]) -> PackageInfo:
    """``GET /fulfillment/{v}/packages/{id}`` → ``PackageInfo``."""
    provider_name = text_of(data, "shipping_provider_name")
    orders = tuple(
        OrderId(text_of(o, "id"))
        for o in data.get("orders") or []
        if isinstance(o, Mapping) and text_of(o, "id")
    )
    return PackageInfo(
        package_id=text_of(data, "package_id") or text_of(data, "id"),
        status=text_of(data, "package_status"),
        number=TrackingNumber(_normalise_number(text_of(data, "tracking_number"))),
        carrier=carrier_for_provider(provider_name),
        provider_name=provider_name,
        order_ids=orders,
        last_mile_number=_normalise_number(text_of(data, "last_mile_tracking_number")),
        updated_at=parse_time(data.get("update_time")),
    )

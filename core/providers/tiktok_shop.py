"""TikTok Shop Partner API (202309): orders, packages and TikTok's own tracking events.

Pure ``build_*``/``parse_*``/``sign_*`` functions plus :class:`TikTokShopClient`, an
``OrderSource``. Signing follows the documented algorithm byte for byte: the signature covers
the exact body bytes that go on the wire, so bodies are serialised once and sent as
``content=``. Large ids stay strings. Seller tokens expire at absolute Unix timestamps; the
client refreshes them ahead of time and hands every new pair to ``on_token_refresh`` so the
caller can persist it (the refresh token may rotate).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import httpx

from core.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)
from core.models import (
    Order,
    OrderId,
    OrderStatus,
    Status,
    TrackingEvent,
    TrackingNumber,
    TrackRequest,
)
from core.ports import Clock
from core.providers._common import chunked, text_of
from core.providers.http import (
    Envelope,
    HttpResult,
    ProviderTransport,
    RetryPolicy,
    Sleep,
    first_time,
    parse_time,
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

log = logging.getLogger(__name__)

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
_TOKEN_EXPIRED = 105002
_RATE_LIMITED = 36009002
_TRANSIENT = frozenset({36009003, 36009007})
_AUTH_CODES = frozenset({106001, 105005, 106013, 101000})
_AMBIGUOUS = 36009004

_AUTH_MESSAGE = "The shop connection needs to be renewed. The bot's operator has been told."


# --- signing ----------------------------------------------------------------------------------


def build_base_string(
    path: str, query: Mapping[str, str], body: bytes = b"", *, multipart: bool = False
) -> bytes:
    """``path + sorted(k + v)`` over the query minus ``sign``/``access_token``, then the body.

    Keys sort in plain byte order; values are used un-encoded. Multipart bodies are not signed.
    """
    parts = [path]
    for key in sorted(k for k in query if k not in ("sign", "access_token")):
        parts.append(key + query[key])
    base = "".join(parts).encode()
    if body and not multipart:
        base += body
    return base


def sign(
    app_secret: str,
    path: str,
    query: Mapping[str, str],
    body: bytes = b"",
    *,
    multipart: bool = False,
) -> str:
    """Lower-hex HMAC-SHA256 keyed by the app secret over ``secret + base + secret``."""
    secret = app_secret.encode()
    message = secret + build_base_string(path, query, body, multipart=multipart) + secret
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """Everything to send: the body bytes are exactly the ones that were signed."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(repr=False)
    body: bytes | None = None


def build_request(
    method: str,
    path: str,
    *,
    app_key: str,
    app_secret: str,
    access_token: str,
    timestamp: int,
    query: Mapping[str, str | Sequence[str]] | None = None,
    body: Mapping[str, Any] | None = None,
    shop_cipher: str | None = None,
) -> SignedRequest:
    """A signed API request. Array params are comma-joined and signed that way.

    ``shop_cipher`` is left out for ``/authorization/`` and ``/seller/`` paths, which reject it.
    """
    params: dict[str, str] = {}
    for key, value in (query or {}).items():
        params[key] = value if isinstance(value, str) else ",".join(value)
    params["app_key"] = app_key
    params["timestamp"] = str(timestamp)
    if shop_cipher and not path.startswith(("/authorization/", "/seller/")):
        params["shop_cipher"] = shop_cipher
    raw = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
    params["sign"] = sign(app_secret, path, params, raw or b"")
    headers = {"x-tts-access-token": access_token, "content-type": "application/json"}
    return SignedRequest(method.upper(), path, params, headers, raw)


def verify_webhook_signature(app_key: str, app_secret: str, body: bytes, header: str) -> bool:
    """Check the ``Authorization`` header: hex HMAC-SHA256(app_secret, app_key + raw body)."""
    expected = hmac.new(app_secret.encode(), app_key.encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().lower().encode())


# --- tokens and shops -------------------------------------------------------------------------


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


# --- orders -----------------------------------------------------------------------------------

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


# --- webhooks ---------------------------------------------------------------------------------


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


# --- the client -------------------------------------------------------------------------------


def _envelope_error(result: HttpResult) -> ProviderError | None:
    """The retryable error an envelope reports, if any (rate limit, internal timeout)."""
    code = _code_of(result)
    if code == _RATE_LIMITED:
        return RateLimited(provider=PROVIDER, retry_after=1.0)
    if code in _TRANSIENT:
        return ProviderUnavailable(provider=PROVIDER)
    return None


def _code_of(result: HttpResult) -> int | None:
    code = Envelope.of(result).code
    return code if isinstance(code, int) else None


class _TokenExpiredError(Exception):
    """Internal: the API said the access token expired."""


class TikTokShopClient:
    """An ``OrderSource`` for one seller's shop.

    Every call makes sure the access token has at least ``refresh_margin`` left (refreshing
    and calling ``on_token_refresh`` otherwise); a call answered with "token expired" triggers
    one refresh and one retry. ``shop_id``/``shop_cipher`` may be given or are discovered from
    the authorized shops (the first one, or the one whose id matches ``shop_id``).
    """

    name = PROVIDER

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        app_key: str,
        app_secret: str,
        tokens: TokenSet,
        on_token_refresh: Callable[[TokenSet], Awaitable[None]] | None = None,
        shop_id: str = "",
        shop_cipher: str = "",
        api_base: str = API_BASE,
        auth_base: str = AUTH_BASE,
        versions: Mapping[str, str] | None = None,
        refresh_margin: timedelta = timedelta(hours=24),
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        timeout: float | None = None,
    ) -> None:
        self._io = ProviderTransport(
            http,
            PROVIDER,
            retry=retry or RetryPolicy(base_delay=1.0, max_delay=60.0, attempts=5),
            clock=clock,
            sleep=sleep,
            timeout=timeout,
        )
        self.health = self._io.health
        self._app_key = app_key
        self._app_secret = app_secret
        self._tokens = tokens
        self._on_refresh = on_token_refresh
        self._shop_id = shop_id
        self._shop_cipher = shop_cipher
        self._api_base = api_base.rstrip("/")
        self._auth_base = auth_base.rstrip("/")
        self._versions = {**DEFAULT_VERSIONS, **(versions or {})}
        self._margin = refresh_margin
        self._refresh_lock = asyncio.Lock()

    @property
    def tokens(self) -> TokenSet:
        return self._tokens

    @property
    def shop_id(self) -> str:
        return self._shop_id

    def _path(self, category: str, action: str) -> str:
        return f"/{category}/{self._versions[category]}/{action}"

    # -- tokens --

    async def refresh_tokens(self) -> TokenSet:
        """Exchange the refresh token for a new pair and hand it to ``on_token_refresh``."""
        current = self._tokens
        if current.refresh_expires_at <= self._io.clock.now():
            raise self._io.failed(ProviderAuthError(_AUTH_MESSAGE, provider=PROVIDER))
        result = await self._io.request(
            "GET",
            f"{self._auth_base}/api/v2/token/refresh",
            params={
                "app_key": self._app_key,
                "app_secret": self._app_secret,
                "refresh_token": current.refresh_token,
                "grant_type": "refresh_token",
            },
            success_on_2xx=False,
            classify=_envelope_error,
        )
        envelope = Envelope.of(result)
        if envelope.code != 0 or not isinstance(envelope.data, Mapping):
            error = self._io.failed(ProviderAuthError(_AUTH_MESSAGE, provider=PROVIDER))
            log.warning("%s token refresh refused (code %s)", PROVIDER, envelope.code)
            raise error
        fresh = parse_token(envelope.data)
        self.health.record_success()
        if not fresh.open_id and current.open_id:
            fresh = replace(fresh, open_id=current.open_id)
        self._tokens = fresh
        log.info("%s access token refreshed; valid until %s", PROVIDER, fresh.access_expires_at)
        if self._on_refresh is not None:
            await self._on_refresh(fresh)
        return fresh

    async def _ensure_token(self, *, force: bool = False) -> None:
        async with self._refresh_lock:
            stale = self._tokens
            if force or stale.access_expires_at - self._io.clock.now() < self._margin:
                await self.refresh_tokens()

    # -- signed calls --

    async def _call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | Sequence[str]] | None = None,
        body: Mapping[str, Any] | None = None,
        shop_scoped: bool = True,
    ) -> Mapping[str, Any]:
        """A signed call returning the envelope's ``data``; refreshes once on token expiry."""
        await self._ensure_token()
        cipher = await self.shop_cipher() if shop_scoped else None
        try:
            return await self._call_once(method, path, query, body, cipher)
        except _TokenExpiredError:
            used = self._tokens
            async with self._refresh_lock:
                # Another task may have refreshed while this one waited.
                if self._tokens is used:
                    await self.refresh_tokens()
            try:
                return await self._call_once(method, path, query, body, cipher)
            except _TokenExpiredError as err:
                raise ProviderAuthError(_AUTH_MESSAGE, provider=PROVIDER) from err

    async def _call_once(
        self,
        method: str,
        path: str,
        query: Mapping[str, str | Sequence[str]] | None,
        body: Mapping[str, Any] | None,
        cipher: str | None,
    ) -> Mapping[str, Any]:
        request = build_request(
            method,
            path,
            app_key=self._app_key,
            app_secret=self._app_secret,
            access_token=self._tokens.access_token,
            timestamp=int(self._io.clock.now().timestamp()),
            query=query,
            body=body,
            shop_cipher=cipher,
        )
        result = await self._io.request(
            request.method,
            self._api_base + request.path,
            params=request.query,
            headers=request.headers,
            content=request.body,
            success_on_2xx=False,
            classify=_envelope_error,
        )
        envelope = Envelope.of(result)
        if envelope.code == 0:
            self.health.record_success()
            return envelope.data if isinstance(envelope.data, Mapping) else {}
        if envelope.code == _TOKEN_EXPIRED:
            raise _TokenExpiredError
        raise self._io.failed(self._error_for(result.status, envelope))

    @staticmethod
    def _error_for(status: int, envelope: Envelope) -> ProviderError:
        code = envelope.code
        message = envelope.message.lower()
        log.warning("%s call failed: HTTP %s, code %s", PROVIDER, status, code)
        if code == _AMBIGUOUS:
            # 36009004 covers bad credentials and bad parameters alike; the text tells them apart.
            if "credential" in message or "app_key" in message or status in (401, 403):
                return ProviderAuthError(_AUTH_MESSAGE, provider=PROVIDER)
            return ProviderUnavailable(provider=PROVIDER)
        if code in _AUTH_CODES or status in (401, 403) or "credential" in message:
            return ProviderAuthError(_AUTH_MESSAGE, provider=PROVIDER)
        if isinstance(code, int) and 105000 <= code < 106000:
            return ProviderAuthError(_AUTH_MESSAGE, provider=PROVIDER)
        return ProviderUnavailable(provider=PROVIDER)

    # -- public API --

    async def shops(self) -> list[Shop]:
        """The seller's authorized shops (``GET /authorization/{v}/shops``, no cipher)."""
        data = await self._call("GET", self._path("authorization", "shops"), shop_scoped=False)
        return parse_shops(data)

    async def shop_cipher(self) -> str:
        """The shop's cipher, discovered once from the authorized shops."""
        if self._shop_cipher:
            return self._shop_cipher
        shops = await self.shops()
        chosen = next((s for s in shops if s.id == self._shop_id), None) if self._shop_id else None
        if chosen is None and shops and not self._shop_id:
            chosen = shops[0]
        if chosen is None:
            raise ProviderAuthError(_AUTH_MESSAGE, provider=PROVIDER)
        self._shop_id, self._shop_cipher = chosen.id, chosen.cipher
        return chosen.cipher

    async def get_orders(self, order_ids: Sequence[OrderId]) -> dict[OrderId, Order]:
        """Order details, ``MAX_ORDER_IDS`` per call; unknown ids are absent from the result."""
        unique = list(dict.fromkeys(str(i).strip() for i in order_ids if str(i).strip()))
        found: dict[OrderId, Order] = {}
        for chunk in chunked(unique, MAX_ORDER_IDS):
            data = await self._call("GET", self._path("order", "orders"), query={"ids": chunk})
            shop = self._shop_id or PROVIDER
            found.update(parse_orders(data, shop))
        return found

    async def get_tracking(
        self, order_id: OrderId, status: Status = Status.IN_TRANSIT
    ) -> tuple[TrackingEvent, ...]:
        """TikTok's own events for an order, oldest first (see :func:`parse_tracking`)."""
        path = self._path("fulfillment", f"orders/{order_id}/tracking")
        return parse_tracking(await self._call("GET", path), status)

    async def get_package(self, package_id: str) -> PackageInfo:
        """One package's detail: status, tracking number, shipping provider, orders."""
        path = self._path("fulfillment", f"packages/{package_id}")
        return parse_package(await self._call("GET", path))

    async def search_page(
        self,
        *,
        updated_from: datetime,
        updated_to: datetime | None = None,
        page_size: int = 50,
        page_token: str = "",
    ) -> SearchPage:
        """One page of orders updated in ``[updated_from, updated_to)``, newest first."""
        query: dict[str, str] = {
            "page_size": str(max(1, min(100, page_size))),
            "sort_field": "update_time",
            "sort_order": "DESC",
        }
        if page_token:
            query["page_token"] = page_token
        body: dict[str, Any] = {"update_time_ge": int(updated_from.timestamp())}
        if updated_to is not None:
            body["update_time_lt"] = int(updated_to.timestamp())
        data = await self._call(
            "POST", self._path("order", "orders/search"), query=query, body=body
        )
        return parse_search_page(data, self._shop_id)

    async def index_updated(
        self,
        *,
        updated_from: datetime,
        updated_to: datetime | None = None,
        page_size: int = 50,
        max_pages: int = 100,
    ) -> list[IndexEntry]:
        """Tracking number → order rows for every order updated since ``updated_from``."""
        entries: list[IndexEntry] = []
        token = ""
        for _ in range(max_pages):
            page = await self.search_page(
                updated_from=updated_from,
                updated_to=updated_to,
                page_size=page_size,
                page_token=token,
            )
            entries.extend(page.entries)
            token = page.next_page_token
            if not token:
                break
        return entries

"""``TikTokShopClient``: the thin I/O class over the Partner API, an ``OrderSource``. Seller
tokens are refreshed ahead of expiry and every new pair goes to ``on_token_refresh``.
The package's only module that does I/O.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx

from core.errors import ProviderAuthError, ProviderError, ProviderUnavailable, RateLimited
from core.models import Order, OrderId, Status, TrackingEvent
from core.ports import Clock
from core.providers._common import chunked
from core.providers.http import Envelope, HttpResult, ProviderTransport, RetryPolicy, Sleep
from core.providers.tiktok_shop.parse import (
    IndexEntry,
    PackageInfo,
    SearchPage,
    Shop,
    TokenSet,
    parse_orders,
    parse_package,
    parse_search_page,
    parse_shops,
    parse_token,
    parse_tracking,
)
from core.providers.tiktok_shop.signing import build_request
from core.providers.tiktok_shop.units import (
    AMBIGUOUS,
    API_BASE,
    AUTH_BASE,
    AUTH_CODES,
    AUTH_MESSAGE,
    DEFAULT_VERSIONS,
    MAX_ORDER_IDS,
    PROVIDER,
    RATE_LIMITED,
    TOKEN_EXPIRED,
    TRANSIENT,
)

__all__ = ["TikTokShopClient"]

log = logging.getLogger(__name__)


def _envelope_error(result: HttpResult) -> ProviderError | None:
    """The retryable error an envelope reports, if any (rate limit, internal timeout)."""
    code = _code_of(result)
    if code == RATE_LIMITED:
        return RateLimited(provider=PROVIDER, retry_after=1.0)
    if code in TRANSIENT:
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
            raise ProviderAuthError(AUTH_MESSAGE, provider=PROVIDER)
        result = await self._io.request(
            "GET",
            f"{self._auth_base}/api/v2/token/refresh",
            params={
                "app_key": self._app_key,
                "app_secret": self._app_secret,
                "refresh_token": current.refresh_token,
                "grant_type": "refresh_token",
            },
            classify=_envelope_error,
        )
        envelope = Envelope.of(result)
        if envelope.code != 0 or not isinstance(envelope.data, Mapping):
            error = ProviderAuthError(AUTH_MESSAGE, provider=PROVIDER)
            log.warning("%s token refresh refused (code %s)", PROVIDER, envelope.code)
            raise error
        fresh = parse_token(envelope.data)
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
                raise ProviderAuthError(AUTH_MESSAGE, provider=PROVIDER) from err

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
            classify=_envelope_error,
        )
        envelope = Envelope.of(result)
        if envelope.code == 0:
            return envelope.data if isinstance(envelope.data, Mapping) else {}
        if envelope.code == TOKEN_EXPIRED:
            raise _TokenExpiredError
        raise self._error_for(result.status, envelope)

    @staticmethod
    def _error_for(status: int, envelope: Envelope) -> ProviderError:
        code = envelope.code
        message = envelope.message.lower()
        log.warning("%s call failed: HTTP %s, code %s", PROVIDER, status, code)
        if code == AMBIGUOUS:
            # 36009004 covers bad credentials and bad parameters alike; the text tells them apart.
            if "credential" in message or "app_key" in message or status in (401, 403):
                return ProviderAuthError(AUTH_MESSAGE, provider=PROVIDER)
            return ProviderUnavailable(provider=PROVIDER)
        if code in AUTH_CODES or status in (401, 403) or "credential" in message:
            return ProviderAuthError(AUTH_MESSAGE, provider=PROVIDER)
        if isinstance(code, int) and 105000 <= code < 106000:
            return ProviderAuthError(AUTH_MESSAGE, provider=PROVIDER)
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
            raise ProviderAuthError(AUTH_MESSAGE, provider=PROVIDER)
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

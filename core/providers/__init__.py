"""The outside sources parcelbot reads, and the one registry that names them.

Each source is a package with the same inner layout, private to it (import-linter holds it):
``units`` (the source's raw vocabulary → closed enums and errors), ``parse`` (pure parse and
build functions), ``push`` (webhook bodies), ``signing`` (where the source signs) and
``client`` (the thin I/O class, the only part that does I/O). The sandbox, which simulates
parcels and orders, is split by what it simulates instead: ``scenarios``, ``journey``,
``provider`` and ``shop``. Shared by all: ``http`` (one HTTP client, retries, the error tree),
``_common`` (pure helpers for batches and snapshots) and ``router`` (``ProviderRouter``).

:data:`PROVIDERS` is an explicit dict keyed by each source's stable id. An entry says which
settings the source reads, which of them turns it on, how to build it, its push endpoint and
whether it is a tracking aggregator (a ``TrackingProvider`` for many carriers, tried in the
configured order) or an order source. The settings' validation (``bots.settings``), the
composition root (``bots.runtime``) and the push routes (``bots.webhooks``) are driven by it;
nothing else spells a source's name.

Imports: this module needs only the standard library and ``core.models``/``ports`` when it is
imported. Each factory and signature check imports its package when it is called, so a start
without keys (the sandbox) never loads the HTTP stack. The packages may import httpx and
``core``'s models, errors, ports and ``pacing``; nothing under ``core/providers`` imports
storage or bots.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    import httpx

    from core.ports import Clock, OrderSource, Pacer, TrackingProvider
    from core.providers.aftership import AfterShipClient
    from core.providers.sandbox import SandboxProvider, SandboxShop
    from core.providers.seventeen_track import SeventeenTrackClient
    from core.providers.tiktok_shop import TikTokShopClient, TokenSet

__all__ = [
    "AFTERSHIP",
    "AGGREGATORS",
    "PROVIDERS",
    "SANDBOX",
    "SANDBOX_SHOP",
    "SEVENTEEN_TRACK",
    "TIKTOK_SHOP",
    "Need",
    "ProviderSpec",
    "Webhook",
    "Wiring",
]

P_co = TypeVar("P_co", covariant=True)

Verify = Callable[[Sequence[str], bytes, str], bool]
"""``verify(secrets, raw body, signature header)``: constant-time check of one push."""


@dataclass(frozen=True, slots=True)
class Wiring:
    """What the composition root hands a factory: the source's settings and shared parts.

    ``settings`` holds the value of every field the entry lists (secrets as plain text, an
    unset field as None). ``http`` is the process-wide client (None for the sandbox).
    ``seller_tokens`` and ``on_token_refresh`` are the seller's tokens and where refreshed
    ones go, for an order source that acts for a seller.
    """

    settings: Mapping[str, object]
    clock: Clock
    http: httpx.AsyncClient | None = None
    seller_tokens: TokenSet | None = None
    on_token_refresh: Callable[[TokenSet], Awaitable[None]] | None = None
    limiter: Pacer | None = None
    """Paces the source's calls in place of its own limiter: the composition root passes one
    shared by every process on the database, so the key's quota holds in sum."""

    def text(self, name: str) -> str:
        """The setting ``name`` as text ("" when unset)."""
        value = self.settings[name]
        return "" if value is None else str(value)

    def client(self) -> httpx.AsyncClient:
        """The shared HTTP client; a source that calls out cannot be built without one."""
        if self.http is None:
            raise ValueError("this source needs the shared HTTP client")
        return self.http


@dataclass(frozen=True, slots=True)
class Webhook:
    """A source's push endpoint: ``path`` under the webhook prefix, the header that carries
    the signature, and the settings whose values verify it (passed to ``verify`` in this
    order). The endpoint answers 404 while any of them is unset."""

    path: str
    header: str
    secrets: tuple[str, ...]
    verify: Verify


@dataclass(frozen=True, slots=True)
class Need:
    """A setting the source cannot do without once any of ``when`` is set; ``message`` is the
    one sentence that says what to set."""

    setting: str
    when: tuple[str, ...]
    message: str


@dataclass(frozen=True, slots=True)
class ProviderSpec(Generic[P_co]):
    """One source: the registry's entry.

    - ``id``: stable name (settings lists, metrics, logs, stored pushes, ``/ready``);
    - ``title``: how operators read its name;
    - ``aggregator``: a tracking aggregator (tried in ``PARCELBOT_TRACKING_PROVIDERS``'s
      order); otherwise an order source, or the sandbox;
    - ``settings``: every settings field it reads; ``switch``: the one whose value turns it
      on ("" for the sandbox, which runs when no aggregator is on);
    - ``hosts``: a metrics label for each API host it calls → the field that holds the URL;
    - ``needs``: combinations it cannot work without; ``needs_tracking``: once any of these
      settings is set, a tracking aggregator must be on (it hands its parcels to one);
    - ``webhook``: its push endpoint, or None;
    - ``build``: the factory, called once by the composition root.
    """

    id: str
    title: str
    aggregator: bool
    settings: tuple[str, ...]
    switch: str
    build: Callable[[Wiring], P_co]
    hosts: Mapping[str, str] = field(default_factory=dict)
    needs: tuple[Need, ...] = ()
    needs_tracking: tuple[str, ...] = ()
    webhook: Webhook | None = None


# -- factories and signature checks (each imports its package when called) --


def _seventeen_track(wiring: Wiring) -> SeventeenTrackClient:
    from core.providers.seventeen_track import SeventeenTrackClient

    return SeventeenTrackClient(
        wiring.client(),
        api_key=wiring.text("seventeen_track_api_key"),
        base_url=wiring.text("seventeen_track_base_url"),
        clock=wiring.clock,
        limiter=wiring.limiter,
    )


def _verify_seventeen_track(secrets: Sequence[str], body: bytes, sign: str) -> bool:
    from core.providers import seventeen_track

    return seventeen_track.verify_push_signature(secrets[0], body, sign)


def _aftership(wiring: Wiring) -> AfterShipClient:
    from core.providers.aftership import AfterShipClient

    return AfterShipClient(
        wiring.client(),
        api_key=wiring.text("aftership_api_key"),
        base_url=wiring.text("aftership_base_url"),
        version=wiring.text("aftership_api_version"),
        clock=wiring.clock,
        limiter=wiring.limiter,
    )


def _verify_aftership(secrets: Sequence[str], body: bytes, sign: str) -> bool:
    from core.providers import aftership

    return aftership.verify_webhook_signature(secrets[0], body, sign)


def _tiktok_shop(wiring: Wiring) -> TikTokShopClient:
    from core.providers.tiktok_shop import TikTokShopClient

    if wiring.seller_tokens is None:
        raise ValueError("TikTok Shop needs the seller's tokens")
    return TikTokShopClient(
        wiring.client(),
        app_key=wiring.text("tiktok_app_key"),
        app_secret=wiring.text("tiktok_app_secret"),
        tokens=wiring.seller_tokens,
        on_token_refresh=wiring.on_token_refresh,
        shop_id=wiring.text("tiktok_shop_id"),
        shop_cipher=wiring.text("tiktok_shop_cipher"),
        api_base=wiring.text("tiktok_api_base_url"),
        auth_base=wiring.text("tiktok_auth_base_url"),
        clock=wiring.clock,
    )


def _verify_tiktok_shop(secrets: Sequence[str], body: bytes, sign: str) -> bool:
    from core.providers import tiktok_shop

    return tiktok_shop.verify_webhook_signature(secrets[0], secrets[1], body, sign)


def _sandbox(wiring: Wiring) -> SandboxProvider:
    from core.providers.sandbox import SandboxProvider

    return SandboxProvider(wiring.clock)


def _sandbox_shop(wiring: Wiring) -> SandboxShop:
    from core.providers.sandbox import SandboxShop

    return SandboxShop(wiring.clock)


# -- the entries --

SEVENTEEN_TRACK: ProviderSpec[SeventeenTrackClient] = ProviderSpec(
    id="17track",
    title="17TRACK",
    aggregator=True,
    settings=("seventeen_track_api_key", "seventeen_track_base_url"),
    switch="seventeen_track_api_key",
    build=_seventeen_track,
    hosts={"17track": "seventeen_track_base_url"},
    # 17TRACK signs pushes with the API key itself.
    webhook=Webhook("/17track", "sign", ("seventeen_track_api_key",), _verify_seventeen_track),
)

AFTERSHIP: ProviderSpec[AfterShipClient] = ProviderSpec(
    id="aftership",
    title="AfterShip",
    aggregator=True,
    settings=(
        "aftership_api_key",
        "aftership_webhook_secret",
        "aftership_api_version",
        "aftership_base_url",
    ),
    switch="aftership_api_key",
    build=_aftership,
    hosts={"aftership": "aftership_base_url"},
    needs=(
        Need(
            "aftership_api_key",
            ("aftership_webhook_secret",),
            "An AfterShip webhook secret is set without PARCELBOT_AFTERSHIP_API_KEY; "
            "set both or neither.",
        ),
    ),
    webhook=Webhook(
        "/aftership", "aftership-hmac-sha256", ("aftership_webhook_secret",), _verify_aftership
    ),
)

_TIKTOK_ANY = (
    "tiktok_app_key",
    "tiktok_app_secret",
    "tiktok_shop_id",
    "tiktok_shop_cipher",
    "tiktok_access_token",
    "tiktok_refresh_token",
)

TIKTOK_SHOP: ProviderSpec[TikTokShopClient] = ProviderSpec(
    id="tiktok_shop",
    title="TikTok Shop",
    aggregator=False,
    settings=(
        *_TIKTOK_ANY,
        "tiktok_access_token_expires_at",
        "tiktok_refresh_token_expires_at",
        "tiktok_token_key",
        "tiktok_api_base_url",
        "tiktok_auth_base_url",
        "tiktok_sync_interval",
    ),
    switch="tiktok_app_key",
    build=_tiktok_shop,
    # Tokens are refreshed on their own host, which metrics label apart.
    hosts={"tiktok_shop": "tiktok_api_base_url", "tiktok_auth": "tiktok_auth_base_url"},
    needs=(
        Need(
            "tiktok_app_key",
            _TIKTOK_ANY,
            "TikTok Shop settings are present but the app key is missing; set "
            "PARCELBOT_TIKTOK_APP_KEY from your Partner Center app.",
        ),
        Need(
            "tiktok_app_secret",
            _TIKTOK_ANY,
            "TikTok Shop needs the app secret with the app key; set "
            "PARCELBOT_TIKTOK_APP_SECRET from your Partner Center app.",
        ),
        Need(
            "tiktok_refresh_token",
            _TIKTOK_ANY,
            "TikTok Shop needs the seller's tokens; set PARCELBOT_TIKTOK_REFRESH_TOKEN (and the "
            "access token) from authorising the shop.",
        ),
        Need(
            "tiktok_access_token",
            ("tiktok_access_token_expires_at",),
            "An access-token expiry is set without PARCELBOT_TIKTOK_ACCESS_TOKEN; set the "
            "token or remove the expiry.",
        ),
    ),
    needs_tracking=_TIKTOK_ANY,
    webhook=Webhook(
        "/tiktok", "Authorization", ("tiktok_app_key", "tiktok_app_secret"), _verify_tiktok_shop
    ),
)

SANDBOX: ProviderSpec[SandboxProvider] = ProviderSpec(
    id="sandbox",
    title="sandbox carrier",
    aggregator=False,
    settings=("sandbox_speed",),
    switch="",
    build=_sandbox,
)

SANDBOX_SHOP: ProviderSpec[SandboxShop] = ProviderSpec(
    id="sandbox-shop",
    title="sandbox shop",
    aggregator=False,
    settings=("sandbox_speed",),
    switch="",
    build=_sandbox_shop,
)

PROVIDERS: Mapping[str, ProviderSpec[TrackingProvider | OrderSource]] = MappingProxyType(
    {spec.id: spec for spec in (SEVENTEEN_TRACK, AFTERSHIP, TIKTOK_SHOP, SANDBOX, SANDBOX_SHOP)}
)
"""Every source by id, aggregators first in their default order."""

AGGREGATORS: tuple[ProviderSpec[TrackingProvider], ...] = (SEVENTEEN_TRACK, AFTERSHIP)
"""The tracking aggregators in their default order (17TRACK first)."""

"""Settings: the only place that reads the environment (and ``.env``).

Every variable is prefixed ``PARCELBOT_``; ``.env.example`` lists each field of ``Settings``.
Settings are validated once at start-up and passed down as plain values. A blank variable
counts as unset. Combinations that cannot work (a TikTok Shop app key without its secret, a
Telegram webhook without a public URL, …) are refused with one sentence each, reported
against the variable to fix.
"""

from __future__ import annotations

import logging
import re
import secrets
import zoneinfo
from datetime import UTC, datetime
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.providers import AGGREGATORS, PROVIDERS, TIKTOK_SHOP, ProviderSpec

__all__ = ["ROLES", "TRACKING_PROVIDERS", "Settings", "load_settings", "parse_shards"]

TRACKING_PROVIDERS = tuple(spec.id for spec in AGGREGATORS)
"""Names accepted in ``PARCELBOT_TRACKING_PROVIDERS``, in their default order."""

ROLES = ("poller", "sender", "webhook", "pushes", "telegram", "discord")
"""What a process may run (``PARCELBOT_ROLES``): polling due parcels, delivering the outbox,
the webhook server (answering provider pushes once stored, and Telegram's updates in webhook
mode), processing the stored provider pushes, the Telegram front end, the Discord gateway
connection."""


def _env(field: str) -> str:
    return f"PARCELBOT_{field.upper()}"


_OPTIONAL = (
    "database_url",
    "telegram_token",
    "telegram_webhook_secret",
    "discord_token",
    "discord_test_guild",
    "discord_shard_count",
    "seventeen_track_api_key",
    "aftership_api_key",
    "aftership_webhook_secret",
    "tiktok_app_key",
    "tiktok_app_secret",
    "tiktok_shop_id",
    "tiktok_shop_cipher",
    "tiktok_access_token",
    "tiktok_access_token_expires_at",
    "tiktok_refresh_token",
    "tiktok_refresh_token_expires_at",
    "webhook_port",
    "public_url",
    "health_port",
    "health_token",
)

_DATABASE_SCHEMES = ("sqlite:///", "postgresql://", "postgres://")

# Telegram accepts 1-256 characters of A-Z, a-z, 0-9, "_" and "-" as a webhook secret.
_TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class Settings(BaseSettings):
    """parcelbot's configuration. With nothing set it runs the sandbox and the console chat."""

    model_config = SettingsConfigDict(
        env_prefix="PARCELBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    db: str = Field("parcelbot.sqlite3", description="SQLite database file")
    database_url: SecretStr | None = Field(
        None,
        description="Database URL, replacing PARCELBOT_DB: sqlite:///path or "
        "postgresql://user:password@host:5432/name (it may hold a password)",
    )
    log_level: str = Field("WARNING", description="Python logging level")
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as text, or one JSON object per line (json)"
    )
    default_timezone: str = Field("UTC", description="Time zone for chats that set none")
    locales_dir: str = Field(
        "", description="Folder of the gettext catalogs (empty: the ones parcelbot ships)"
    )

    sandbox_speed: float = Field(
        60.0, gt=0, description="Sandbox clock speed: 60 = an hour of parcel time per minute"
    )
    poll_interval: float = Field(
        15.0, gt=0, description="Seconds between poll cycles (the database holds what is due)"
    )
    flush_interval: float = Field(2.0, gt=0, description="Seconds between outbox flushes")
    poll_batch: int = Field(500, gt=0, description="Most parcels refreshed per poll cycle")
    roles: str = Field(
        "all",
        description="What this process runs, comma separated: all, or any of poller, sender, "
        "webhook, pushes, telegram, discord (split across processes on one PostgreSQL "
        "database)",
    )
    worker_name: str = Field(
        "",
        description="This process's name in leases on shared work, unique per process "
        "(default on PostgreSQL: host name and process id)",
    )
    poll_lease: float = Field(
        300.0,
        gt=0,
        description="Seconds a poller holds the parcels it claimed on PostgreSQL (a dead "
        "poller's parcels are due again after this); a SQLite bot, the file's only poller, "
        "claims nothing",
    )
    send_lease: float = Field(
        120.0,
        gt=0,
        description="Seconds a sender holds a chat it claimed (a dead sender's chats are "
        "taken over after this)",
    )
    send_concurrency: int = Field(
        256,
        ge=1,
        description="Chats one sender process sends to at once; a sender killed mid-send "
        "repeats at most this many messages (1: at most one, at one message per round trip "
        "per process)",
    )
    telegram_rate: int = Field(
        30, gt=0, description="Telegram messages per second for the whole bot, all processes"
    )
    seventeen_track_rate: float = Field(
        3.0, gt=0, description="17TRACK requests per second for the key, all processes"
    )

    # -- chat platforms --

    telegram_token: SecretStr | None = Field(None, description="Telegram bot token (BotFather)")
    telegram_api_base_url: str = Field(
        "", description="Self-hosted Bot API server, e.g. http://localhost:8081/bot"
    )
    telegram_webhook: bool = Field(
        False, description="Receive Telegram updates on the webhook server instead of polling"
    )
    telegram_webhook_url: str = Field(
        "",
        description="Full public URL Telegram posts to; setting it turns webhook mode on "
        "(default: PUBLIC_URL + WEBHOOK_PREFIX + /telegram)",
    )
    telegram_webhook_secret: SecretStr | None = Field(
        None, description="Secret Telegram sends with every update (generated when unset)"
    )
    discord_token: SecretStr | None = Field(None, description="Discord bot token")
    discord_test_guild: int | None = Field(
        None, description="Guild id whose commands sync instantly while developing"
    )
    discord_sharded: bool = Field(False, description="Use AutoShardedBot")
    discord_shard_count: int | None = Field(
        None, gt=0, description="Shards in all (with DISCORD_SHARD_IDS; turns sharding on)"
    )
    discord_shard_ids: str = Field(
        "", description="The shards this process connects, e.g. 0-3 or 0,2 (empty: all)"
    )
    discord_api_base_url: str = Field(
        "", description="Discord REST API base, e.g. http://127.0.0.1:9000/api/v10 (test servers)"
    )
    discord_gateway_url: str = Field(
        "", description="Discord gateway URL, e.g. ws://127.0.0.1:9000/gateway (test servers)"
    )

    # -- tracking providers --

    tracking_providers: str = Field(
        "",
        description="Order in which configured tracking providers are tried, comma separated "
        "(17track, aftership); empty: 17track first",
    )
    seventeen_track_api_key: SecretStr | None = Field(
        None, description="17TRACK API security key (also verifies 17TRACK pushes)"
    )
    seventeen_track_base_url: str = Field(
        "https://api.17track.net/track/v2.2", description="17TRACK API base URL"
    )
    aftership_api_key: SecretStr | None = Field(None, description="AfterShip API key")
    aftership_webhook_secret: SecretStr | None = Field(
        None, description="AfterShip webhook secret (verifies AfterShip pushes)"
    )
    aftership_api_version: str = Field(
        "2025-04", description="AfterShip Tracking API version, e.g. 2025-04"
    )
    aftership_base_url: str = Field(
        "https://api.aftership.com/tracking", description="AfterShip API base URL"
    )

    # -- TikTok Shop (orders) --

    tiktok_app_key: str | None = Field(None, description="TikTok Shop Partner Center app key")
    tiktok_app_secret: SecretStr | None = Field(
        None, description="TikTok Shop app secret (signs requests, verifies pushes)"
    )
    tiktok_shop_id: str | None = Field(
        None, description="Shop id when the seller authorised several shops (default: the first)"
    )
    tiktok_shop_cipher: str | None = Field(
        None, description="The shop's cipher (discovered from the authorised shops when unset)"
    )
    tiktok_access_token: SecretStr | None = Field(
        None, description="Seller access token from authorising the shop"
    )
    tiktok_access_token_expires_at: datetime | None = Field(
        None, description="When the access token expires (Unix seconds or ISO 8601)"
    )
    tiktok_refresh_token: SecretStr | None = Field(
        None, description="Seller refresh token from authorising the shop"
    )
    tiktok_refresh_token_expires_at: datetime | None = Field(
        None, description="When the refresh token expires (Unix seconds or ISO 8601)"
    )
    tiktok_token_key: SecretStr | None = Field(
        None,
        description=(
            "Key that encrypts the refreshed seller tokens in the database (Fernet, from "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key()"
            ".decode())'`; empty: derived from the app secret)"
        ),
    )
    tiktok_api_base_url: str = Field(
        "https://open-api.tiktokglobalshop.com", description="TikTok Shop API host"
    )
    tiktok_auth_base_url: str = Field(
        "https://auth.tiktok-shops.com", description="TikTok Shop token host"
    )
    tiktok_sync_interval: float = Field(
        900.0,
        ge=0,
        description="Seconds between order searches that keep the tracking-number index "
        "current (0: webhooks only)",
    )

    # -- webhook server --

    webhook_host: str = Field("127.0.0.1", description="Address the webhook server listens on")
    webhook_port: int | None = Field(
        None, ge=0, le=65535, description="Port of the webhook server; unset: no server"
    )
    webhook_prefix: str = Field("/webhooks", description="Path prefix of the push endpoints")
    public_url: str | None = Field(
        None, description="Public HTTPS base URL that reaches the webhook server"
    )

    # -- health, readiness and metrics --

    health_host: str = Field(
        "127.0.0.1", description="Address of the health/readiness/metrics server"
    )
    health_port: int | None = Field(
        8081, ge=0, le=65535, description="Port of /health, /ready and /metrics; unset: off"
    )
    health_token: SecretStr | None = Field(
        None, description="Bearer token that unlocks /ready's details and /metrics"
    )
    ready_max_backlog: int = Field(
        1000, gt=0, description="Alerts due but unsent above which /ready fails"
    )

    # -- tuning (``core.config.ServiceConfig``; the defaults suit most bots) --

    refresh_after: float = Field(
        300, gt=0, description="Seconds a stored snapshot answers /track without asking the source"
    )
    stale_deadline: float = Field(
        2, gt=0, description="Seconds /track waits for the source when a stored snapshot exists"
    )
    fresh_deadline: float = Field(
        20, gt=0, description="Seconds /track waits for the source about a parcel never stored"
    )
    error_retry: float = Field(
        3600, gt=0, description="Seconds before a parcel whose poll failed is tried again"
    )
    flush_retry_base: float = Field(
        30, gt=0, description="Seconds the first retry of a failed delivery waits (then doubling)"
    )
    flush_retry_max: float = Field(
        7200, gt=0, description="Longest wait between retries of a failed delivery, in seconds"
    )
    send_timeout: float = Field(
        30, gt=0, description="Seconds one message's send may take before it is retried later"
    )
    max_send_attempts: int = Field(
        10, ge=1, description="Failed sends in a row after which a chat is parked until it writes"
    )
    user_requests_per_minute: int = Field(
        30, ge=1, description="Requests one person may make per minute"
    )
    confirm_within: float = Field(
        120, gt=0, description="Seconds a destructive command's confirmation button works"
    )
    archive_after_days: float = Field(
        7, gt=0, description="Days after their end that finished parcels move to the archive"
    )
    expire_after_days: float = Field(
        30, gt=0, description="Days after first seen that never-scanned parcels expire"
    )
    housekeeping_every: float = Field(3600, gt=0, description="Seconds between archive runs")
    webhook_trust_hours: float = Field(
        72, gt=0, description="Hours a pushed parcel is polled only as a daily safety net"
    )
    fail_after_calls: int = Field(
        3, ge=1, description="Failed calls in a row after which a source counts as failing"
    )
    recover_after_calls: int = Field(
        5, ge=1, description="Good calls in a row after which a failing source counts as recovered"
    )
    proof_attempts_per_user: int = Field(
        5, ge=1, description="Wrong order proofs per person (15 min) before a growing lockout"
    )
    proof_attempts_per_order: int = Field(
        10, ge=1, description="Wrong proofs for one order, all accounts (a day), before it locks"
    )

    # -- field checks --

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if not isinstance(logging.getLevelName(level), int):
            raise ValueError(f"unknown log level {value!r}; use DEBUG, INFO, WARNING or ERROR")
        return level

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        name = value.strip()
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as UTC or Asia/Jakarta"
            ) from None
        return name

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(_DATABASE_SCHEMES):
            raise PydanticCustomError(
                "database_url",
                "must start with sqlite:/// (a file) or postgresql:// (a server)",
            )
        return value

    @field_validator(*_OPTIONAL, mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("tiktok_access_token_expires_at", "tiktok_refresh_token_expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            # A time without an offset is read as UTC, like the API's own timestamps.
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, value: str) -> str:
        names = [name.strip().lower() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in (*ROLES, "all")]
        if unknown:
            raise ValueError(f"unknown role {unknown[0]!r}; use all or {', '.join(ROLES)}")
        return ",".join(dict.fromkeys(names)) or "all"

    @field_validator("discord_shard_ids")
    @classmethod
    def _shard_ids(cls, value: str) -> str:
        try:
            parse_shards(value)
        except ValueError as err:
            raise ValueError(f"{err}; write shard numbers like 0-3 or 0,2,5") from err
        return value.strip()

    @field_validator("tracking_providers")
    @classmethod
    def _known_providers(cls, value: str) -> str:
        names = [name.strip().lower() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in TRACKING_PROVIDERS]
        if unknown:
            raise ValueError(
                f"unknown tracking provider {unknown[0]!r}; use {' or '.join(TRACKING_PROVIDERS)}"
            )
        return ",".join(dict.fromkeys(names))

    @field_validator("webhook_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        cleaned = "/" + value.strip().strip("/")
        if not re.fullmatch(r"/[A-Za-z0-9_./-]*", cleaned):
            raise ValueError("the webhook prefix is a URL path such as /webhooks")
        return cleaned.rstrip("/") or ""

    @field_validator(
        "public_url",
        "telegram_webhook_url",
        "telegram_api_base_url",
        "discord_api_base_url",
    )
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and not re.match(r"https?://[^/\s]+", value):
            raise ValueError("must be a full URL starting with https://")
        return value.rstrip("/") if value else value

    @field_validator("discord_gateway_url")
    @classmethod
    def _ws_url(cls, value: str) -> str:
        if value and not re.match(r"wss?://[^/\s]+", value):
            raise ValueError("must be a full URL starting with wss://")
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_name(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _TELEGRAM_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError(
                "the Telegram webhook secret may hold only letters, digits, _ and - "
                "(at most 256 characters)"
            )
        return value

    # -- combinations --

    @model_validator(mode="after")
    def _combinations(self) -> Self:
        problems = self._problems()
        if problems:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError("settings_combination", message),
                        loc=(field,),
                        input=None,
                    )
                    for field, message in problems
                ],
            )
        if self.telegram_webhook_mode and self.telegram_webhook_secret is None:
            # Telegram sends the secret back with every update; a fresh one per start is fine
            # because the webhook is registered again at every start.
            self.telegram_webhook_secret = SecretStr(secrets.token_urlsafe(32))
        return self

    def _problems(self) -> list[tuple[str, str]]:
        """(field to fix, one sentence) for every combination that cannot work."""
        found: list[tuple[str, str]] = []
        for spec in PROVIDERS.values():
            for need in spec.needs:
                if not self.is_set(need.setting) and any(self.is_set(f) for f in need.when):
                    found.append((need.setting, need.message))
            if not self.tracking_keys and any(self.is_set(f) for f in spec.needs_tracking):
                keys = " or ".join(_env(aggregator.switch) for aggregator in AGGREGATORS)
                found.append(
                    (
                        AGGREGATORS[0].switch,
                        f"{spec.title} orders need a tracking provider for their parcels; set "
                        f"{keys}.",
                    )
                )
        for name in self.tracking_provider_order:
            if name not in self.tracking_keys:
                field = PROVIDERS[name].switch
                found.append(
                    (
                        field,
                        f"PARCELBOT_TRACKING_PROVIDERS names {name} but its API key is not set; "
                        f"set {_env(field)} or remove {name} from the list.",
                    )
                )
        if self.stale_deadline > self.fresh_deadline:
            found.append(
                (
                    "stale_deadline",
                    "PARCELBOT_STALE_DEADLINE must not be longer than PARCELBOT_FRESH_DEADLINE: "
                    "a stored snapshot answers sooner than a parcel never seen.",
                )
            )
        if self.flush_retry_base > self.flush_retry_max:
            found.append(
                (
                    "flush_retry_base",
                    "PARCELBOT_FLUSH_RETRY_BASE must not be longer than PARCELBOT_FLUSH_RETRY_MAX.",
                )
            )
        if self.telegram_webhook_mode:
            if self.telegram_token is None:
                found.append(
                    (
                        "telegram_token",
                        "Telegram webhook mode needs the bot token; set "
                        "PARCELBOT_TELEGRAM_TOKEN or turn PARCELBOT_TELEGRAM_WEBHOOK off.",
                    )
                )
            if self.webhook_port is None:
                found.append(
                    (
                        "webhook_port",
                        "Telegram webhook mode needs the webhook server; set "
                        "PARCELBOT_WEBHOOK_PORT (for example 8080).",
                    )
                )
            if not self.telegram_webhook_url and self.public_url is None:
                found.append(
                    (
                        "public_url",
                        "Telegram webhook mode needs the public HTTPS address of the webhook "
                        "server; set PARCELBOT_PUBLIC_URL.",
                    )
                )
        return found

    # -- derived values --

    @property
    def secret_values(self) -> list[str]:
        """Every secret set, to keep out of logs (a Telegram token's secret half too)."""
        found: list[str] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                found.append(value.get_secret_value())
        if self.telegram_token is not None:
            # The part after "id:" is the secret; it shows up alone in some error texts.
            found.append(self.telegram_token.get_secret_value().partition(":")[2])
        return [secret for secret in found if secret]

    def is_set(self, field: str) -> bool:
        """Whether the settings field ``field`` has a value."""
        return getattr(self, field) is not None

    def provider_settings(self, spec: ProviderSpec[object]) -> dict[str, object]:
        """The values of the fields ``spec`` reads, secrets as plain text (unset: None)."""
        values: dict[str, object] = {}
        for field in spec.settings:
            value = getattr(self, field)
            values[field] = value.get_secret_value() if isinstance(value, SecretStr) else value
        return values

    def provider_on(self, spec: ProviderSpec[object]) -> bool:
        """Whether the source ``spec`` is configured (its switch is set)."""
        return bool(spec.switch) and self.is_set(spec.switch)

    def webhook_secrets(self, spec: ProviderSpec[object]) -> tuple[str, ...]:
        """The values that verify ``spec``'s pushes; empty when any is unset (no endpoint)."""
        if spec.webhook is None:
            return ()
        values = self.provider_settings(spec)
        secrets = tuple(str(values[field] or "") for field in spec.webhook.secrets)
        return secrets if all(secrets) else ()

    @property
    def database(self) -> str:
        """Where the data lives: ``PARCELBOT_DATABASE_URL`` when set, else the SQLite file
        ``PARCELBOT_DB`` (``storage.db.Database.open`` takes either)."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return self.db

    @property
    def provider_base_urls(self) -> dict[str, str]:
        """Base URL of every provider the shared HTTP client may call (metrics label them)."""
        return {
            label: str(getattr(self, field))
            for spec in PROVIDERS.values()
            for label, field in spec.hosts.items()
        }

    @property
    def tracking_keys(self) -> dict[str, str]:
        """API key per tracking provider that has one."""
        return {
            spec.id: str(self.provider_settings(spec)[spec.switch])
            for spec in AGGREGATORS
            if self.provider_on(spec)
        }

    @property
    def tracking_provider_order(self) -> list[str]:
        """The providers named in ``tracking_providers`` (empty: none named)."""
        return [name for name in self.tracking_providers.split(",") if name]

    @property
    def active_tracking_providers(self) -> list[str]:
        """Configured providers in the order they are tried: the named ones first, as named,
        then the others with a key in the default order."""
        named = self.tracking_provider_order
        keys = self.tracking_keys
        rest = [name for name in TRACKING_PROVIDERS if name in keys and name not in named]
        return [name for name in named if name in keys] + rest

    @property
    def sandbox_only(self) -> bool:
        """True when no real tracking provider is configured (then the sandbox runs)."""
        return not self.tracking_keys

    @property
    def order_sources(self) -> list[str]:
        """The order sources that are configured (validation guarantees the rest)."""
        return [
            spec.id for spec in PROVIDERS.values() if not spec.aggregator and self.provider_on(spec)
        ]

    @property
    def tiktok_enabled(self) -> bool:
        """True when TikTok Shop is the order source (validation guarantees the rest)."""
        return self.provider_on(TIKTOK_SHOP)

    @property
    def webhook_server(self) -> bool:
        """True when the webhook server runs (a port is set)."""
        return self.webhook_port is not None

    @property
    def telegram_webhook_mode(self) -> bool:
        """True when Telegram posts updates to the webhook server instead of being polled."""
        return self.telegram_webhook or bool(self.telegram_webhook_url)

    @property
    def telegram_webhook_path(self) -> str:
        """The path of the Telegram route on the webhook server."""
        return f"{self.webhook_prefix}/telegram"

    @property
    def telegram_public_url(self) -> str:
        """The URL Telegram is told to post to."""
        if self.telegram_webhook_url:
            return self.telegram_webhook_url
        return f"{self.public_url or ''}{self.telegram_webhook_path}"

    @property
    def role_set(self) -> frozenset[str]:
        """The roles this process runs (``all`` spelled out)."""
        names = set(self.roles.split(","))
        return frozenset(ROLES) if "all" in names else frozenset(names)

    @property
    def shard_ids(self) -> list[int] | None:
        """The Discord shards this process connects (None: all of them)."""
        return parse_shards(self.discord_shard_ids)

    @property
    def adapters(self) -> list[str]:
        """The chat platforms that have credentials."""
        found = []
        if self.telegram_token is not None:
            found.append("telegram")
        if self.discord_token is not None:
            found.append("discord")
        return found

    def webhook_urls(self) -> dict[str, str]:
        """Public URL of every push endpoint that is on (to paste into each provider)."""
        if self.public_url is None:
            return {}
        base = f"{self.public_url}{self.webhook_prefix}"
        urls: dict[str, str] = {}
        for spec in PROVIDERS.values():
            if spec.webhook is not None and self.webhook_secrets(spec):
                urls[spec.id] = f"{base}{spec.webhook.path}"
        if self.telegram_webhook_mode:
            urls["telegram"] = self.telegram_public_url
        return urls


def parse_shards(text: str) -> list[int] | None:
    """``0-3`` → [0, 1, 2, 3]; ``0,2`` → [0, 2]; "" → None. ``ValueError`` when malformed."""
    if not text.strip():
        return None
    found: list[int] = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError(f"{part.strip()!r} is not a shard number or range")
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise ValueError(f"the shard range {part.strip()!r} ends before it starts")
        found.extend(range(first, last + 1))
    return sorted(set(found))


def load_settings(**overrides: Any) -> Settings:
    """Read the environment and ``.env``; keyword overrides win (used by the CLI and tests)."""
    return Settings(**overrides)

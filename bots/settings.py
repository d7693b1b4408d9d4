"""Settings: the only place that reads the environment (and ``.env``).

Every variable is prefixed ``PARCELBOT_``; ``.env.example`` lists each field of ``Settings``.
Settings are validated once at start-up and passed down as plain values.
"""

from __future__ import annotations

import logging

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    """parcelbot's configuration. With nothing set it runs the sandbox and the console chat."""

    model_config = SettingsConfigDict(
        env_prefix="PARCELBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    db: str = Field("parcelbot.sqlite3", description="SQLite database file")
    log_level: str = Field("WARNING", description="Python logging level")
    default_timezone: str = Field("UTC", description="Time zone for chats that set none")

    sandbox_speed: float = Field(
        60.0, gt=0, description="Sandbox clock speed: 60 = an hour of parcel time per minute"
    )
    poll_interval: float = Field(
        15.0, gt=0, description="Seconds between poll cycles (the database holds what is due)"
    )
    flush_interval: float = Field(2.0, gt=0, description="Seconds between outbox flushes")
    poll_batch: int = Field(500, gt=0, description="Most parcels refreshed per poll cycle")

    telegram_token: SecretStr | None = Field(None, description="Telegram bot token (BotFather)")
    telegram_api_base_url: str = Field(
        "", description="Self-hosted Bot API server, e.g. http://localhost:8081/bot"
    )
    telegram_webhook_url: str = Field(
        "", description="Public HTTPS URL for Telegram webhook mode (empty: long polling)"
    )
    discord_token: SecretStr | None = Field(None, description="Discord bot token")
    discord_test_guild: int | None = Field(
        None, description="Guild id whose commands sync instantly while developing"
    )
    discord_sharded: bool = Field(False, description="Use AutoShardedBot")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if not isinstance(logging.getLevelName(level), int):
            raise ValueError(f"unknown log level {value!r}; use DEBUG, INFO, WARNING or ERROR")
        return level

    @field_validator("telegram_token", "discord_token", "discord_test_guild", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def sandbox_only(self) -> bool:
        """True when no real tracking provider is configured."""
        return True

    @property
    def adapters(self) -> list[str]:
        """The chat platforms that have credentials."""
        found = []
        if self.telegram_token is not None:
            found.append("telegram")
        if self.discord_token is not None:
            found.append("discord")
        return found


def load_settings(**overrides: object) -> Settings:
    """Read the environment and ``.env``; keyword overrides win (used by the CLI and tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]

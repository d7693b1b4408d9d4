"""Per-chat settings, remembered carrier picks, and the key/value meta table."""

from __future__ import annotations

import json
from collections.abc import Sequence

from core.models import ChatRef, ChatSettings
from storage.codec import SETTINGS_COLUMNS, settings_from_row
from storage.shipments import NEWS_AGAIN_FOR_CHAT
from storage.sql import Connection, Tx

__all__ = ["SqliteChats", "SqliteMeta"]


_DEFAULTS = ChatSettings()


class SqliteChats:
    """``ChatRepository`` on SQLite; settings are per chat (``ChatRef.chat_key``)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get_settings(self, chat: ChatRef) -> ChatSettings:
        """The chat's settings, or the defaults when it never saved any."""
        rows = await self._conn.read(
            f"SELECT {SETTINGS_COLUMNS} FROM chats WHERE chat_key = ?",  # noqa: S608 - fixed
            (chat.chat_key,),
        )
        return settings_from_row(rows[0]) if rows else ChatSettings()

    async def settings_many(self, chat_keys: Sequence[str]) -> dict[str, ChatSettings]:
        """Settings per chat key; chats that never saved any get the defaults."""
        if not chat_keys:
            return {}
        rows = await self._conn.read(
            f"SELECT chat_key, {SETTINGS_COLUMNS} FROM chats "  # noqa: S608
            f"WHERE chat_key IN ({self._conn.dialect.texts})",
            (json.dumps(list(chat_keys), ensure_ascii=False),),
        )
        found = {str(row[0]): settings_from_row(row[1:]) for row in rows}
        # Most chats never saved settings: they share one (immutable) default.
        return {key: found.get(key, _DEFAULTS) for key in chat_keys}

    async def save_settings(self, chat: ChatRef, settings: ChatSettings) -> None:
        """Store all of the chat's settings, replacing earlier ones."""
        async with self._conn.transaction() as tx:
            await self._save_settings(tx, chat, settings)
            # Its days may start at other times now: arrival news is judged again.
            await tx.write(NEWS_AGAIN_FOR_CHAT, (chat.chat_key,))

    async def _save_settings(self, tx: Tx, chat: ChatRef, settings: ChatSettings) -> None:
        await tx.write(
            "INSERT INTO chats (chat_key, platform, chat_id, preference, timezone, quiet_start, "
            "quiet_end, paused, language, language_chosen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (chat_key) DO UPDATE SET preference = excluded.preference, "
            "timezone = excluded.timezone, quiet_start = excluded.quiet_start, "
            "quiet_end = excluded.quiet_end, paused = excluded.paused, "
            "language = excluded.language, language_chosen = excluded.language_chosen",
            (
                chat.chat_key,
                chat.platform.value,
                chat.chat_id,
                settings.preference.value,
                settings.timezone,
                settings.quiet_start,
                settings.quiet_end,
                int(settings.paused),
                settings.language,
                int(settings.language_chosen),
            ),
        )

    async def pause_chat(self, chat: ChatRef | str) -> None:
        """Stop delivering alerts to the chat (a ``ChatRef`` or its ``chat_key``), e.g. because
        it blocked the bot. Its alerts stay queued until ``resume_chat``."""
        await self._set_paused(chat, paused=True)

    async def resume_chat(self, chat: ChatRef | str) -> None:
        """Deliver the chat's queued and future alerts again."""
        await self._set_paused(chat, paused=False)

    async def _set_paused(self, chat: ChatRef | str, *, paused: bool) -> None:
        if isinstance(chat, ChatRef):
            chat_key, platform, chat_id = chat.chat_key, chat.platform.value, chat.chat_id
        else:
            chat_key = chat
            platform, _, chat_id = chat.partition(":")
        await self._conn.write(
            "INSERT INTO chats (chat_key, platform, chat_id, paused) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (chat_key) DO UPDATE SET paused = excluded.paused",
            (chat_key, platform, chat_id, int(paused)),
        )

    async def paused_chats(self) -> list[str]:
        """The chat keys of every paused chat."""
        rows = await self._conn.read(
            "SELECT chat_key FROM chats WHERE paused <> 0 ORDER BY chat_key"
        )
        return [row[0] for row in rows]

    async def remember_carrier(self, chat: ChatRef, number: str, carrier: str) -> None:
        """Remember which carrier the chat chose for an ambiguous number."""
        await self._conn.write(
            "INSERT INTO carrier_picks (chat_key, number, carrier) VALUES (?, ?, ?) "
            "ON CONFLICT (chat_key, number) DO UPDATE SET carrier = excluded.carrier",
            (chat.chat_key, number, carrier),
        )

    async def carrier_pick(self, chat: ChatRef, number: str) -> str | None:
        """The carrier the chat chose for the number, if it ever did."""
        rows = await self._conn.read(
            "SELECT carrier FROM carrier_picks WHERE chat_key = ? AND number = ?",
            (chat.chat_key, number),
        )
        return str(rows[0][0]) if rows else None


class SqliteMeta:
    """A small string key/value store for the program's own bookkeeping."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, key: str) -> str | None:
        """The value stored under ``key``, or None."""
        rows = await self._conn.read("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    async def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing any earlier value."""
        await self._conn.write(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def delete(self, key: str) -> bool:
        """Remove ``key``; True when it was there."""
        return await self._conn.write("DELETE FROM meta WHERE key = ?", (key,)) > 0

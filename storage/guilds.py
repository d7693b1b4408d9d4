"""Discord per-server settings and where each member's alerts go.

A server may name a shared alerts channel and allow public alerts there; a member may opt in
to have their alerts posted in one server's channel (with a mention) instead of by DM. The
bot also remembers where a member last subscribed, to tell them once when their DMs are
closed. Leaving a server deletes its settings and every member route that pointed at it.
"""

from __future__ import annotations

from core.models import GuildSettings, MemberRoute
from storage.sql import Connection

__all__ = ["SqliteDiscordGuilds"]


def _opt_int(value: object) -> int | None:
    return None if value is None else int(str(value))


class SqliteDiscordGuilds:
    """Per-server settings and member routes on SQLite (tables ``discord_guilds``/``_members``)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, guild_id: int) -> GuildSettings:
        """The server's settings (defaults when it never changed any)."""
        rows = await self._conn.read(
            "SELECT alerts_channel_id, allow_public, language FROM discord_guilds "
            "WHERE guild_id = ?",
            (guild_id,),
        )
        if not rows:
            return GuildSettings(guild_id)
        channel, allow, language = rows[0]
        return GuildSettings(guild_id, _opt_int(channel), bool(allow), str(language))

    async def save(self, settings: GuildSettings) -> None:
        """Store the server's settings, replacing earlier ones."""
        await self._conn.write(
            "INSERT INTO discord_guilds (guild_id, alerts_channel_id, allow_public, language) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (guild_id) DO UPDATE SET "
            "alerts_channel_id = excluded.alerts_channel_id, "
            "allow_public = excluded.allow_public, language = excluded.language",
            (
                settings.guild_id,
                settings.alerts_channel_id,
                int(settings.allow_public),
                settings.language,
            ),
        )

    async def delete_guild(self, guild_id: int) -> int:
        """Forget a server: its settings and every member route into it; return rows changed."""
        async with self._conn.transaction() as tx:
            changed = await tx.write("DELETE FROM discord_guilds WHERE guild_id = ?", (guild_id,))
            changed += await tx.write(
                "UPDATE discord_members SET public_guild_id = NULL WHERE public_guild_id = ?",
                (guild_id,),
            )
            changed += await tx.write(
                "UPDATE discord_members SET home_guild_id = NULL, home_channel_id = NULL "
                "WHERE home_guild_id = ?",
                (guild_id,),
            )
        return changed

    async def member(self, user_id: int) -> MemberRoute:
        """The member's route (defaults: alerts by DM, nothing known)."""
        rows = await self._conn.read(
            "SELECT public_guild_id, home_guild_id, home_channel_id, dm_closed, dm_notice_sent "
            "FROM discord_members WHERE user_id = ?",
            (user_id,),
        )
        if not rows:
            return MemberRoute(user_id)
        public, home_guild, home_channel, closed, told = rows[0]
        return MemberRoute(
            user_id,
            _opt_int(public),
            _opt_int(home_guild),
            _opt_int(home_channel),
            bool(closed),
            bool(told),
        )

    async def set_public_guild(self, user_id: int, guild_id: int | None) -> None:
        """Post the member's alerts in ``guild_id``'s alerts channel (None: by DM)."""
        await self._conn.write(
            "INSERT INTO discord_members (user_id, public_guild_id) VALUES (?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET public_guild_id = excluded.public_guild_id",
            (user_id, guild_id),
        )

    async def remember_home(self, user_id: int, guild_id: int, channel_id: int) -> None:
        """Remember the server channel where the member last subscribed."""
        await self._conn.write(
            "INSERT INTO discord_members (user_id, home_guild_id, home_channel_id) "
            "VALUES (?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
            "home_guild_id = excluded.home_guild_id, home_channel_id = excluded.home_channel_id",
            (user_id, guild_id, channel_id),
        )

    async def set_dm_state(self, user_id: int, *, closed: bool, notice_sent: bool) -> None:
        """Record whether DMs to the member fail and whether they were told about it."""
        await self._conn.write(
            "INSERT INTO discord_members (user_id, dm_closed, dm_notice_sent) VALUES (?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET "
            "dm_closed = excluded.dm_closed, dm_notice_sent = excluded.dm_notice_sent",
            (user_id, int(closed), int(notice_sent)),
        )

    async def forget_member(self, user_id: int) -> int:
        """Delete everything stored about the member; return rows deleted."""
        return await self._conn.write("DELETE FROM discord_members WHERE user_id = ?", (user_id,))

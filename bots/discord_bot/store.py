"""What the Discord adapter needs to remember: per-server settings and member alert routes.

``storage.guilds.SqliteDiscordGuilds`` implements this protocol.
"""

from __future__ import annotations

from typing import Protocol

from storage.guilds import GuildSettings, MemberRoute

__all__ = ["GuildSettings", "GuildStore", "MemberRoute"]


class GuildStore(Protocol):
    """Per-server settings and where each member's alerts go.

    Guarantees: defaults are returned for servers and members never seen;
    ``delete_guild`` also clears every member route into that server; ``forget_member``
    deletes everything stored about the member.
    """

    async def get(self, guild_id: int) -> GuildSettings: ...

    async def save(self, settings: GuildSettings) -> None: ...

    async def delete_guild(self, guild_id: int) -> int: ...

    async def member(self, user_id: int) -> MemberRoute: ...

    async def set_public_guild(self, user_id: int, guild_id: int | None) -> None: ...

    async def remember_home(self, user_id: int, guild_id: int, channel_id: int) -> None: ...

    async def set_dm_state(self, user_id: int, *, closed: bool, notice_sent: bool) -> None: ...

    async def forget_member(self, user_id: int) -> int: ...

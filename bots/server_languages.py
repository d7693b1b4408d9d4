"""Where a Discord member's shared alerts are read: the server channel they opted in to.

``ServerLanguages`` is the core's ``SharedLanguages`` port for Discord chats: a member whose
alerts go to a server's alerts channel has the shared variant worded in that server's
language (its locale, stored by the cog); alerts by DM stay in the member's own language.
"""

from __future__ import annotations

from core.models import ChatRef, Platform
from core.ports import GuildStore

__all__ = ["ServerLanguages"]


class ServerLanguages:
    """``SharedLanguages`` from the Discord server settings in ``guilds``."""

    def __init__(self, guilds: GuildStore) -> None:
        self._guilds = guilds

    async def shared_language(self, chat: ChatRef) -> str:
        if chat.platform is not Platform.DISCORD or not chat.user_id.isdigit():
            return ""
        route = await self._guilds.member(int(chat.user_id))
        if route.public_guild_id is None:
            return ""
        settings = await self._guilds.get(route.public_guild_id)
        return settings.language if settings.public_alerts else ""

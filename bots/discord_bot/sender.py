"""Deliver the core's alerts on Discord: ``DiscordSender`` implements ``core.ports.Notifier``.

Alerts go by DM, or, when the member opted in and the server allows it, to the server's alerts
channel with a mention of that member only. Private replies always go by DM. discord.py keeps
to Discord's rate-limit buckets; a semaphore bounds how many sends we have in flight so a large
fan-out queues here instead of piling up inside the HTTP client. discord.py retries a 5xx by
itself, up to five tries over about 16 s; each send is cut short after ``timeout`` seconds
instead, so one failing DM holds a slot only that long, and the outbox retries that chat later
on its own schedule.

When a DM is refused (DMs closed, bot blocked) the member is told once: a short mention in the
channel where they last subscribed, or, when that is impossible, an ephemeral note on their
next command. The send then raises ``ChatUnreachable(permanent=True)`` so the core pauses it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord

from bots.discord_bot.cog import DM_CLOSED_NOTICE
from bots.discord_bot.render import render
from core.i18n import _
from core.models import ChatRef, MemberRoute, Platform
from core.ports import ChatUnreachable, GuildStore
from core.privacy import Context
from core.replies import Reply, for_context

__all__ = ["DiscordSender"]

log = logging.getLogger(__name__)

_RETRY_AFTER = 30.0


class DiscordSender:
    """``Notifier`` for chats on Discord (``ChatRef.user_id`` is the Discord user id)."""

    def __init__(
        self,
        client: discord.Client,
        guilds: GuildStore,
        *,
        concurrency: int = 8,
        timeout: float = 8.0,
    ) -> None:
        self._client = client
        self._guilds = guilds
        self._slots = asyncio.Semaphore(concurrency)
        self._timeout = timeout

    async def send(self, chat: ChatRef, reply: Reply) -> None:
        """Deliver ``reply`` to the person behind ``chat``; raise ``ChatUnreachable`` if not."""
        if chat.platform is not Platform.DISCORD:
            raise ValueError(f"not a Discord chat: {chat.chat_key}")
        try:
            user_id = int(chat.user_id)
        except ValueError as err:
            raise ChatUnreachable("not a Discord user id", permanent=True) from err
        async with self._slots:
            if not self._client.is_ready():
                raise ChatUnreachable(
                    "not connected to Discord", permanent=False, retry_after=_RETRY_AFTER
                )
            try:
                async with asyncio.timeout(self._timeout):
                    await self._deliver(user_id, reply)
            except TimeoutError as err:
                raise ChatUnreachable(
                    "Discord did not accept the message in time",
                    permanent=False,
                    retry_after=_RETRY_AFTER,
                ) from err

    async def _deliver(self, user_id: int, reply: Reply) -> None:
        route = await self._guilds.member(user_id)
        # Only the variant the rule allows in a server channel is ever posted there.
        shown = for_context(reply, Context.SERVER)
        if (
            shown is not None
            and route.public_guild_id is not None
            and await self._post_public(route, shown)
        ):
            return
        await self._send_dm(route, reply)

    async def _post_public(self, route: MemberRoute, reply: Reply) -> bool:
        """Post in the member's chosen server channel; False when that is not possible now."""
        if route.public_guild_id is None:
            return False
        settings = await self._guilds.get(route.public_guild_id)
        channel = (
            self._client.get_channel(settings.alerts_channel_id)
            if settings.public_alerts and settings.alerts_channel_id is not None
            else None
        )
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            return False
        try:
            # Only a current member may have alerts posted there (members may leave silently).
            await channel.guild.fetch_member(route.user_id)
        except discord.NotFound:
            await self._guilds.set_public_guild(route.user_id, None)
            return False
        except discord.HTTPException as err:
            raise ChatUnreachable(
                "Discord error", permanent=False, retry_after=_RETRY_AFTER
            ) from err
        rendered = render(reply, actions=False)
        kwargs: dict[str, Any] = {"embed": rendered.embed}
        if rendered.view is not None:
            kwargs["view"] = rendered.view
        if rendered.file is not None:
            kwargs["file"] = rendered.file
        try:
            await channel.send(
                f"<@{route.user_id}>",
                allowed_mentions=discord.AllowedMentions(
                    everyone=False, roles=False, users=[discord.Object(route.user_id)]
                ),
                **kwargs,
            )
        except (discord.Forbidden, discord.NotFound):
            log.warning("cannot post alerts in channel %s; sending by DM", channel.id)
            return False
        except discord.HTTPException as err:
            raise ChatUnreachable(
                "Discord error", permanent=False, retry_after=_RETRY_AFTER
            ) from err
        return True

    async def _send_dm(self, route: MemberRoute, reply: Reply) -> None:
        rendered = render(reply)
        kwargs: dict[str, Any] = {"embed": rendered.embed}
        if rendered.view is not None:
            kwargs["view"] = rendered.view
        if rendered.file is not None:
            kwargs["file"] = rendered.file
        try:
            # create_dm answers from the cache after the first call for a user.
            channel = await self._client.create_dm(discord.Object(route.user_id))
            await channel.send(**kwargs)
        except discord.Forbidden as err:
            await self._dms_closed(route)
            raise ChatUnreachable("direct messages closed", permanent=True) from err
        except discord.NotFound as err:
            raise ChatUnreachable("unknown Discord user", permanent=True) from err
        except discord.HTTPException as err:
            raise ChatUnreachable(
                "Discord error", permanent=False, retry_after=_RETRY_AFTER
            ) from err
        if route.dm_closed:
            await self._guilds.set_dm_state(route.user_id, closed=False, notice_sent=False)

    async def _dms_closed(self, route: MemberRoute) -> None:
        """Tell the member once, in the channel where they subscribed, if we still can."""
        if route.dm_closed and route.dm_notice_sent:
            return
        told = False
        channel = (
            self._client.get_channel(route.home_channel_id)
            if route.home_channel_id is not None
            else None
        )
        if isinstance(channel, discord.TextChannel | discord.Thread):
            try:
                await channel.send(
                    f"<@{route.user_id}> {_(DM_CLOSED_NOTICE)}",
                    allowed_mentions=discord.AllowedMentions(
                        everyone=False, roles=False, users=[discord.Object(route.user_id)]
                    ),
                )
                told = True
            except discord.HTTPException:
                log.info("could not post the closed-DMs notice in channel %s", channel.id)
        await self._guilds.set_dm_state(route.user_id, closed=True, notice_sent=told)

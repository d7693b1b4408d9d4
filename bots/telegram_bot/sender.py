"""Posting replies to Telegram chats, for command answers and for alerts (``Notifier``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import Bot, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from bots.telegram_bot.limiter import background_sends, retry_seconds
from bots.telegram_bot.render import CallbackCodec, Rendered, deep_link, render
from core.i18n import _
from core.models import ChatRef, Platform
from core.ports import ChatUnreachable, GroupSwitch, KeyValueStore
from core.privacy import Context
from core.replies import Button, Reply, for_context

__all__ = [
    "MemoryGroupSwitch",
    "StoredGroupSwitch",
    "TelegramSender",
    "deliver",
    "post_reply",
    "private_note",
    "shown_in",
]

log = logging.getLogger(__name__)

_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

# BadRequest texts that mean the chat itself is gone, so retrying can never succeed.
_GONE = (
    "chat not found",
    "user is deactivated",
    "bot was kicked",
    "not enough rights to send",
    "have no rights to send",
    "group chat was deactivated",
    "chat_write_forbidden",
)

_NETWORK_RETRY = 30.0


class MemoryGroupSwitch:
    """``GroupSwitch`` kept in memory (lost on restart; pass a stored one in production)."""

    def __init__(self) -> None:
        self._off: set[str] = set()

    async def replies_off(self, chat_id: str) -> bool:
        return chat_id in self._off

    async def set_replies_off(self, chat_id: str, off: bool) -> None:
        if off:
            self._off.add(chat_id)
        else:
            self._off.discard(chat_id)


class StoredGroupSwitch:
    """``GroupSwitch`` kept in a key/value store, so the admins' choice survives restarts."""

    prefix = "telegram.group_replies_off."

    def __init__(self, store: KeyValueStore) -> None:
        self._store = store

    async def replies_off(self, chat_id: str) -> bool:
        return await self._store.get(self.prefix + chat_id) is not None

    async def set_replies_off(self, chat_id: str, off: bool) -> None:
        if off:
            await self._store.set(self.prefix + chat_id, "1")
        else:
            await self._store.delete(self.prefix + chat_id)


def private_note(username: str, payload: str = "") -> Reply:
    """What a group sees instead of a private reply: a pointer to the private chat."""
    return Reply(
        _("Let's continue in private"),
        (
            _(
                "That answer can hold personal details, so I don't post it in a group. Tap the "
                "button to see it in a private chat with me."
            ),
        ),
        buttons=(Button(_("Open private chat"), url=deep_link(username, payload)),),
    )


def shown_in(chat: ChatRef, reply: Reply, username: str) -> Reply:
    """What may be posted in ``chat`` for ``reply``: in a group only the variant the rule
    allows where others read (``core.privacy``), else a pointer to the private chat (whose
    link carries no number or order id)."""
    if not chat.is_group:
        return reply
    return for_context(reply, Context.GROUP) or private_note(username)


async def post_reply(
    bot: Bot,
    chat_id: int | str,
    reply: Reply,
    codec: CallbackCodec,
    *,
    edit: Message | None = None,
) -> list[Message]:
    """Post ``reply`` as one or more messages (and its attachment); return what was posted.

    With ``edit``, the first message replaces that message's text and keyboard in place.
    """
    posted: list[Message] = []
    for index, rendered in enumerate(render(reply, codec)):
        if index == 0 and edit is not None:
            posted.append(await _edit(bot, edit, rendered))
            continue
        posted.append(
            await bot.send_message(
                chat_id,
                rendered.text,
                parse_mode=ParseMode.HTML,
                reply_markup=rendered.keyboard,
                link_preview_options=_NO_PREVIEW,
            )
        )
    if reply.attachment is not None:
        posted.append(
            await bot.send_document(
                chat_id,
                document=reply.attachment.content,
                filename=reply.attachment.filename,
            )
        )
    return posted


async def _edit(bot: Bot, message: Message, rendered: Rendered) -> Message:
    try:
        result = await bot.edit_message_text(
            rendered.text,
            chat_id=message.chat_id,
            message_id=message.message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=rendered.keyboard,
            link_preview_options=_NO_PREVIEW,
        )
    except BadRequest as err:
        # Refreshing a parcel that has not moved: Telegram refuses an identical edit.
        if "not modified" in str(err).lower():
            return message
        raise
    return result if isinstance(result, Message) else message


class TelegramSender:
    """The core's ``Notifier`` for Telegram chats.

    Flood limits and ``RetryAfter`` waits are handled by the bot's rate limiter
    (``FloodControl``), where alerts queue behind answers to people; what is left over
    becomes ``ChatUnreachable``: permanent when the chat
    blocked the bot or no longer exists, otherwise with the time to wait before retrying.
    A private reply addressed to a group is replaced by a pointer to the private chat, and
    nothing is posted to a group whose admins switched the bot's replies off.
    """

    def __init__(
        self,
        bot: Bot,
        codec: CallbackCodec,
        *,
        username: Callable[[], str],
        group_switch: GroupSwitch | None = None,
    ) -> None:
        self._bot = bot
        self._codec = codec
        self._username = username
        self._groups = group_switch or MemoryGroupSwitch()

    async def send(self, chat: ChatRef, reply: Reply) -> None:
        if chat.platform is not Platform.TELEGRAM:
            raise ChatUnreachable(f"{chat.platform} chats are not sent by Telegram", permanent=True)
        if chat.is_group:
            if await self._groups.replies_off(chat.chat_id):
                log.info("not posting to group %s: its admins switched replies off", chat.chat_id)
                return
            reply = shown_in(chat, reply, self._username())
        # Alerts yield to answers: a person waiting for a reply goes first.
        with background_sends():
            await deliver(lambda: post_reply(self._bot, chat.chat_id, reply, self._codec))


async def deliver(post: Callable[[], Awaitable[list[Message]]]) -> list[Message]:
    """Run ``post`` and translate Telegram's refusals into ``ChatUnreachable``."""
    try:
        return await post()
    except Forbidden as err:
        raise ChatUnreachable("the chat blocked the bot", permanent=True) from err
    except ChatMigrated as err:
        raise ChatUnreachable("the group moved to a new chat id", permanent=True) from err
    except RetryAfter as err:
        wait = retry_seconds(err)
        raise ChatUnreachable("Telegram flood control", permanent=False, retry_after=wait) from err
    except BadRequest as err:
        if any(part in str(err).lower() for part in _GONE):
            raise ChatUnreachable("the chat no longer exists", permanent=True) from err
        # A message Telegram refuses to parse will be refused again; surface it loudly.
        log.error("Telegram refused an alert message: %s", err)
        raise ChatUnreachable("Telegram refused the message", permanent=False) from err
    except TelegramError as err:
        raise ChatUnreachable(
            f"Telegram is unreachable ({type(err).__name__})",
            permanent=False,
            retry_after=_NETWORK_RETRY,
        ) from err

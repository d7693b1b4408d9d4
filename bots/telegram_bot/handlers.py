"""Telegram updates in, core commands run, rendered replies out.

Handlers only translate: an update becomes ``(ChatRef, command name, args)`` or a line of text
for the core's router, and the router's ``Reply`` objects are rendered and posted. Errors go to
``on_error``, the one place that turns them into words for the user.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from telegram import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeDefault,
    Chat,
    Message,
    Update,
)
from telegram.constants import ChatAction, ChatMemberStatus, ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bots.telegram_bot.render import CallbackCodec, inert
from bots.telegram_bot.sender import MemoryGroupSwitch, post_reply, shown_in
from core.commands import (
    ADMIN_IN_SHARED,
    CommandSpec,
    describe_command,
    error_text,
)
from core.errors import TrackingError
from core.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, Voices, _
from core.models import ChatRef, Platform
from core.ports import GroupSwitch
from core.replies import Reply

__all__ = [
    "GROUP_SWITCH_COMMAND",
    "CommandRunner",
    "TelegramHandlers",
    "chat_ref",
]

log = logging.getLogger(__name__)

GROUP_SWITCH_COMMAND = "groupreplies"
"""``/groupreplies on|off``: group admins switch the bot's replies in their group."""

GENERIC_FAILURE = N_("Sorry, something went wrong on my side. Please try again in a minute.")

# Commands that usually ask a tracking provider, so the chat shows "typing…" meanwhile.
_SLOW_COMMANDS = frozenset(
    {"track", "status", "subscribe", "history", "timeline", "verify", "report"}
)
# Button actions whose answer replaces the pressed message (Refresh, carrier choice).
_EDIT_IN_PLACE = frozenset({"track"})
_TYPING_EVERY = 4.5
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_ADMIN_STATUSES = frozenset({ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER})


class CommandRunner(Protocol):
    """What the adapter needs from the core's ``CommandRouter``."""

    @property
    def specs(self) -> Mapping[str, CommandSpec]: ...

    async def run(self, chat: ChatRef, name: str, args: Sequence[str]) -> list[Reply]: ...

    async def handle_text(self, chat: ChatRef, text: str) -> list[Reply]: ...

    @property
    def voices(self) -> Voices: ...

    def speaking(self, chat: ChatRef) -> AbstractAsyncContextManager[str]: ...


def chat_ref(update: Update) -> ChatRef | None:
    """Who is talking in this update, or None for updates without a chat and a person."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return None
    return ChatRef(
        platform=Platform.TELEGRAM,
        chat_id=str(chat.id),
        user_id=str(user.id),
        is_group=chat.type != Chat.PRIVATE,
        language=user.language_code or "",
    )


class TelegramHandlers:
    """The bot's update handlers, bound to one router, codec and group switch."""

    def __init__(
        self,
        router: CommandRunner,
        codec: CallbackCodec,
        *,
        group_switch: GroupSwitch | None = None,
    ) -> None:
        self.router = router
        self.codec = codec
        self.groups = group_switch or MemoryGroupSwitch()
        self.voices = router.voices

    # ------------------------------------------------------------------ wiring
    def command_names(self) -> list[str]:
        """The router's commands that Telegram accepts as command names."""
        return [name for name in self.router.specs if _valid_command(name)]

    def install(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Register every handler and the error handler on ``app``."""
        app.add_handler(CommandHandler(GROUP_SWITCH_COMMAND, self.on_group_switch))
        app.add_handler(CommandHandler(self.command_names(), self.on_command))
        app.add_handler(MessageHandler(filters.COMMAND, self.on_other_command))
        app.add_handler(
            MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, self.on_text)
        )
        app.add_handler(CallbackQueryHandler(self.on_callback))
        app.add_error_handler(self.on_error)

    def bot_commands(self, language: str = DEFAULT_LANGUAGE) -> list[BotCommand]:
        """The command menu in ``language`` (one of ``core.i18n.LANGUAGES``)."""
        with self.voices.speaking(language):
            return [
                BotCommand(name, _description(self.router.specs[name]))
                for name in self.command_names()
            ]

    def admin_commands(self, language: str = DEFAULT_LANGUAGE) -> list[BotCommand]:
        """The menu group admins see: everyone's, plus the group switch."""
        with self.voices.speaking(language):
            switch = BotCommand(
                GROUP_SWITCH_COMMAND, _("Admins: turn my replies in this group on/off")
            )
        return [*self.bot_commands(language), switch]

    async def publish_commands(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """``setMyCommands``: the router's commands for everyone and, with the group switch,
        for group admins; in English (the default menu) and in every other language, which
        Telegram shows to users whose app speaks it (``language_code``)."""
        calls = []
        for language in LANGUAGES:
            code = None if language == DEFAULT_LANGUAGE else telegram_language(language)
            calls.append(
                app.bot.set_my_commands(
                    self.bot_commands(language), scope=BotCommandScopeDefault(), language_code=code
                )
            )
            calls.append(
                app.bot.set_my_commands(
                    self.admin_commands(language),
                    scope=BotCommandScopeAllChatAdministrators(),
                    language_code=code,
                )
            )
        # Sixteen menus: sent side by side, start-up waits about one round trip, not sixteen.
        await asyncio.gather(*calls)

    # ------------------------------------------------------------------ handlers
    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat = update.effective_message, chat_ref(update)
        if message is None or chat is None or not message.text:
            return
        if chat.is_group and await self.groups.replies_off(chat.chat_id):
            return
        name = message.text.split(maxsplit=1)[0][1:].split("@", 1)[0].lower()
        await self._answer(context, chat, name, list(context.args or []), message=message)

    async def on_other_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A command the router may know by another name (an alias) or not at all."""
        message, chat = update.effective_message, chat_ref(update)
        if message is None or chat is None or not message.text:
            return
        head, *args = message.text.split()
        name, _, addressee = head[1:].partition("@")
        if chat.is_group:
            # In groups, only commands addressed to this bot by name are ours.
            if addressee.lower() != (context.bot.username or "").lower():
                return
            if await self.groups.replies_off(chat.chat_id):
                return
        elif addressee and addressee.lower() != (context.bot.username or "").lower():
            return
        await self._answer(context, chat, name.lower(), args, message=message)

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat = update.effective_message, chat_ref(update)
        if message is None or chat is None or not message.text:
            return
        async with self.router.speaking(chat):
            async with self._typing(context, chat):
                replies = await self.router.handle_text(chat, message.text)
            await self._post(context, chat, replies)

    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query, chat = update.callback_query, chat_ref(update)
        if query is None or chat is None:
            return
        if chat.is_group and await self.groups.replies_off(chat.chat_id):
            with self.voices.speaking(await self._language(chat)):
                await query.answer(_("My replies are switched off in this group."))
            return
        # Answer at once so the button stops spinning; errors still reach on_error.
        try:
            await query.answer()
        except TelegramError as err:
            # An old button's query can no longer be answered; the press still counts.
            log.debug("could not answer callback query: %s", err)
        name, args = self.codec.decode(query.data or "")
        edit = query.message if isinstance(query.message, Message) else None
        await self._answer(context, chat, name, args, edit=edit if name in _EDIT_IN_PLACE else None)

    async def on_group_switch(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat = update.effective_message, chat_ref(update)
        if message is None or chat is None:
            return
        with self.voices.speaking(await self._language(chat)):
            await self._group_switch(context, message, chat)

    async def _group_switch(
        self, context: ContextTypes.DEFAULT_TYPE, message: Message, chat: ChatRef
    ) -> None:
        if not chat.is_group:
            await self._say(context, chat, _("This switch is for group chats."))
            return
        args = [arg.lower() for arg in context.args or []]
        if args not in (["on"], ["off"]):
            state = (
                _("My replies in this group are off.")
                if await self.groups.replies_off(chat.chat_id)
                else _("My replies in this group are on.")
            )
            how = _("Admins can send /{command} on or /{command} off.").format(
                command=GROUP_SWITCH_COMMAND
            )
            await self._say(context, chat, f"{state} {how}")
            return
        if not await self._is_admin(context, message, chat):
            if not await self.groups.replies_off(chat.chat_id):
                await self._say(context, chat, _("Only group admins can switch my replies."))
            return
        off = args == ["off"]
        await self.groups.set_replies_off(chat.chat_id, off)
        await self._say(
            context,
            chat,
            _(
                "OK, I will stay quiet in this group. An admin can send /{command} on to undo this."
            ).format(command=GROUP_SWITCH_COMMAND)
            if off
            else _("OK, I answer commands in this group again."),
        )

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The one place errors become words: the core's sentence, or a generic apology."""
        err = context.error
        chat = chat_ref(update) if isinstance(update, Update) else None
        if isinstance(err, TrackingError):
            text = error_text(err)
            log.info("command failed for chat %s: %s", chat.chat_id if chat else "-", text)
        elif isinstance(err, Forbidden):
            log.info("chat %s blocked the bot; not answering", chat.chat_id if chat else "-")
            return
        else:
            log.error("unhandled error while handling an update", exc_info=err)
            text = GENERIC_FAILURE
        if chat is None:
            return
        with self.voices.speaking(await self._language(chat)):
            text = error_text(err) if isinstance(err, TrackingError) else _(GENERIC_FAILURE)
        try:
            await self._say(context, chat, "⚠️ " + text)
        except TelegramError as send_err:
            log.warning("could not tell chat %s about an error: %s", chat.chat_id, send_err)

    # ------------------------------------------------------------------ internals
    async def _answer(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        chat: ChatRef,
        name: str,
        args: list[str],
        *,
        edit: Message | None = None,
        message: Message | None = None,
    ) -> None:
        # The command and its confirmation button alike: a group's data is its admins'.
        shared = chat.is_group and name in ADMIN_IN_SHARED
        if shared and not await self._is_admin(context, message, chat):
            with self.voices.speaking(await self._language(chat)):
                await self._say(context, chat, _("Only this group's admins can do that here."))
            return
        slow = name in _SLOW_COMMANDS or (name == "start" and bool(args))
        # The adapter's own words on the way out (a pointer to the private chat, button
        # labels) are in the chat's language too.
        async with self.router.speaking(chat):
            async with self._typing(context, chat, enabled=slow):
                replies = await self.router.run(chat, name, args)
            await self._post(context, chat, replies, edit=edit)

    async def _post(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        chat: ChatRef,
        replies: list[Reply],
        *,
        edit: Message | None = None,
    ) -> None:
        for index, reply in enumerate(replies):
            target = edit if index == 0 else None
            shown = shown_in(chat, reply, context.bot.username or "")
            if shown is not reply and shown is not reply.shared:
                target = None  # a pointer to the private chat is a new message
            await post_reply(context.bot, chat.chat_id, shown, self.codec, edit=target)

    async def _language(self, chat: ChatRef) -> str:
        """The chat's language for the adapter's own words (English when it cannot be
        read, e.g. while the database is down: the apology must still go out)."""
        try:
            async with self.router.speaking(chat) as language:
                return language
        except TrackingError:
            return DEFAULT_LANGUAGE

    async def _say(self, context: ContextTypes.DEFAULT_TYPE, chat: ChatRef, text: str) -> None:
        # Error sentences may quote what someone typed: inert like every other text.
        await context.bot.send_message(
            chat.chat_id, html.escape(inert(text)), parse_mode=ParseMode.HTML
        )

    async def _is_admin(
        self, context: ContextTypes.DEFAULT_TYPE, message: Message | None, chat: ChatRef
    ) -> bool:
        """Whether the person is an admin of the group (``getChatMember``)."""
        sender = message.sender_chat if message is not None else None
        if sender is not None and str(sender.id) == chat.chat_id:
            return True  # an anonymous admin posts as the group itself
        member = await context.bot.get_chat_member(chat.chat_id, int(chat.user_id))
        return member.status in _ADMIN_STATUSES

    @contextlib.asynccontextmanager
    async def _typing(
        self, context: ContextTypes.DEFAULT_TYPE, chat: ChatRef, *, enabled: bool = True
    ) -> AsyncIterator[None]:
        """Show "typing…" while the body runs (Telegram clears it after about 5 seconds)."""
        if not enabled:
            yield
            return

        async def keep_typing() -> None:
            while True:
                await asyncio.sleep(_TYPING_EVERY)
                await _chat_action(context, chat)

        await _chat_action(context, chat)
        task = asyncio.create_task(keep_typing())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _chat_action(context: ContextTypes.DEFAULT_TYPE, chat: ChatRef) -> None:
    try:
        await context.bot.send_chat_action(chat.chat_id, ChatAction.TYPING)
    except TelegramError as err:
        # A missing "typing…" is cosmetic; the answer itself reports real failures.
        log.debug("chat action failed for %s: %s", chat.chat_id, err)


def _valid_command(name: str) -> bool:
    return _COMMAND_NAME.fullmatch(name) is not None


def _description(spec: CommandSpec) -> str:
    text = describe_command(spec).strip() or spec.name
    return text[:256]


def telegram_language(language: str) -> str:
    """The two-letter ISO 639-1 code Telegram's ``setMyCommands`` takes for one of our
    languages (Filipino is filed under Tagalog, ``tl``; Brazilian Portuguese under ``pt``)."""
    return {"fil": "tl"}.get(language, language.split("_", 1)[0])

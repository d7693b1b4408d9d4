"""The chat commands every adapter speaks, and the one router from a command to a use case.

Adapters turn a platform message into ``(chat, name, args)`` and call ``CommandRouter.run``;
plain text goes through ``CommandRouter.handle_text``. Errors are raised as ``TrackingError``;
each adapter turns them into text in one place with ``error_text``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from core import advice, carriers, faq, privacy, reader
from core.errors import InvalidInput, TrackingError
from core.i18n import N_, Voices, _
from core.i18n import language as language_now
from core.identifiers import check_text
from core.models import ChatRef
from core.reader import Pasted
from core.replies import Reply, ReplyKind

if TYPE_CHECKING:
    from core.service import ParcelService

__all__ = [
    "ADMIN_IN_SHARED",
    "COMMANDS",
    "DEEP_LINK_PREFIX",
    "CommandRouter",
    "CommandSpec",
    "ParsedCommand",
    "command_usage",
    "describe_command",
    "error_text",
    "parse_command",
]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A chat command: its name (no slash), how to call it and what it does.

    ``usage`` and ``description`` are the English source texts (``command_usage`` and
    ``describe_command`` give them in the active language)."""

    name: str
    usage: str
    description: str


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", N_("[track_<number>]"), N_("Say hello, or open a tracking link")),
    CommandSpec("track", N_("<number or order id> [carrier]"), N_("Where is my parcel?")),
    CommandSpec("subscribe", N_("<number> [carrier] [label]"), N_("Tell me when it moves")),
    CommandSpec("unsubscribe", N_("<number or label>"), N_("Stop the updates for a parcel")),
    CommandSpec("list", "", N_("Your parcels, active and archived")),
    CommandSpec("history", N_("<number or label>"), N_("The full timeline of a parcel")),
    CommandSpec(
        "verify", N_("<order id> <postcode or last 4 phone digits>"), N_("Prove an order is yours")
    ),
    CommandSpec("explain", N_("<status or problem>"), N_("What a status means and what to do")),
    CommandSpec("orders", "", N_("Your order history, and which shops and carriers run late")),
    CommandSpec("report", N_("<number or label>"), N_("An evidence pack for a delivery dispute")),
    CommandSpec(
        "notify",
        N_("<all|milestones|exceptions|off> [number or label]"),
        N_("Choose which alerts you get"),
    ),
    CommandSpec("mute", N_("<number or label>"), N_("Silence one parcel's alerts")),
    CommandSpec("unmute", N_("<number or label>"), N_("Turn one parcel's alerts back on")),
    CommandSpec("quiet", N_("<22:00-07:00 Asia/Jakarta | off>"), N_("Hold alerts overnight")),
    CommandSpec("language", N_("[language]"), N_("Choose the language I write in")),
    CommandSpec("forget", "", N_("Delete everything stored about this chat")),
    CommandSpec("help", "", N_("What I can do")),
)

ADMIN_IN_SHARED = frozenset({"forget"})
"""Commands that change or delete what a shared chat (a group) holds for all its members:
there, only the platform's admins may run them (and press their confirmation buttons)."""


def describe_command(spec: CommandSpec) -> str:
    """The command's description in the active language (``core.i18n``)."""
    return _(spec.description)


def command_usage(spec: CommandSpec) -> str:
    """How to call the command, in the active language ("" when it takes no arguments)."""
    return _(spec.usage) if spec.usage else ""


# Names people type by habit, mapped to the real command.
_ALIASES = {"stop": "unsubscribe", "status": "track", "timeline": "history"}
DEEP_LINK_PREFIX = "track_"


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """A command name (lower case, no slash, no ``@botname``) and its arguments."""

    name: str
    args: tuple[str, ...]


def parse_command(text: str) -> ParsedCommand:
    """Split ``/name arg…`` into a lower-case name (``@botname`` dropped) and arguments.

    Raises ``InvalidInput`` for text that does not start with a slash; whether the command
    exists is for the router to say.
    """
    text = check_text(text)
    if not text.startswith("/") or len(text) < 2:
        raise InvalidInput(_("Commands start with a slash, for example /help."))
    head, *args = text.split()
    name = head[1:].split("@", 1)[0].lower()
    return ParsedCommand(_ALIASES.get(name, name), tuple(args))


def _unknown(name: str) -> InvalidInput:
    if not (name.isascii() and name.isalnum() and len(name) <= 20):
        return InvalidInput(_("I don't know that command. Send /help to see what I can do."))
    return InvalidInput(
        _("I don't know the command /{command}. Send /help to see what I can do.").format(
            command=name
        )
    )


# Words only (letters and spaces): a label or a phrase, never a number.
_WORDS = re.compile(r"[^\W\d_]+(?:[\s'’-]+[^\W\d_]+)*")


def _target(args: Sequence[str]) -> tuple[str, str | None]:
    """The parcel a command's arguments name: one number (with the carrier its words chose),
    or else the whole text, which may be a label."""
    text = " ".join(args)
    reading = reader.read(text, command=True)
    if len(reading.numbers) == 1 and not reading.words:
        return reading.numbers[0].number, reading.numbers[0].carrier
    return text, None


def error_text(err: TrackingError) -> str:
    """The one sentence a user sees for an error (never a traceback or a secret)."""
    return err.user_message


_SPEAKING_FOR: ContextVar[str] = ContextVar("parcelbot_speaking_for", default="")
"""The chat whose language is active in this task (so nested entry points read it once)."""

Handler = Callable[[ChatRef, Sequence[str]], Awaitable[list[Reply]]]


class CommandRouter:
    """Maps command names to the service's use cases."""

    def __init__(self, service: ParcelService) -> None:
        self._service = service
        self.specs: dict[str, CommandSpec] = {spec.name: spec for spec in COMMANDS}
        self._handlers: dict[str, Handler] = {
            "start": self._start,
            "track": self._track,
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "list": self._list,
            "history": self._history,
            "verify": self._verify,
            "explain": self._explain,
            "orders": self._orders,
            "report": self._report,
            "notify": self._notify,
            "mute": self._mute,
            "unmute": self._unmute,
            "quiet": self._quiet,
            "language": self._language,
            "forget": self._forget,
            "help": self._help,
        }

    @property
    def service(self) -> ParcelService:
        return self._service

    def register(self, spec: CommandSpec, handler: Handler) -> None:
        """Add or replace a command (for use cases added by later modules)."""
        self.specs[spec.name] = spec
        self._handlers[spec.name] = handler

    @property
    def voices(self) -> Voices:
        """The languages replies are worded in."""
        return self._service.voices

    @contextlib.asynccontextmanager
    async def speaking(self, chat: ChatRef) -> AsyncIterator[str]:
        """Make the chat's language (``ParcelService.chat_language``) the active one for
        the body; adapters wrap their own words for the chat (errors, notices) in it too."""
        if _SPEAKING_FOR.get() == chat.chat_key:
            yield language_now()  # already speaking to this chat (a command inside a text)
            return
        language = await self._service.chat_language(chat)
        token = _SPEAKING_FOR.set(chat.chat_key)
        try:
            with self.voices.speaking(language):
                yield language
        finally:
            _SPEAKING_FOR.reset(token)

    async def run(self, chat: ChatRef, name: str, args: Sequence[str]) -> list[Reply]:
        """Run command ``name`` for ``chat``, in the chat's language; raises ``TrackingError``
        (its sentence in that language too) for the user to see."""
        async with self.speaking(chat):
            return await self._run(chat, name, args)

    async def _run(self, chat: ChatRef, name: str, args: Sequence[str]) -> list[Reply]:
        name = _ALIASES.get(name.lower(), name.lower())
        handler = self._handlers.get(name)
        if handler is None:
            raise _unknown(name)
        # Any command shows the chat can hear us again (e.g. it unblocked the bot).
        await self._service.chat_seen(chat)
        return await handler(
            chat, [check_text(arg, what=N_("argument"), limit=200) for arg in args]
        )

    async def handle_text(self, chat: ChatRef, text: str) -> list[Reply]:
        """A line typed in chat: a command, a plain word (``hi``, ``help``), one or more
        numbers (bare, grouped, in a link or a pasted e-mail), a label, or a question;
        answered in the chat's language."""
        async with self.speaking(chat):
            return await self._handle_text(chat, text)

    async def _handle_text(self, chat: ChatRef, text: str) -> list[Reply]:
        text = check_text(text)
        if not text:
            raise InvalidInput(_("Send a tracking number, or /help to see what I can do."))
        if text.startswith("/"):
            parsed = parse_command(text)
            return await self.run(chat, parsed.name, parsed.args)
        if reader.is_help_word(text):
            return [self.help_reply(welcome=True)]
        # A short line is read like /track's arguments ("<number> [carrier]"); a long one is a
        # pasted message, where only numbers that stand out count.
        short = len(text.split()) <= 3 and len(text) <= 60
        return await self._read_and_track(chat, text, command=short, free=True)

    async def _read_and_track(
        self, chat: ChatRef, text: str, *, command: bool, free: bool = False
    ) -> list[Reply]:
        """Track every number ``text`` holds (up to ``reader.MAX_NUMBERS``), saying what
        could not be read; a text without numbers is a label, or (typed freely) a question."""
        reading = reader.read(text, command=command)
        if not reading.numbers:
            label = await self._service.find_label(chat, text)
            if label is not None:
                return [await self._service.track(chat, label)]
            if reading.unread:
                raise InvalidInput(advice.unread_sentence(reading.unread[0]))
            topic = faq.match(text) if free else None
            if topic is not None:
                return [advice.faq_reply(topic)]
            if free and (not command or _WORDS.fullmatch(text)):
                raise InvalidInput(
                    _(
                        "I found no tracking number in that message. Send just the number, "
                        "for example {example}, or /help to see what I can do."
                    ).format(example=reader.EXAMPLE_NUMBER)
                )
            if _WORDS.fullmatch(text):
                shown = text if len(text) <= 40 else text[:37] + "…"
                raise InvalidInput(
                    _(
                        "“{text}” is not a tracking number, and none of your parcels has that "
                        "label; send /list to see them."
                    ).format(text=shown)
                )
            return [await self._service.track(chat, text)]
        replies: list[Reply] = []
        for pasted in reading.numbers:
            try:
                replies.append(await self._track_pasted(chat, pasted))
            except TrackingError as err:
                if len(reading.numbers) == 1:
                    raise
                # One bad number in a pasted e-mail must not hide the others.
                replies.append(Reply(pasted.number, (error_text(err),), kind=ReplyKind.ERROR))
        if reading.more:
            replies.append(advice.more_numbers_reply(reading.more))
        replies.extend(
            Reply(_("Not read"), (advice.unread_sentence(part),), kind=ReplyKind.ERROR)
            for part in reading.unread
        )
        return replies

    async def _track_pasted(self, chat: ChatRef, pasted: Pasted, verb: str = "track") -> Reply:
        if pasted.named is not None:
            fitting = carriers.plausible(pasted.matches)
            return advice.mismatch_reply(pasted.number, pasted.named, fitting, verb=verb)
        return await self._service.track(chat, pasted.number, pasted.carrier)

    @staticmethod
    def _need(args: Sequence[str], usage: str) -> None:
        if not args:
            raise InvalidInput(_("Please add what to look up: {usage}.").format(usage=usage))

    async def _start(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        if args and args[0].lower().startswith(DEEP_LINK_PREFIX):
            return await self._track(chat, [args[0][len(DEEP_LINK_PREFIX) :]])
        return [self.help_reply(welcome=True)]

    async def _track(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        self._need(args, _("/track <tracking number or order id> [carrier]"))
        return await self._read_and_track(chat, " ".join(args), command=True)

    async def _subscribe(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        self._need(args, _("/subscribe <tracking number> [carrier] [label]"))
        reading = reader.read(" ".join(args), command=True)
        if not reading.numbers:
            if reading.unread:
                raise InvalidInput(advice.unread_sentence(reading.unread[0]))
            return [await self._service.subscribe(chat, args[0], " ".join(args[1:]))]
        label = reading.words if len(reading.numbers) == 1 else ""
        replies: list[Reply] = []
        for pasted in reading.numbers:
            if pasted.named is not None and label == pasted.named_words:
                # Only a carrier after the number, and one the number does not fit: ask.
                replies.append(await self._track_pasted(chat, pasted, verb="subscribe"))
                continue
            reply = await self._service.subscribe(
                chat, pasted.number, label, carrier=pasted.carrier
            )
            if pasted.named is not None:
                shown = privacy.view(privacy.context_of(chat)).name("", pasted.number)
                note = _(
                    "“{words}” is kept in the label: {parcel} does not fit {carrier}'s "
                    "number formats."
                ).format(words=pasted.named_words, parcel=shown, carrier=pasted.named.name)
                reply = replace(reply, lines=(*reply.lines, note))
            replies.append(reply)
        if reading.more:
            replies.append(advice.more_numbers_reply(reading.more))
        return replies

    async def _unsubscribe(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        self._need(args, _("/unsubscribe <tracking number or label>"))
        return [await self._service.unsubscribe(chat, " ".join(args))]

    async def _list(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        return [await self._service.list_parcels(chat)]

    async def _history(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        self._need(args, _("/history <tracking number or label>"))
        return [await self._service.history(chat, *_target(args))]

    async def _verify(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        if len(args) < 2:
            raise InvalidInput(
                _(
                    "Please send the order id and the delivery postcode (or the last 4 digits "
                    "of the phone number on the order), for example "
                    "/verify 576000000000000001 10115."
                )
            )
        return [await self._service.lookup_order(chat, args[0], " ".join(args[1:]))]

    async def _explain(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        return [await self._service.explain(chat, " ".join(args))]

    async def _orders(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        return [await self._service.order_history(chat)]

    async def _report(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        self._need(args, _("/report <tracking number or label>"))
        return [await self._service.report(chat, *_target(args))]

    async def _notify(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        level = args[0] if args else ""
        return [await self._service.notify(chat, level, " ".join(args[1:]))]

    async def _mute(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        self._need(args, _("/mute <tracking number or label>"))
        return [await self._service.mute(chat, " ".join(args))]

    async def _unmute(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        self._need(args, _("/unmute <tracking number or label>"))
        return [await self._service.mute(chat, " ".join(args), muted=False)]

    async def _quiet(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        return [await self._service.quiet(chat, " ".join(args))]

    async def _language(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        return [await self._service.set_language(chat, " ".join(args))]

    async def _forget(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        answer, token = (*args, "", "")[:2]
        return [await self._service.forget(chat, answer, token)]

    async def _help(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        return [self.help_reply()]

    def help_reply(self, *, welcome: bool = False) -> Reply:
        """Every command with its usage, for /help and /start."""
        title = _("Hi! I track your parcels.") if welcome else _("What I can do")
        lines = [
            f"/{spec.name} {command_usage(spec)}".rstrip() + f" — {describe_command(spec)}"
            for spec in self.specs.values()
            if spec.name != "start"
        ]
        lines.append(_("You can also just send a tracking number."))
        return Reply(title, tuple(lines))

"""The chat commands every adapter speaks, and the one router from a command to a use case.

Adapters turn a platform message into ``(chat, name, args)`` and call ``CommandRouter.run``;
plain text goes through ``CommandRouter.handle_text``. Errors are raised as ``TrackingError``;
each adapter turns them into text in one place with ``error_text``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from core import advice, carriers, faq, privacy, reader
from core.errors import InvalidInput, TrackingError
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
    "LOCALISED_DESCRIPTIONS",
    "CommandRouter",
    "CommandSpec",
    "ParsedCommand",
    "describe_command",
    "error_text",
    "parse_command",
]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A chat command: its name (no slash), how to call it and what it does."""

    name: str
    usage: str
    description: str


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", "[track_<number>]", "Say hello, or open a tracking link"),
    CommandSpec("track", "<number or order id> [carrier]", "Where is my parcel?"),
    CommandSpec("subscribe", "<number> [carrier] [label]", "Tell me when it moves"),
    CommandSpec("unsubscribe", "<number or label>", "Stop the updates for a parcel"),
    CommandSpec("list", "", "Your parcels, active and archived"),
    CommandSpec("history", "<number or label>", "The full timeline of a parcel"),
    CommandSpec(
        "verify", "<order id> <postcode or last 4 phone digits>", "Prove an order is yours"
    ),
    CommandSpec("explain", "<status or problem>", "What a status means and what to do"),
    CommandSpec("orders", "", "Your order history, and which shops and carriers run late"),
    CommandSpec("report", "<number or label>", "An evidence pack for a delivery dispute"),
    CommandSpec(
        "notify",
        "<all|milestones|exceptions|off> [number or label]",
        "Choose which alerts you get",
    ),
    CommandSpec("mute", "<number or label>", "Silence one parcel's alerts"),
    CommandSpec("unmute", "<number or label>", "Turn one parcel's alerts back on"),
    CommandSpec("quiet", "<22:00-07:00 Asia/Jakarta | off>", "Hold alerts overnight"),
    CommandSpec("forget", "", "Delete everything stored about this chat"),
    CommandSpec("help", "", "What I can do"),
)

# Command descriptions in the languages of the shops' biggest buyer markets, so a chat app can
# show the menu in the buyer's language (Telegram picks it by the user's language code).
LOCALISED_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "id": {
        "start": "Mulai, atau buka tautan pelacakan",
        "track": "Di mana paket saya?",
        "subscribe": "Beri tahu saya saat paket bergerak",
        "unsubscribe": "Hentikan kabar untuk sebuah paket",
        "list": "Paket Anda, aktif dan arsip",
        "history": "Riwayat lengkap sebuah paket",
        "verify": "Buktikan bahwa pesanan itu milik Anda",
        "explain": "Arti sebuah status dan apa yang harus dilakukan",
        "orders": "Riwayat pesanan Anda, dan toko serta kurir yang sering terlambat",
        "report": "Berkas bukti untuk sengketa pengiriman",
        "notify": "Pilih pemberitahuan yang Anda terima",
        "mute": "Bisukan pemberitahuan satu paket",
        "unmute": "Aktifkan lagi pemberitahuan satu paket",
        "quiet": "Tahan pemberitahuan di malam hari",
        "forget": "Hapus semua data tentang obrolan ini",
        "help": "Apa yang bisa saya lakukan",
    },
    "es": {
        "start": "Empezar, o abrir un enlace de seguimiento",
        "track": "¿Dónde está mi paquete?",
        "subscribe": "Avísame cuando se mueva",
        "unsubscribe": "Dejar de recibir avisos de un paquete",
        "list": "Tus paquetes, activos y archivados",
        "history": "El historial completo de un paquete",
        "verify": "Demostrar que un pedido es tuyo",
        "explain": "Qué significa un estado y qué hacer",
        "orders": "Tu historial de pedidos, y qué tiendas y transportistas se retrasan",
        "report": "Un dossier de pruebas para una reclamación de entrega",
        "notify": "Elegir qué avisos recibes",
        "mute": "Silenciar los avisos de un paquete",
        "unmute": "Reactivar los avisos de un paquete",
        "quiet": "Retener los avisos durante la noche",
        "forget": "Borrar todo lo guardado sobre este chat",
        "help": "Lo que puedo hacer",
    },
    "pt": {
        "start": "Começar, ou abrir um link de rastreio",
        "track": "Onde está minha encomenda?",
        "subscribe": "Avise-me quando ela se mover",
        "unsubscribe": "Parar os avisos de uma encomenda",
        "list": "Suas encomendas, ativas e arquivadas",
        "history": "O histórico completo de uma encomenda",
        "verify": "Provar que um pedido é seu",
        "explain": "O que um status significa e o que fazer",
        "orders": "Seu histórico de pedidos, e quais lojas e transportadoras atrasam",
        "report": "Um dossiê de provas para uma disputa de entrega",
        "notify": "Escolher quais avisos você recebe",
        "mute": "Silenciar os avisos de uma encomenda",
        "unmute": "Reativar os avisos de uma encomenda",
        "quiet": "Segurar os avisos durante a noite",
        "forget": "Apagar tudo o que está guardado sobre este chat",
        "help": "O que eu posso fazer",
    },
}


ADMIN_IN_SHARED = frozenset({"forget"})
"""Commands that change or delete what a shared chat (a group) holds for all its members:
there, only the platform's admins may run them (and press their confirmation buttons)."""


def describe_command(spec: CommandSpec, language: str = "") -> str:
    """The command's description in ``language`` (an IETF code such as ``pt-BR``) when we
    have one, else in English."""
    table = LOCALISED_DESCRIPTIONS.get(language.split("-", 1)[0].lower(), {})
    return table.get(spec.name, spec.description)


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
        raise InvalidInput("Commands start with a slash, for example /help.")
    head, *args = text.split()
    name = head[1:].split("@", 1)[0].lower()
    return ParsedCommand(_ALIASES.get(name, name), tuple(args))


def _unknown(name: str) -> InvalidInput:
    shown = name if name.isascii() and name.isalnum() and len(name) <= 20 else "that"
    return InvalidInput(f"I don't know the command /{shown}. Send /help to see what I can do.")


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

    async def run(self, chat: ChatRef, name: str, args: Sequence[str]) -> list[Reply]:
        """Run command ``name`` for ``chat``; raises ``TrackingError`` for the user to see."""
        name = _ALIASES.get(name.lower(), name.lower())
        handler = self._handlers.get(name)
        if handler is None:
            raise _unknown(name)
        # Any command shows the chat can hear us again (e.g. it unblocked the bot).
        await self._service.chat_seen(chat)
        return await handler(chat, [check_text(arg, what="argument", limit=200) for arg in args])

    async def handle_text(self, chat: ChatRef, text: str) -> list[Reply]:
        """A line typed in chat: a command, a plain word (``hi``, ``help``), one or more
        numbers (bare, grouped, in a link or a pasted e-mail), a label, or a question."""
        text = check_text(text)
        if not text:
            raise InvalidInput("Send a tracking number, or /help to see what I can do.")
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
                    "I found no tracking number in that message. Send just the number, "
                    f"for example {reader.EXAMPLE_NUMBER}, or /help to see what I can do."
                )
            if _WORDS.fullmatch(text):
                shown = text if len(text) <= 40 else text[:37] + "…"
                raise InvalidInput(
                    f"“{shown}” is not a tracking number, and none of your parcels has that "
                    "label; send /list to see them."
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
            Reply("Not read", (advice.unread_sentence(part),), kind=ReplyKind.ERROR)
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
            raise InvalidInput(f"Please add what to look up: {usage}.")

    async def _start(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        if args and args[0].lower().startswith(DEEP_LINK_PREFIX):
            return await self._track(chat, [args[0][len(DEEP_LINK_PREFIX) :]])
        return [self.help_reply(welcome=True)]

    async def _track(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        self._need(args, "/track <tracking number or order id> [carrier]")
        return await self._read_and_track(chat, " ".join(args), command=True)

    async def _subscribe(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        self._need(args, "/subscribe <tracking number> [carrier] [label]")
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
                note = (
                    f"“{pasted.named_words}” is kept in the label: {shown} does not "
                    f"fit {pasted.named.name}'s number formats."
                )
                reply = replace(reply, lines=(*reply.lines, note))
            replies.append(reply)
        if reading.more:
            replies.append(advice.more_numbers_reply(reading.more))
        return replies

    async def _unsubscribe(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        self._need(args, "/unsubscribe <tracking number or label>")
        return [await self._service.unsubscribe(chat, " ".join(args))]

    async def _list(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        return [await self._service.list_parcels(chat)]

    async def _history(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        self._need(args, "/history <tracking number or label>")
        return [await self._service.history(chat, *_target(args))]

    async def _verify(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        if len(args) < 2:
            raise InvalidInput(
                "Please send the order id and the delivery postcode (or the last 4 digits of the "
                "phone number on the order), for example /verify 576000000000000001 10115."
            )
        return [await self._service.lookup_order(chat, args[0], " ".join(args[1:]))]

    async def _explain(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        return [await self._service.explain(chat, " ".join(args))]

    async def _orders(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        return [await self._service.order_history(chat)]

    async def _report(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        self._need(args, "/report <tracking number or label>")
        return [await self._service.report(chat, *_target(args))]

    async def _notify(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        level = args[0] if args else ""
        return [await self._service.notify(chat, level, " ".join(args[1:]))]

    async def _mute(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        self._need(args, "/mute <tracking number or label>")
        return [await self._service.mute(chat, " ".join(args))]

    async def _unmute(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        self._need(args, "/unmute <tracking number or label>")
        return [await self._service.mute(chat, " ".join(args), muted=False)]

    async def _quiet(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        return [await self._service.quiet(chat, " ".join(args))]

    async def _forget(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        answer, token = (*args, "", "")[:2]
        return [await self._service.forget(chat, answer, token)]

    async def _help(self, chat: ChatRef, args: Sequence[str]) -> list[Reply]:
        return [self.help_reply()]

    def help_reply(self, *, welcome: bool = False) -> Reply:
        """Every command with its usage, for /help and /start."""
        title = "Hi! I track your parcels." if welcome else "What I can do"
        lines = [
            f"/{spec.name} {spec.usage}".rstrip() + f" — {spec.description}"
            for spec in self.specs.values()
            if spec.name != "start"
        ]
        lines.append("You can also just send a tracking number.")
        return Reply(title, tuple(lines))

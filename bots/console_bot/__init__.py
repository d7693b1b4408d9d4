"""The console chat: the same commands as Telegram and Discord, in a terminal.

It reads lines from standard input (a terminal or a pipe), prints replies as plain text and
prints alerts as the scheduler delivers them. Two console-only commands drive the sandbox demo:
``/advance <duration>`` moves the sandbox clock (``30m``, ``6h``, ``2d``) and ``/quit`` leaves.

What it may import: the standard library and the core (``core.commands``, models, replies,
errors, privacy, i18n, and the sandbox's sample numbers from ``core.providers.sandbox``);
never storage or another chat adapter.
"""

from __future__ import annotations

import asyncio
import re
import sys
import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING, TextIO

from core.commands import CommandRouter, error_text
from core.errors import InvalidInput, TrackingError
from core.i18n import _, ngettext
from core.models import ChatRef, Platform
from core.privacy import clean
from core.providers.sandbox import SAMPLE_NUMBERS, SAMPLE_ORDERS
from core.replies import Reply

if TYPE_CHECKING:
    from bots.runtime import Runtime

__all__ = ["ConsoleSender", "ConsoleSession", "parse_duration", "render", "run_console"]

CONSOLE_CHAT = ChatRef(Platform.CONSOLE, "console", "you")

_DURATION = re.compile(r"^(\d{1,4})\s*([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_MAX_ADVANCE = timedelta(days=60)


def parse_duration(text: str) -> timedelta:
    """``30m``, ``6h`` or ``2d`` as a timedelta; raises ``InvalidInput`` otherwise."""
    match = _DURATION.match(text.strip().lower())
    if match is None:
        raise InvalidInput(
            _("Say how far to move the clock, for example /advance 6h or /advance 2d.")
        )
    delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if delta > _MAX_ADVANCE:
        raise InvalidInput(_("Move the clock at most 60 days at a time."))
    return delta


def render(reply: Reply) -> str:
    """A reply as terminal text: title, lines, fields, and buttons as the commands they run."""
    text = reply.plain_text()
    actions = [f"[{b.label}: {b.command}]" for b in reply.buttons if b.action]
    if actions:
        text += "\n" + " ".join(actions)
    if reply.attachment is not None:
        body = reply.attachment.content.decode("utf-8", errors="replace")
        text += f"\n📎 {reply.attachment.filename}\n{body}"
    # A provider's text must never drive the terminal (escape sequences, bells, bidi).
    return clean(text)


class ConsoleSender:
    """The console's ``Notifier``: alerts are printed as they are delivered."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    async def send(self, chat: ChatRef, reply: Reply) -> None:
        self._out.write("\n🔔 " + render(reply) + "\n")
        self._out.flush()


class ConsoleSession:
    """Runs chat lines against the router and prints what comes back."""

    def __init__(self, runtime: Runtime, out: TextIO) -> None:
        self._runtime = runtime
        self._router: CommandRouter = runtime.router
        self._out = out

    def say(self, text: str) -> None:
        self._out.write(clean(text) + "\n")
        self._out.flush()

    def greet(self) -> None:
        if not self._runtime.sandbox:
            self.say(
                _(
                    "parcelbot console — live tracking providers. /help lists commands; /quit "
                    "leaves."
                )
            )
            return
        examples = list(SAMPLE_NUMBERS.items())[:3]
        lines = [
            _("parcelbot console — the sandbox carrier is running (no keys needed)."),
            _("Try: {examples}").format(
                examples=", ".join(
                    f"/track {number}  ({scenario})" for scenario, number in examples
                )
            ),
            _(
                "Sandbox orders: {orders}. /advance 6h moves the sandbox clock; /help lists "
                "commands; /quit leaves."
            ).format(orders=", ".join(list(SAMPLE_ORDERS)[:2])),
            _(
                "To chat on Telegram or Discord instead, set PARCELBOT_TELEGRAM_TOKEN or "
                "PARCELBOT_DISCORD_TOKEN in .env (see .env.example)."
            ),
        ]
        self.say("\n".join(lines))

    async def handle(self, line: str) -> bool:
        """Handle one line; False when the user asked to quit."""
        text = line.strip()
        if not text:
            return True
        lowered = text.lower()
        if lowered in {"/quit", "/exit", "quit", "exit"}:
            return False
        async with self._router.speaking(CONSOLE_CHAT):
            try:
                if lowered.startswith("/advance"):
                    await self._advance(text[len("/advance") :])
                    return True
                for reply in await self._router.handle_text(CONSOLE_CHAT, text):
                    self.say(render(reply))
            except TrackingError as err:
                self.say(error_text(err))
        return True

    async def _advance(self, arg: str) -> None:
        if not self._runtime.sandbox:
            raise InvalidInput(_("Only the sandbox clock can be moved."))
        delta = parse_duration(arg)
        stats = await self._runtime.advance(delta)
        checked = ngettext(
            "{count} parcel checked", "{count} parcels checked", stats.checked
        ).format(count=stats.checked)
        queued = ngettext("{count} alert queued", "{count} alerts queued", stats.alerts).format(
            count=stats.alerts
        )
        self.say(
            _("Sandbox clock moved {by}; {checked}, {queued}.").format(
                by=arg.strip(), checked=checked, queued=queued
            )
        )


async def _lines(stream: TextIO) -> AsyncIterator[str]:
    """Lines of ``stream`` without blocking the loop; a daemon thread does the reading so an
    unfinished read never keeps the process alive."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def reader() -> None:
        for line in stream:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=reader, name="console-stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


async def run_console(
    runtime: Runtime, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> int:
    """The REPL. Ends at end of input or ``/quit``; returns the exit status."""
    out = stdout or sys.stdout
    session = ConsoleSession(runtime, out)
    runtime.notifier.register(Platform.CONSOLE, ConsoleSender(out))
    # The greeting is in the language the console chat chose last time (English at first).
    async with runtime.router.speaking(CONSOLE_CHAT):
        session.greet()
    async for line in _lines(stdin or sys.stdin):
        if not await session.handle(line):
            break
    # Deliver what is already queued before leaving, so a scripted run sees its alerts.
    await runtime.service.flush_outbox(runtime.notifier)
    return 0

"""Build the Telegram ``Application`` and run it inside an event loop someone else owns.

``run_polling()`` would block the loop Discord and the scheduler share, so ``TelegramAdapter``
drives PTB's lifecycle by hand: initialize → post_init → start → polling (or a webhook) and
back down in reverse order.

In webhook mode ``start()`` registers the webhook (``setWebhook`` with the secret) and
``stop()`` leaves it registered: Telegram keeps undelivered updates for a day and retries
them, the next start registers the webhook again (with a new secret if none is configured),
and a stopping instance cannot unregister the webhook a newly started one has just set (a
rolling restart). Switching to polling removes it: PTB's polling starts with
``deleteWebhook``. Updates posted while the adapter is not running are refused with
``NotReceiving`` so that the webhook server answers 503 and Telegram delivers them again.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Any, Self, TypeAlias

from telegram import Update
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.error import BadRequest, NetworkError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, ExtBot
from telegram.request import BaseRequest, HTTPXRequest

from bots.telegram_bot.handlers import CommandRunner, TelegramHandlers
from bots.telegram_bot.limiter import FloodControl, SendLimits
from bots.telegram_bot.redaction import install_redaction, quiet_http_loggers
from bots.telegram_bot.render import CallbackCodec
from bots.telegram_bot.sender import MemoryGroupSwitch, TelegramSender
from core.ports import GroupSwitch

__all__ = [
    "DEFAULT_BASE_URL",
    "SECRET_HEADER",
    "NotReceiving",
    "TelegramAdapter",
    "TelegramApp",
    "WebhookConfig",
    "build_adapter",
    "build_application",
    "check_webhook_secret",
]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
"""PTB appends the token to this; a self-hosted Bot API server is ``http://host:8081/bot``."""

DEFAULT_FILE_URL = "https://api.telegram.org/file/bot"

ALLOWED_UPDATES = ("message", "callback_query")

TelegramApp: TypeAlias = Application[
    ExtBot[int],
    ContextTypes.DEFAULT_TYPE,
    dict[Any, Any],
    dict[Any, Any],
    dict[Any, Any],
    None,
]


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """Receive updates by webhook at ``url``; Telegram sends ``secret`` in a header.

    The HTTP server lives elsewhere (``bots/webhooks.py``): it checks the header with
    ``check_webhook_secret`` and hands the JSON body to ``TelegramAdapter.feed_update``.
    """

    url: str
    secret: str
    drop_pending_updates: bool = False


SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


def check_webhook_secret(expected: str, received: str | None) -> bool:
    """Whether a webhook request carries the right secret (constant-time comparison)."""
    if not expected or received is None:
        return False
    # aiohttp keeps header bytes that are not UTF-8 as lone surrogates; "surrogatepass"
    # encodes them instead of raising, so such a header is simply a wrong secret.
    return hmac.compare_digest(expected.encode(), received.encode("utf-8", errors="surrogatepass"))


class ReadingBot(ExtBot[int]):
    """PTB's bot, except that one update it cannot parse does not stop polling.

    PTB parses a ``getUpdates`` batch as a whole: one update it cannot read fails the batch,
    the updater asks again with the same offset, and so on for ever, logging the raw updates
    (people's messages) each time. Here each update is read on its own; one that cannot be
    read is logged once, by id and error type only, and replaced by an empty update with the
    same id, which no handler takes and which moves the offset past it.
    """

    async def _post(
        self,
        endpoint: str,
        data: dict[str, Any] | None = None,
        *,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
        api_kwargs: dict[str, Any] | None = None,
    ) -> Any:
        # ``get_updates`` parses what this returns; PTB 22.8's private seam, pinned.
        result = await super()._post(
            endpoint,
            data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
            api_kwargs=api_kwargs,
        )
        if endpoint != "getUpdates" or not isinstance(result, list):
            return result
        return [self._readable(raw) for raw in result]

    def _readable(self, raw: Any) -> Any:
        try:
            Update.de_json(raw, self)
        except Exception as err:
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            if not isinstance(update_id, int):
                raise  # without an id there is no offset to move past it
            log.warning(
                "skipped Telegram update %d: it could not be read (%s)",
                update_id,
                type(err).__name__,
            )
            return {"update_id": update_id}
        return raw


class NotReceiving(RuntimeError):
    """The adapter is not running (starting or stopping): a webhook update cannot be taken
    now. The webhook server answers 503, and Telegram delivers the update again later."""


class TelegramAdapter:
    """The Telegram side of parcelbot: the PTB application, its handlers and the sender.

    Use ``async with adapter:`` or ``await start()`` / ``await stop()`` inside the running
    loop. ``sender`` is the core's ``Notifier`` for Telegram chats.
    """

    def __init__(
        self,
        app: TelegramApp,
        handlers: TelegramHandlers,
        sender: TelegramSender,
        *,
        webhook: WebhookConfig | None = None,
        poll_timeout: float = 10.0,
        undo_redaction: Callable[[], None] | None = None,
        flood_control: FloodControl | None = None,
        start_retry: float = 1.0,
        start_retry_max: float = 60.0,
        receive: bool = True,
    ) -> None:
        self.start_retry = start_retry
        self.receive = receive
        """False: send only (a sender process); updates are received by other processes."""
        self.start_retry_max = start_retry_max
        self.app = app
        self.handlers = handlers
        self.sender = sender
        self.webhook = webhook
        self.poll_timeout = poll_timeout
        self._undo_redaction = undo_redaction
        self.flood_control = flood_control or FloodControl()
        """The bot's rate limiter (its ``retries`` counts RetryAfter waits)."""

    @property
    def username(self) -> str:
        """The bot's @username (known after ``start``)."""
        return self.app.bot.username or ""

    async def start(self) -> None:
        """Connect (``getMe``), publish the commands, and start receiving updates.

        If any step fails (a wrong token answers ``InvalidToken``), what was started is shut
        down again before the error propagates.
        """
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        await self._initialize()
        # post_init is only called by run_polling/run_webhook, so call it ourselves.
        if self.app.post_init is not None:
            await self.app.post_init(self.app)
        await self.app.start()
        if not self.receive:
            log.info("Telegram bot @%s sends only; other processes receive", self.username)
        elif self.webhook is not None:
            await self.app.bot.set_webhook(
                self.webhook.url,
                secret_token=self.webhook.secret,
                allowed_updates=list(ALLOWED_UPDATES),
                drop_pending_updates=self.webhook.drop_pending_updates,
            )
            log.info("Telegram bot @%s receives updates by webhook", self.username)
        else:
            if self.app.updater is None:
                raise RuntimeError("polling needs the application's updater")
            await self.app.updater.start_polling(
                poll_interval=0.0,
                timeout=timedelta(seconds=self.poll_timeout),
                allowed_updates=list(ALLOWED_UPDATES),
            )
            log.info("Telegram bot @%s is polling for updates", self.username)

    async def _initialize(self) -> None:
        """``initialize`` (it asks ``getMe``), retried with backoff while the Bot API cannot
        be reached: a network outage at start-up is waited out, not a reason to exit. A
        refused token (``InvalidToken``) or a refused request is raised at once."""
        delay = self.start_retry
        while True:
            try:
                await self.app.initialize()
                return
            except NetworkError as err:
                if isinstance(err, BadRequest):
                    raise
                log.warning(
                    "Telegram Bot API unreachable at start-up (%s); retrying in %.0f s",
                    type(err).__name__,
                    delay,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.start_retry_max)

    async def stop(self) -> None:
        """Stop receiving, let running handlers finish, and close the HTTP clients."""
        try:
            if self.app.updater is not None and self.app.updater.running:
                await self.app.updater.stop()
            if self.app.running:
                await self.app.stop()
            await self.app.shutdown()
            if self.app.post_shutdown is not None:
                await self.app.post_shutdown(self.app)
        finally:
            # Redaction stays on until the application and its HTTP clients are gone.
            if self._undo_redaction is not None:
                self._undo_redaction()
                self._undo_redaction = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def feed_update(self, data: Mapping[str, Any]) -> None:
        """Queue one update received by webhook (the JSON body Telegram posted).

        A body that is not a valid update is logged and dropped: Telegram would only send it
        again, and it cannot become valid. Raises ``NotReceiving`` unless the application is
        running: once ``stop()`` has begun, PTB drops whatever it finds in its queue behind
        the stop signal, unhandled, after the webhook server had answered 200 for it.
        """
        if not self.app.running:
            raise NotReceiving("the Telegram adapter is not running")
        try:
            update = Update.de_json(dict(data), self.app.bot)
        except Exception as err:
            # Untrusted input: PTB's parser raises KeyError, TypeError, AttributeError,
            # OverflowError (a date out of range), … for shapes Telegram never sends.
            log.warning("dropped a malformed Telegram update: %s", type(err).__name__)
            return
        # Not awaited in between: the running check and the put happen in one step.
        self.app.update_queue.put_nowait(update)

    def check_secret(self, received: str | None) -> bool:
        """Whether a webhook request's secret header is ours."""
        return self.webhook is not None and check_webhook_secret(self.webhook.secret, received)


def build_adapter(
    token: str,
    router: CommandRunner,
    *,
    base_url: str | None = None,
    base_file_url: str | None = None,
    webhook: WebhookConfig | None = None,
    limits: SendLimits | None = None,
    group_switch: GroupSwitch | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    poll_timeout: float = 10.0,
    shared_sends: Callable[[str], AbstractAsyncContextManager[object]] | None = None,
    receive: bool = True,
) -> TelegramAdapter:
    """Wire the application: handlers, flood control, command list, sender.

    ``shared_sends`` holds the bot's send allowance shared with other processes around each
    message (``FloodControl``'s ``shared``), when several run the same bot. Without ``receive`` the
    adapter only sends (no ``getUpdates``, no webhook registration).

    ``base_url`` is the Bot API prefix **without** the token (``…/bot``; PTB appends it), for a
    self-hosted Bot API server or a test fake. ``request`` / ``get_updates_request`` replace
    the HTTP transports (tests pass an in-memory one).
    """
    # Opt in to PTB's timedelta durations (RetryAfter.retry_after) now; see limiter.py.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    # Before the bot exists: PTB logs its API URL, token included, when it is created.
    quiet_http_loggers()
    # The secret half too: it survives URL-encoding of the colon.
    undo_redaction = install_redaction(token, token.partition(":")[2])
    codec = CallbackCodec()
    groups = group_switch or MemoryGroupSwitch()
    handlers = TelegramHandlers(router, codec, group_switch=groups)

    async def post_init(app: TelegramApp) -> None:
        await handlers.publish_commands(app)

    flood_control = FloodControl(limits, shared=shared_sends)
    bot = ReadingBot(
        token,
        base_url=base_url or DEFAULT_BASE_URL,
        base_file_url=base_file_url or DEFAULT_FILE_URL,
        request=request or HTTPXRequest(connection_pool_size=64),
        get_updates_request=get_updates_request or HTTPXRequest(),
        rate_limiter=flood_control,
    )
    plain: ExtBot[int] = bot  # the application is typed over PTB's bot class
    builder = ApplicationBuilder().bot(plain).job_queue(None).post_init(post_init)
    app: TelegramApp = builder.build()
    handlers.install(app)
    sender = TelegramSender(
        app.bot, codec, username=lambda: app.bot.username or "", group_switch=groups
    )
    return TelegramAdapter(
        app,
        handlers,
        sender,
        webhook=webhook,
        poll_timeout=poll_timeout,
        undo_redaction=undo_redaction,
        flood_control=flood_control,
        receive=receive,
    )


def build_application(token: str, router: CommandRunner, **options: Any) -> TelegramApp:
    """The bare PTB ``Application`` (see ``build_adapter`` for the options)."""
    return build_adapter(token, router, **options).app

"""Keep the bot under Telegram's flood limits, and honour ``RetryAfter`` when it is not.

Telegram allows about 30 messages a second in total, one a second per chat and 20 a minute
per group. PTB's ``AIORateLimiter`` uses a leaky bucket, which lets a full second's worth
through at once and then keeps going, so any one-second window can hold nearly twice the
limit; and it has no per-chat spacing for private chats. ``FloodControl`` instead keeps the
places of recent sends, so no window of ``period`` seconds ever holds more than
``global_rate`` messages, and spaces messages to one chat by ``chat_interval``.

A message holds its place in the global and group windows from when it starts until
``period`` after it finished, as ``core.pacing.SlidingWindow`` does (its docstring says why
counting from the start lets bursts reach Telegram whenever one request is delayed on the way,
and what holding costs: each place is busy for one round trip on top of ``period``). Per chat,
spacing counts from when the previous message finished, too. Within those hard limits messages
leave at an even pace a little under the limit (``pace``), kept by an
``aiolimiter.AsyncLimiter``.

Chats are independent: a chat waiting for its spacing, or for a ``RetryAfter`` Telegram sent
about it, holds back only itself. Only when refusals come from several chats at once
(``global_429_chats`` within ``global_429_window``), or for a request that names no chat, is
the whole bot paused. Sends made inside ``background_sends()`` (alerts) queue for the global
window behind everything else, so answers to people go first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import warnings
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeAlias

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from core.pacing import Place, SlidingWindow

__all__ = ["MESSAGE_METHODS", "FloodControl", "SendLimits", "background_sends", "retry_seconds"]

log = logging.getLogger(__name__)

MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "sendDocument",
        "sendPhoto",
        "sendMediaGroup",
        "sendVideo",
        "sendAudio",
        "sendVoice",
        "sendSticker",
        "sendLocation",
        "sendPoll",
        "copyMessage",
        "forwardMessage",
    }
)
"""Bot API methods that post a message into a chat: the ones the flood limits count."""

_PRUNE_AT = 4096

_Result: TypeAlias = bool | dict[str, Any] | list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SendLimits:
    """Flood limits to stay under; zero for a rate or interval switches that limit off."""

    global_rate: int = 30
    period: float = 1.0
    chat_interval: float = 1.0
    group_rate: int = 20
    group_period: float = 60.0
    margin: float = 0.05
    """Seconds added to the hard windows, for jitter in the network delay (see above)."""
    pace: float = 0.985
    """The share of ``global_rate`` to aim at, evenly spaced. Below 1 so that the hard window
    stays a safety net: were the pace exactly the limit, every late wake-up would make the
    window hold the next message back, and those delays add up."""
    chat_margin: float = 0.01
    """Seconds added to ``chat_interval``."""
    max_retries: int = 3
    """How often one request is retried after ``RetryAfter`` before the error is raised."""
    max_retry_wait: float = 10.0
    """A ``RetryAfter`` longer than this is raised at once instead of waited out (the outbox
    then retries that chat later, on its own)."""
    global_429_chats: int = 5
    """``RetryAfter`` answers about this many different chats within ``global_429_window``
    seconds mean the bot as a whole is over the limit: everyone pauses."""
    global_429_window: float = 1.0


_BACKGROUND: ContextVar[bool] = ContextVar("telegram_background_send", default=False)


@contextlib.contextmanager
def background_sends() -> Iterator[None]:
    """Requests made inside this block (in this task) yield to any other request waiting for
    the global window: alerts let answers to people go first."""
    token = _BACKGROUND.set(True)
    try:
        yield
    finally:
        _BACKGROUND.reset(token)


def retry_seconds(err: RetryAfter) -> float:
    """The wait Telegram asked for, in seconds, whatever ``PTB_TIMEDELTA`` is set to."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = err.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class _Window:
    """At most ``rate`` requests in any ``period``, each counted from when it started until
    ``period`` after it finished (``release``): a ``core.pacing.SlidingWindow``.

    With ``spacing``, requests also start at least that far apart on average (a backlog
    leaves at an even pace, not in bursts of ``rate``): a leaky bucket two requests deep, so
    a late wake-up is made up by the next start instead of lowering the rate. Waiters are
    served first come, first served; ``background`` waiters only when no other one waits.
    """

    def __init__(self, rate: int, period: float, spacing: float = 0.0) -> None:
        self.rate = rate
        self.period = period
        self.spacing = spacing
        self._places = SlidingWindow(rate, period)
        self.lock = asyncio.Lock()
        # One background request at a time queues for ``lock``: a foreground one arriving
        # later finds at most that one ahead of it.
        self.background = asyncio.Lock()
        self._pace = AsyncLimiter(2, 2 * spacing) if spacing > 0 else None

    async def acquire(self, *, background: bool = False) -> Place:
        if background:
            async with self.background:
                return await self._acquire()
        return await self._acquire()

    def release(self, place: Place) -> None:
        """The request of ``place`` finished (or never started): count it ``period`` more."""
        self._places.release(place)

    async def _acquire(self) -> Place:
        async with self.lock:
            if self._pace is not None:
                await self._pace.acquire()
            return await self._places.take()


@dataclass(slots=True)
class _ChatState:
    chat_id: str = ""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last: float = -math.inf
    """When the chat's previous message finished."""
    group: _Window | None = None
    paused_until: float = 0.0
    """Telegram asked this chat to wait (``RetryAfter``) until then."""


class FloodControl(BaseRateLimiter[int]):
    """A PTB rate limiter: per-chat spacing, group and global windows, ``RetryAfter`` waits.

    Only message-posting methods (``MESSAGE_METHODS``) are throttled; chat actions, edits and
    callback answers pass straight through. Messages to one chat are sent one after another,
    in order. ``RetryAfter`` pauses the chat it was about for the time Telegram asked (every
    chat when it looks global, see the module docstring), then the request is retried
    (``rate_limit_args`` overrides ``max_retries`` per call).
    """

    def __init__(
        self,
        limits: SendLimits | None = None,
        *,
        shared: Callable[[str], AbstractAsyncContextManager[object]] | None = None,
    ) -> None:
        self.limits = limits or SendLimits()
        # The bot's allowance shared with other processes (storage.limits): entered with the
        # chat id once this process's own limits let a message start, left when it finished.
        self._shared = shared
        lim = self.limits
        self._global = (
            _Window(
                lim.global_rate, lim.period + lim.margin, lim.period / (lim.global_rate * lim.pace)
            )
            if lim.global_rate and lim.period
            else None
        )
        self._chats: dict[str, _ChatState] = {}
        self._paused_until = 0.0
        self._refusals: deque[tuple[float, str]] = deque()
        self.retries = 0
        """How many ``RetryAfter`` answers were waited out (for monitoring and benchmarks)."""

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(  # noqa: PLR0917 - PTB's signature
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        retries = self.limits.max_retries if rate_limit_args is None else rate_limit_args
        chat_id = data.get("chat_id")
        if endpoint not in MESSAGE_METHODS or chat_id is None:
            return await self._with_retries(
                endpoint, retries, lambda: callback(*args, **kwargs), None, ""
            )
        state = self._chat_state(str(chat_id))
        async with state.lock:
            return await self._with_retries(
                endpoint,
                retries,
                lambda: self._throttled(state, callback(*args, **kwargs)),
                state,
                str(chat_id),
            )

    async def _with_retries(
        self,
        endpoint: str,
        retries: int,
        attempt: Callable[[], Coroutine[Any, Any, _Result]],
        state: _ChatState | None,
        chat_id: str,
    ) -> _Result:
        tries = 0
        while True:
            try:
                return await attempt()
            except RetryAfter as err:
                delay = retry_seconds(err)
                until = asyncio.get_running_loop().time() + delay
                if state is not None:
                    state.paused_until = max(state.paused_until, until)
                if state is None or self._looks_global(chat_id):
                    if self._paused_until < until:
                        log.warning("Telegram flood control: every chat waits %.1f s", delay)
                    self._paused_until = max(self._paused_until, until)
                if tries >= retries or delay > self.limits.max_retry_wait:
                    raise
                tries += 1
                self.retries += 1
                log.debug("Telegram asked to wait %.1f s before %s; waiting", delay, endpoint)
                await self._wait_out_pause(state)

    def _looks_global(self, chat_id: str) -> bool:
        """Record a refusal about ``chat_id``; True when refusals came from enough different
        chats lately that the limit hit is the bot's, not the chat's."""
        now = asyncio.get_running_loop().time()
        refusals = self._refusals
        refusals.append((now, chat_id))
        while refusals and refusals[0][0] < now - self.limits.global_429_window:
            refusals.popleft()
        return len({chat for _at, chat in refusals}) >= self.limits.global_429_chats

    async def _throttled(self, state: _ChatState, request: Coroutine[Any, Any, _Result]) -> _Result:
        lim = self.limits
        loop = asyncio.get_running_loop()
        started = False
        taken: list[tuple[_Window, Place]] = []
        try:
            await self._wait_out_pause(state)
            if lim.chat_interval:
                wait = state.last + lim.chat_interval + lim.chat_margin - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            background = _BACKGROUND.get()
            for window in (state.group, self._global):
                if window is not None:
                    taken.append((window, await window.acquire(background=background)))
            async with self._shared(state.chat_id) if self._shared else contextlib.nullcontext():
                started = True
                return await request
        finally:
            request.close()  # never awaited when the wait above was cancelled
            for window, slot in taken:
                window.release(slot)
            if started:
                state.last = loop.time()

    async def _wait_out_pause(self, state: _ChatState | None) -> None:
        loop = asyncio.get_running_loop()

        def left() -> float:
            chat = state.paused_until if state is not None else 0.0
            return max(self._paused_until, chat) - loop.time()

        # The deadline can move while we sleep (another RetryAfter), hence the loop.
        while (wait := left()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(wait)

    def _chat_state(self, chat_id: str) -> _ChatState:
        state = self._chats.get(chat_id)
        if state is None:
            if len(self._chats) >= _PRUNE_AT:
                self._prune()
            state = _ChatState(chat_id)
            lim = self.limits
            if chat_id.startswith("-") and lim.group_rate and lim.group_period:
                state.group = _Window(lim.group_rate, lim.group_period + lim.margin)
            self._chats[chat_id] = state
        return state

    def _prune(self) -> None:
        """Forget chats whose limits no longer constrain anything."""
        now = asyncio.get_running_loop().time()
        lim = self.limits
        horizon = max(lim.chat_interval + lim.chat_margin, lim.group_period + lim.margin)
        for chat_id, state in list(self._chats.items()):
            idle = state.last < now - horizon and state.paused_until < now
            if not state.lock.locked() and idle:
                del self._chats[chat_id]

"""A fake Telegram Bot API: one in-memory core, reachable over loopback HTTP or in process.

``FakeBotApi.call(method, params)`` is the whole behaviour; ``serve()`` exposes it on
``http://127.0.0.1:<port>/bot<token>/<method>`` (aiohttp) and ``request()`` returns a PTB
``BaseRequest`` that calls it without sockets. Tests queue updates with ``push_text`` /
``push_callback``, then ``wait_for`` the calls the bot makes. Everything the real server
checks that has bitten us is checked here too: ``bot_command`` entities, HTML that Telegram
would refuse, the 4096-character limit, 64-byte callback data, flood limits (optional).
For load runs it can add network ``latency`` (half on the way in, half on the way out) and
refuse a share of messages with 429 (``refuse_rate``); ``fail_chat`` makes one chat fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import random
import re
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web
from telegram.request import BaseRequest, RequestData

from core.commands import CommandSpec
from core.i18n import DEFAULT_LANGUAGE, Voices
from core.models import ChatRef
from core.replies import Reply

__all__ = [
    "BOT_ID",
    "BOT_USERNAME",
    "TOKEN",
    "ApiCall",
    "FakeBotApi",
    "FloodLimits",
    "InMemoryRequest",
    "NoCommands",
    "iter_buttons",
    "visible_text",
]

TOKEN = "123456789:AAFakeTokenForTestsOnly-abcdefghijk"
BOT_ID = 123456789
BOT_USERNAME = "parcel_test_bot"

# Methods that post a message into a chat: the ones Telegram's flood limits count.
MESSAGE_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto", "copyMessage"})

# Form fields that are plain strings even when they look like JSON (``text="123"``).
_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "callback_query_id",
        "url",
        "secret_token",
        "parse_mode",
        "action",
        "inline_message_id",
        "ip_address",
    }
)

_ALLOWED_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "a",
        "code",
        "pre",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "blockquote",
    }
)


@dataclass(frozen=True, slots=True)
class FloodLimits:
    """Limits the fake enforces on message-posting methods, like Telegram's flood control.

    At most ``global_rate`` messages in any ``period`` seconds, and per chat at least
    ``chat_interval`` seconds between two messages. A breach answers 429 with ``retry_after``.
    """

    global_rate: int = 30
    period: float = 1.0
    chat_interval: float = 1.0
    retry_after: int = 1


@dataclass(slots=True)
class ApiCall:
    """One request the bot made, with its decoded parameters and what the fake answered."""

    method: str
    params: dict[str, Any]
    at: float
    status: int = 200
    result: Any = None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200


class _TelegramHtml(HTMLParser):
    """Collects the visible text of Telegram HTML and notes what Telegram would refuse."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_TAGS:
            self.problems.append(f"unsupported start tag {tag!r}")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"unexpected end tag {tag!r}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def visible_text(markup: str) -> str:
    """What a reader sees for an HTML message (tags dropped, entities decoded)."""
    parser = _TelegramHtml()
    parser.feed(markup)
    parser.close()
    return "".join(parser.text)


def _html_problems(markup: str) -> list[str]:
    parser = _TelegramHtml()
    # Telegram refuses a bare "<" or "&" that does not start a tag or an entity.
    for index, char in enumerate(markup):
        if char == "&":
            end = markup.find(";", index)
            if end == -1 or html.unescape(markup[index : end + 1]) == markup[index : end + 1]:
                parser.problems.append(f"unescaped '&' at {index}")
    parser.feed(markup)
    parser.close()
    if parser.stack:
        parser.problems.append(f"unclosed tags {parser.stack}")
    return parser.problems


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _command_entities(text: str) -> list[dict[str, Any]]:
    """``bot_command`` entities for a leading ``/command`` (the real server adds them)."""
    if not text.startswith("/"):
        return []
    head = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(head)}]


def _error(status: int, description: str, **parameters: Any) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return status, body


class FakeBotApi:
    """The fake server's state and behaviour (see the module docstring)."""

    def __init__(
        self,
        token: str = TOKEN,
        *,
        username: str = BOT_USERNAME,
        flood_limits: FloodLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        latency: float = 0.0,
        refuse_rate: float = 0.0,
        seed: int = 13,
    ) -> None:
        self.token = token
        self.latency = latency
        self.refuse_rate = refuse_rate
        self.random_refusals = 0
        self._rng = random.Random(seed)
        self._chat_failures: dict[int, deque[tuple[int, dict[str, Any]]]] = defaultdict(deque)
        self.username = username
        self.flood_limits = flood_limits
        self.clock = clock
        self.calls: list[ApiCall] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.webhook_url = ""
        self.webhook_secret = ""
        self.admins: dict[int, set[int]] = defaultdict(set)
        self.blocked_chats: set[int] = set()
        self.flood_rejections = 0
        self.chat_flood_rejections = 0
        """Of ``flood_rejections``, those for a chat's own spacing."""
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._callback_ids = itertools.count(1)
        self._failures: dict[str, deque[tuple[int, dict[str, Any]]]] = defaultdict(deque)
        self._changed = asyncio.Condition()
        self._update_arrived = asyncio.Event()
        self._closing = False
        self._recent_sends: deque[float] = deque()
        self._last_send_per_chat: dict[int, float] = {}
        self._runner: web.AppRunner | None = None
        self._gates: dict[str, asyncio.Event] = {}
        self.held: list[str] = []
        self.base_url = ""

    # ----------------------------------------------------------------- test-side API
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Parcel",
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    @staticmethod
    def chat(chat_id: int, chat_type: str = "") -> dict[str, Any]:
        """A chat object: private for positive ids, a supergroup for negative ones."""
        kind = chat_type or ("private" if chat_id > 0 else "supergroup")
        if kind == "private":
            return {"id": chat_id, "type": kind, "first_name": f"User{chat_id}"}
        return {"id": chat_id, "type": kind, "title": f"Group {chat_id}"}

    @staticmethod
    def user(user_id: int, language_code: str = "en") -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": f"User{user_id}",
            "language_code": language_code,
        }

    def push_text(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "",
        language_code: str = "en",
    ) -> dict[str, Any]:
        """Queue a text message from a person (``user_id`` defaults to the chat id) whose
        Telegram app speaks ``language_code``."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chat(chat_id, chat_type),
            "from": self.user(user_id if user_id is not None else chat_id, language_code),
            "text": text,
        }
        entities = _command_entities(text)
        if entities:
            message["entities"] = entities
        return self._push({"message": message})

    def push_callback(
        self, message: dict[str, Any], data: str, *, user_id: int | None = None
    ) -> dict[str, Any]:
        """Queue a button press on ``message`` (a message the bot sent; see ``last_message``)."""
        return self._push({"callback_query": self._callback_query(message, data, user_id)})

    def _callback_query(
        self, message: dict[str, Any], data: str, user_id: int | None
    ) -> dict[str, Any]:
        presser = user_id if user_id is not None else int(message["chat"]["id"])
        return {
            "id": str(next(self._callback_ids)),
            "from": self.user(presser),
            "message": message,
            "chat_instance": f"ci{message['chat']['id']}",
            "data": data,
        }

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (an ``update_id`` is added)."""
        return self._push(dict(update))

    def new_update(self, **payload: Any) -> dict[str, Any]:
        """An update dict with a fresh id that is *not* queued (for webhook tests)."""
        return {"update_id": next(self._update_ids), **payload}

    def text_update(self, chat_id: int, text: str, *, user_id: int | None = None) -> dict[str, Any]:
        """A text-message update that is not queued (for webhook tests)."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chat(chat_id),
            "from": self.user(user_id if user_id is not None else chat_id),
            "text": text,
        }
        entities = _command_entities(text)
        if entities:
            message["entities"] = entities
        return self.new_update(message=message)

    def callback_update(
        self, message: dict[str, Any], data: str, *, user_id: int | None = None
    ) -> dict[str, Any]:
        """A button-press update that is not queued (for webhook tests)."""
        return self.new_update(callback_query=self._callback_query(message, data, user_id))

    def hold(self, method: str) -> asyncio.Event:
        """Keep every ``method`` call waiting until the returned event is set.

        ``wait_held`` tells when a call has arrived; the call is recorded once it is let go.
        """
        gate = asyncio.Event()
        self._gates[method] = gate
        return gate

    async def wait_held(self, method: str, *, within: float = 5.0) -> None:
        """Wait until a ``method`` call is waiting at its gate (see ``hold``)."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: method in self.held)

    def fail_next(
        self,
        method: str,
        status: int,
        description: str = "",
        *,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``method`` call with an error (once)."""
        params: dict[str, Any] = {}
        if retry_after is not None:
            params["retry_after"] = retry_after
        text = description or {
            429: f"Too Many Requests: retry after {retry_after}",
            403: "Forbidden: bot was blocked by the user",
            400: "Bad Request: chat not found",
        }.get(status, "Internal Server Error")
        self._failures[method].append(_error(status, text, **params))

    def fail_chat(
        self,
        chat_id: int,
        status: int,
        description: str = "",
        *,
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` messages to ``chat_id`` with an error."""
        params: dict[str, Any] = {}
        if retry_after is not None:
            params["retry_after"] = retry_after
        text = description or f"Too Many Requests: retry after {retry_after}"
        for _ in range(times):
            self._chat_failures[chat_id].append(_error(status, text, **params))

    def mark(self) -> int:
        """The index the next call will get; pass it as ``after`` to ``wait_for``."""
        return len(self.calls)

    def find(
        self, method: str, predicate: Callable[[ApiCall], bool] | None = None, *, after: int = 0
    ) -> list[ApiCall]:
        return [
            call
            for call in self.calls[after:]
            if call.method == method and (predicate is None or predicate(call))
        ]

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[ApiCall], bool] | None = None,
        *,
        after: int = 0,
        within: float = 5.0,
    ) -> ApiCall:
        """The first ``method`` call from index ``after`` on that matches ``predicate``."""
        async with asyncio.timeout(within), self._changed:
            while True:
                found = self.find(method, predicate, after=after)
                if found:
                    return found[0]
                await self._changed.wait()

    async def wait_count(
        self, method: str, count: int, *, after: int = 0, within: float = 5.0
    ) -> list[ApiCall]:
        """Wait until at least ``count`` successful ``method`` calls were made."""
        async with asyncio.timeout(within), self._changed:
            while True:
                found = self.find(method, lambda call: call.ok, after=after)
                if len(found) >= count:
                    return found
                await self._changed.wait()

    def sent(self, chat_id: int | None = None, *, after: int = 0) -> list[ApiCall]:
        """Successful sendMessage calls, optionally to one chat."""
        return self.find(
            "sendMessage",
            lambda call: call.ok and (chat_id is None or int(call.params["chat_id"]) == chat_id),
            after=after,
        )

    def last_message(self, chat_id: int) -> dict[str, Any]:
        """The newest message the bot has in ``chat_id`` (as Telegram would return it)."""
        mine = [msg for (cid, _), msg in self.messages.items() if cid == chat_id]
        return max(mine, key=lambda msg: int(msg["message_id"]))

    def request(self) -> InMemoryRequest:
        """A PTB transport that calls this fake directly (no sockets)."""
        return InMemoryRequest(self)

    # -------------------------------------------------------------------- transports
    @asynccontextmanager
    async def serve(self) -> Any:
        """Serve on ``127.0.0.1`` at a free port; ``base_url`` is PTB's ``…/bot`` prefix."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._http_handler)
        runner = web.AppRunner(app, shutdown_timeout=0.2, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}/bot"
        self._runner = runner
        try:
            yield self
        finally:
            # Release a long poll still waiting, or cleanup waits for it to time out.
            self._closing = True
            self._update_arrived.set()
            await runner.cleanup()
            self._closing = False
            self._runner = None

    async def _http_handler(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            status, body = _error(401, "Unauthorized")
            return web.json_response(body, status=status)
        params: dict[str, Any] = {key: _decode(key, value) for key, value in request.query.items()}
        files: dict[str, dict[str, Any]] = {}
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = {
                        "filename": value.filename,
                        "content": value.file.read(),
                        "content_type": value.content_type,
                    }
                else:
                    params[key] = _decode(key, str(value))
        status, body = await self.call(request.match_info["method"], params, files)
        return web.json_response(body, status=status)

    # ------------------------------------------------------------------- the core
    async def call(
        self,
        method: str,
        params: dict[str, Any],
        files: dict[str, dict[str, Any]] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Handle one Bot API call; return the HTTP status and the JSON body."""
        gate = self._gates.get(method)
        if gate is not None:
            async with self._changed:
                self.held.append(method)
                self._changed.notify_all()
            await gate.wait()
        if self.latency and method != "getUpdates":
            await asyncio.sleep(self.latency / 2)
        record = ApiCall(method, params, self.clock(), files=files or {})
        if method == "getUpdates":
            status, body = await self._get_updates(params)
        else:
            status, body = self._dispatch(method, params, record)
            if self.latency:
                await asyncio.sleep(self.latency / 2)
        record.status = status
        record.result = body.get("result", body)
        async with self._changed:
            self.calls.append(record)
            self._changed.notify_all()
        return status, body

    def _dispatch(
        self, method: str, params: dict[str, Any], record: ApiCall
    ) -> tuple[int, dict[str, Any]]:
        if self._failures.get(method):
            return self._failures[method].popleft()
        handler = getattr(self, "_m_" + _snake(method), None)
        if handler is None:
            return _error(404, "Not Found")
        chat_id = params.get("chat_id")
        if chat_id is not None and int(chat_id) in self.blocked_chats:
            return _error(403, "Forbidden: bot was blocked by the user")
        if method in MESSAGE_METHODS and chat_id is not None:
            if self._chat_failures.get(int(chat_id)):
                return self._chat_failures[int(chat_id)].popleft()
            if self.refuse_rate and self._rng.random() < self.refuse_rate:
                self.random_refusals += 1
                return _error(429, "Too Many Requests: retry after 1", retry_after=1)
            flood = self._check_flood(int(chat_id), record.at)
            if flood is not None:
                return flood
        result = handler(params, record)
        if isinstance(result, tuple):
            return result
        return 200, {"ok": True, "result": result}

    def _check_flood(self, chat_id: int, now: float) -> tuple[int, dict[str, Any]] | None:
        limits = self.flood_limits
        if limits is None:
            return None
        while self._recent_sends and self._recent_sends[0] <= now - limits.period:
            self._recent_sends.popleft()
        last = self._last_send_per_chat.get(chat_id)
        too_fast_for_chat = last is not None and now - last < limits.chat_interval
        if len(self._recent_sends) >= limits.global_rate or too_fast_for_chat:
            self.flood_rejections += 1
            self.chat_flood_rejections += int(too_fast_for_chat)
            return _error(
                429,
                f"Too Many Requests: retry after {limits.retry_after}",
                retry_after=limits.retry_after,
            )
        self._recent_sends.append(now)
        self._last_send_per_chat[chat_id] = now
        return None

    async def _get_updates(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self._failures.get("getUpdates"):
            return self._failures["getUpdates"].popleft()
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if offset:
            # Asking from ``offset`` confirms every earlier update.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0 and not self._closing:
            self._update_arrived.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._update_arrived.wait()
            except TimeoutError:
                pass
        return 200, {"ok": True, "result": self._updates[:limit]}

    def _push(self, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **payload}
        self._updates.append(update)
        self._update_arrived.set()
        return update

    def _check_text(self, markup: str, parse_mode: str | None) -> str | None:
        """Why Telegram would refuse this text, or None."""
        if parse_mode == "HTML":
            problems = _html_problems(markup)
            if problems:
                return f"Bad Request: can't parse entities: {problems[0]}"
            shown = visible_text(markup)
        else:
            shown = markup
        if not shown.strip():
            return "Bad Request: message text is empty"
        if _utf16_len(shown) > 4096:
            return "Bad Request: message is too long"
        return None

    @staticmethod
    def _check_markup(markup: Any) -> str | None:
        if not markup:
            return None
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    return "Bad Request: BUTTON_DATA_INVALID"
                if data is None and not button.get("url"):
                    return "Bad Request: can't find field in button"
        return None

    def _store_message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chat(chat_id),
            "from": self.bot_user(),
            **content,
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages[(chat_id, message["message_id"])] = message
        return message

    # ---------------------------------------------------------------- Bot API methods
    def _m_get_me(self, params: dict[str, Any], record: ApiCall) -> Any:
        return self.bot_user()

    def _m_log_out(self, params: dict[str, Any], record: ApiCall) -> Any:
        return True

    def _m_close(self, params: dict[str, Any], record: ApiCall) -> Any:
        return True

    def _m_delete_webhook(self, params: dict[str, Any], record: ApiCall) -> Any:
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _m_set_webhook(self, params: dict[str, Any], record: ApiCall) -> Any:
        self.webhook_url = str(params.get("url", ""))
        self.webhook_secret = str(params.get("secret_token", ""))
        return True

    def _m_get_webhook_info(self, params: dict[str, Any], record: ApiCall) -> Any:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    @staticmethod
    def _scope_key(params: dict[str, Any]) -> str:
        scope = params.get("scope") or {"type": "default"}
        return f"{scope.get('type')}:{params.get('language_code', '')}"

    def _m_set_my_commands(self, params: dict[str, Any], record: ApiCall) -> Any:
        commands = list(params.get("commands") or [])
        for command in commands:
            name = str(command.get("command", ""))
            if not (1 <= len(name) <= 32 and name.replace("_", "").isalnum() and name.islower()):
                return _error(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                return _error(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._scope_key(params)] = commands
        return True

    def _m_get_my_commands(self, params: dict[str, Any], record: ApiCall) -> Any:
        return self.commands.get(self._scope_key(params), [])

    def _m_delete_my_commands(self, params: dict[str, Any], record: ApiCall) -> Any:
        self.commands.pop(self._scope_key(params), None)
        return True

    def _m_send_chat_action(self, params: dict[str, Any], record: ApiCall) -> Any:
        return True

    def _m_get_chat_member(self, params: dict[str, Any], record: ApiCall) -> Any:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        status = "administrator" if user_id in self.admins[chat_id] else "member"
        member: dict[str, Any] = {"status": status, "user": self.user(user_id)}
        if status == "administrator":
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": True,
                    "can_restrict_members": True,
                    "can_promote_members": False,
                    "can_change_info": True,
                    "can_invite_users": True,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                }
            )
        return member

    def _m_answer_callback_query(self, params: dict[str, Any], record: ApiCall) -> Any:
        return True

    def _m_send_message(self, params: dict[str, Any], record: ApiCall) -> Any:
        text = str(params.get("text", ""))
        problem = self._check_text(text, params.get("parse_mode")) or self._check_markup(
            params.get("reply_markup")
        )
        if problem:
            return _error(400, problem)
        shown = visible_text(text) if params.get("parse_mode") == "HTML" else text
        return self._store_message(params, text=shown)

    def _m_send_document(self, params: dict[str, Any], record: ApiCall) -> Any:
        upload = record.files.get("document")
        if upload is None:
            return _error(400, "Bad Request: there is no document in the request")
        document = {
            "file_id": f"doc{len(self.messages)}",
            "file_unique_id": f"u{len(self.messages)}",
            "file_name": upload["filename"],
            "mime_type": upload["content_type"],
            "file_size": len(upload["content"]),
        }
        caption = str(params.get("caption", ""))
        return self._store_message(params, document=document, caption=visible_text(caption))

    def _m_edit_message_text(self, params: dict[str, Any], record: ApiCall) -> Any:
        key = (int(params.get("chat_id", 0)), int(params.get("message_id", 0)))
        message = self.messages.get(key)
        if message is None:
            return _error(400, "Bad Request: message to edit not found")
        text = str(params.get("text", ""))
        problem = self._check_text(text, params.get("parse_mode")) or self._check_markup(
            params.get("reply_markup")
        )
        if problem:
            return _error(400, problem)
        shown = visible_text(text) if params.get("parse_mode") == "HTML" else text
        if shown == message.get("text") and params.get("reply_markup") == message.get(
            "reply_markup"
        ):
            return _error(400, "Bad Request: message is not modified")
        message = {**message, "text": shown, "edit_date": int(time.time())}
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        else:
            message.pop("reply_markup", None)
        self.messages[key] = message
        return message


class NoCommands:
    """A router that answers nothing: for runs that only send (the adapter wants one)."""

    specs: Mapping[str, CommandSpec] = {}

    async def run(self, chat: ChatRef, name: str, args: Sequence[str]) -> list[Reply]:
        return []

    async def handle_text(self, chat: ChatRef, text: str) -> list[Reply]:
        return []

    @property
    def voices(self) -> Voices:
        return Voices()

    @contextlib.asynccontextmanager
    async def speaking(self, chat: ChatRef) -> AsyncIterator[str]:
        yield DEFAULT_LANGUAGE


def _snake(method: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", method).lower()


def _decode(key: str, value: str) -> Any:
    """Form fields arrive JSON-encoded unless they are plain strings (PTB's encoding)."""
    if key in _STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


class InMemoryRequest(BaseRequest):
    """A PTB transport that hands each request straight to ``FakeBotApi.call``."""

    def __init__(self, api: FakeBotApi) -> None:
        self._api = api

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(  # noqa: PLR0917 - PTB's signature
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        token, api_method = url.rsplit("/", 2)[-2:]
        if token != f"bot{self._api.token}":
            return 401, json.dumps({"ok": False, "description": "Unauthorized"}).encode()
        params: dict[str, Any] = {}
        files: dict[str, dict[str, Any]] = {}
        if request_data is not None:
            params = dict(request_data.parameters)
            if request_data.contains_files:
                for name, (filename, content, mime) in request_data.multipart_data.items():
                    raw = content if isinstance(content, bytes) else content.read()
                    files[name] = {"filename": filename, "content": raw, "content_type": mime}
        status, body = await self._api.call(api_method, params, files)
        return status, json.dumps(body).encode()


def iter_buttons(message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every inline button of a message, row by row."""
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        yield from row

"""A small Discord on 127.0.0.1: just enough REST and gateway for discord.py 2.7 smoke tests.

Independent of simcord, so a simcord that lags a discord.py release cannot hide a break.
Serves the REST routes a bot uses for login, command sync, interaction answers and messages,
and a gateway that says HELLO, acknowledges heartbeats and sends READY plus one guild. Tests
dispatch events with ``dispatch`` and wait for the bot's calls with ``wait_for``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

__all__ = ["APP_ID", "BOT_ID", "GUILD_ID", "FakeDiscord", "Request"]

APP_ID = 900_000_000_000_000_001
BOT_ID = APP_ID
GUILD_ID = 900_000_000_000_000_100
CHANNEL_ID = 900_000_000_000_000_101
_TIMESTAMP = "2026-03-02T09:00:00.000000+00:00"


@dataclass
class Request:
    """One REST call the bot made."""

    method: str
    path: str
    body: Any
    query: dict[str, str]


def user_payload(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
        "bot": bot,
    }


@dataclass
class FakeDiscord:
    """The fake's state: recorded calls, failures to inject, the open gateway socket."""

    members: list[tuple[int, str]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    fail: dict[str, tuple[int, int]] = field(default_factory=dict)
    port: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_000))
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _socket: web.WebSocketResponse | None = None
    _runner: web.AppRunner | None = None
    _commands: list[dict[str, Any]] = field(default_factory=list)

    # ------------------------------------------------------------------ lifecycle

    def _add_routes(self, app: web.Application) -> None:
        """The gateway and REST routes this fake serves."""
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)

    async def start(self) -> None:
        app = web.Application()
        self._add_routes(app)
        self._runner = web.AppRunner(app, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._socket is not None and not self._socket.closed:
            await self._socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # ------------------------------------------------------------------ test side

    def new_id(self) -> int:
        return 900_000_000_000_001_000 + next(self._ids)

    def command_id(self, name: str) -> str:
        return next(str(c["id"]) for c in self._commands if c["name"] == name)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        assert self._socket is not None, "the bot is not connected"
        await self._send(self._socket, event, data)

    async def _send(self, socket: web.WebSocketResponse, event: str, data: Any) -> None:
        """A gateway event on ``socket``, numbered in sequence."""
        await socket.send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    async def wait_for(self, predicate: Callable[[Request], bool]) -> Request:
        """The first recorded call matching ``predicate``; waits up to five seconds for it."""
        async with asyncio.timeout(5), self._changed:
            while True:
                for request in self.requests:
                    if predicate(request):
                        return request
                await self._changed.wait()

    def slash(
        self,
        user_id: int,
        name: str,
        *,
        locale: str = "en-US",
        guild_locale: str | None = "en-US",
        **options: str,
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE payload for ``/name`` with string options, in the guild, from
        a person whose Discord app speaks ``locale`` (``guild_locale`` None: the server set
        none)."""
        user = dict(self.members)[user_id]
        payload = {
            "id": str(self.new_id()),
            "application_id": str(APP_ID),
            "type": 2,
            "token": f"token-{self.new_id()}",
            "version": 1,
            "guild_id": str(GUILD_ID),
            "channel_id": str(CHANNEL_ID),
            "channel": {"id": str(CHANNEL_ID), "type": 0, "guild_id": str(GUILD_ID)},
            "member": {
                "user": user_payload(user_id, user),
                "roles": [],
                "joined_at": _TIMESTAMP,
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": str((1 << 46) - 1),
            },
            "app_permissions": str((1 << 46) - 1),
            "locale": locale,
            "entitlements": [],
            "attachment_size_limit": 10_485_760,
            "authorizing_integration_owners": {"0": str(GUILD_ID)},
            "context": 0,
            "data": {
                "id": self.command_id(name),
                "name": name,
                "type": 1,
                "options": [
                    {"name": key, "type": 3, "value": value} for key, value in options.items()
                ],
            },
        }
        if guild_locale is not None:
            payload["guild_locale"] = guild_locale
        return payload

    # ------------------------------------------------------------------ REST

    async def _record(self, request: Request) -> None:
        async with self._changed:
            self.requests.append(request)
            self._changed.notify_all()

    def _message(self, channel_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": str(self.new_id()),
            "channel_id": channel_id,
            "author": user_payload(BOT_ID, "parcelbot", bot=True),
            "content": body.get("content") or "",
            "timestamp": _TIMESTAMP,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": body.get("flags") or 0,
        }

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        raw = await request.read()
        body = json.loads(raw) if raw and request.content_type == "application/json" else None
        await self._record(Request(request.method, path, body, dict(request.query)))
        for prefix, (status, code) in self.fail.items():
            if path.startswith(prefix):
                return _json({"message": "injected", "code": code}, status)
        return _json(self._answer(request.method, path, body or {}))

    def _answer(self, method: str, path: str, body: Any) -> Any:
        parts = path.strip("/").split("/")
        if path == "/users/@me":
            return user_payload(BOT_ID, "parcelbot", bot=True)
        if path == "/oauth2/applications/@me":
            owner = user_payload(1, "owner")
            return {
                "id": str(APP_ID),
                "name": "parcelbot",
                "icon": None,
                "description": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": owner,
                "verify_key": "0" * 64,
                "flags": 0,
            }
        if method == "PUT" and parts[:1] == ["applications"] and parts[-1] == "commands":
            self._commands = [
                {**command, "id": str(self.new_id()), "application_id": str(APP_ID), "version": "1"}
                for command in body_list(body)
            ]
            return self._commands
        if method == "POST" and parts[0] == "interactions":
            kind = int(body.get("type", 4))
            flags = int((body.get("data") or {}).get("flags", 0))
            message = self._message(str(CHANNEL_ID), body.get("data") or {})
            return {
                "interaction": {
                    "id": parts[1],
                    "type": 2,
                    "response_message_id": message["id"],
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": bool(flags & 64),
                },
                "resource": {"type": kind, "message": message},
            }
        if parts[0] == "webhooks":
            return self._message(str(CHANNEL_ID), body)
        if path == "/users/@me/channels":
            recipient = int(body["recipient_id"])
            name = dict(self.members).get(recipient, "someone")
            return {
                "id": str(recipient + 7),
                "type": 1,
                "recipients": [user_payload(recipient, name)],
                "last_message_id": None,
            }
        if method == "POST" and parts[0] == "channels" and parts[-1] == "messages":
            return self._message(parts[1], body)
        return {}

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 45_000}}))
        async for frame in socket:
            if frame.type is not WSMsgType.TEXT:
                break
            message = json.loads(frame.data)
            if message["op"] == 1:
                await socket.send_str(json.dumps({"op": 11}))
            elif message["op"] == 2:
                await self._identified(request, socket, message["d"])
        return socket

    async def _identified(
        self, request: web.Request, socket: web.WebSocketResponse, identify: dict[str, Any]
    ) -> None:
        """The bot sent IDENTIFY on ``socket``: events go there from now on, starting with
        READY and the guild."""
        del request, identify  # one connection, one shard
        self._socket = socket
        await self._ready()

    def _ready_payload(self, guilds: list[dict[str, Any]]) -> dict[str, Any]:
        """READY's data, announcing ``guilds``."""
        return {
            "v": 10,
            "user": user_payload(BOT_ID, "parcelbot", bot=True),
            "guilds": guilds,
            "session_id": "fake-session",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(APP_ID), "flags": 0},
        }

    async def _ready(self) -> None:
        await self.dispatch(
            "READY", self._ready_payload([{"id": str(GUILD_ID), "unavailable": True}])
        )
        members = [(BOT_ID, "parcelbot"), *self.members]
        await self.dispatch(
            "GUILD_CREATE",
            {
                "id": str(GUILD_ID),
                "name": "Loopback",
                "owner_id": "1",
                "unavailable": False,
                "member_count": len(members),
                "roles": [
                    {
                        "id": str(GUILD_ID),
                        "name": "@everyone",
                        "permissions": str((1 << 46) - 1),
                        "position": 0,
                        "color": 0,
                        "hoist": False,
                        "managed": False,
                        "mentionable": False,
                        "flags": 0,
                    }
                ],
                "channels": [
                    {
                        "id": str(CHANNEL_ID),
                        "type": 0,
                        "name": "general",
                        "position": 0,
                        "permission_overwrites": [],
                    }
                ],
                "members": [
                    {
                        "user": user_payload(uid, name, bot=uid == BOT_ID),
                        "roles": [],
                        "joined_at": _TIMESTAMP,
                        "deaf": False,
                        "mute": False,
                        "flags": 0,
                    }
                    for uid, name in members
                ],
            },
        )


def body_list(body: Any) -> list[dict[str, Any]]:
    return list(body) if isinstance(body, list) else []


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py only parses JSON when the content type is exactly "application/json".
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json"},
    )

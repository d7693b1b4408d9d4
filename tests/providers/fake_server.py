"""A scripted HTTP server on 127.0.0.1 for provider tests: real sockets, recorded requests.

Routes answer from a queue per (method, path): each request takes the next answer and the
last answer repeats. An answer is a :class:`Reply` or a function of the recorded request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.loopback import start_loopback

__all__ = [
    "DATA",
    "Answer",
    "FakeServer",
    "Recorded",
    "Reply",
    "html_page",
    "json_reply",
    "load",
    "slow",
    "truncated",
]

DATA = Path(__file__).resolve().parent.parent / "data" / "providers"


def load(relative: str) -> Any:
    """A fixture from tests/data/providers/."""
    return json.loads((DATA / relative).read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request as the server saw it (raw query string and raw body kept)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Answer = Reply | Callable[[Recorded], Reply | Awaitable[Reply]]


def json_reply(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status=status, body=json.dumps(doc).encode(), headers=headers or {})


def html_page(status: int = 200) -> Reply:
    page = b"<!DOCTYPE html><html><body><h1>Service temporarily unavailable</h1></body></html>"
    return Reply(status=status, body=page, content_type="text/html")


def truncated(doc: Any) -> Reply:
    raw = json.dumps(doc).encode()
    return Reply(body=raw[: len(raw) // 2])


def slow(seconds: float, then: Reply) -> Reply:
    return Reply(then.status, then.body, then.content_type, then.headers, delay=seconds)


class FakeServer:
    """Serve scripted answers; ``requests`` records everything received, in order."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._routes: dict[tuple[str, str], list[Answer]] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""

    def route(self, method: str, path: str, *answers: Answer) -> None:
        """Set the answers for ``method path`` (replacing earlier ones)."""
        self._routes[(method.upper(), path)] = list(answers)

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method.upper() and r.path == path]

    async def start(self) -> str:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner, self.url = await start_loopback(app)
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        recorded = Recorded(
            method=request.method,
            path=request.path,
            query={k: v for k, v in request.query.items()},
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.read(),
        )
        self.requests.append(recorded)
        answers = self._routes.get((request.method, request.path))
        if not answers:
            return web.Response(status=404, text='{"error":"no route"}')
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if callable(answer):
            produced = answer(recorded)
            reply = await produced if asyncio.iscoroutine(produced) else produced
        else:
            reply = answer
        assert isinstance(reply, Reply)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return web.Response(
            status=reply.status,
            body=reply.body,
            headers={"content-type": reply.content_type, **reply.headers},
        )

"""Discord shard ranges in separate processes: two real ``parcelbot run`` processes with the
role ``discord`` on one PostgreSQL database, one running shard 0 and the other shard 1 of two,
against the loopback fake Discord. Each connects only its own shard, and a command arriving on
a shard is answered by the process that runs it, once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from core.providers.sandbox import SAMPLE_NUMBERS, Scenario
from tests.bots.discord.fake_discord import GUILD_ID, FakeDiscord, Request
from tests.bots.processes import start_bot
from tests.postgres import postgres_schema
from tests.workers.harness import wait_until

ALICE = 900_000_000_000_000_555
NUMBER = SAMPLE_NUMBERS[Scenario.NORMAL]
TOKEN = "MTE5ODc2NTQzMjEwOTg3NjU0.e2e-fake-discord-shard-token"
SHARDS = 2
OWNER = (GUILD_ID >> 22) % SHARDS
"""The shard Discord delivers the test guild's events on."""


@dataclass
class ShardedDiscord(FakeDiscord):
    """The fake, with one gateway socket per shard and routes that tell the processes apart:
    ``/gw/<who>`` and ``/<who>/api/v10/…``."""

    identified: list[tuple[str, list[int]]] = field(default_factory=list)
    """(process, [shard id, shard count]) of every IDENTIFY."""
    callers: list[tuple[str, Request]] = field(default_factory=list)
    sockets: dict[int, web.WebSocketResponse] = field(default_factory=dict)
    _ready_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _shard: list[int] = field(default_factory=list)

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/gw/{who}", self._gateway)
        app.router.add_route("*", "/{who}/api/v10/{path:.*}", self._rest_from)

    async def stop(self) -> None:
        for socket in self.sockets.values():
            if not socket.closed:
                await socket.close()
        await super().stop()

    def urls(self, who: str) -> tuple[str, str]:
        base = f"127.0.0.1:{self.port}"
        return f"http://{base}/{who}/api/v10", f"ws://{base}/gw/{who}"

    async def _rest_from(self, request: web.Request) -> web.Response:
        response = await self._rest(request)
        self.callers.append((request.match_info["who"], self.requests[-1]))
        return response

    async def _identified(
        self, request: web.Request, socket: web.WebSocketResponse, identify: dict[str, Any]
    ) -> None:
        shard = list(identify.get("shard") or [0, 1])
        self.identified.append((request.match_info["who"], shard))
        self.sockets[shard[0]] = socket
        async with self._ready_lock:
            self._shard = shard
            if shard[0] == OWNER:
                # The guild lives on this shard: READY and its GUILD_CREATE here.
                self._socket = socket
                await self._ready()
            else:
                await self._send(socket, "READY", self._ready_payload([]))

    def _ready_payload(self, guilds: list[dict[str, Any]]) -> dict[str, Any]:
        # A sharded connection's READY names its shard.
        return {**super()._ready_payload(guilds), "shard": self._shard}


async def test_each_process_runs_only_its_shards_and_answers_what_arrives_there(
    tmp_path: Path,
) -> None:
    fake = ShardedDiscord(members=[(ALICE, "alice")])
    await fake.start()
    processes = []
    outputs = []
    try:
        with postgres_schema() as url:
            for shard in range(SHARDS):
                api, gateway = fake.urls(f"p{shard}")
                processes.append(
                    await start_bot(
                        tmp_path,
                        PARCELBOT_DATABASE_URL=url,
                        PARCELBOT_ROLES="discord",
                        PARCELBOT_WORKER_NAME=f"p{shard}",
                        PARCELBOT_DISCORD_TOKEN=TOKEN,
                        PARCELBOT_DISCORD_API_BASE_URL=api,
                        PARCELBOT_DISCORD_GATEWAY_URL=gateway,
                        PARCELBOT_DISCORD_SHARD_COUNT=str(SHARDS),
                        PARCELBOT_DISCORD_SHARD_IDS=str(shard),
                        PARCELBOT_HEALTH_PORT="",
                        PARCELBOT_LOG_LEVEL="WARNING",
                    )
                )
            assert await wait_until(lambda: len(fake.sockets) == SHARDS, 60)
            # Both synced their commands: the command ids are known.
            assert await wait_until(
                lambda: {who for who, r in fake.callers if r.method == "PUT"} == {"p0", "p1"}, 60
            )
            await asyncio.sleep(0.5)  # the owner's guild is in its cache

            interaction = fake.slash(ALICE, "track", number=NUMBER)
            await fake._send(fake.sockets[OWNER], "INTERACTION_CREATE", interaction)
            token = interaction["token"]
            assert await wait_until(
                lambda: any(r.method == "PATCH" and token in r.path for _who, r in fake.callers),
                30,
            )
            await asyncio.sleep(0.5)
            for process in processes:
                process.terminate()
            outputs = [await asyncio.wait_for(p.communicate(), 30) for p in processes]
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await fake.stop()
    logs = "\n".join(err.decode(errors="replace")[-2000:] for _out, err in outputs)
    assert [p.returncode for p in processes] == [0] * SHARDS, logs
    # Each process identified exactly its own shard, of two.
    assert sorted(fake.identified) == [("p0", [0, SHARDS]), ("p1", [1, SHARDS])]
    # The command was answered once, by the process running the shard it arrived on.
    about = [
        (who, r.method) for who, r in fake.callers if interaction["id"] in r.path or token in r.path
    ]
    assert {who for who, _method in about} == {f"p{OWNER}"}
    assert [method for _who, method in about].count("POST") == 1

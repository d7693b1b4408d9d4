"""The real ``parcelbot run`` process against a loopback fake Discord (gateway and REST).

The process is started as a user would start it, configured only through ``PARCELBOT_*``
variables: the Discord token, the fake's REST base and gateway URLs, a database file, the
health port and JSON logs at DEBUG. It logs in, syncs its slash commands, answers ``/track``
over the real gateway socket and REST calls, counts the command in ``/metrics``, never prints
its token, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from core.providers.sandbox import SAMPLE_NUMBERS, Scenario
from tests.bots.discord.fake_discord import APP_ID, FakeDiscord, Request
from tests.bots.processes import start_bot

ALICE = 900_000_000_000_000_555
NUMBER = SAMPLE_NUMBERS[Scenario.NORMAL]
TOKEN = "MTE5ODc2NTQzMjEwOTg3NjU0.e2e-fake-discord-bot-token"


async def wait_for(fake: FakeDiscord, check: Callable[[Request], bool], seconds: float) -> Request:
    async with asyncio.timeout(seconds):
        while True:
            for request in fake.requests:
                if check(request):
                    return request
            await asyncio.sleep(0.05)


class ReadyDiscord(FakeDiscord):
    """The fake, telling when it has sent READY and the guild (events after it are handled)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.identified = asyncio.Event()

    async def _ready(self) -> None:
        await super()._ready()
        self.identified.set()


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"no sample {name} {labels}")


async def test_the_real_process_answers_track_on_a_fake_discord(
    tmp_path: Path, free_tcp_port: int
) -> None:
    fake = ReadyDiscord(members=[(ALICE, "alice")])
    await fake.start()
    process = await start_bot(
        tmp_path,
        PARCELBOT_DISCORD_TOKEN=TOKEN,
        PARCELBOT_DISCORD_API_BASE_URL=fake.api_base,
        PARCELBOT_DISCORD_GATEWAY_URL=fake.gateway_url,
        PARCELBOT_DB=str(tmp_path / "bot.sqlite3"),
        PARCELBOT_HEALTH_PORT=str(free_tcp_port),
        PARCELBOT_LOG_FORMAT="json",
        PARCELBOT_LOG_LEVEL="DEBUG",
    )
    try:
        synced = await wait_for(fake, lambda r: r.method == "PUT", 60)
        assert synced.path == f"/applications/{APP_ID}/commands"
        assert "track" in {command["name"] for command in synced.body}
        await asyncio.wait_for(fake.identified.wait(), 30)

        interaction = fake.slash(ALICE, "track", number=NUMBER)
        await fake.dispatch("INTERACTION_CREATE", interaction)
        token = interaction["token"]
        answer = await wait_for(
            fake, lambda r: r.method == "PATCH" and token in r.path and "@original" in r.path, 30
        )
        assert answer.body["embeds"][0]["title"] == f"UPS {NUMBER}"
        callback = next(r for r in fake.requests if r.path.startswith("/interactions/"))
        assert callback.body == {"type": 5, "data": {"flags": 64}}  # ephemeral

        base = f"http://127.0.0.1:{free_tcp_port}"
        async with httpx.AsyncClient() as client:
            assert (await client.get(base + "/health")).json() == {"status": "ok"}
            ready = await client.get(base + "/ready")
            assert ready.status_code == 200, ready.text
            scraped = (await client.get(base + "/metrics")).text
        assert metric(scraped, "parcelbot_commands_total", command="track", outcome="ok") == 1
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), 30)
        await fake.stop()
    assert process.returncode == 0, err.decode()[-3000:]
    assert "parcelbot is running on discord" in out.decode()
    lines = [line for line in err.decode().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(r["logger"].startswith("discord") for r in records)
    assert TOKEN not in out.decode() + err.decode()

"""The webhook endpoints over real HTTP: signatures, limits, dedupe, feeding the receiver."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from bots.webhooks import SERVER_KEY, WebhookConfig, make_app
from core import providers
from core.models import OrderId, Shipment, ShopPush, ShopPushKind, Status
from core.ports import SeenPushes
from core.providers import aftership, seventeen_track
from storage.db import Database
from tests.fakes import FakeClock
from tests.providers.fake_server import load

SEVENTEEN = load("seventeen_track/webhook_vectors.json")
AFTERSHIP = load("aftership/webhook_vectors.json")
TIKTOK = load("tiktok_shop/webhook_signature_vectors.json")["vectors"]
TT_VECTOR = TIKTOK[2]  # synthetic IN_TRANSIT with test_app_key / test_app_secret

CONFIG = WebhookConfig(
    secrets={
        providers.SEVENTEEN_TRACK.id: (SEVENTEEN["security_key"],),
        providers.AFTERSHIP.id: (AFTERSHIP["webhook_secret"],),
        providers.TIKTOK_SHOP.id: (TT_VECTOR["app_key"], TT_VECTOR["app_secret"]),
    },
    max_body=64 * 1024,
)


@dataclass
class RecordingSink:
    shipments: list[Shipment] = field(default_factory=list)
    events: list[ShopPush] = field(default_factory=list)
    stopped: list[tuple[str, str]] = field(default_factory=list)
    fail_next: bool = False

    async def ingest(self, shipments: Sequence[Shipment]) -> int:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("database is locked")
        self.shipments.extend(shipments)
        return 0

    async def order_event(self, push: ShopPush) -> None:
        self.events.append(push)

    async def tracking_stopped(self, number: str, carrier: str) -> str:
        self.stopped.append((number, carrier))
        return "polling"


@dataclass
class Hooks:
    url: str
    http: httpx.AsyncClient
    sink: RecordingSink
    app: web.Application

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return await self.http.post(self.url + path, content=body, headers=headers)


# The recorded pushes were sent on 1 January 2026; the server's clock is a few minutes later.
SENT = datetime(2026, 1, 1, 12, 10, tzinfo=UTC)


async def start(
    config: WebhookConfig, *, clock: FakeClock | None = None, seen_store: SeenPushes | None = None
) -> AsyncIterator[Hooks]:
    sink = RecordingSink()
    app = make_app(config, sink, clock or FakeClock(SENT), seen_store=seen_store)
    runner = web.AppRunner(app, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with httpx.AsyncClient() as http:
            yield Hooks(f"http://127.0.0.1:{port}", http, sink, app)
    finally:
        await runner.cleanup()


@pytest.fixture
async def hooks() -> AsyncIterator[Hooks]:
    async for value in start(CONFIG):
        yield value


def seventeen(index: int = 0) -> tuple[bytes, dict[str, str]]:
    vector = SEVENTEEN["vectors"][index]
    return vector["raw_body"].encode(), {"sign": vector["expected_sign"]}


def after(index: int = 0) -> tuple[bytes, dict[str, str]]:
    vector = AFTERSHIP["vectors"][index]
    return vector["raw_body"].encode(), {"aftership-hmac-sha256": vector["expected_header"]}


def tiktok(vector: dict[str, Any] = TT_VECTOR) -> tuple[bytes, dict[str, str]]:
    return vector["raw_body"].encode(), {"Authorization": vector["expected_authorization"]}


async def test_17track_push_feeds_the_sink(hooks: Hooks) -> None:
    response = await hooks.post("/webhooks/17track", *seventeen())
    assert response.status_code == 200
    assert response.json() == {"status": "processed"}
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    [shipment] = hooks.sink.shipments
    assert shipment.number == "9400111206206406260787"
    assert shipment.carrier == "usps"
    assert shipment.status is Status.IN_TRANSIT


async def test_17track_stopped_push_reaches_the_sink(hooks: Hooks) -> None:
    response = await hooks.post("/webhooks/17track", *seventeen(1))
    # The sink's word for what it did is the answer.
    assert response.json() == {"status": "polling"}
    assert hooks.sink.stopped == [("9400111206206406260787", "usps")]
    assert hooks.sink.shipments == []


async def test_aftership_push_feeds_the_sink(hooks: Hooks) -> None:
    response = await hooks.post("/webhooks/aftership", *after())
    assert response.status_code == 200
    [shipment] = hooks.sink.shipments
    assert shipment.provider == "aftership"
    assert shipment.status is Status.IN_TRANSIT


async def test_tiktok_push_reaches_order_events(hooks: Hooks) -> None:
    response = await hooks.post("/webhooks/tiktok", *tiktok())
    assert response.status_code == 200
    # The signed body's order push, in the core's words.
    assert hooks.sink.events == [
        ShopPush(ShopPushKind.ORDER, "7494049642642441621", (OrderId("576486316948490001"),))
    ]


@pytest.mark.parametrize(
    ("path", "make"),
    [
        ("/webhooks/17track", lambda: seventeen(2)),
        ("/webhooks/aftership", lambda: after(1)),
        ("/webhooks/tiktok", lambda: tiktok(TIKTOK[4])),
    ],
    ids=["17track-wrong-key", "aftership-wrong-secret", "tiktok-tampered"],
)
async def test_negative_vectors_are_refused(hooks: Hooks, path: str, make: Any) -> None:
    body, headers = make()
    response = await hooks.post(path, body, headers)
    assert response.status_code == 401
    assert hooks.sink.shipments == []
    assert hooks.sink.events == []


@pytest.mark.parametrize(
    ("path", "make"),
    [
        ("/webhooks/17track", seventeen),
        ("/webhooks/aftership", after),
        ("/webhooks/tiktok", tiktok),
    ],
)
async def test_missing_signature_and_changed_body_are_refused(
    hooks: Hooks, path: str, make: Any
) -> None:
    body, headers = make()
    assert (await hooks.post(path, body, {})).status_code == 401
    assert (await hooks.post(path, body + b" ", headers)).status_code == 401


async def test_duplicates_are_processed_once(hooks: Hooks) -> None:
    first = await hooks.post("/webhooks/aftership", *after())
    second = await hooks.post("/webhooks/aftership", *after())
    assert first.json() == {"status": "processed"}
    assert second.json() == {"status": "duplicate"}
    assert len(hooks.sink.shipments) == 1
    await hooks.post("/webhooks/tiktok", *tiktok())
    await hooks.post("/webhooks/tiktok", *tiktok())
    assert len(hooks.sink.events) == 1
    await hooks.post("/webhooks/17track", *seventeen())
    await hooks.post("/webhooks/17track", *seventeen())
    assert len(hooks.sink.shipments) == 2


async def test_a_failed_delivery_is_not_remembered(hooks: Hooks) -> None:
    hooks.sink.fail_next = True
    failed = await hooks.post("/webhooks/17track", *seventeen())
    assert failed.status_code == 500
    retried = await hooks.post("/webhooks/17track", *seventeen())
    assert retried.json() == {"status": "processed"}


async def test_a_push_without_a_body_is_refused_as_unsigned(hooks: Hooks) -> None:
    sign = seventeen_track.push_signature(SEVENTEEN["security_key"], b"x")
    for path in ("/webhooks/17track", "/webhooks/aftership", "/webhooks/tiktok"):
        response = await hooks.post(path, b"", {"sign": sign})
        assert response.status_code == 401, (path, response.text)
        assert response.json() == {"error": "bad signature"}


async def test_oversized_body_is_refused(hooks: Hooks) -> None:
    body = b'{"event":"TRACKING_UPDATED","pad":"' + b"x" * (70 * 1024) + b'"}'
    sign = seventeen_track.push_signature(SEVENTEEN["security_key"], body)
    response = await hooks.post("/webhooks/17track", body, {"sign": sign})
    assert response.status_code == 413


async def test_a_large_push_arriving_in_pieces_is_read_whole(hooks: Hooks) -> None:
    # JSON allows trailing whitespace: a valid push just under the limit, signed as sent.
    raw, _ = seventeen()
    body = raw + b" " * (CONFIG.max_body - len(raw) - 1)
    sign = seventeen_track.push_signature(SEVENTEEN["security_key"], body)

    async def pieces() -> AsyncIterator[bytes]:
        # Chunked, no Content-Length, with pauses: the server sees the body a bit at a time.
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]
            await asyncio.sleep(0.001)

    response = await hooks.http.post(
        hooks.url + "/webhooks/17track", content=pieces(), headers={"sign": sign}
    )
    assert response.status_code == 200
    assert response.json() == {"status": "processed"}
    [shipment] = hooks.sink.shipments
    assert shipment.number == "9400111206206406260787"


async def test_validly_signed_garbage_is_malformed(hooks: Hooks) -> None:
    for body in (b"not json", b"[1,2]", b'{"event":"TRACKING_UPDATED","data":{}}'):
        sign = seventeen_track.push_signature(SEVENTEEN["security_key"], body)
        assert (await hooks.post("/webhooks/17track", body, {"sign": sign})).status_code == 400
    body = b'{"msg": 5}'
    header = aftership.webhook_signature(AFTERSHIP["webhook_secret"], body)
    response = await hooks.post("/webhooks/aftership", body, {"aftership-hmac-sha256": header})
    assert response.status_code == 400


async def test_unconfigured_provider_has_no_endpoint() -> None:
    async for hooks in start(WebhookConfig(secrets={providers.SEVENTEEN_TRACK.id: ("k",)})):
        assert (await hooks.post("/webhooks/aftership", *after())).status_code == 404
        assert (await hooks.post("/webhooks/tiktok", *tiktok())).status_code == 404


async def test_counts_refusals_and_serves_no_health_page(hooks: Hooks) -> None:
    await hooks.post("/webhooks/17track", *seventeen(2))
    assert hooks.app[SERVER_KEY].counts == {"17track.forged": 1}
    # Health and metrics live on the operations port (bots.ops), not the public one.
    assert (await hooks.http.get(hooks.url + "/health")).status_code == 404
    assert (await hooks.http.get(hooks.url + "/webhooks/17track")).status_code == 405


# ------------------------------------------------------------------ hardening


async def test_a_deeply_nested_signed_body_is_400_not_500(hooks: Hooks) -> None:
    def signed(path: str, body: bytes) -> dict[str, str]:
        if path.endswith("17track"):
            return {"sign": seventeen_track.push_signature(SEVENTEEN["security_key"], body)}
        return {
            "aftership-hmac-sha256": aftership.webhook_signature(AFTERSHIP["webhook_secret"], body)
        }

    for path in ("/webhooks/17track", "/webhooks/aftership"):
        for body in (b"[" * 20_000 + b"]" * 20_000, b'{"data":' * 3_000 + b"1" + b"}" * 3_000):
            response = await hooks.post(path, body, signed(path, body))
            assert response.status_code == 400, (path, response.text)
            assert response.json() == {"error": "malformed body"}


def _aftership_sent(at: datetime, event_id: str) -> tuple[bytes, dict[str, str]]:
    """The recorded AfterShip push, as if sent at ``at``, signed."""
    doc = json.loads(AFTERSHIP["vectors"][0]["raw_body"])
    doc["ts"], doc["event_id"] = int(at.timestamp()), event_id
    body = json.dumps(doc).encode()
    return body, {
        "aftership-hmac-sha256": aftership.webhook_signature(AFTERSHIP["webhook_secret"], body)
    }


async def test_a_push_sent_long_ago_is_ignored(hooks: Hooks) -> None:
    old = _aftership_sent(datetime(2023, 5, 1, tzinfo=UTC), "replayed-from-2023")
    response = await hooks.post("/webhooks/aftership", *old)
    assert response.json() == {"status": "stale"}
    assert hooks.sink.shipments == []
    assert hooks.app[SERVER_KEY].counts["aftership.stale"] == 1
    # The same push sent now is processed.
    fresh = _aftership_sent(SENT, "replayed-from-2023")
    assert (await hooks.post("/webhooks/aftership", *fresh)).json() == {"status": "processed"}


async def test_repeat_filters_survive_a_restart(tmp_path: Path) -> None:
    async with Database.open(tmp_path / "hooks.sqlite3") as db:
        async for first in start(CONFIG, seen_store=db.webhook_seen):
            assert (await first.post("/webhooks/17track", *seventeen())).json() == {
                "status": "processed"
            }
            assert (await first.post("/webhooks/aftership", *after())).json() == {
                "status": "processed"
            }
    # A new process on the same database: the replays are duplicates.
    async with Database.open(tmp_path / "hooks.sqlite3") as db:
        async for second in start(CONFIG, seen_store=db.webhook_seen):
            assert (await second.post("/webhooks/17track", *seventeen())).json() == {
                "status": "duplicate"
            }
            assert (await second.post("/webhooks/aftership", *after())).json() == {
                "status": "duplicate"
            }
            assert second.sink.shipments == []


async def test_a_slow_sender_is_cut_off() -> None:
    config = replace(CONFIG, read_timeout=0.5)
    async for hooks in start(config):
        host, port = hooks.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        body, headers = seventeen()
        head = (
            f"POST /webhooks/17track HTTP/1.1\r\nHost: x\r\nsign: {headers['sign']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body[:10])  # then nothing more
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), timeout=10)
        writer.close()
        assert b" 408 " in status
        assert hooks.sink.shipments == []

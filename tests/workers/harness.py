"""Several real ``parcelbot run --role poller,sender`` processes on one database, against a
fake 17TRACK and a fake Telegram Bot API served on one loopback port.

Each worker is told its own base URLs (``/<worker>/track/v2.2``, ``/<worker>/bot``), so the
fakes know which process made every request: they record each number fetched and each
message sent, with the time it arrived. ``Fleet`` starts, kills (SIGKILL) and restarts
workers; ``seed`` fills a database with parcels, chats and their stored snapshots; the
``Edge`` answers every 17TRACK number as stored, except the ``moving`` ones, which gain an
"out for delivery" scan — one alert each for the chat following it.

Used by the kill test (``tests/workers/test_kill.py``) and ``benchmarks/workers.py``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from core.models import (
    Alert,
    AlertKind,
    ChatRef,
    Platform,
    ShipmentKey,
    SnapshotWrite,
    TrackingNumber,
    TrackRequest,
)
from core.providers.seventeen_track.parse import parse_track_info
from storage.codec import chat_to_columns, time_to_text
from storage.db import Database
from tests.arrivals import most_in_window
from tests.loopback import start_loopback
from tests.providers.fake_server import load

__all__ = ["Edge", "Fleet", "Plan", "most_in_window", "number", "seed", "wait_for", "wait_until"]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456:WORKERS-TEST-TOKEN"
KEY = "WORKERS17TRACKKEY"
CARRIER = "usps"
_BASE = load("seventeen_track/gettrackinfo_in_transit.json")["body"]["data"]["accepted"][0]


def _shift_times(node: Any, delta: timedelta) -> Any:
    """The fixture's track_info with every ISO time moved by ``delta`` (its scans happened
    just now rather than on the day it was recorded)."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for name, value in node.items():
            if name in {"time_iso", "time_utc", "from", "to"} and isinstance(value, str):
                out[name] = (datetime.fromisoformat(value) + delta).isoformat()
            elif name == "time_raw":
                out[name] = None
            else:
                out[name] = _shift_times(value, delta)
        return out
    if isinstance(node, list):
        return [_shift_times(item, delta) for item in node]
    return node


def base_info(now: datetime) -> dict[str, Any]:
    """An in-transit track_info whose latest scan was two hours before ``now``."""
    latest = datetime.fromisoformat(_BASE["track_info"]["latest_event"]["time_utc"])
    info: dict[str, Any] = _shift_times(_BASE["track_info"], now - timedelta(hours=2) - latest)
    return info


def moved_info(info: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """``info`` plus an "out for delivery" scan ten minutes before ``now``."""
    moved = copy.deepcopy(dict(info))
    at = (now - timedelta(minutes=10)).astimezone(UTC)
    scan = copy.deepcopy(moved["latest_event"])
    scan.update(
        time_iso=at.isoformat(),
        time_utc=at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        description="Out for Delivery",
        stage="OutForDelivery",
        sub_status="OutForDelivery_Other",
    )
    moved["latest_event"] = scan
    moved["latest_status"] = {
        "status": "OutForDelivery",
        "sub_status": "OutForDelivery_Other",
        "sub_status_descr": None,
    }
    provider = moved["tracking"]["providers"][0]
    provider["events"] = [scan, *provider["events"]]
    return moved


def number(index: int) -> str:
    return f"9400111206{index:012d}"


@dataclass(frozen=True, slots=True)
class Plan:
    """What one run holds: ``parcels`` parcels, ``per_chat`` of them per Telegram chat, and
    every ``move_every``-th one moving (one alert each)."""

    parcels: int
    per_chat: int = 4
    move_every: int = 20
    backlog: int = 0
    """Alerts already queued when the workers start (one per chat, on quiet parcels)."""

    def chat_of(self, index: int) -> int:
        return 1_000_000 + index // self.per_chat

    def moving(self) -> list[int]:
        return list(range(0, self.parcels, self.move_every))

    def queued(self) -> list[int]:
        """The parcels whose alert is in the outbox from the start (the second of each chat's
        parcels: a different chat each, never a moving one while ``move_every`` is a
        multiple of ``per_chat``)."""
        return list(range(1, self.parcels, self.per_chat))[: self.backlog]

    def alerts(self) -> int:
        """Alerts every run must deliver."""
        return len(self.moving()) + len(self.queued())


async def seed(location: str, plan: Plan, now: datetime) -> dict[str, dict[str, Any]]:
    """Store the plan's parcels (due now, with the snapshot the fake will return for the
    quiet ones), chats and subscriptions; return each number's track_info to serve."""
    info = base_info(now)
    moving = set(plan.moving())
    queued = set(plan.queued())
    served: dict[str, dict[str, Any]] = {}
    async with Database.open(location) as db:
        writes: list[SnapshotWrite] = []
        for index in range(plan.parcels):
            text = number(index)
            request = TrackRequest(TrackingNumber(text), CARRIER, now - timedelta(days=2))
            stored = parse_track_info(info, request, now - timedelta(minutes=30))
            alerts: tuple[tuple[ChatRef, Alert], ...] = ()
            if index in queued:
                chat_id = str(plan.chat_of(index))
                who = ChatRef(Platform.TELEGRAM, chat_id, chat_id)
                event = stored.events[0] if stored.events else None
                alert = Alert(AlertKind.OUT_FOR_DELIVERY, stored.key, f"{text}|queued", event)
                alerts = ((who, alert),)
            writes.append(SnapshotWrite(stored, now, alerts))
            served[text] = moved_info(info, now) if index in moving else info
            if len(writes) == 1000:
                await db.shipments.save_many(writes)
                writes = []
        if writes:
            await db.shipments.save_many(writes)
        # One statement per row in one transaction (``SubscriptionRepository.add`` makes a
        # transaction of each, too slow for ten thousand).
        since = time_to_text(now - timedelta(days=2))
        rows = []
        for index in range(plan.parcels):
            chat_id = str(plan.chat_of(index))
            who = ChatRef(Platform.TELEGRAM, chat_id, chat_id)
            rows.append((*chat_to_columns(who), CARRIER, number(index), since))
        async with db.connection.transaction() as tx:
            await tx.write_many(
                "INSERT INTO subscriptions (chat_key, platform, chat_id, user_id, is_group, "
                "carrier, number, label, preference, muted, archived, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, '', NULL, 0, 0, ?)",
                rows,
            )
        sample = ShipmentKey(CARRIER, TrackingNumber(number(0)))
        assert await db.subscriptions.subscribers([sample]), "subscriptions read back"
    return served


@dataclass
class Edge:
    """The fake 17TRACK and Telegram Bot API; every request is recorded with its worker."""

    infos: dict[str, dict[str, Any]]
    fetches: list[tuple[float, str, str]] = field(default_factory=list)
    """(arrival, worker, number) of every number asked in ``gettrackinfo``."""
    provider_calls: list[float] = field(default_factory=list)
    sends: list[tuple[float, str, str, str]] = field(default_factory=list)
    """(arrival, worker, chat id, text) of every ``sendMessage``."""
    other_calls: Counter[str] = field(default_factory=Counter)
    _runner: web.AppRunner | None = None
    _message_id: int = 0
    _encoded: dict[tuple[str, int], bytes] = field(default_factory=dict)

    def prepare(self) -> None:
        """Encode every answer ahead of the run (the carrier code 17TRACK knows USPS by)."""
        for text in self.infos:
            self._entry(text, 21051)

    async def start(self) -> int:
        self.prepare()
        app = web.Application()
        app.router.add_route("*", "/{worker}/{rest:.*}", self._handle)
        self._runner, _url = await start_loopback(app)
        return int(self._runner.addresses[0][1])

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        worker, rest = request.match_info["worker"], request.match_info["rest"]
        if rest.startswith("track/v2.2/"):
            return self._tracker(worker, rest.rsplit("/", 1)[-1], await request.read())
        if rest.startswith("bot"):
            params: dict[str, Any] = {}
            if request.content_type == "application/json":
                params = await request.json()
            else:
                for name, value in (await request.post()).items():
                    try:
                        params[name] = json.loads(str(value))
                    except ValueError:
                        params[name] = str(value)
            return self._telegram(worker, rest.rsplit("/", 1)[-1], params)
        return web.Response(status=404)

    def _tracker(self, worker: str, action: str, body: bytes) -> web.Response:
        now = time.monotonic()
        self.provider_calls.append(now)
        items = json.loads(body)
        accepted: list[bytes] = []
        if action == "gettrackinfo":
            for item in items:
                self.fetches.append((now, worker, item["number"]))
                accepted.append(self._entry(item["number"], item.get("carrier", 21051)))
        else:
            self.other_calls[action] += 1
        # Pre-encoded entries: the fake's own work must not delay the requests it times.
        doc = b'{"code":0,"data":{"accepted":[' + b",".join(accepted) + b'],"rejected":[]}}'
        return web.Response(body=doc, headers={"Content-Type": "application/json"})

    def _entry(self, text: str, carrier: int) -> bytes:
        found = self._encoded.get((text, carrier))
        if found is None:
            entry = {
                "number": text,
                "carrier": carrier,
                "param": None,
                "tag": "",
                "track_info": self.infos[text],
            }
            found = self._encoded[text, carrier] = json.dumps(entry).encode()
        return found

    def _telegram(self, worker: str, method: str, params: dict[str, Any]) -> web.Response:
        result: Any = True
        if method == "getMe":
            result = {
                "id": 123456,
                "is_bot": True,
                "first_name": "parcelbot",
                "username": "parcelbot_test_bot",
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        elif method == "sendMessage":
            chat_id = str(params["chat_id"])
            self.sends.append((time.monotonic(), worker, chat_id, str(params.get("text", ""))))
            self._message_id += 1
            result = {
                "message_id": self._message_id,
                "date": int(time.time()),
                "chat": {"id": int(chat_id), "type": "private"},
                "text": str(params.get("text", "")),
            }
        else:
            self.other_calls[method] += 1
        body = json.dumps({"ok": True, "result": result}).encode()
        return web.Response(body=body, headers={"Content-Type": "application/json"})


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    started: float
    killed_at: float | None = None


@dataclass
class Fleet:
    """Worker processes on ``database`` talking to the fakes on ``port``."""

    database: str
    port: int
    logs: Path
    settings: dict[str, str] = field(default_factory=dict)
    root: Path = ROOT
    """The checkout the workers run (another one for an A/B benchmark)."""
    workers: dict[str, Worker] = field(default_factory=dict)
    generations: Counter[str] = field(default_factory=Counter)

    def env(self, name: str) -> dict[str, str]:
        base = f"http://127.0.0.1:{self.port}/{name}"
        keep = {k: v for k, v in os.environ.items() if not k.startswith("PARCELBOT_")}
        return {
            **keep,
            "PYTHONPATH": str(self.root),
            "PARCELBOT_DATABASE_URL": self.database,
            "PARCELBOT_WORKER_NAME": name,
            "PARCELBOT_TELEGRAM_TOKEN": TOKEN,
            "PARCELBOT_TELEGRAM_API_BASE_URL": f"{base}/bot",
            "PARCELBOT_SEVENTEEN_TRACK_API_KEY": KEY,
            "PARCELBOT_SEVENTEEN_TRACK_BASE_URL": f"{base}/track/v2.2",
            "PARCELBOT_LOG_LEVEL": "WARNING",
            **self.settings,
        }

    def start(self, slot: str) -> Worker:
        """Start (or restart) the worker in ``slot``; each start has a name of its own."""
        self.generations[slot] += 1
        name = f"{slot}g{self.generations[slot]}"
        log = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "bots", "run", "--role", "poller,sender"],
            cwd=self.root,
            env=self.env(name),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        worker = Worker(name, process, time.monotonic())
        self.workers[slot] = worker
        return worker

    def kill(self, slot: str) -> Worker:
        """SIGKILL the worker in ``slot`` (no chance to finish or release anything)."""
        worker = self.workers[slot]
        worker.process.send_signal(signal.SIGKILL)
        worker.process.wait()
        worker.killed_at = time.monotonic()
        return worker

    def stop_all(self, grace: float = 20.0) -> list[int]:
        """SIGTERM every running worker; their exit codes."""
        running = [w for w in self.workers.values() if w.process.poll() is None]
        for worker in running:
            worker.process.send_signal(signal.SIGTERM)
        codes = []
        for worker in running:
            try:
                codes.append(worker.process.wait(timeout=grace))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                codes.append(worker.process.wait())
        return codes

    def alive(self) -> Iterator[Worker]:
        return (w for w in self.workers.values() if w.process.poll() is None)

    def log_tail(self, lines: int = 20) -> str:
        out = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").strip().splitlines()[-lines:]
            if text:
                out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)


async def wait_for(check: Callable[[], Awaitable[bool]], within: float, step: float = 0.2) -> bool:
    """Poll the coroutine ``check()`` until true or ``within`` seconds passed."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(step)
    return await check()


async def wait_until(check: Callable[[], bool], within: float, step: float = 0.1) -> bool:
    """Poll ``check()`` until true or ``within`` seconds passed."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(step)
    return bool(check())

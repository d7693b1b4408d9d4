"""Who sees what, end to end: every reply, alert, digest, button and report path × every
context × every sensitive field, through the real service, the real SQLite store, the real
flusher and the real Telegram and Discord renderers (with the adapters' own choice of what
may be posted where).

One parcel in transit and one delivered are planted with a personal value in every sensitive
field: the number, the shop order id, the shop's promised date, a delivery address, the
signer's name (in the proof of delivery and in the carrier's scan text). The table says, per
path and context, which of them must show; every other one must not.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bots.discord_bot.render import render as discord_render
from bots.telegram_bot.render import CallbackCodec
from bots.telegram_bot.render import render as telegram_render
from bots.telegram_bot.sender import shown_in
from core.commands import CommandRouter
from core.errors import ShipmentNotFound
from core.models import (
    Alert,
    AlertKind,
    ChatRef,
    Eta,
    EtaSource,
    IncidentReason,
    IndexedParcel,
    Order,
    OrderId,
    OrderStatus,
    Platform,
    ProofKind,
    ProofOfDelivery,
    Shipment,
    SnapshotWrite,
    Status,
    TrackBatch,
    TrackingEvent,
    TrackingNumber,
    TrackRequest,
)
from core.privacy import Context
from core.replies import Reply, ReplyKind, for_context
from core.service import ParcelService
from storage.db import Database
from tests.fakes import FakeClock, RecordingNotifier

MOVING = TrackingNumber("1ZSBX1230300000076")
DELIVERED = TrackingNumber("1ZSBX1230300000263")
ORDER = OrderId("576000000000000042")
POSTCODE = "10115"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PROMISED = datetime(2026, 3, 20, 18, 0, tzinfo=UTC)

NUMBER, ORDER_ID, PROMISE, ADDRESS, PERSON = "number", "order", "promise", "address", "person"
# The literal text each field shows as when it is shown.
SHOWS: dict[str, tuple[str, ...]] = {
    NUMBER: (MOVING, DELIVERED),
    ORDER_ID: (ORDER,),
    PROMISE: ("20 Mar",),
    ADDRESS: ("Baker Street",),
    PERSON: ("JANE ROE",),
}


def _moving() -> Shipment:
    return Shipment(
        "ups",
        MOVING,
        Status.IN_TRANSIT,
        events=(
            TrackingEvent(START - timedelta(days=1), Status.INFO_RECEIVED, "Label created"),
            TrackingEvent(
                START - timedelta(hours=2),
                Status.IN_TRANSIT,
                "Departed facility for 12 Baker Street",
                "12 Baker Street, London",
            ),
        ),
        eta=Eta(
            START + timedelta(days=3),
            START + timedelta(days=4),
            START + timedelta(days=3, hours=6),
            EtaSource.CARRIER,
        ),
        provider="planted",
    )


def _delivered() -> Shipment:
    when = START - timedelta(hours=1)
    return Shipment(
        "ups",
        DELIVERED,
        Status.DELIVERED,
        events=(
            TrackingEvent(START - timedelta(days=2), Status.IN_TRANSIT, "Arrived", "Leeds"),
            TrackingEvent(
                when,
                Status.DELIVERED,
                "Delivered, signed by JANE ROE",
                "12 Baker Street, London",
            ),
        ),
        delivered_at=when,
        proof=ProofOfDelivery(ProofKind.SIGNATURE, "JANE ROE"),
        provider="planted",
    )


class PlantedProvider:
    """A tracking source that knows the two planted parcels."""

    name = "planted"
    max_batch = 40

    def supports(self, carrier: str) -> bool:
        return carrier == "ups"

    async def track(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        known = {MOVING: _moving(), DELIVERED: _delivered()}
        batch = TrackBatch()
        for request in requests:
            if request.number in known:
                batch.shipments[request.key] = known[request.number]
            else:
                batch.errors[request.key] = ShipmentNotFound()
        return batch


class PlantedShop:
    """The shop that sold the parcel in transit, with a promised date and a postcode."""

    name = "planted_shop"

    async def get_orders(self, order_ids: Sequence[OrderId]) -> dict[OrderId, Order]:
        order = Order(
            ORDER,
            "Planted Shop",
            OrderStatus.IN_TRANSIT,
            shipments=(TrackRequest(MOVING, "ups"),),
            promised_by=PROMISED,
            postcode=POSTCODE,
        )
        return {ORDER: order} if ORDER in order_ids else {}


@dataclass(frozen=True)
class Where:
    """A context and the chat that talks from it."""

    name: str
    context: Context
    chat: ChatRef


ALICE_TG = "100"
ALICE_DC = "200"
PLACES = (
    Where("telegram private", Context.PRIVATE, ChatRef(Platform.TELEGRAM, ALICE_TG, ALICE_TG)),
    Where(
        "telegram group",
        Context.GROUP,
        ChatRef(Platform.TELEGRAM, "-500", ALICE_TG, is_group=True),
    ),
    Where("discord dm", Context.DM, ChatRef(Platform.DISCORD, ALICE_DC, ALICE_DC)),
    Where("discord server", Context.SERVER, ChatRef(Platform.DISCORD, ALICE_DC, ALICE_DC)),
)


def rendered(where: Where, reply: Reply) -> str:
    """Everything a reader in ``where`` gets for ``reply``: text, buttons, commands, links."""
    parts: list[str] = []
    if where.context in (Context.PRIVATE, Context.GROUP):
        shown = shown_in(where.chat, reply, "parcel_test_bot")
        for message in telegram_render(shown, CallbackCodec()):
            parts.append(message.text)
            if message.keyboard is not None:
                for row in message.keyboard.inline_keyboard:
                    for button in row:
                        parts.extend((button.text, str(button.callback_data), button.url or ""))
        if shown.attachment is not None:
            parts.append(shown.attachment.content.decode())
        return "\n".join(parts)
    if where.context is Context.SERVER:
        # The Discord sender posts in a channel only what ``for_context`` allows there.
        public = for_context(reply, Context.SERVER)
        if public is None:
            return "<sent by DM instead>"
        out = discord_render(public, actions=False)
    else:
        out = discord_render(reply)
    parts.append(json.dumps(out.embed.to_dict(), ensure_ascii=False))
    if out.view is not None:
        for item in out.view.children:
            parts.extend(
                str(getattr(item, name, "") or "") for name in ("label", "custom_id", "url")
            )
    if out.file is not None:
        parts.append(out.file.filename or "")
        if where.context is Context.DM and reply.attachment is not None:
            parts.append(reply.attachment.content.decode())
    return "\n".join(parts)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[ParcelService, Database, FakeClock]]:
    clock = FakeClock(START)
    async with Database.open(tmp_path / "privacy.sqlite3") as db:
        service = ParcelService(
            provider=PlantedProvider(),
            store=db,
            clock=clock,
            orders=PlantedShop(),
            rng=random.Random(3),
        )
        await db.order_index.upsert([IndexedParcel(MOVING, "ups", "shop", ORDER, "", START)])
        yield service, db, clock


async def _prepare(router: CommandRouter, chat: ChatRef) -> None:
    """The owner verifies the order and follows both parcels (the delivered one labelled)."""
    if not chat.is_group:
        await router.run(chat, "verify", [ORDER, POSTCODE])
    await router.run(chat, "subscribe", [MOVING, "ups"])
    await router.run(chat, "subscribe", [DELIVERED, "ups", "lamp"])


Command = tuple[str, list[str]]

# Command paths: (name, args) and the fields a private context must show.
COMMANDS: dict[str, tuple[Command, frozenset[str]]] = {
    "track in transit": (
        ("track", [MOVING, "ups"]),
        frozenset({NUMBER, ORDER_ID, PROMISE, ADDRESS}),
    ),
    "track delivered": (("track", [DELIVERED, "ups"]), frozenset({NUMBER, ADDRESS, PERSON})),
    "timeline": (("history", [DELIVERED, "ups"]), frozenset({NUMBER, ADDRESS, PERSON})),
    "subscribe": (("subscribe", [MOVING, "ups"]), frozenset({NUMBER, PROMISE, ADDRESS})),
    "list": (("list", []), frozenset({NUMBER})),
    "settings": (("notify", []), frozenset()),
    "mute": (("mute", [MOVING]), frozenset({NUMBER})),
    "report": (("report", [MOVING]), frozenset({NUMBER, ORDER_ID, PROMISE, ADDRESS})),
    "orders": (("orders", []), frozenset({NUMBER, ORDER_ID})),
    "verify": (("verify", [ORDER, POSTCODE]), frozenset({NUMBER, ORDER_ID, ADDRESS})),
    "unsubscribe": (("unsubscribe", [MOVING]), frozenset({NUMBER})),
}

_COMMAND_PLACES = [where for where in PLACES if where.context is not Context.SERVER]


def _check(text: str, expected: frozenset[str], where: Where, path: str) -> None:
    for field, shows in SHOWS.items():
        found = [value for value in shows if value in text]
        if field in expected and where.context in (Context.PRIVATE, Context.DM):
            assert found, f"{path} in {where.name} should show the {field}:\n{text}"
        else:
            assert not found, f"{path} in {where.name} shows the {field} {found}:\n{text}"


@pytest.mark.parametrize("where", _COMMAND_PLACES, ids=lambda w: w.name)
@pytest.mark.parametrize("path", list(COMMANDS))
async def test_command_replies(
    world: tuple[ParcelService, Database, FakeClock], where: Where, path: str
) -> None:
    service, _db, _clock = world
    router = CommandRouter(service)
    await _prepare(router, where.chat)
    (name, args), expected = COMMANDS[path]
    if where.chat.is_group and name == "verify":
        # Proving an order in a group: the answer is a pointer to the private chat.
        expected = frozenset()
    replies = await router.run(where.chat, name, args)
    text = "\n".join(rendered(where, reply) for reply in replies)
    _check(text, expected, where, path)
    if where.context is Context.GROUP:
        # Shared answers about a parcel name their owner.
        for reply in replies:
            shared = for_context(reply, Context.GROUP)
            if shared is not None and shared.kind is not ReplyKind.INFO:
                assert shared.owner == ALICE_TG, path


def _alerts(moving: Shipment, delivered: Shipment) -> list[tuple[Alert, frozenset[str]]]:
    """One alert of every kind, with the fields a private context must show."""
    scan = moving.events[-1]
    done = delivered.events[-1]
    mk, dk = moving.key, delivered.key
    return [
        (Alert(AlertKind.SHIPPED, mk, "a1", event=scan), frozenset({NUMBER, ADDRESS})),
        (Alert(AlertKind.MOVED, mk, "a2", event=scan), frozenset({NUMBER, ADDRESS})),
        (Alert(AlertKind.OUT_FOR_DELIVERY, mk, "a3", event=scan), frozenset({NUMBER, ADDRESS})),
        (
            Alert(AlertKind.AVAILABLE_FOR_PICKUP, mk, "a4", event=scan),
            frozenset({NUMBER, ADDRESS}),
        ),
        (
            Alert(AlertKind.DELIVERED, dk, "a5", event=done, detail="Left with JANE ROE"),
            frozenset({NUMBER, PERSON}),
        ),
        (
            Alert(AlertKind.INCIDENT, mk, "a6", event=scan, incident=IncidentReason.ADDRESS_ISSUE),
            frozenset({NUMBER, ADDRESS}),
        ),
        (Alert(AlertKind.LATE, mk, "a7", incident=IncidentReason.LATE), frozenset({NUMBER})),
        (Alert(AlertKind.ETA_CHANGED, mk, "a8", detail="2026-03-03"), frozenset({NUMBER})),
        (Alert(AlertKind.DELIVERY_CHECK, dk, "a9"), frozenset({NUMBER})),
        (Alert(AlertKind.EXPIRED, mk, "a10", detail="never_activated"), frozenset({NUMBER})),
        (Alert(AlertKind.EXPIRED, mk, "a11"), frozenset({NUMBER})),
    ]


async def _flushed(
    service: ParcelService, db: Database, chat: ChatRef, alerts: list[Alert], *, held: bool
) -> list[Reply]:
    """Queue ``alerts`` for ``chat`` and let the real flusher build what it sends."""
    moving, delivered = _moving(), _delivered()
    writes = [
        SnapshotWrite(
            shipment,
            None,
            tuple((chat, alert) for alert in alerts if alert.key == shipment.key),
        )
        for shipment in (moving, delivered)
    ]
    await db.shipments.save_many(writes)
    if held:
        await db.outbox.hold_chat(chat.chat_key)
    notifier = RecordingNotifier()
    await service.flush_outbox(notifier)
    return [reply for _chat, reply in notifier.sent]


@pytest.mark.parametrize("where", PLACES, ids=lambda w: w.name)
async def test_alerts_of_every_kind(
    world: tuple[ParcelService, Database, FakeClock], where: Where
) -> None:
    service, db, _clock = world
    router = CommandRouter(service)
    await _prepare(router, where.chat)
    table = _alerts(_moving(), _delivered())
    for alert, expected in table:
        replies = await _flushed(service, db, where.chat, [alert], held=False)
        assert len(replies) == 1, alert.kind
        reply = replies[0]
        _check(rendered(where, reply), expected, where, f"alert {alert.kind}")
        if where.context in (Context.GROUP, Context.SERVER):
            shared = for_context(reply, where.context)
            assert shared is not None and shared.owner in (ALICE_TG, ALICE_DC)
            assert not shared.buttons and not shared.link


@pytest.mark.parametrize("where", PLACES, ids=lambda w: w.name)
async def test_digests(world: tuple[ParcelService, Database, FakeClock], where: Where) -> None:
    service, db, _clock = world
    router = CommandRouter(service)
    await _prepare(router, where.chat)
    alerts = [alert for alert, _ in _alerts(_moving(), _delivered())][:6]
    replies = await _flushed(service, db, where.chat, alerts, held=True)
    assert len(replies) == 1 and replies[0].title.startswith("6 updates")
    text = rendered(where, replies[0])
    _check(text, frozenset({NUMBER}), where, "digest")
    if where.context in (Context.GROUP, Context.SERVER):
        assert "lamp" in text  # the label names the parcel where others read
        assert "…0076" in text  # an unlabelled parcel shows its masked number


def test_every_path_is_in_the_table() -> None:
    """The suite covers every command that answers about parcels or orders and every alert
    kind (a new one must be added to the table)."""
    assert {alert.kind for alert, _ in _alerts(_moving(), _delivered())} == set(AlertKind)
    named = {command[0] for command, _ in COMMANDS.values()}
    assert named >= {"track", "history", "subscribe", "unsubscribe", "list", "notify", "mute",
                     "report", "orders", "verify"}  # fmt: skip

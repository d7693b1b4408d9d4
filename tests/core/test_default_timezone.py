"""``PARCELBOT_DEFAULT_TIMEZONE`` (``ServiceConfig.default_timezone``): chats that chose no time
zone see and have times judged in the bot's default; a chat's own zone always wins."""

from __future__ import annotations

import random

from core.config import ServiceConfig
from core.models import ChatSettings, ShipmentKey, TrackingNumber
from core.providers.sandbox import SAMPLE_NUMBERS, SandboxProvider, SandboxShop, Scenario
from core.replies import format_local
from core.service import ParcelService
from storage.db import Database
from tests.conftest import VOICES
from tests.fakes import FakeClock, chat

JAKARTA = "Asia/Jakarta"


def _service(db: Database, clock: FakeClock, zone: str) -> ParcelService:
    return ParcelService(
        provider=SandboxProvider(clock),
        store=db,
        clock=clock,
        orders=SandboxShop(clock),
        config=ServiceConfig(default_timezone=zone),
        rng=random.Random(7),
        voices=VOICES,
    )


async def test_a_chat_without_a_zone_gets_the_default_and_keeps_choosing_none(
    db: Database, clock: FakeClock
) -> None:
    service = _service(db, clock, JAKARTA)
    someone = chat("tz-default")
    shown = await service.notify(someone)
    assert f"Time zone: {JAKARTA}." in shown.lines
    # Saving another setting does not turn the default into the chat's own choice.
    await service.notify(someone, "milestones")
    assert (await db.chats.get_settings(someone)).timezone == ""
    # Quiet hours without a zone are read in the default zone.
    await service.quiet(someone, "22:00-07:00")
    assert (await db.chats.get_settings(someone)).timezone == JAKARTA


async def test_the_chats_own_zone_wins_over_the_default(db: Database, clock: FakeClock) -> None:
    service = _service(db, clock, JAKARTA)
    berlin = chat("tz-own")
    await service.quiet(berlin, "22:00-07:00 Europe/Berlin")
    shown = await service.notify(berlin)
    assert "Time zone: Europe/Berlin." in shown.lines


async def test_tracking_replies_show_times_in_the_default_zone(
    db: Database, clock: FakeClock
) -> None:
    number = SAMPLE_NUMBERS[Scenario.NORMAL]
    in_utc = await _service(db, clock, "UTC").track(chat("tz-a"), number)
    in_jakarta = await _service(db, clock, JAKARTA).track(chat("tz-b"), number)
    shipment = await db.shipments.get(ShipmentKey("ups", TrackingNumber(number)))
    assert shipment is not None and shipment.last_event is not None
    last = shipment.last_event.time
    assert format_local(last, "UTC") in in_utc.plain_text()
    assert format_local(last, JAKARTA) in in_jakarta.plain_text()
    assert format_local(last, JAKARTA) not in in_utc.plain_text()


def test_zoned_fills_only_a_missing_zone() -> None:
    assert ChatSettings().zoned(JAKARTA).timezone == JAKARTA
    assert ChatSettings(timezone="Europe/Berlin").zoned(JAKARTA).timezone == "Europe/Berlin"

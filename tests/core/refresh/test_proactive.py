"""Time travel over the sandbox journeys through the real service, SQLite file and outbox.

Several chats follow the same parcels with different preferences; the fake clock moves in
hourly steps and every poll and flush runs as the scheduler would run them.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core import polling
from core.alerts import PREFERENCE_KINDS
from core.commands import CommandRouter
from core.config import ServiceConfig
from core.explanations import explain
from core.incidents import NOT_YET_ACTIVE_AFTER, stale_after
from core.models import (
    AlertKind,
    ChatSettings,
    IncidentReason,
    PollStats,
    Preference,
    ShipmentKey,
    Status,
    TrackingNumber,
    TrackRequest,
)
from core.preferences import quiet_until
from core.providers.router import ProviderRouter
from core.providers.sandbox import SAMPLES, SandboxProvider, SandboxShop, Scenario, build_shipment
from core.service import ParcelService
from storage.db import Database
from tests.core.proactive_helpers import RecordingProvider, TimedNotifier, outbox_rows, walk
from tests.fakes import FakeClock, chat

UPS = {scenario: SAMPLES[scenario]["ups"] for scenario in Scenario}


@pytest.fixture
def timed(clock: FakeClock) -> TimedNotifier:
    return TimedNotifier(clock)


def _service(db: Database, clock: FakeClock, **config: object) -> ParcelService:
    return ParcelService(
        provider=SandboxProvider(clock),
        store=db,
        clock=clock,
        orders=SandboxShop(clock),
        config=ServiceConfig(**config),  # type: ignore[arg-type]
        rng=random.Random(11),
    )


# ------------------------------------------------------------------ one alert per change


@pytest.mark.parametrize("scenario", list(Scenario))
async def test_each_change_reaches_each_subscriber_once_filtered_by_preference(
    scenario: Scenario, service: ParcelService, db: Database, clock: FakeClock, timed: TimedNotifier
) -> None:
    number = UPS[scenario]
    router = CommandRouter(service)
    everyone, milestones, problems, silent = chat("all"), chat("ms"), chat("ex"), chat("off")
    for who in (everyone, milestones, problems, silent):
        await service.subscribe(who, number)
    await router.run(milestones, "notify", ["milestones"])
    await router.run(problems, "notify", ["exceptions", number])
    await router.run(silent, "mute", [number])

    await walk(service, timed, clock, hours=16 * 24)

    rows = await outbox_rows(db.path)
    assert all(row.sent_at is not None for row in rows), "an alert was never delivered"
    by_chat: dict[str, list[AlertKind]] = {}
    for row in rows:
        by_chat.setdefault(row.chat_key, []).append(row.alert.kind)
    keys = Counter((row.chat_key, row.alert.dedupe_key) for row in rows)
    assert max(keys.values(), default=1) == 1
    # One message per alert (no quiet hours here), never two messages for one alert.
    for who in (everyone, milestones, problems):
        assert len(timed.to(who)) == len(by_chat.get(who.chat_key, []))
    assert timed.to(silent) == []
    all_kinds = by_chat.get(everyone.chat_key, [])
    for who, preference in ((milestones, Preference.MILESTONES), (problems, Preference.EXCEPTIONS)):
        expected = [kind for kind in all_kinds if kind in PREFERENCE_KINDS[preference]]
        assert by_chat.get(who.chat_key, []) == expected, preference
    if scenario is not Scenario.NOT_YET_ACTIVE:
        assert all_kinds, "nothing was told about a parcel that moved"


async def test_two_subscribers_one_provider_call_per_poll(
    db: Database, clock: FakeClock, timed: TimedNotifier
) -> None:
    inner = SandboxProvider(clock)
    recording = RecordingProvider("sandbox-ups", ["ups"], 10, inner)
    service = ParcelService(provider=recording, store=db, clock=clock, rng=random.Random(3))
    number = UPS[Scenario.NORMAL]
    await service.subscribe(chat("a"), number)
    await service.subscribe(chat("b"), number)
    before = len(recording.calls)
    stats = await _poll_after(service, clock, timedelta(hours=12))
    assert stats.checked == 1
    assert len(recording.calls) == before + 1
    assert recording.calls[-1] == [ShipmentKey("ups", TrackingNumber(number))]


async def _poll_after(service: ParcelService, clock: FakeClock, delta: timedelta) -> PollStats:
    clock.advance(delta)
    return await service.refresh.poll_due()


# ------------------------------------------------------------------ batching per provider


async def test_due_parcels_go_out_in_full_batches_per_provider_oldest_first(
    db: Database, clock: FakeClock
) -> None:
    inner = SandboxProvider(clock)
    ups = RecordingProvider("fake-ups", ["ups"], 3, inner)
    usps = RecordingProvider("fake-usps", ["usps"], 5, inner)
    router = ProviderRouter([ups, usps])
    service = ParcelService(
        provider=router, store=db, clock=clock, rng=random.Random(5), routing=router.routing
    )
    ups_numbers = [SAMPLES[s]["ups"] for s in list(Scenario)[:7]]
    usps_numbers = [SAMPLES[s]["usps"] for s in list(Scenario)[:4]]
    for number in ups_numbers:
        await service.subscribe(chat("a"), number, carrier="ups")
        await service.subscribe(chat("b"), number, carrier="ups")
    for number in usps_numbers:
        await service.subscribe(chat("a"), number, carrier="usps")
    # Due times: the later a parcel was listed, the longer it has been overdue.
    all_keys = [ShipmentKey("ups", TrackingNumber(n)) for n in ups_numbers] + [
        ShipmentKey("usps", TrackingNumber(n)) for n in usps_numbers
    ]
    base = clock.now()
    for index, key in enumerate(all_keys):
        await db.shipments.schedule(key, base - timedelta(minutes=index))
    ups.calls.clear()
    usps.calls.clear()

    stats = await service.refresh.poll_due()

    assert stats.checked == 11
    assert stats.calls == 4
    assert [len(call) for call in ups.calls] == [3, 3, 1]
    assert [len(call) for call in usps.calls] == [4]
    ups_order = [key for call in ups.calls for key in call]
    assert ups_order == list(reversed(all_keys[:7]))
    assert len(set(ups_order)) == 7, "a parcel was polled twice"


async def test_a_backlog_is_taken_oldest_due_first_within_the_limit(
    db: Database, clock: FakeClock
) -> None:
    inner = SandboxProvider(clock)
    ups = RecordingProvider("fake-ups", ["ups"], 2, inner)
    service = ParcelService(provider=ups, store=db, clock=clock, rng=random.Random(5))
    numbers = [SAMPLES[s]["ups"] for s in list(Scenario)[:6]]
    for number in numbers:
        await service.subscribe(chat("a"), number, carrier="ups")
    keys = [ShipmentKey("ups", TrackingNumber(n)) for n in numbers]
    for index, key in enumerate(keys):
        await db.shipments.schedule(key, clock.now() - timedelta(hours=index))
    ups.calls.clear()
    first = await service.refresh.poll_due(limit=4)
    assert first.checked == 4
    assert [key for call in ups.calls for key in call] == list(reversed(keys))[:4]
    ups.calls.clear()
    second = await service.refresh.poll_due(limit=4)
    assert [key for call in ups.calls for key in call] == list(reversed(keys))[4:]
    assert second.checked == 2


# ------------------------------------------------------------------ quiet hours


async def test_quiet_hours_hold_alerts_and_deliver_one_digest_at_the_window_end(
    service: ParcelService, db: Database, clock: FakeClock, timed: TimedNotifier
) -> None:
    router = CommandRouter(service)
    sleeper, control = chat("sleeper"), chat("control")
    numbers = [UPS[s] for s in (Scenario.NORMAL, Scenario.FAILED_ATTEMPT, Scenario.LEFT_AT_DOOR)]
    for who in (sleeper, control):
        for number in numbers:
            await service.subscribe(who, number)
    replies = await router.run(sleeper, "quiet", ["22:00-07:00", "Asia/Jakarta"])
    assert replies[0].title == "Quiet hours set"
    settings = await db.chats.get_settings(sleeper)
    assert settings.timezone == "Asia/Jakarta"

    await walk(service, timed, clock, hours=8 * 24)

    rows = await outbox_rows(db.path)
    assert all(row.sent_at is not None for row in rows)
    sleeper_rows = [row for row in rows if row.chat_key == sleeper.chat_key]
    control_rows = [row for row in rows if row.chat_key == control.chat_key]

    # Never dropped: the sleeper hears about exactly the changes the control chat hears about
    # (estimate news and lateness against the first window aside: they are judged in each
    # chat's own days, Jakarta's and UTC's; that lateness names the day it is judged by).
    def changes(rows: list[Any]) -> list[str]:
        return sorted(
            r.alert.dedupe_key
            for r in rows
            if r.alert.kind is not AlertKind.ETA_CHANGED
            and not (r.alert.kind is AlertKind.LATE and r.alert.detail)
        )

    assert changes(sleeper_rows) == changes(control_rows)
    held = [row for row in sleeper_rows if quiet_until(settings, row.created_at) is not None]
    assert held, "the journeys should cause alerts at night in Jakarta"
    messages = timed.to(sleeper)
    for at, _reply in messages:
        assert quiet_until(settings, at) is None, f"a message arrived in quiet hours at {at}"
    window_ends = {quiet_until(settings, row.created_at) for row in held}
    for end in window_ends:
        assert end is not None
        assert end.astimezone(UTC).hour == 0  # 07:00 in Jakarta
        at_end = [reply for at, reply in messages if at == end]
        assert len(at_end) == 1, f"expected one digest at {end}, got {len(at_end)}"
    digests = [reply for _at, reply in messages if "during your quiet hours" in reply.title]
    assert digests
    told = sum(int(reply.title.split()[0]) if reply in digests else 1 for _at, reply in messages)
    assert told == len(sleeper_rows)
    assert len(messages) < len(timed.to(control))


async def test_quiet_window_crossing_midnight_and_dst() -> None:
    berlin = ChatSettings(timezone="Europe/Berlin", quiet_start="22:00", quiet_end="07:00")
    # 2026-03-29: clocks go from 02:00 to 03:00 in Berlin; the window still ends at 07:00 local.
    inside = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # 00:30 CET
    end = quiet_until(berlin, inside)
    assert end == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)  # 07:00 CEST
    assert quiet_until(berlin, datetime(2026, 3, 29, 5, 0, tzinfo=UTC)) is None
    assert quiet_until(berlin, datetime(2026, 3, 29, 19, 59, tzinfo=UTC)) is None
    assert quiet_until(berlin, datetime(2026, 3, 29, 20, 0, tzinfo=UTC)) is not None
    day = ChatSettings(timezone="UTC", quiet_start="12:00", quiet_end="13:00")
    assert quiet_until(day, datetime(2026, 3, 2, 12, 30, tzinfo=UTC)) == datetime(
        2026, 3, 2, 13, 0, tzinfo=UTC
    )
    assert quiet_until(day, datetime(2026, 3, 2, 13, 0, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["25:00-07:00"], "24-hour times"),
        (["22:00-07:00", "Mars/Olympus"], "time zone"),
        (["22:00-07:00", "../../etc/passwd"], "time zone"),
        (["22:00-22:00"], "different times"),
        (["tonight"], "24-hour times"),
        (["maybe"], "24-hour times"),
    ],
)
async def test_bad_quiet_hours_get_one_clear_sentence(
    router: CommandRouter, args: list[str], fragment: str
) -> None:
    from core.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        await router.run(chat("q"), "quiet", args)
    message = caught.value.user_message
    assert fragment in message
    assert message.count(". ") <= 1 and "\n" not in message


async def test_quiet_accepts_lower_case_zones_off_and_shows_settings(
    router: CommandRouter, db: Database
) -> None:
    me = chat("q")
    await router.run(me, "quiet", ["23:30-6:15", "asia/jakarta"])
    settings = await db.chats.get_settings(me)
    assert (settings.quiet_start, settings.quiet_end, settings.timezone) == (
        "23:30",
        "06:15",
        "Asia/Jakarta",
    )
    shown = await router.run(me, "quiet", [])
    assert any("23:30–06:15" in line for line in shown[0].lines)
    await router.run(me, "quiet", ["off"])
    settings = await db.chats.get_settings(me)
    assert settings.quiet_start == settings.quiet_end == ""
    assert settings.timezone == "Asia/Jakarta"


async def test_notify_and_mute_need_a_known_level_and_parcel(router: CommandRouter) -> None:
    from core.errors import InvalidInput, ShipmentNotFound

    with pytest.raises(InvalidInput) as bad_level:
        await router.run(chat("n"), "notify", ["loud"])
    assert "all, milestones, exceptions or off" in bad_level.value.user_message
    with pytest.raises(ShipmentNotFound):
        await router.run(chat("n"), "mute", ["nothing-here"])
    with pytest.raises(InvalidInput):
        await router.run(chat("n"), "mute", [])


# ------------------------------------------------------------------ derived incidents


def _titles(timed: TimedNotifier, who: object) -> list[tuple[datetime, str]]:
    return [(at, reply.title) for at, target, reply in timed.sent if target == who]


async def test_not_yet_active_fires_after_48_hours(
    service: ParcelService, clock: FakeClock, timed: TimedNotifier
) -> None:
    me = chat("nya")
    start = clock.now()
    await service.subscribe(me, UPS[Scenario.NOT_YET_ACTIVE])
    await walk(service, timed, clock, hours=5 * 24)
    title = explain(IncidentReason.NOT_YET_ACTIVE).title
    fired = [at for at, text in _titles(timed, me) if text.startswith(title)]
    assert len(fired) == 1
    assert fired[0] >= start + NOT_YET_ACTIVE_AFTER
    # Polled every ~6 h at that age (+15 % jitter, rounded up to the hourly step).
    assert fired[0] <= start + NOT_YET_ACTIVE_AFTER + timedelta(hours=8)


async def test_stale_fires_at_the_route_threshold_then_lost(
    service: ParcelService, db: Database, clock: FakeClock, timed: TimedNotifier
) -> None:
    me = chat("lost")
    number = UPS[Scenario.LOST]
    await service.subscribe(me, number)
    await walk(service, timed, clock, hours=12 * 24)
    stored = await db.shipments.get(ShipmentKey("ups", TrackingNumber(number)))
    assert stored is not None
    assert stored.incident is IncidentReason.LOST
    titles = _titles(timed, me)
    stale = [at for at, text in titles if text.startswith(explain(IncidentReason.STALE).title)]
    assert len(stale) == 1
    in_transit = [e for e in stored.events if e.status is Status.IN_TRANSIT]
    last_scan = max(e.time for e in in_transit)
    threshold = last_scan + stale_after(stored)
    assert threshold <= stale[0] <= threshold + timedelta(hours=15)
    lost = [at for at, text in titles if text.startswith(explain(IncidentReason.LOST).title)]
    assert len(lost) == 1 and lost[0] > stale[0]


async def test_late_fires_after_the_shops_promise(
    service: ParcelService, db: Database, clock: FakeClock, timed: TimedNotifier
) -> None:
    router = CommandRouter(service)
    me = chat("late")
    order = await router.run(me, "verify", ["576000000000000007", "00007"])
    number = order[0].buttons[0].args[0]
    await service.subscribe(me, number)
    # Someone else follows the same number without having proved the order.
    other = chat("stranger")
    await service.subscribe(other, number)
    key = ShipmentKey("fedex", TrackingNumber(number))
    stored = await db.shipments.get(key)
    # The promise is the order owner's: on their order link, not on the shared parcel.
    assert stored is not None and stored.promised_by is None
    link = (await db.orders.for_chat(me)).get(key)
    assert link is not None and link.promised_by is not None
    promised = link.promised_by
    stranger_sub = await db.subscriptions.get(other, key)
    assert stranger_sub is not None and stranger_sub.told is not None
    stranger_first = stranger_sub.told.first_latest
    await walk(service, timed, clock, hours=8 * 24)
    late_title = explain(IncidentReason.LATE).title
    late = [at for at, text in _titles(timed, me) if text.startswith(late_title)]
    assert len(late) == 1
    assert late[0] > promised
    # The stranger is judged by the first window it was shown, never by the owner's promise.
    assert stranger_first != promised.date()
    stranger_late = [
        row
        for row in await outbox_rows(db.path)
        if row.chat_key == other.chat_key and row.alert.kind is AlertKind.LATE
    ]
    assert [row.alert.detail for row in stranger_late] == [stranger_first.isoformat()]
    said = [
        "\n".join((reply.title, *reply.lines))
        for _at, reply in timed.to(other)
        if reply.title.startswith(late_title)
    ]
    assert len(said) == 1 and promised.strftime("%-d %b") not in said[0]
    history = (await router.run(me, "orders", []))[0]
    text = "\n".join(history.lines)
    assert "576000000000000007" in text and "Sandbox Shop" in text
    assert "late" in text
    assert history.private


# ------------------------------------------------------------------ delivery follow-up, report


async def test_delivery_check_arrives_next_day_and_its_report_button_works(
    service: ParcelService, db: Database, clock: FakeClock, timed: TimedNotifier
) -> None:
    router = CommandRouter(service)
    me = chat("check")
    number = UPS[Scenario.LEFT_AT_DOOR]
    await service.subscribe(me, number, "lamp")
    await walk(service, timed, clock, hours=7 * 24)
    stored = await db.shipments.get(ShipmentKey("ups", TrackingNumber(number)))
    assert stored is not None and stored.delivered_at is not None
    checks = [(at, r) for at, r in timed.to(me) if r.title.startswith("Did it arrive?")]
    assert len(checks) == 1
    at, reply = checks[0]
    assert at >= stored.delivered_at + timedelta(hours=24)
    report_button = next(b for b in reply.buttons if b.action == "report")
    packs = await router.handle_text(me, report_button.command)
    pack = packs[0]
    assert pack.attachment is not None and pack.private
    assert pack.attachment.mime_type == "text/markdown"
    assert pack.attachment.filename.endswith(".md")
    body = pack.attachment.content.decode()
    for needed in (number, "UPS", "Full timeline", "Evidence to gather", "- [ ] Photos", "lamp"):
        assert needed in body
    assert body.count("\n| ") >= len(stored.events)
    by_label = (await router.run(me, "report", ["lamp"]))[0]
    assert by_label.attachment is not None
    assert by_label.attachment.content == pack.attachment.content


async def test_report_escapes_carrier_text_and_keeps_order_ids_to_their_chat(
    service: ParcelService, clock: FakeClock
) -> None:
    router = CommandRouter(service)
    owner, stranger = chat("owner"), chat("stranger")
    order = await router.run(owner, "verify", ["576000000000000001", "00001"])
    number = order[0].buttons[0].args[0]
    mine = (await router.run(owner, "report", [number]))[0]
    theirs = (await router.run(stranger, "report", [number]))[0]
    assert mine.attachment is not None and theirs.attachment is not None
    assert b"576000000000000001" in mine.attachment.content
    assert b"576000000000000001" not in theirs.attachment.content


# ------------------------------------------------------------------ archive and expiry


async def test_delivered_parcels_move_to_the_archive_after_the_configured_days(
    db: Database, clock: FakeClock, timed: TimedNotifier
) -> None:
    service = _service(db, clock, archive_after=timedelta(days=3))
    router = CommandRouter(service)
    me = chat("arch")
    await service.subscribe(me, UPS[Scenario.NORMAL], "boots")
    await walk(service, timed, clock, hours=5 * 24)
    subs = await db.subscriptions.for_chat(me)
    assert not subs[0].archived
    await walk(service, timed, clock, hours=3 * 24)
    subs = await db.subscriptions.for_chat(me)
    assert subs[0].archived
    listing = (await router.run(me, "list", []))[0]
    assert "Archive:" in listing.lines
    assert any("boots" in line for line in listing.lines[listing.lines.index("Archive:") :])


async def test_never_activated_parcel_expires_after_30_days_with_one_last_alert(
    service: ParcelService, db: Database, clock: FakeClock, timed: TimedNotifier
) -> None:
    me = chat("ghost")
    number = UPS[Scenario.NOT_YET_ACTIVE]
    start = clock.now()
    await service.subscribe(me, number)
    await walk(service, timed, clock, hours=33 * 24, step=timedelta(hours=3), repeat_check=False)
    key = ShipmentKey("ups", TrackingNumber(number))
    last = [(at, r) for at, r in timed.to(me) if r.title.startswith("Never scanned")]
    assert len(last) == 1
    assert start + timedelta(days=30) <= last[0][0] <= start + timedelta(days=30, hours=2)
    assert (await db.subscriptions.for_chat(me))[0].archived
    assert await db.shipments.next_check(key) is None
    sent = len(timed.sent)
    await walk(service, timed, clock, hours=5 * 24, step=timedelta(hours=6))
    assert len(timed.sent) == sent


# ------------------------------------------------------------------ webhooks


async def test_ingest_uses_the_poll_path_and_the_daily_safety_net(
    service: ParcelService, db: Database, clock: FakeClock, timed: TimedNotifier
) -> None:
    me = chat("hook")
    number = UPS[Scenario.NORMAL]
    await service.subscribe(me, number)
    key = ShipmentKey("ups", TrackingNumber(number))
    stored = await db.shipments.get(key)
    assert stored is not None and stored.first_seen is not None
    request = TrackRequest(TrackingNumber(number), "ups", stored.first_seen)

    clock.advance(timedelta(hours=20))
    pushed = build_shipment(request, stored.first_seen, clock.now(), 1.0)
    stats = await service.refresh.ingest([pushed])
    assert stats.checked == 1 and stats.alerts >= 1
    next_check = await db.shipments.next_check(key)
    assert next_check is not None
    assert next_check >= clock.now() + polling.SAFETY_NET * (1 - polling.JITTER)
    again = await service.refresh.ingest([pushed])
    assert again.alerts == 0
    older = build_shipment(request, stored.first_seen, clock.now() - timedelta(hours=12), 1.0)
    assert (await service.refresh.ingest([older])).skipped == 1
    unknown = build_shipment(
        TrackRequest(TrackingNumber(UPS[Scenario.LOST]), "ups", clock.now()),
        clock.now(),
        clock.now(),
        1.0,
    )
    assert (await service.refresh.ingest([unknown])).skipped == 1
    await service.flush_outbox(timed)
    told = len(timed.to(me))
    # A poll of the same state finds nothing new: pushes and polls share the dedupe keys.
    await db.shipments.schedule(key, clock.now())
    assert (await service.refresh.poll_due()).alerts == 0
    await service.flush_outbox(timed)
    assert len(timed.to(me)) == told


async def test_pushes_of_one_parcel_in_one_batch_keep_the_newest_whatever_their_order(
    service: ParcelService, db: Database, clock: FakeClock
) -> None:
    # Concurrent pushes can be stored in the inbox out of order: the newer one first.
    await service.subscribe(chat("hook"), UPS[Scenario.NORMAL])
    key = ShipmentKey("ups", TrackingNumber(UPS[Scenario.NORMAL]))
    stored = await db.shipments.get(key)
    assert stored is not None and stored.first_seen is not None
    request = TrackRequest(key.number, "ups", stored.first_seen)
    clock.advance(timedelta(hours=30))
    newer = build_shipment(request, stored.first_seen, clock.now(), 1.0)
    older = build_shipment(request, stored.first_seen, clock.now() - timedelta(hours=12), 1.0)
    assert len(older.events) < len(newer.events)
    await service.refresh.ingest([newer, older])
    kept = await db.shipments.get(key)
    assert kept is not None
    assert [event.description for event in kept.events] == [
        event.description for event in newer.events
    ]


async def test_forget_also_forgets_order_links(service: ParcelService, db: Database) -> None:
    router = CommandRouter(service)
    me = chat("forgetful")
    await router.run(me, "verify", ["576000000000000001", "00001"])
    assert await db.orders.for_chat(me)
    asked = (await router.run(me, "forget", []))[0]
    assert await db.orders.for_chat(me)  # nothing goes before the confirmation
    yes = next(button for button in asked.buttons if button.label.startswith("Yes"))
    await router.run(me, yes.action, list(yes.args))
    assert await db.orders.for_chat(me) == {}


def test_proactive_commands_are_listed_in_help(router: CommandRouter) -> None:
    text = "\n".join(router.help_reply().lines)
    for name in ("/notify", "/mute", "/unmute", "/quiet", "/report", "/orders"):
        assert name in text

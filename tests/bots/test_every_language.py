"""Every reply and alert, in every language, through the Telegram and Discord renderers.

The shipped catalogs (``locales/``) word each reply; the renderers must keep every message
within the platforms' limits, leave no markup live and no placeholder unfilled, and carry no
bidirectional control characters (a translation could smuggle them in). The command menus
and slash commands are checked the same way in every language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from bots.discord_bot import ParcelCog
from bots.discord_bot.bot import build_bot
from bots.discord_bot.render import render as discord_render
from bots.discord_bot.translator import CatalogTranslator, valid_name
from bots.telegram_bot.handlers import TelegramHandlers
from bots.telegram_bot.render import CALLBACK_DATA_LIMIT, MESSAGE_LIMIT, CallbackCodec
from bots.telegram_bot.render import render as telegram_render
from core import errors, faq
from core.advice import faq_reply, mismatch_reply, more_numbers_reply, number_notes, typo_reply
from core.alerts import alert_reply
from core.carriers import detect, get_carrier
from core.commands import CommandRouter
from core.digest import digest_reply
from core.explanations import explain, explain_status
from core.i18n import LANGUAGES, Voices
from core.models import (
    Alert,
    AlertKind,
    Eta,
    EtaSource,
    IncidentReason,
    Order,
    OrderId,
    OrderStatus,
    ProofKind,
    ProofOfDelivery,
    Shipment,
    ShipmentKey,
    Status,
    Subscription,
    TrackingEvent,
    TrackingNumber,
)
from core.privacy import Context, view
from core.replies import (
    Reply,
    ReplyKind,
    choice_reply,
    for_context,
    list_reply,
    order_reply,
    shipment_reply,
    timeline_reply,
)
from core.service import ParcelService
from storage.db import Database
from tests.conftest import VOICES
from tests.fakes import chat

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NUMBER = TrackingNumber("1Z999AA10123456784")
LABEL = "sneakers <b>&</b> *gift*"
BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
DISCORD_LIMITS = {"title": 256, "description": 4096, "name": 256, "value": 1024, "total": 6000}


def _shipment(status: Status, incident: IncidentReason | None = None) -> Shipment:
    done = status is Status.DELIVERED
    events = (
        TrackingEvent(NOW - timedelta(days=2), Status.INFO_RECEIVED, "Label created", "Jakarta"),
        TrackingEvent(NOW - timedelta(hours=3), status, "Scan at the hub", "Surabaya"),
    )
    return Shipment(
        "ups",
        NUMBER,
        status,
        events=events,
        eta=Eta(
            NOW + timedelta(days=1),
            NOW + timedelta(days=3),
            NOW + timedelta(days=2),
            EtaSource.LEARNED,
            based_on=1234,
        ),
        delivered_at=NOW if done else None,
        proof=ProofOfDelivery(ProofKind.LEFT_AT_DOOR, "porch") if done else None,
        incident=incident,
        checked_at=NOW,
    )


def _alerts(shipment: Shipment) -> Iterator[Alert]:
    key, event = shipment.key, shipment.events[-1]
    for kind in AlertKind:
        if kind in (AlertKind.INCIDENT, AlertKind.LATE):
            for reason in IncidentReason:
                yield Alert(
                    kind, key, f"{kind}-{reason}", event=event, incident=reason, detail="2026-02-27"
                )
        elif kind is AlertKind.EXPIRED:
            yield Alert(kind, key, "expired", event=event, detail="never_activated")
            yield Alert(kind, key, "expired-2", event=event)
        elif kind is AlertKind.ETA_CHANGED:
            yield Alert(kind, key, "eta", detail="2026-03-01")
        elif kind is AlertKind.DELIVERED:
            # The detail is the proof in words, as the diff found it (English).
            detail = "Left at the door (porch)" if shipment.proof is not None else ""
            yield Alert(kind, key, "delivered", event=event, detail=detail)
        else:
            yield Alert(kind, key, str(kind), event=event)


def _replies(router: CommandRouter) -> Iterator[Reply]:
    """Every kind of reply the core makes, in the active language."""
    yield router.help_reply()
    yield router.help_reply(welcome=True)
    for status in Status:
        for incident in (None, IncidentReason.CUSTOMS_HOLD, IncidentReason.STALE):
            shipment = _shipment(status, incident)
            yield shipment_reply(shipment, label=LABEL, now=NOW, promised_by=NOW)
            yield shipment_reply(shipment, seen=view(Context.GROUP, owner="42"), now=NOW)
    delivered = _shipment(Status.DELIVERED)
    moving = _shipment(Status.IN_TRANSIT)
    yield timeline_reply(moving)
    yield timeline_reply(delivered, seen=view(Context.SERVER, owner="42"), label=LABEL)
    subs = [
        Subscription(chat("1"), moving.key, LABEL, created_at=NOW),
        Subscription(
            chat("1"),
            ShipmentKey("fedex", TrackingNumber("123456789012")),
            "",
            created_at=NOW,
            archived=True,
        ),
    ]
    yield list_reply(subs, {moving.key: moving}, tz="Asia/Jakarta")
    yield list_reply([], {}, tz="UTC")
    yield choice_reply(NUMBER, tuple(detect(NUMBER)), order_id=OrderId("576000000000000001"))
    order = Order(OrderId("576000000000000001"), "Shop <&>", OrderStatus.IN_TRANSIT, ())
    for state in OrderStatus:
        yield order_reply(Order(order.order_id, order.shop, state, order.shipments), [moving])
    for shipment in (moving, delivered):
        for alert in _alerts(shipment):
            yield alert_reply(alert, shipment, tz="Asia/Bangkok", label=LABEL)
            yield alert_reply(alert, shipment, seen=view(Context.SERVER, owner="42"))
    yield digest_reply(list(_alerts(moving))[:30], {moving.key: moving}, {moving.key: LABEL})
    ups = get_carrier("ups")
    assert ups is not None
    matches = detect(NUMBER)
    yield typo_reply(NUMBER, matches, alternatives=matches)
    yield mismatch_reply(NUMBER, ups, matches)
    yield more_numbers_reply(3)
    yield Reply(NUMBER, number_notes("1Z999AA10123456784", matches[0] if matches else None))
    for topic in faq.TOPICS:
        yield faq_reply(topic)
    for reason in IncidentReason:
        about = explain(reason)
        yield Reply(about.title, (about.what_happened, *about.next_steps))
    for status in Status:
        about = explain_status(status)
        yield Reply(about.title, (about.what_happened, *about.next_steps))
    for error in (
        errors.InvalidInput(),
        errors.CarrierNotDetected(),
        errors.ShipmentNotFound(),
        errors.OrderNotFound(),
        errors.NotAuthorised(),
        errors.ProviderUnavailable(),
        errors.RateLimited(),
        errors.ProviderAuthError(),
        errors.StorageUnavailable("disk full"),
    ):
        yield Reply(error.user_message, kind=ReplyKind.ERROR)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _check_text(text: str) -> None:
    assert not BIDI.search(text), repr(text)
    assert not PLACEHOLDER.search(text), text
    assert all(unicodedata.category(c) != "Cc" or c == "\n" for c in text), repr(text)


def _check_telegram(reply: Reply, codec: CallbackCodec) -> None:
    for message in telegram_render(reply, codec):
        assert len(message.text.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT
        parsed = _Tags()
        parsed.feed(message.text)
        assert set(parsed.tags) <= {"b", "i", "a"}, message.text
        assert "<b>&</b>" not in "".join(parsed.text) or LABEL in "".join(parsed.text)
        _check_text("".join(parsed.text))
        rows = message.keyboard.inline_keyboard if message.keyboard else ()
        for row in rows:
            for button in row:
                assert button.text.strip()
                _check_text(button.text)
                if button.callback_data is not None:
                    assert len(str(button.callback_data).encode()) <= CALLBACK_DATA_LIMIT


def _check_discord(reply: Reply) -> None:
    rendered = discord_render(reply)
    embed = rendered.embed
    title, description = embed.title or "", embed.description or ""
    assert len(title) <= DISCORD_LIMITS["title"]
    assert len(description) <= DISCORD_LIMITS["description"]
    total = len(title) + len(description)
    for field in embed.fields:
        assert len(field.name or "") <= DISCORD_LIMITS["name"]
        assert len(field.value or "") <= DISCORD_LIMITS["value"]
        total += len(field.name or "") + len(field.value or "")
    assert total <= DISCORD_LIMITS["total"]
    for text in (title, description):
        _check_text(text)
        # The label's markup arrives escaped: nothing in it is live.
        assert "<b>" not in text and "*gift*" not in text
    if rendered.view is not None:
        for item in rendered.view.children:
            button = getattr(item, "item", item)  # persistent buttons wrap the real one
            label = getattr(button, "label", "") or ""
            assert 0 < len(label) <= 80
            _check_text(label)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_reply_and_alert_renders_in_every_language(
    language: str, service: ParcelService
) -> None:
    router = CommandRouter(service)
    codec = CallbackCodec()
    count = 0
    with VOICES.speaking(language):
        for reply in _replies(router):
            for variant in (reply, for_context(reply, Context.SERVER)):
                if variant is None:
                    continue
                _check_telegram(variant, codec)
                _check_discord(variant)
                count += 1
    assert count > 300


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_telegram_menu_fits_in_every_language(language: str, service: ParcelService) -> None:
    handlers = TelegramHandlers(CommandRouter(service), CallbackCodec())
    for menu in (handlers.bot_commands(language), handlers.admin_commands(language)):
        assert {command.command for command in menu} >= {"track", "language", "help"}
        for command in menu:
            assert 1 <= len(command.description) <= 256
            _check_text(command.description)


async def test_slash_commands_are_localised_within_discords_rules(
    service: ParcelService, db: Database
) -> None:
    router = CommandRouter(service)
    bot = build_bot(router, guilds=db.discord)
    try:
        await bot.add_cog(ParcelCog(router, db.discord))
        translator = CatalogTranslator(router.voices, router.specs)
        payloads = [
            await command.get_translated_payload(bot.tree, translator)
            for command in bot.tree.get_commands()
        ]
    finally:
        await bot.close()
    assert {payload["name"] for payload in payloads} >= {"track", "language", "alerts"}
    for payload in payloads:
        _check_payload(payload)


def _check_payload(payload: dict[str, object]) -> None:
    names = payload.get("name_localizations") or {}
    descriptions = payload.get("description_localizations") or {}
    assert isinstance(names, dict) and isinstance(descriptions, dict)
    for name in names.values():
        assert valid_name(name), name
    for description in descriptions.values():
        assert 1 <= len(description) <= 100, description
        _check_text(description)
    for option in payload.get("options") or []:  # type: ignore[attr-defined]
        _check_payload(option)
    for choice in payload.get("choices") or []:  # type: ignore[attr-defined]
        for name in (choice.get("name_localizations") or {}).values():
            assert 1 <= len(name) <= 100, name


def test_languages_differ_in_their_dates() -> None:
    """Babel words dates for each language (even before a catalog is translated)."""
    seen = set()
    for language in LANGUAGES:
        with VOICES.speaking(language):
            seen.add(shipment_reply(_shipment(Status.IN_TRANSIT), now=NOW).lines[2])
    assert len(seen) == len(LANGUAGES), seen


def test_an_unknown_language_speaks_english() -> None:
    with Voices().speaking("xx") as speech:
        assert speech.language == "en"

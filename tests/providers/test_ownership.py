"""Order lookups need proof of ownership, checked against the real TikTok Shop data path."""

from __future__ import annotations

import random
from datetime import timedelta

import httpx
import pytest

from core.errors import NotAuthorised
from core.models import ChatRef, OrderId, Platform
from core.providers import tiktok_shop as tts
from core.providers.sandbox import SandboxProvider
from core.service import ParcelService
from storage.db import Database
from tests.fakes import FakeClock
from tests.providers.conftest import FAST_RETRY, RecordingSleep
from tests.providers.fake_server import FakeServer
from tests.providers.fake_tiktok import APP_KEY, APP_SECRET, NOW, ORDER, FakeTikTok, tokens

BUYER = ChatRef(Platform.TELEGRAM, "100", "100")
STRANGER = ChatRef(Platform.TELEGRAM, "200", "200")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def shop_service(
    fake: FakeServer, http: httpx.AsyncClient, clock: FakeClock, db: Database
) -> ParcelService:
    FakeTikTok(clock).install(fake)
    return _service(db, clock, _shop(fake, http, clock))


async def test_an_order_id_alone_reveals_nothing(shop_service: ParcelService) -> None:
    reply = await shop_service.lookup_order(STRANGER, ORDER, None)
    assert reply.title == "Is this order yours?"
    assert "95110" not in reply.plain_text()
    assert "9400111206206406260787" not in reply.plain_text()


async def test_wrong_postcode_refused_right_one_accepted(shop_service: ParcelService) -> None:
    with pytest.raises(NotAuthorised):
        await shop_service.lookup_order(BUYER, ORDER, "90210")
    reply = await shop_service.lookup_order(BUYER, ORDER, "95110")
    assert reply.title == f"Order {ORDER}"
    assert reply.private
    assert "9400111206206406260787" in reply.plain_text()
    # A USPS parcel for an order going to the United States raises no carrier warning.
    assert "does not deliver" not in reply.plain_text()
    # Once verified, the order stays linked to this person.
    again = await shop_service.lookup_order(BUYER, OrderId(ORDER), None)
    assert again.title == f"Order {ORDER}"
    # Another person still has to prove it.
    with pytest.raises(NotAuthorised):
        await shop_service.lookup_order(STRANGER, ORDER, "00000")


async def test_phone_last_four_digits_also_prove_it(shop_service: ParcelService) -> None:
    reply = await shop_service.lookup_order(BUYER, ORDER, "1234")
    assert reply.title == f"Order {ORDER}"


async def test_sixth_attempt_in_the_window_is_refused_even_when_right(
    shop_service: ParcelService,
) -> None:
    for guess in ("10001", "10002", "10003", "10004", "10005"):
        with pytest.raises(NotAuthorised) as wrong:
            await shop_service.lookup_order(BUYER, ORDER, guess)
        assert "does not match" in wrong.value.user_message
    with pytest.raises(NotAuthorised) as blocked:
        await shop_service.lookup_order(BUYER, ORDER, "95110")
    assert "Too many" in blocked.value.user_message


def _service(db: Database, clock: FakeClock, shop: tts.TikTokShopClient) -> ParcelService:
    return ParcelService(
        provider=SandboxProvider(clock), store=db, clock=clock, orders=shop, rng=random.Random(3)
    )


def _shop(fake: FakeServer, http: httpx.AsyncClient, clock: FakeClock) -> tts.TikTokShopClient:
    return tts.TikTokShopClient(
        http,
        app_key=APP_KEY,
        app_secret=APP_SECRET,
        tokens=tokens(timedelta(days=5)),
        api_base=fake.url,
        auth_base=fake.url,
        retry=FAST_RETRY,
        clock=clock,
        sleep=RecordingSleep(),
    )


async def test_forty_accounts_guessing_together_cannot_let_a_41st_in(
    shop_service: ParcelService, caplog: pytest.LogCaptureFixture
) -> None:
    """40 accounts × 5 wrong postcodes each, then a 41st account with the right one."""
    guesses = (f"{n:05d}" for n in range(10000, 99999) if f"{n:05d}" != "95110")
    refused = 0
    with caplog.at_level("WARNING", logger="core.service"):
        for account in range(40):
            who = ChatRef(Platform.TELEGRAM, str(1000 + account), str(1000 + account))
            for _ in range(5):
                with pytest.raises(NotAuthorised):
                    await shop_service.lookup_order(who, ORDER, next(guesses))
                refused += 1
        with pytest.raises(NotAuthorised) as blocked:
            await shop_service.lookup_order(ChatRef(Platform.TELEGRAM, "41", "41"), ORDER, "95110")
    assert refused == 200
    assert "Too many" in blocked.value.user_message
    locks = [r for r in caplog.records if "failed ownership proofs" in r.getMessage()]
    # The order locked once (after the tenth wrong guess) and stayed locked: one log line.
    assert len(locks) == 1
    assert ORDER not in locks[0].getMessage() and ORDER[-4:] in locks[0].getMessage()


async def test_a_lockout_survives_a_restart_and_grows(
    fake: FakeServer, http: httpx.AsyncClient, clock: FakeClock, db: Database
) -> None:
    FakeTikTok(clock).install(fake)
    first = _service(db, clock, _shop(fake, http, clock))
    for guess in ("10001", "10002", "10003", "10004", "10005"):
        with pytest.raises(NotAuthorised):
            await first.lookup_order(BUYER, ORDER, guess)
    # A new process on the same database file.
    async with Database.open(db.path) as reopened:
        second = _service(reopened, clock, _shop(fake, http, clock))
        with pytest.raises(NotAuthorised) as blocked:
            await second.lookup_order(BUYER, ORDER, "95110")
        assert "about 16 minutes" in blocked.value.user_message
        clock.advance(timedelta(minutes=16))
        for guess in ("10006", "10007", "10008", "10009", "10010"):
            with pytest.raises(NotAuthorised):
                await second.lookup_order(BUYER, ORDER, guess)
        # The second lockout lasts twice as long as the first.
        with pytest.raises(NotAuthorised) as longer:
            await second.lookup_order(BUYER, ORDER, "95110")
        assert "about 31 minutes" in longer.value.user_message
        # Ten wrong proofs also locked the order itself for an hour, for everyone.
        with pytest.raises(NotAuthorised) as order_locked:
            await second.lookup_order(STRANGER, ORDER, "95110")
        assert "about 61 minutes" in order_locked.value.user_message
        clock.advance(timedelta(minutes=61))
        reply = await second.lookup_order(BUYER, ORDER, "95110")
        assert reply.title == f"Order {ORDER}"

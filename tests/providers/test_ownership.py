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
from tests.providers.test_tiktok_shop import APP_KEY, APP_SECRET, NOW, ORDER, FakeTikTok, tokens

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
    shop = tts.TikTokShopClient(
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
    return ParcelService(
        provider=SandboxProvider(clock),
        store=db,
        clock=clock,
        orders=shop,
        rng=random.Random(3),
    )


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

"""Bad input gets one clear sentence, never a traceback; random text never crashes."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.commands import CommandRouter, parse_command
from core.config import ServiceConfig
from core.errors import InvalidInput, TrackingError
from core.identifiers import normalise, parse_identifier
from core.providers.sandbox import SandboxProvider, SandboxShop
from core.service import ParcelService
from storage.db import Database
from tests.fakes import FakeClock, chat

BAD_INPUTS = {
    "empty": "/track",
    "blank argument": "/track    ",
    "10 KB": "/track " + "A" * 10_240,
    "emoji": "/track 📦📦📦📦📦📦",
    "script tag": "/track <script>alert(1)</script>",
    "sql quotes": "/track 1Z' OR '1'='1",
    "control characters": "/track 1Z999\x00AA1012\x07",
    "unknown command": "/frobnicate 123",
    "only slash": "/",
    "too short": "/track 12",
    "too long number": "/track " + "9" * 60,
}


def _one_sentence(message: str) -> None:
    assert message.strip()
    assert "Traceback" not in message
    assert "\n" not in message
    assert len(message) < 260
    assert message.rstrip().endswith((".", "?"))


@pytest.mark.parametrize("text", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
async def test_bad_input_gets_one_clear_sentence(router: CommandRouter, text: str) -> None:
    with pytest.raises(TrackingError) as caught:
        await router.handle_text(chat(), text)
    _one_sentence(caught.value.user_message)


def test_normalise_trims_drops_separators_and_upper_cases() -> None:
    assert normalise("  1z 999-aa1 0123456784 ") == "1Z999AA10123456784"


def test_identifier_reads_a_ups_number() -> None:
    ident = parse_identifier("1z999aa10123456784")
    assert ident.text == "1Z999AA10123456784"
    assert ident.order_id is None
    assert ident.matches[0].carrier.code == "ups"


def test_order_id_shape_is_recognised() -> None:
    assert parse_identifier("576000000000000001").order_id == "576000000000000001"


def test_parse_command_drops_bot_name_and_lowercases() -> None:
    parsed = parse_command("/Track@parcelbot 1Z999AA10123456784 ups")
    assert parsed.name == "track"
    assert parsed.args == ("1Z999AA10123456784", "ups")


def test_parse_command_needs_a_slash() -> None:
    with pytest.raises(InvalidInput):
        parse_command("track 123")


@pytest.fixture
def live_router(tmp_path: Path) -> Iterator[tuple[asyncio.Runner, CommandRouter]]:
    """A router on a real database, driven from synchronous hypothesis tests."""
    runner = asyncio.Runner()
    clock = FakeClock()
    opened = Database.open(tmp_path / "fuzz.sqlite3")
    db = runner.run(opened.__aenter__())
    service = ParcelService(
        provider=SandboxProvider(clock),
        store=db,
        clock=clock,
        orders=SandboxShop(clock),
        config=ServiceConfig(user_requests_per_minute=1_000_000),
        rng=random.Random(1),
    )
    try:
        yield runner, CommandRouter(service)
    finally:
        runner.run(opened.__aexit__(None, None, None))
        runner.close()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.text(max_size=200),
        st.builds(
            lambda cmd, arg: f"/{cmd} {arg}",
            st.sampled_from(
                [
                    "track",
                    "subscribe",
                    "unsubscribe",
                    "history",
                    "explain",
                    "list",
                    "help",
                    "forget",
                    "verify",
                    "start",
                    "nope",
                ]
            ),
            st.text(max_size=80),
        ),
    )
)
def test_random_text_never_crashes(
    live_router: tuple[asyncio.Runner, CommandRouter], text: str
) -> None:
    runner, router = live_router
    try:
        replies = runner.run(router.handle_text(chat(), text))
    except TrackingError as err:
        _one_sentence(err.user_message)
    else:
        assert all(reply.title for reply in replies)


async def test_a_note_about_a_mismatched_carrier_word_masks_the_number_in_a_group(
    service: ParcelService,
) -> None:
    from core.providers.sandbox import SAMPLE_NUMBERS, Scenario

    number = SAMPLE_NUMBERS[Scenario.NORMAL]  # a UPS number
    router = CommandRouter(service)
    group = chat("group", "member", group=True)
    replies = await router.run(group, "subscribe", [number, "fedex", "gift"])
    text = "\n".join(line for reply in replies for line in (reply.title, *reply.lines))
    assert "kept in the label" in text
    assert number not in text and f"…{number[-4:]}" in text

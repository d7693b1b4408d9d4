"""What a new buyer pastes, as reported: each case once misread or refused.

Every test drives the real router on a real database with the sandbox carrier, so it checks
what the buyer is told, not an internal helper.
"""

from __future__ import annotations

import pytest

from core.commands import CommandRouter
from core.errors import TrackingError
from core.replies import Reply, ReplyKind
from tests.fakes import chat

USPS = "9400111899000000000275"
UPS = "1ZSBX1230300000263"
FEDEX = "771200000041"


async def say(router: CommandRouter, text: str) -> list[Reply]:
    return await router.handle_text(chat(), text)


async def refused(router: CommandRouter, text: str) -> str:
    with pytest.raises(TrackingError) as caught:
        await say(router, text)
    return caught.value.user_message


def text_of(replies: list[Reply]) -> str:
    return "\n".join(reply.plain_text() for reply in replies)


# --- a different number than pasted ----------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "/track "])
async def test_a_usps_number_with_one_digit_too_many_is_never_read_as_its_prefix(
    router: CommandRouter, prefix: str
) -> None:
    message = await refused(router, prefix + "9400 1118 9900 0000 0000 275")
    assert "94001118990000000000" not in message.replace(" ", "").replace(
        "94001118990000000000275", ""
    )
    assert "9400 1118 9900 0000 0000 275" in message


@pytest.mark.parametrize("prefix", ["", "/track "])
async def test_a_usps_number_printed_in_groups_is_joined(
    router: CommandRouter, prefix: str
) -> None:
    replies = await say(router, prefix + "9400 1118 9900 0000 0002 75")
    assert replies[0].title.endswith(USPS)


# --- refused forms -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("/track 1z sbx 123 03 0000 0263", UPS),
        (f"https://www.ups.com/track?loc=en_US&tracknum={UPS}&requester=ST/", UPS),
        (f"/track https://www.fedex.com/fedextrack/?trknbr={FEDEX}", FEDEX),
        ("１ＺＳＢＸ１２３０３０００００２６３", UPS),
        ("/track １ｚｓｂｘ１２３０３０００００２６３", UPS),
        (f"{UPS[:6]}\u200b{UPS[6:]}", UPS),
        (f"\ufeff{UPS}", UPS),
    ],
)
async def test_forms_once_refused_are_read(router: CommandRouter, text: str, number: str) -> None:
    replies = await say(router, text)
    assert len(replies) == 1
    assert replies[0].title.endswith(number)


async def test_two_numbers_in_one_message_are_both_tracked(router: CommandRouter) -> None:
    replies = await say(router, f"{UPS} {FEDEX}")
    assert [reply.title.split()[-1] for reply in replies] == [UPS, FEDEX]


# --- carrier words -----------------------------------------------------------------------------


async def test_a_shop_name_after_a_ups_number_is_part_of_the_label(router: CommandRouter) -> None:
    replies = await say(router, f"/subscribe {UPS} amazon headphones")
    assert replies[0].title == f"amazon headphones — UPS {UPS}"


async def test_a_carrier_that_does_not_fit_the_number_is_questioned(
    router: CommandRouter,
) -> None:
    replies = await say(router, f"/subscribe {FEDEX} evri")
    assert replies[0].kind is ReplyKind.CHOICE
    assert "Evri" in text_of(replies) and "FedEx" in text_of(replies)
    assert await router.service.list_numbers(chat()) == []


# --- typos -------------------------------------------------------------------------------------


async def test_a_fedex_number_with_one_wrong_digit_is_a_typo_not_jt(router: CommandRouter) -> None:
    shown = text_of(await say(router, "771200000042"))
    assert "FedEx" in shown and "check digit" in shown
    assert "J&T Express 771200000042" not in shown


async def test_a_ups_number_with_a_wrong_check_digit_is_called_a_typo(
    router: CommandRouter,
) -> None:
    shown = text_of(await say(router, "1ZSBX1230300000264"))
    assert "looks like a UPS number but its check digit does not match" in shown


# --- plain words and questions ----------------------------------------------------------------


@pytest.mark.parametrize("word", ["help", "hi", "Hello", "START", "?"])
async def test_plain_words_show_help(router: CommandRouter, word: str) -> None:
    replies = await say(router, word)
    assert "/track" in text_of(replies)


async def test_track_accepts_a_label(router: CommandRouter) -> None:
    await say(router, f"/subscribe {UPS} headphones")
    replies = await say(router, "/track headphones")
    assert replies[0].title.endswith(UPS)


@pytest.mark.parametrize("topic", ["peak season", "not updating"])
async def test_explain_answers_the_questions_buyers_ask(router: CommandRouter, topic: str) -> None:
    replies = await say(router, f"/explain {topic}")
    assert replies[0].lines


async def test_a_number_with_one_digit_too_many_gets_the_only_repair(
    router: CommandRouter,
) -> None:
    message = await refused(router, "9400 1118 9900 0000 0000 275")
    assert f"did you mean {USPS}" in message


async def test_a_typo_one_slip_from_one_of_my_parcels_names_it(router: CommandRouter) -> None:
    await say(router, f"/subscribe {FEDEX} headphones")
    replies = await say(router, "771200000042")
    assert f"Did you mean {FEDEX} (headphones), one of yours?" in text_of(replies)
    assert any(button.args == (FEDEX,) for button in replies[0].buttons)


async def test_more_numbers_than_the_limit_are_counted_and_said(router: CommandRouter) -> None:
    numbers = [UPS, FEDEX, USPS, "LTN74207623N1", "YT2229521272164446", "RB402137651GB"]
    replies = await say(router, "Your parcels: " + ", ".join(numbers))
    assert [reply.title.split()[-1] for reply in replies[:5]] == numbers[:5]
    assert "send the other one in another message" in replies[5].lines[0]


@pytest.mark.parametrize("command", ["/history", "/report", "/mute"])
async def test_labels_work_wherever_a_number_does(router: CommandRouter, command: str) -> None:
    await say(router, f"/subscribe {UPS} birthday present")
    replies = await say(router, f"{command} Birthday Present")
    assert replies and replies[0].kind is not ReplyKind.ERROR


@pytest.mark.parametrize("text", ["hello there friend", "where is it"])
async def test_words_without_a_number_are_told_so(router: CommandRouter, text: str) -> None:
    assert "found no tracking number" in await refused(router, text)


async def test_track_with_an_unknown_label_says_so(router: CommandRouter) -> None:
    message = await refused(router, "/track birthday present")
    assert message.startswith("“birthday present” is not a tracking number")

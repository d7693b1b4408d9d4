"""Discord slash commands read their arguments with the same core reader as the other chats."""

from __future__ import annotations

import simcord

from core.providers.sandbox import SAMPLE_NUMBERS, Scenario
from tests.bots.discord.helpers import action_custom_ids, embed_of

NUMBER = SAMPLE_NUMBERS[Scenario.NORMAL]


def _alice(env: simcord.Env) -> tuple[simcord.MemberActor, simcord.ChannelHandle]:
    channel = env.create_guild("Shop fans").create_text_channel("general")
    return env.guild.add_member(env.create_user("alice")), channel


async def test_track_reads_grouped_digits_links_and_fullwidth(simcord_env: simcord.Env) -> None:
    alice, channel = _alice(simcord_env)
    for pasted, title in (
        ("9400 1118 9900 0000 0002 75", "USPS 9400111899000000000275"),
        ("https://www.ups.com/track?loc=en_US&tracknum=" + NUMBER, f"UPS {NUMBER}"),
        ("１ＺＳＢＸ１２３０３０００００２６３", f"UPS {NUMBER}"),
        (f"{NUMBER[:6]}\u200b{NUMBER[6:]}", f"UPS {NUMBER}"),
    ):
        result = await alice.slash(channel, "track", number=pasted)
        assert result.response is not None
        assert embed_of(result.response).title == title


async def test_a_carrier_that_does_not_fit_is_questioned(simcord_env: simcord.Env) -> None:
    alice, channel = _alice(simcord_env)
    result = await alice.slash(channel, "track", number="771200000041", carrier="evri")
    assert result.response is not None
    embed = embed_of(result.response)
    assert embed.title == "Is 771200000041 really an Evri number?"
    assert action_custom_ids(result.response.components) == [
        "pb:track:771200000041|fedex",
        "pb:track:771200000041|evri|anyway",
    ]


async def test_subscribe_keeps_a_shop_name_in_the_label(simcord_env: simcord.Env) -> None:
    alice, channel = _alice(simcord_env)
    result = await alice.slash(channel, "subscribe", number=NUMBER, label="amazon headphones")
    assert result.response is not None
    assert embed_of(result.response).title == f"amazon headphones — UPS {NUMBER}"


async def test_a_number_cut_short_is_refused_in_one_sentence(simcord_env: simcord.Env) -> None:
    alice, channel = _alice(simcord_env)
    result = await alice.slash(channel, "track", number="9400 1118 9900 0000 0000 275")
    assert result.response is not None
    assert "could not read “9400 1118 9900 0000 0000 275”" in result.response.content
    # It went through the adapter's one error handler, as every InvalidInput does.
    assert [type(error).__name__ for error in simcord_env.errors] == ["CommandInvokeError"]


async def test_explain_answers_common_questions(simcord_env: simcord.Env) -> None:
    alice, channel = _alice(simcord_env)
    result = await alice.slash(channel, "explain", code="peak season")
    assert result.response is not None
    assert embed_of(result.response).title == "Peak-season delays"

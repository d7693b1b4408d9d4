"""Per-server settings and member routes on a real SQLite file."""

from __future__ import annotations

from core.models import GuildSettings, MemberRoute
from storage.db import Database


async def test_defaults_then_saved_settings(db: Database) -> None:
    store = db.discord
    assert await store.get(1) == GuildSettings(1)
    assert not GuildSettings(1, 5, False).public_alerts
    assert not GuildSettings(1, None, True).public_alerts
    await store.save(GuildSettings(1, 5, True))
    assert (await store.get(1)).public_alerts
    await store.save(GuildSettings(1, None, True))
    assert await store.get(1) == GuildSettings(1, None, True)


async def test_member_routes_and_dm_state(db: Database) -> None:
    store = db.discord
    user = 1_234_567_890_123_456_789  # snowflakes use all 63 bits
    assert await store.member(user) == MemberRoute(user)
    await store.set_public_guild(user, 10)
    await store.remember_home(user, 10, 11)
    await store.set_dm_state(user, closed=True, notice_sent=False)
    assert await store.member(user) == MemberRoute(user, 10, 10, 11, True, False)
    await store.set_public_guild(user, None)
    assert (await store.member(user)).public_guild_id is None
    assert await store.forget_member(user) == 1
    assert await store.member(user) == MemberRoute(user)


async def test_deleting_a_server_clears_routes_into_it_only(db: Database) -> None:
    store = db.discord
    await store.save(GuildSettings(10, 11, True))
    await store.save(GuildSettings(20, 21, True))
    await store.set_public_guild(1, 10)
    await store.remember_home(1, 10, 11)
    await store.set_public_guild(2, 20)
    await store.remember_home(2, 20, 21)

    await store.delete_guild(10)

    assert await store.get(10) == GuildSettings(10)
    assert await store.member(1) == MemberRoute(1)
    assert await store.get(20) == GuildSettings(20, 21, True)
    assert await store.member(2) == MemberRoute(2, 20, 20, 21)

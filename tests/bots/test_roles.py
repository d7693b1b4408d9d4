"""Roles: which parts a process runs, which chats it sends to, and Discord shard ranges."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bots.discord_bot import build_bot
from bots.readiness import Heartbeat, Readiness
from bots.runtime import _send_platforms, _serves_webhooks, _worker_name
from bots.settings import ROLES, load_settings, parse_shards
from core.commands import CommandRouter
from core.models import Backlog
from storage.db import Database


def test_all_roles_by_default_and_a_subset_when_asked() -> None:
    assert load_settings().role_set == frozenset(ROLES)
    chosen = load_settings(roles="Sender, poller,sender")
    assert chosen.roles == "sender,poller"
    assert chosen.role_set == {"sender", "poller"}


def test_an_unknown_role_is_refused_naming_the_valid_ones() -> None:
    with pytest.raises(ValidationError, match="unknown role 'pollers'; use all or poller"):
        load_settings(roles="pollers")


def test_shard_ranges() -> None:
    assert parse_shards("") is None
    assert parse_shards("0-3") == [0, 1, 2, 3]
    assert parse_shards("4, 0-1,1") == [0, 1, 4]
    for bad in ("3-1", "a", "1-", "-2"):
        with pytest.raises(ValueError, match="shard"):
            parse_shards(bad)
    with pytest.raises(ValidationError, match="write shard numbers like 0-3"):
        load_settings(discord_shard_ids="2-0")


def test_a_sender_sends_only_to_the_platforms_it_runs() -> None:
    tokens = {"telegram_token": "1:T", "discord_token": "D"}
    assert _send_platforms(load_settings(roles="sender", **tokens)) == ("telegram",)
    assert _send_platforms(load_settings(roles="sender,discord", **tokens)) == (
        "telegram",
        "discord",
    )
    assert _send_platforms(load_settings(roles="poller", discord_token="D")) == ()


def test_the_webhook_server_runs_with_its_role_or_a_telegram_webhook_front_end() -> None:
    assert _serves_webhooks(load_settings())
    assert not _serves_webhooks(load_settings(roles="poller,sender"))
    assert _serves_webhooks(load_settings(roles="webhook"))
    front = {
        "telegram_token": "1:T",
        "telegram_webhook": True,
        "public_url": "https://x.test",
        "webhook_port": 8080,
    }
    assert _serves_webhooks(load_settings(roles="telegram", **front))
    assert not _serves_webhooks(load_settings(roles="telegram", telegram_token="1:T"))


async def test_one_sqlite_process_keeps_the_local_name_unless_told() -> None:
    async with Database.open(":memory:") as db:
        assert _worker_name(load_settings(), db) == "local"
        assert _worker_name(load_settings(worker_name="w7"), db) == "w7"


def test_a_shard_range_makes_a_sharded_bot_connecting_only_those_shards() -> None:
    class Guilds:
        pass

    bot = build_bot(
        CommandRouter.__new__(CommandRouter),
        guilds=Guilds(),  # type: ignore[arg-type]
        shard_count=4,
        shard_ids=[2, 3],
    )
    assert bot.shard_count == 4
    assert bot.shard_ids == [2, 3]  # type: ignore[union-attr]


async def test_readiness_checks_only_the_cycles_the_process_runs() -> None:
    clock = [0.0]
    beat = Heartbeat(monotonic=lambda: clock[0])
    clock[0] = 600.0  # neither cycle ever ran: both are overdue

    async def nothing_waiting() -> Backlog:
        return Backlog(outbox_due=0, oldest_alert=None, parcels_due=0, oldest_check=None)

    async def reachable() -> None:
        return None

    def readiness(cycles: frozenset[str]) -> Readiness:
        return Readiness(
            db_path="",
            heartbeat=beat,
            poll_interval=15,
            flush_interval=2,
            max_backlog=10,
            backlog=nothing_waiting,
            sources=dict,
            probe=reachable,
            cycles=cycles,
        )

    ready, checks = await readiness(frozenset({"poll", "flush"})).check()
    assert not ready
    assert not checks["poll"]["ok"]
    beat.flushed()
    ready, checks = await readiness(frozenset({"flush"})).check()
    assert ready, checks
    assert "poll" not in checks

"""The bot's garbage collector settings, applied once start-up is over."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import pytest

import bots.console_bot
from bots.gc_settings import (
    BOT_GC_THRESHOLDS,
    GEN0_THRESHOLD,
    apply_bot_gc_settings,
    freeze_survivors,
    revisit_frozen,
)
from bots.runtime import Runtime, run
from bots.settings import load_settings
from core import cooperative
from core.cooperative import Breather
from tests.turns import Turns


@pytest.mark.usefixtures("restore_gc")
def test_apply_freezes_start_up_objects_and_raises_the_thresholds() -> None:
    gc.set_threshold(700, 10, 10)
    before = apply_bot_gc_settings()
    assert before == (700, 10, 10)
    assert gc.get_threshold() == BOT_GC_THRESHOLDS
    assert BOT_GC_THRESHOLDS[0] == GEN0_THRESHOLD
    assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("restore_gc")
def test_garbage_start_up_left_is_frozen_with_it_and_freed_by_the_daily_revisit() -> None:
    first, second = _Node(), _Node()
    first.other, second.other = second, first
    alive = weakref.ref(first)
    del first, second
    apply_bot_gc_settings()  # no full pass at start-up: it would cost more than it frees
    gc.collect()
    assert alive() is not None
    assert revisit_frozen() >= 2
    assert alive() is None


@pytest.mark.usefixtures("restore_gc")
def test_garbage_in_cycles_is_still_collected() -> None:
    apply_bot_gc_settings()

    first, second = _Node(), _Node()
    first.other, second.other = second, first
    del first, second
    assert gc.collect() >= 2


class _Node:
    other: object = None

    def __init__(self) -> None:
        self.payload = [1, 2, 3]


def _tracked(obj: object) -> bool:
    """Whether a collection would walk ``obj`` (frozen objects are not listed)."""
    return any(candidate is obj for candidate in gc.get_objects())


@pytest.mark.usefixtures("restore_gc")
def test_what_survives_a_collection_is_never_walked_again() -> None:
    apply_bot_gc_settings()
    apply_bot_gc_settings()  # applying twice registers the callback once
    assert gc.callbacks.count(freeze_survivors) == 1
    cache = {"parcel": _Node()}
    assert _tracked(cache)
    frozen = gc.get_freeze_count()
    gc.collect(0)  # a young pass, as the allocation threshold starts one
    assert not _tracked(cache)
    assert gc.get_freeze_count() > frozen
    # Nothing of it is lost: it is still reachable and alive.
    assert cache["parcel"].payload == [1, 2, 3]


@pytest.mark.usefixtures("restore_gc")
def test_a_cycle_that_dies_after_it_was_frozen_is_freed_by_the_daily_revisit() -> None:
    apply_bot_gc_settings()
    first, second = _Node(), _Node()
    first.other, second.other = second, first
    gc.collect(0)  # they survive a pass: frozen
    alive = weakref.ref(first)
    del first, second
    gc.collect()
    assert alive() is not None  # the collector no longer looks at them
    assert revisit_frozen() >= 2
    assert alive() is None
    assert gc.get_freeze_count() > 0  # what is alive is frozen again


@pytest.mark.usefixtures("restore_gc", "clean_environment")
async def test_bot_start_up_applies_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gc.set_threshold(700, 10, 10)
    seen: list[tuple[tuple[int, int, int], int]] = []

    async def console(runtime: Runtime) -> int:
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        return 0

    monkeypatch.setattr(bots.console_bot, "run_console", console)
    assert await run(load_settings(db=str(tmp_path / "bot.sqlite3")), console=True) == 0
    assert len(seen) == 1
    thresholds, frozen = seen[0]
    assert thresholds == BOT_GC_THRESHOLDS
    assert frozen > 0


@pytest.mark.usefixtures("restore_gc")
async def test_a_long_loop_gives_the_collector_a_young_pass_each_time_it_gives_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    apply_bot_gc_settings()
    monkeypatch.setattr(cooperative, "SLICE", 0.0)  # every item is a slice of its own
    turns = Turns()
    young: list[int] = []

    def seen(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info["generation"] == 0:
            young.append(turns.count)

    gc.callbacks.append(seen)
    try:
        breathe = Breather()
        with turns:
            for _ in range(6):
                await breathe()
    finally:
        gc.callbacks.remove(seen)
    # Far fewer allocations than the threshold: each pass came with a give-way.
    assert len(set(young)) >= 6

"""``Breather``: long loops give way once a slice has passed since the event loop's thread last
gave way, however many loops (each with its own ``Breather``) the stretch ran through.

Counted by interleavings against a stepped clock, never timed."""

from __future__ import annotations

import asyncio

import pytest

from core import cooperative
from core.cooperative import Breather, between_slices, let_go
from tests.turns import SteppedClock, Turns


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SteppedClock:
    return SteppedClock().install(monkeypatch)


async def test_a_loop_gives_way_once_per_slice(clock: SteppedClock) -> None:
    breathe = Breather(1.0)
    seen: list[int] = []
    with Turns() as turns:
        await breathe()  # a first give-way: nothing says when the thread last gave way
        for _ in range(6):
            clock.now += 0.5
            await breathe()
            seen.append(turns.count)
    # Two half slices make one: the counting task ran after every second item.
    assert seen == [seen[0], seen[0] + 1, seen[0] + 1, seen[0] + 2, seen[0] + 2, seen[0] + 3]


async def _turns_after_short_loops(clock: SteppedClock, each: float) -> list[int]:
    """The other tasks' turns after each of six loops of one item taking ``each`` seconds (a
    slice is 1 s), each loop with a Breather of its own, as each call to a source has within
    one poll."""
    seen: list[int] = []
    with Turns() as turns:
        await Breather(1.0)()
        for _ in range(6):
            breathe = Breather(1.0)
            clock.now += each
            await breathe()
            seen.append(turns.count)
    return seen


async def test_short_loops_one_after_another_give_way_as_one_long_loop(
    clock: SteppedClock,
) -> None:
    seen = await _turns_after_short_loops(clock, 0.5)
    assert seen == [seen[0], seen[0] + 1, seen[0] + 1, seen[0] + 2, seen[0] + 2, seen[0] + 3]


async def test_nothing_gives_way_within_a_slice(clock: SteppedClock) -> None:
    """The control: what the tests above tell apart."""
    seen = await _turns_after_short_loops(clock, 0.1)
    assert len(set(seen)) == 1


async def test_work_between_slices_runs_each_time_a_loop_has_given_way(
    clock: SteppedClock,
) -> None:
    ran: list[int] = []
    with Turns() as turns:
        before = between_slices(lambda: ran.append(turns.count))
        try:
            breathe = Breather(1.0)
            await breathe()
            for _ in range(4):
                clock.now += 0.5
                await breathe()
        finally:
            between_slices(before)
    # After the other tasks' turn, at the first give-way and then at every second item.
    assert ran[0] >= 1
    assert ran == [ran[0], ran[0] + 1, ran[0] + 2]


async def test_a_memo_is_let_go_a_slice_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cooperative, "SLICE", 0.0)  # every slice is a chance to give way
    monkeypatch.setattr(cooperative, "RELEASE_SLICE", 2)
    memo = {index: [index] for index in range(5)}
    sizes: list[int] = []

    async def watch() -> None:
        while True:
            sizes.append(len(memo))
            await asyncio.sleep(0)

    watcher = asyncio.get_running_loop().create_task(watch())
    await let_go(memo)
    watcher.cancel()
    assert memo == {}
    # The other task ran between any two slices of two entries.
    assert sizes[:3] == [5, 3, 1]

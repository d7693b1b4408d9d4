"""The per-user sliding window behind the service's rate limits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.guards import SlidingWindow, retry_backoff


def test_the_limit_holds_inside_the_window_and_frees_as_it_slides() -> None:
    window = SlidingWindow(3, 60.0)
    assert [window.hit("u", t) for t in (0.0, 10.0, 20.0)] == [True, True, True]
    assert window.hit("u", 30.0) is False
    # A refused hit is not counted: the oldest event still decides when room comes back.
    assert window.retry_after("u", 30.0) == pytest.approx(30.0)
    assert window.hit("u", 59.9) is False
    assert window.hit("u", 60.0) is True  # the event at 0.0 has left the window
    assert window.hit("u", 60.0) is False


def test_keys_are_independent_and_clear_forgets_one() -> None:
    window = SlidingWindow(1, 60.0)
    assert window.hit("a", 0.0) and window.hit("b", 0.0)
    assert not window.hit("a", 1.0)
    window.clear("a")
    assert window.retry_after("a", 1.0) == 0.0
    assert window.hit("a", 1.0)
    assert not window.hit("b", 1.0)


def test_retry_backoff_doubles_up_to_its_cap() -> None:
    base, cap = timedelta(seconds=30), timedelta(hours=1)
    waits = [retry_backoff(attempts, base, cap) for attempts in range(9)]
    assert waits[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert waits[6] == timedelta(seconds=30 * 64) and waits[7] == waits[8] == cap
    assert retry_backoff(10_000, base, cap) == cap  # no overflow however often it failed

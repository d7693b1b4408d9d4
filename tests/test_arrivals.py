"""The window count the rate-limit tests and benchmarks judge by: it must catch a sequence
that breaks a limit, and count windows half-open."""

from __future__ import annotations

from tests.arrivals import most_in_window, most_per_key


def test_four_requests_within_one_second_break_a_three_a_second_limit() -> None:
    assert most_in_window([0.0, 0.3, 0.6, 0.99]) == 4
    assert most_in_window([5.0, 0.0, 0.2, 0.25, 3.0, 0.4]) == 4  # any order


def test_windows_are_half_open() -> None:
    # [0, 1) holds 0, 0.34 and 0.68; 1.0 starts the next window.
    assert most_in_window([0.0, 0.34, 0.68, 1.0]) == 3
    assert most_in_window([0.0, 0.34, 0.68, 0.999999]) == 4
    assert most_in_window([]) == 0


def test_longer_windows_and_keys() -> None:
    minute = [float(i * 2) for i in range(21)]  # 21 messages in 40 s
    assert most_in_window(minute, 60.0) == 21
    assert most_in_window([float(i * 3) for i in range(21)], 60.0) == 20
    assert most_per_key([("a", 0.0), ("b", 0.1), ("a", 0.5), ("a", 1.5)]) == {"a": 2, "b": 1}

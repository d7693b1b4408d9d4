"""Limits on ownership proofs (``/verify``): per person and per order, with growing lockouts.

A proof is a postcode or the last four phone digits: few enough values that many accounts
guessing together would find it. So failed proofs are counted twice, in the database (they
survive a restart):

- per person (``Scope.USER``): ``user.attempts`` failures within ``user.window`` lock that
  person out of every proof for ``user.lock``;
- per order (``Scope.ORDER``), across every account: ``order.attempts`` failures within
  ``order.window`` lock the order for ``order.lock``, whoever asks, even with the right proof.

Each further lockout of the same subject lasts twice as long as the one before (at most
``max_lock``). A correct proof clears the person's record (not the order's: a lucky guess
must not reset the order's count).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.models import Attempts

__all__ = ["LockPolicy", "after_failure", "locked_until"]


@dataclass(frozen=True, slots=True)
class LockPolicy:
    """How many failures in how long lock a subject out, and for how long."""

    attempts: int
    window: timedelta
    lock: timedelta
    max_lock: timedelta


def locked_until(state: Attempts, now: datetime) -> datetime | None:
    """When the subject's lockout ends, or None when it is not locked at ``now``."""
    if state.locked_until is not None and now < state.locked_until:
        return state.locked_until
    return None


def after_failure(state: Attempts, now: datetime, policy: LockPolicy) -> Attempts:
    """The record after one more failed proof at ``now`` (it may start a lockout)."""
    fresh = state.window_start is None or now - state.window_start >= policy.window
    failures = 1 if fresh else state.failures + 1
    start = now if fresh else state.window_start
    if failures < max(1, policy.attempts):
        return Attempts(failures, start, state.locked_until, state.lockouts)
    lock = min(policy.lock * (2 ** min(state.lockouts, 20)), policy.max_lock)
    return Attempts(0, None, now + lock, state.lockouts + 1)

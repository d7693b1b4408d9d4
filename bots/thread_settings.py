"""The interpreter's thread switching settings of a long-running bot process.

The event loop shares the interpreter lock with the database's worker thread (aiosqlite runs
every write transaction there) and with the HTTP clients' threads. A chat command's reads run
on the event loop's own thread (``storage.connection.InlineReader``), and every SQLite call
lets go of the lock while SQLite works. When the call returns, the lock is usually held by the
worker thread, busy with a poll cycle's rows, and CPython only makes it hand the lock back
after the *switch interval* (5 ms by default). A ``/track`` makes about ten such calls, so
while a poll wrote it could wait that long several times over: its p99 was tens of
milliseconds for a few hundred microseconds of work (``benchmarks/track_during_poll.py``).

``apply_bot_thread_settings`` shortens the interval to ``SWITCH_INTERVAL``: a thread waiting
for the lock gets it within about that long. More frequent switches cost the threads that
hold the lock for long stretches a little; the poll throughput rows of the same benchmark
show it.
"""

from __future__ import annotations

import sys

__all__ = ["SWITCH_INTERVAL", "apply_bot_thread_settings"]

SWITCH_INTERVAL = 0.0005
"""Seconds a thread may keep the interpreter lock while another waits for it (CPython: 0.005)."""


def apply_bot_thread_settings() -> float:
    """Set the switch interval (see the module docstring); return the one in force before."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    return before

"""The core's tunables (``ServiceConfig``): plain values, set by the composition root.

Read by the use cases (``core.service``), the refresh pipeline (``core.refresh``) and order
access (``core.ownership``). Imports only the standard library and ``core.ownership``'s
``LockPolicy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from core.ownership import LockPolicy

__all__ = ["ServiceConfig"]

_USER_PROOFS = LockPolicy(5, timedelta(minutes=15), timedelta(minutes=15), timedelta(days=1))
_ORDER_PROOFS = LockPolicy(10, timedelta(days=1), timedelta(hours=1), timedelta(days=7))


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Tunables, passed down from settings as plain values."""

    default_timezone: str = "UTC"
    """The time zone for chats that chose none (``ChatSettings.zoned``)."""
    refresh_after: timedelta = timedelta(minutes=5)
    """A stored snapshot younger than this answers /track without asking the provider."""
    poll_at_most: timedelta | None = None
    """Poll every followed parcel at least this often, whatever ``core.polling`` says. For the
    sandbox demo, whose virtual clock runs fast (at 60×, a 12 h interval is 12 real minutes of
    silence after a scan): the runtime sets it to one poll cycle of virtual time."""
    stale_deadline: timedelta = timedelta(seconds=2)
    """How long a person's request waits for the source when a stored snapshot exists; then
    the stored one answers, saying how old it is. A source marked failing is not asked."""
    fresh_deadline: timedelta = timedelta(seconds=20)
    """How long a person's request waits for the source about a parcel never stored."""
    error_retry: timedelta = timedelta(hours=1)
    """When a poll of one parcel fails, try that parcel again after this long."""
    flush_retry_base: timedelta = timedelta(seconds=30)
    """The first retry of a failed delivery waits this long; each further one twice as long."""
    flush_retry_max: timedelta = timedelta(hours=2)
    """Retries of a failed delivery never wait longer than this (alerts are never dropped)."""
    user_proofs: LockPolicy = _USER_PROOFS
    """Failed ownership proofs one person may make before a (growing) lockout."""
    order_proofs: LockPolicy = _ORDER_PROOFS
    """Failed proofs for one order, across every account, before it is locked for everyone."""
    send_timeout: timedelta = timedelta(seconds=30)
    """One message's send (the platform's queueing included) is given up after this long and
    retried later; a hung platform call never holds a chat's alerts for good."""
    max_send_attempts: int = 10
    """A chat whose message failed this many times in a row is parked until the person writes
    again (its alerts wait; see ``core.flusher``)."""
    user_requests_per_minute: int = 30
    confirm_within: timedelta = timedelta(minutes=2)
    """How long a destructive command's confirmation button works."""
    archive_after: timedelta = timedelta(days=7)
    """Delivered and returned parcels move to the archive this long after they finished
    (never sooner than a day after delivery: the delivery follow-up comes first)."""
    expire_after: timedelta = timedelta(days=30)
    """Parcels never scanned this long after they were first seen expire, with one last alert."""
    housekeeping_every: timedelta = timedelta(hours=1)
    """How often ``poll_due`` also runs ``archive_due``."""
    webhook_trust: timedelta = timedelta(days=3)
    """A parcel pushed (webhook) this recently is polled only as a daily safety net."""
    fail_after_calls: int = 3
    """A source counts as failing after this many failed calls in a row (see ``SourceHealth``).

    A call fails only once the HTTP layer's retries are spent (4 attempts by default), so at
    30 % failed requests one call in ~120 fails and three in a row (~1 in 2 million) mean a
    real outage, reported within three poll cycles (under a minute at the 15 s default)."""
    worker: str = "local"
    """This process's name in leases on shared work (``poll_due``'s parcels, the outbox's
    chats). Processes sharing one database need different names; one alone keeps "local",
    which also lets it take back at once what it held before a restart."""
    poll_lease: timedelta | None = None
    """How long a poller holds the parcels it claimed, where several pollers share the
    database; a poller that dies mid-cycle leaves them due again this long after it claimed
    them. Longer than any poll cycle. None: this process is the database's only poller (a
    SQLite file is locked for one process), so nothing is claimed and its cycles take turns;
    a claim there would rewrite every due row once more per cycle for nobody's benefit."""
    send_lease: timedelta = timedelta(minutes=2)
    """How long a flusher holds a chat before it must renew its claim (it does so while it
    works on the chat); a flusher that dies leaves its chats to others this long after."""
    send_concurrency: int = 256
    """Chats a flusher sends to at once, one message in flight to each. A flusher killed
    mid-send repeats the messages the platform had accepted and it had not marked sent: at
    most this many. 1 bounds that to one message per kill, at one message per round trip to
    the platform per process (with 50 ms round trips, 20 a second: two processes fill
    Telegram's 30)."""
    send_platforms: tuple[str, ...] = ()
    """The platforms this process delivers alerts to (empty: every one); chats elsewhere are
    left to the processes that run those platforms' senders."""
    recover_after_calls: int = 5
    """A failing source counts as recovered after this many successful calls in a row.

    More than ``fail_after_calls``: a source coming back is often flaky at first, and one
    lucky call between failures says nothing. At ~1 failed call in 120 five in a row are
    the norm (96 %), so recovery is reported promptly; a source that alternates stays failing."""

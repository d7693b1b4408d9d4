"""Who wants which alerts, and when: notification preferences and quiet hours.

- A **preference** (``all``, ``milestones``, ``exceptions``, ``off``) is set per chat and may be
  overridden per subscription; a muted subscription gets nothing. ``effective`` combines them:
  the subscription's own choice wins, then the chat's.
- **Quiet hours** are a daily local window (``22:00-07:00 Asia/Jakarta``). Alerts falling in it
  are held, never dropped, and delivered together as one digest when it ends. ``quiet_until``
  says whether a moment is inside the window and, if so, when the window ends (aware UTC). The
  window may cross midnight; start and end are local wall-clock times, so across a DST change
  the window keeps its local hours. A local time skipped by a DST jump counts as the first
  valid moment after it.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

from core.errors import InvalidInput
from core.i18n import _
from core.models import ChatSettings, Preference, Subscription

__all__ = [
    "QUIET_USAGE",
    "QuietHours",
    "effective",
    "parse_preference",
    "parse_quiet",
    "parse_timezone",
    "quiet_text",
    "quiet_until",
]

QUIET_USAGE = "/quiet 22:00-07:00 Asia/Jakarta"

_WINDOW = re.compile(r"^(\d{1,2}):?(\d{2})\s*[-–—]\s*(\d{1,2}):?(\d{2})$")
_TZ_SHAPE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily quiet window in local time: ``start`` up to (not including) ``end``."""

    start: time
    end: time
    timezone: str

    @property
    def text(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} {self.timezone}"


def effective(subscription: Subscription | None, settings: ChatSettings) -> Preference:
    """The preference that applies to one subscription of a chat (muted: off)."""
    if subscription is not None:
        if subscription.muted:
            return Preference.OFF
        if subscription.preference is not None:
            return subscription.preference
    return settings.preference


def parse_preference(text: str) -> Preference:
    """``all`` / ``milestones`` / ``exceptions`` / ``off`` (any case); ``InvalidInput`` else."""
    word = text.strip().lower()
    aliases = {"everything": "all", "milestone": "milestones", "exception": "exceptions"}
    word = aliases.get(word, word)
    try:
        return Preference(word)
    except ValueError:
        raise InvalidInput(
            _("Choose all, milestones, exceptions or off, for example /notify milestones.")
        ) from None


@functools.cache
def _zone_names() -> dict[str, str]:
    return {name.casefold(): name for name in zoneinfo.available_timezones()}


def parse_timezone(text: str) -> str:
    """The canonical IANA name for ``text`` (case-insensitive), or ``InvalidInput``."""
    name = text.strip()
    bad = InvalidInput(
        _("I don't know that time zone. Use a name like Asia/Jakarta, Europe/Berlin or UTC.")
    )
    if not name or len(name) > 64 or not _TZ_SHAPE.match(name):
        raise bad
    canonical = _zone_names().get(name.casefold())
    if canonical is None:
        # Names the tz database knows without listing them (e.g. "UTC" on some systems).
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise bad from None
        canonical = name
    return canonical


def parse_quiet(text: str, default_timezone: str = "UTC") -> QuietHours | None:
    """``22:00-07:00 Asia/Jakarta`` → ``QuietHours``; ``off`` → None; ``InvalidInput`` else.

    The time zone is optional (``default_timezone`` then). Times are 24-hour ``HH:MM``.
    """
    words = text.split()
    if len(words) == 1 and words[0].lower() in {"off", "none", "stop"}:
        return None
    wrong = InvalidInput(
        _("Quiet hours look like {usage} (24-hour times), or /quiet off to turn them off.").format(
            usage=QUIET_USAGE
        )
    )
    if not words or len(words) > 4:
        raise wrong
    zone_name = default_timezone
    last = words[-1]
    if len(words) > 1 and not last[:1].isdigit():
        zone_name = parse_timezone(last)
        words = words[:-1]
    match = _WINDOW.match("".join(words))
    if match is None:
        raise wrong
    h1, m1, h2, m2 = (int(group) for group in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise wrong
    start, end = time(h1, m1), time(h2, m2)
    if start == end:
        raise InvalidInput(
            _("Quiet hours must start and end at different times, e.g. 22:00-07:00.")
        )
    return QuietHours(start, end, parse_timezone(zone_name))


def _hours(settings: ChatSettings) -> QuietHours | None:
    if not settings.quiet_start or not settings.quiet_end:
        return None
    try:
        start = time.fromisoformat(settings.quiet_start)
        end = time.fromisoformat(settings.quiet_end)
    except ValueError:
        return None
    if start == end:
        return None
    return QuietHours(start, end, settings.timezone or "UTC")


def _zone(name: str) -> tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC


def _at(day: datetime, moment: time, zone: tzinfo) -> datetime:
    """``moment`` on ``day``'s local date, as aware UTC (skipped local times move forward)."""
    local = datetime.combine(day.date(), moment, tzinfo=zone)
    # A wall time in a DST gap does not survive a UTC round trip; take the first valid moment.
    back = local.astimezone(UTC).astimezone(zone)
    if back.replace(tzinfo=None) != local.replace(tzinfo=None):
        local = back
    return local.astimezone(UTC)


def quiet_until(settings: ChatSettings, now: datetime) -> datetime | None:
    """When the chat's quiet window ends if ``now`` is inside it (aware UTC), else None."""
    hours = _hours(settings)
    if hours is None:
        return None
    zone = _zone(hours.timezone)
    local_now = now.astimezone(zone)
    # The window that contains ``now`` started today or yesterday (local dates).
    for back in (0, 1):
        day = local_now - timedelta(days=back)
        start = _at(day, hours.start, zone)
        end_day = day if hours.end > hours.start else day + timedelta(days=1)
        end = _at(end_day, hours.end, zone)
        if start <= now < end:
            return end
    return None


def quiet_text(settings: ChatSettings) -> str:
    """A sentence describing the chat's quiet hours."""
    hours = _hours(settings)
    if hours is None:
        return _("Quiet hours are off: alerts arrive as they happen.")
    return _(
        "Quiet hours: {start}–{end} ({zone}). Alerts in that window wait and arrive together "
        "as one digest when it ends."
    ).format(start=f"{hours.start:%H:%M}", end=f"{hours.end:%H:%M}", zone=hours.timezone)

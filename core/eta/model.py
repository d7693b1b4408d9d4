"""Arrival windows learned from delivered parcels, re-estimated at every stage of a parcel.

The model learns two duration distributions from history, both measured in the carrier's
working days (:mod:`core.eta.calendar`):

* *order → delivery*, used before the carrier has the parcel;
* *first carrier scan → delivery*, used once it has.

Each is kept per group, from the most specific to the coarsest: lane (carrier + service +
origin region → destination region), destination, origin, carrier + service, carrier, and
everything. A group's distribution is its own recency-weighted empirical quantiles shrunk
towards its parent's, the parent counting as ``EtaConfig.shrinkage`` observations, so a lane
with three deliveries mostly follows its destination and one with three hundred follows itself.
With no history at all the carriers' published transit times (:mod:`core.eta.priors`) are the
root. A month-of-year factor, learned from the residuals after removing each period's own level,
captures peak seasons, and the P10/P50/P90 levels are recalibrated on the most recent part of the
history, predicted by a model fitted only on what came before.

When a parcel's details are known (postcodes, freight, weight, items: :class:`ParcelDetails`),
its window comes instead from additive effects on log durations (:mod:`core.eta.effects`):
lane, destination postcode area, sender, freight and weight bins, start weekday and hour, how
long the shop promised delivery would take (``promised_by``) and, after handoff, how long the
seller took. Those estimates get their own recalibrated levels.

Estimates are cheap: groups are precomputed quantile grids and an estimate is a few lookups.
"""

from __future__ import annotations

import functools
import logging
import statistics
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from core.eta.calendar import (
    NO_HOLIDAYS,
    BusinessCalendar,
    HolidaySource,
    calendar_for_country,
    resolve_zone,
)
from core.eta.effects import detail_keys
from core.eta.learn import Facts, LearnerConfig, StageLearner
from core.eta.markets import COUNTRY_ZONES, calendar_country, work_week
from core.eta.priors import (
    GENERIC_PRIOR,
    PRIORS,
    PROCESSING_PRIOR,
    TransitPrior,
    find_prior,
    normalise,
    prior_index,
)
from core.eta.stats import Grid, cdf, lognormal_grid, quantile
from core.i18n import _, format_day, format_time, format_window, ngettext
from core.models import (
    Eta,
    EtaSource,
    Observation,
    ParcelDetails,
    Shipment,
    Status,
)

__all__ = [
    "DEFAULT_CALENDAR",
    "EtaConfig",
    "EtaModel",
    "combine",
    "describe",
    "moved_days",
    "observation_from",
    "source_text",
]

logger = logging.getLogger(__name__)

_DAY = 86_400.0
_PURCHASE = "purchase"
_TRANSIT = "transit"
_CALENDAR_CHOICES = 4_096  # (carrier, destination) pairs whose calendar is remembered

DEFAULT_CALENDAR = BusinessCalendar("", "UTC")
"""Monday to Friday in UTC, no holidays: for carriers whose country is unknown."""


# Parcel effects kept because dropping each one raised the pooled fold MAE of its stage
# (``benchmarks/eta_tune.py``); weight, freight per kg, the handoff hour and the seller's delay
# before handoff did not pay their way after the others. The shop's promised span was chosen
# on the monthly folds of 2017-06 to 2017-10 (MAE 0.919 → 0.908 × the online lane median's
# from handoff, 0.922 → 0.907 from purchase) and held on the five later months (0.916 → 0.905,
# 0.912 → 0.900). The days of the promise left at handoff lost on the first five months; the
# promise relative to its lane's usual one added nothing on the last five.
_PURCHASE_FACTORS = frozenset(
    {
        "handling",
        "sender",
        "freight",
        "items",
        "weekday",
        "hour",
        "dzip2",
        "dzip3",
        "ozip3",
        "promise",
    }
)
_TRANSIT_FACTORS = frozenset(
    {"sender", "freight", "items", "weekday", "dzip2", "dzip3", "ozip3", "promise"}
)


@dataclass(frozen=True, slots=True)
class EtaConfig:
    """Tuning knobs. The defaults were chosen by rolling monthly backtests on the training
    history alone (``benchmarks/eta_tune.py``)."""

    purchase: LearnerConfig = field(
        default_factory=lambda: LearnerConfig(factors=_PURCHASE_FACTORS, window_share=0.86)
    )
    """Order → delivery, used before the carrier has the parcel."""
    transit: LearnerConfig = field(
        default_factory=lambda: LearnerConfig(
            factors=_TRANSIT_FACTORS, window_share=0.88, log_offset=8.0
        )
    )
    """First carrier scan → delivery. Windows hold more of the residuals than the 80% they
    should cover: transit times drift from month to month, and a window read from earlier
    months' residuals covers less on the next (windows read from the errors of the estimates
    made at each handoff, not from residuals taken when deliveries are learned, cover barely
    more on the monthly folds, and are wider). Its
    spread widens less with the duration than the purchase stage's: on the monthly folds of
    2017-06 to 2017-10 windows of equal coverage were 4% narrower with ``log_offset`` 8 than
    with 1, and so were they on the five later months."""
    delivery_day_end_hour: int = 21
    """Local hour by which an out-for-delivery parcel is expected."""
    seller_window: int = 20
    """Most recent handling times kept per seller (order to first scan)."""
    max_sellers: int = 100_000
    """Most sellers whose handling history is kept (least recently seen forgotten first)."""


class EtaModel:
    """Learns arrival windows from delivered parcels and estimates them for parcels on the way.

    ``observe`` updates the model incrementally (a few ring buffers and running sums; no refit),
    so every estimate reflects every delivery learned so far. ``calendars`` maps carrier codes
    to their working calendar. Other carriers get the calendar of the country the parcel is
    delivered in (when they deliver there) or of their home market (:mod:`core.eta.markets`,
    else their priors' country): their working week without the public holidays ``holidays``
    knows for that country. Carriers of no known country get ``default_calendar``.
    """

    def __init__(
        self,
        *,
        config: EtaConfig | None = None,
        calendars: Mapping[str, BusinessCalendar] | None = None,
        default_calendar: BusinessCalendar | None = None,
        priors: Iterable[TransitPrior] = PRIORS,
        holidays: HolidaySource = NO_HOLIDAYS,
    ) -> None:
        self.config = config or EtaConfig()
        self._calendars = {normalise(k): v for k, v in (calendars or {}).items()}
        self._holidays = holidays
        self._country_calendars: dict[tuple[str, str], BusinessCalendar] = {}
        self._calendar_choice: dict[tuple[str, str], BusinessCalendar] = {}
        self._default_calendar = default_calendar or DEFAULT_CALENDAR
        self.priors = tuple(priors)
        self._prior_index = prior_index(self.priors)
        self._root_cache: dict[tuple[str, str, str], Grid] = {}
        self._stages = {
            _PURCHASE: StageLearner(self.config.purchase, lambda c, s: self._root(_PURCHASE, c, s)),
            _TRANSIT: StageLearner(self.config.transit, lambda c, s: self._root(_TRANSIT, c, s)),
        }
        self._handling: OrderedDict[str, deque[float]] = OrderedDict()
        """Each seller's recent handling times, least recently seen first."""
        self._count = 0

    # -- history -------------------------------------------------------------------------

    def observe(self, obs: Observation) -> None:
        """Learn one delivered parcel; raises ``ValueError`` when its times are inconsistent."""
        problem = _problem(obs)
        if problem:
            raise ValueError(problem)
        self._learn(obs)

    def observe_many(self, observations: Iterable[Observation]) -> int:
        """Learn many parcels in delivery order, skipping inconsistent ones; returns how many."""
        kept = [obs for obs in observations if not _problem(obs)]
        for obs in sorted(kept, key=lambda o: o.delivered_at):
            self._learn(obs)
        return len(kept)

    def __len__(self) -> int:
        return self._count

    @property
    def fitted_count(self) -> int:
        """How many observations the model has learned (all of them: learning is immediate)."""
        return self._count

    def refit(self) -> None:
        """Nothing to do: every observation is learned as it arrives. Kept for callers."""

    def calendar(self, carrier: str, destination: str = "") -> BusinessCalendar:
        """The working calendar transit times of ``carrier`` to ``destination`` (an ISO
        country code, or "" when unknown) are counted in."""
        code = _name(carrier)
        found = self._calendars.get(code)
        if found is not None:
            return found
        # Asked once per estimate; finding the carrier's prior and country is not free.
        chosen = self._calendar_choice.get((code, destination))
        if chosen is None:
            chosen = self._choose_calendar(code, destination)
            if len(self._calendar_choice) >= _CALENDAR_CHOICES:
                self._calendar_choice.clear()
            self._calendar_choice[(code, destination)] = chosen
        return chosen

    def _choose_calendar(self, code: str, destination: str) -> BusinessCalendar:
        prior = find_prior(self._prior_index, code)
        country = calendar_country(code, destination, prior.country if prior else "")
        zone = COUNTRY_ZONES.get(country)
        if zone is None:
            return self._default_calendar
        made = self._country_calendars.get((code, country))
        if made is None:
            week = work_week(code)
            made = calendar_for_country(
                country, zone, saturday=week[5], sunday=week[6], holidays=self._holidays
            )
            self._country_calendars[(code, country)] = made
        return made

    def memory_items(self) -> int:
        """How many numbers the model holds: bounded by its ring buffers and key limits."""
        sellers = sum(len(v) for v in self._handling.values())
        return sellers + sum(stage.memory_items() for stage in self._stages.values())

    def _learn(self, obs: Observation) -> None:
        cal = self.calendar(obs.carrier, obs.destination)
        at = obs.delivered_at.timestamp()
        # Each instant on the working clock once: stage spans are differences of these.
        delivered = cal.clock(obs.delivered_at)
        ordered = cal.clock(obs.ordered_at)
        handed = obs.handed_over_at
        handed_clock = None if handed is None else cal.clock(handed)
        handling = None if handed_clock is None else max(handed_clock - ordered, 0.0)
        carrier, service = _name(obs.carrier), _name(obs.service)
        promise = _promise_days(cal, obs.ordered_at, obs.promised_by)
        purchase_keys = self._keys(
            _PURCHASE, obs.details, obs.ordered_at, cal, None, promise=promise
        )
        self._stages[_PURCHASE].learn(
            Facts(carrier, service, obs.origin, obs.destination, purchase_keys),
            max(delivered - ordered, 0.0),
            at,
        )
        if handed is not None and handed_clock is not None and handling is not None:
            transit_keys = self._keys(_TRANSIT, obs.details, handed, cal, handling, promise=promise)
            self._stages[_TRANSIT].learn(
                Facts(carrier, service, obs.origin, obs.destination, transit_keys),
                max(delivered - handed_clock, 0.0),
                at,
            )
        sender = _sender(obs.details)
        if sender is not None and handling is not None:
            history = self._handling.get(sender)
            if history is None:
                history = self._handling[sender] = deque(maxlen=self.config.seller_window)
                if len(self._handling) > self.config.max_sellers:
                    self._handling.popitem(last=False)
            else:
                self._handling.move_to_end(sender)
            history.append(handling)
        self._count += 1

    def _facts(
        self,
        stage: str,
        *,
        carrier: str,
        service: str,
        origin: str,
        destination: str,
        details: ParcelDetails | None,
        cal: BusinessCalendar,
        ordered_at: datetime,
        start: datetime,
        promised_by: datetime | None,
    ) -> Facts:
        delay = max(cal.between(ordered_at, start), 0.0) if stage == _TRANSIT else None
        promise = _promise_days(cal, ordered_at, promised_by)
        keys = self._keys(stage, details, start, cal, delay, promise=promise)
        return Facts(_name(carrier), _name(service), origin, destination, keys)

    def _keys(
        self,
        stage: str,
        details: ParcelDetails | None,
        start: datetime,
        cal: BusinessCalendar,
        delay: float | None,
        *,
        promise: float | None,
    ) -> tuple[str, ...]:
        """The effect keys of a parcel at ``stage``; ``delay`` is the seller's handling time
        (working days from order to handoff), known once handed over; ``promise`` the working
        days from order to the shop's promised date, when there is one."""
        keys = detail_keys(
            base=(),
            details=details,
            start_local=start.astimezone(cal.zone),
            delay_days=delay,
            promise_days=promise,
        )
        if stage == _PURCHASE:
            handling = self._seller_handling(details)
            if handling is not None:
                keys = (*keys, f"handling={min(int(handling * 2), 16)}")
        return keys

    def _seller_handling(self, details: ParcelDetails | None) -> float | None:
        """The seller's median handling time (order to first scan) so far, in working days."""
        sender = _sender(details)
        history = self._handling.get(sender) if sender is not None else None
        if not history:
            return None
        return statistics.median(history)

    # -- priors --------------------------------------------------------------------------

    def _root(self, stage: str, carrier: str, service: str) -> Grid:
        """Published transit times as a distribution (plus seller processing before handoff)."""
        cache_key = (stage, carrier, service)
        cached = self._root_cache.get(cache_key)
        if cached is not None:
            return cached
        prior: TransitPrior | None
        if not carrier:
            prior = GENERIC_PRIOR
        elif service:
            prior = self._prior_index.get((carrier, service, ""))
        else:
            prior = find_prior(self._prior_index, carrier)
        if prior is None:
            grid = self._root(stage, carrier, "") if service else self._root(stage, "", "")
        else:
            grid = lognormal_grid(prior.low_days, prior.high_days)
            if stage == _PURCHASE:
                processing = lognormal_grid(PROCESSING_PRIOR.low_days, PROCESSING_PRIOR.high_days)
                grid = tuple(a + b for a, b in zip(grid, processing, strict=True))
        self._root_cache[cache_key] = grid
        return grid

    # -- estimating ----------------------------------------------------------------------

    def estimate(
        self,
        *,
        carrier: str,
        origin: str,
        destination: str,
        ordered_at: datetime,
        handed_over_at: datetime | None = None,
        out_for_delivery_at: datetime | None = None,
        now: datetime,
        tz: str | tzinfo = "UTC",
        service: str = "",
        details: ParcelDetails | None = None,
        promised_by: datetime | None = None,
    ) -> Eta:
        """The arrival window for a parcel at its current stage.

        Stage is read from the arguments: out for delivery (a scan today, in ``tz``, the
        delivery address's zone) → the rest of today; handed over → from the first carrier
        scan; otherwise from the order time. Windows never start before ``now``: time
        already elapsed without a delivery narrows the distribution to what is left.
        ``details`` (postcodes, freight, weight…) and ``promised_by``, the shop's promised
        date, add the parcel effects learned from history.
        """
        for moment in (ordered_at, now, handed_over_at, out_for_delivery_at, promised_by):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("naive datetime")
        stage, start = (_TRANSIT, handed_over_at) if handed_over_at else (_PURCHASE, ordered_at)
        learner = self._stages[stage]
        based_on = learner.learned(normalise(carrier))
        learned = based_on > 0
        source = EtaSource.LEARNED if learned else EtaSource.PRIOR
        if out_for_delivery_at is not None:
            today = _out_for_delivery(out_for_delivery_at, now, resolve_zone(tz), self.config)
            if today is not None:
                return Eta(
                    earliest=today[0],
                    latest=today[1],
                    most_likely=today[2],
                    source=source,
                    confidence=0.9,
                    based_on=based_on,
                )
        cal = self.calendar(carrier, destination)
        facts = self._facts(
            stage,
            carrier=carrier,
            service=service,
            origin=origin,
            destination=destination,
            details=details,
            cal=cal,
            ordered_at=ordered_at,
            start=start,
            promised_by=promised_by,
        )
        grid = learner.distribution(facts, now.timestamp())
        share = learner.config.window_share
        elapsed = max(cal.between(start, now), 0.0)
        reached = cdf(grid, elapsed) if elapsed > 0 else 0.0
        shift = 0.0
        ceiling = 0.95
        if reached > ceiling:
            # Later than nearly all history: keep the tail's shape, moved to start now.
            shift = elapsed - quantile(grid, ceiling)
            reached = ceiling

        def at(level: float) -> datetime:
            days = quantile(grid, reached + level * (1 - reached)) + shift
            return cal.shift(start, days)

        start_level = _narrowest_start(grid, reached, share, cal, cal.clock(start) + shift)
        earliest, most_likely, latest = at(start_level), at(0.5), at(start_level + share)
        now_utc = now.astimezone(UTC)
        earliest = max(earliest, now_utc)
        most_likely = max(most_likely, earliest)
        latest = max(latest, most_likely)
        return Eta(
            earliest=earliest,
            latest=latest,
            most_likely=most_likely,
            source=source,
            confidence=round(share, 3) if learned else 0.5,
            based_on=based_on,
        )

    def estimate_shipment(
        self,
        shipment: Shipment,
        *,
        now: datetime,
        tz: str | tzinfo = "UTC",
        ordered_at: datetime | None = None,
    ) -> Eta | None:
        """The window for a tracked parcel, or None once it is delivered or otherwise final."""
        read = estimate_inputs(shipment, ordered_at=ordered_at)
        if read is None:
            return None
        return self.estimate(
            carrier=read.carrier,
            origin=read.origin,
            destination=read.destination,
            ordered_at=min(read.started or now, now),
            handed_over_at=read.handed_over_at,
            out_for_delivery_at=read.out_for_delivery_at,
            now=now,
            tz=tz,
        )


@dataclass(frozen=True, slots=True)
class EstimateInputs:
    """Everything of a tracked parcel that :meth:`EtaModel.estimate_shipment` reads, besides
    the moment: two snapshots with equal inputs get the same window at the same moment (a new
    scan that moves none of these, e.g. another hub on the way, changes no estimate)."""

    carrier: str
    origin: str
    destination: str
    started: datetime | None
    handed_over_at: datetime | None
    out_for_delivery_at: datetime | None


def estimate_inputs(
    shipment: Shipment, *, ordered_at: datetime | None = None
) -> EstimateInputs | None:
    """What an estimate for ``shipment`` is read from, or None when it gets none (delivered
    or otherwise final)."""
    if shipment.is_final or shipment.status is Status.DELIVERED:
        return None
    handed = _handed_over(shipment)
    out_for_delivery = None
    last = shipment.last_event
    if shipment.status is Status.OUT_FOR_DELIVERY and last is not None:
        out_for_delivery = last.time
    return EstimateInputs(
        carrier=shipment.carrier,
        origin=shipment.origin,
        destination=shipment.destination,
        started=ordered_at or shipment.first_seen or handed,
        handed_over_at=handed,
        out_for_delivery_at=out_for_delivery,
    )


@functools.lru_cache(maxsize=1024)
def _name(text: str) -> str:
    return normalise(text)


def _promise_days(
    cal: BusinessCalendar, ordered_at: datetime, promised_by: datetime | None
) -> float | None:
    """Working days from the order to the shop's promised date (None without a promise)."""
    if promised_by is None:
        return None
    return max(cal.between(ordered_at, promised_by), 0.0)


def _sender(details: ParcelDetails | None) -> str | None:
    if details is None or not details.origin_zip:
        return None
    return details.origin_zip.strip()


def _problem(obs: Observation) -> str:
    times = [obs.ordered_at, obs.delivered_at, obs.handed_over_at, obs.promised_by]
    if any(t is not None and t.tzinfo is None for t in times):
        return "naive datetime in observation"
    if obs.delivered_at < obs.ordered_at:
        return "delivered before it was ordered"
    handed = obs.handed_over_at
    if handed is not None and not obs.ordered_at <= handed <= obs.delivered_at:
        return "handed over outside the order-to-delivery span"
    return ""


def _narrowest_start(
    grid: Grid, reached: float, share: float, cal: BusinessCalendar, origin: float
) -> float:
    """The level at which the narrowest window holding ``share`` of what is left starts.

    Durations are skewed (a few parcels are very late), so the narrowest window usually
    starts below the equal-tailed one and ends before the long tail. Width is counted in
    calendar days, as the buyer reads it: durations are working days from clock reading
    ``origin``, and a window whose ends straddle fewer days off is narrower. Candidates run
    from 0 to ``1 - share`` in steps of 1%; the equal-tailed start wins ties, so a symmetric
    distribution keeps a symmetric window. It always holds the median (``share`` > 0.5).
    """
    left = 1 - reached
    equal = (1 - share) / 2
    starts = sorted({equal, *(step / 100 for step in range(round((1 - share) * 100) + 1))})
    levels = sorted({*starts, *(level + share for level in starts)})
    days = [origin + quantile(grid, reached + level * left) for level in levels]
    ends = dict(zip(levels, cal.local_days(days), strict=True))

    def width(level: float) -> float:
        return ends[level + share] - ends[level]

    best, best_width = equal, width(equal)
    for level in starts:
        if (found := width(level)) < best_width - 1e-6:
            best, best_width = level, found
    return best


def _handed_over(shipment: Shipment) -> datetime | None:
    if shipment.shipped_at is not None:
        return shipment.shipped_at
    for event in shipment.events:
        if event.status not in (Status.NOT_FOUND, Status.INFO_RECEIVED):
            return event.time
    return None


def _out_for_delivery(
    scanned: datetime, now: datetime, zone: tzinfo, config: EtaConfig
) -> tuple[datetime, datetime, datetime] | None:
    """The rest of the local delivery day, or None when the scan was not today."""
    local_now = now.astimezone(zone)
    if scanned.astimezone(zone).date() != local_now.date():
        return None
    end_local = datetime.combine(
        local_now.date(), time(hour=config.delivery_day_end_hour), tzinfo=zone
    )
    end = end_local.astimezone(UTC)
    now_utc = now.astimezone(UTC)
    if end <= now_utc:
        end = now_utc + timedelta(hours=3)
    return now_utc, end, now_utc + (end - now_utc) / 2


def observation_from(
    shipment: Shipment, *, ordered_at: datetime | None = None
) -> Observation | None:
    """A delivered parcel as history, or None when it is not delivered or lacks times."""
    if shipment.status is not Status.DELIVERED or shipment.delivered_at is None:
        return None
    handed = _handed_over(shipment)
    ordered = ordered_at or shipment.first_seen or handed
    if ordered is None:
        return None
    obs = Observation(
        carrier=shipment.carrier,
        service="",
        origin=shipment.origin,
        destination=shipment.destination,
        ordered_at=ordered,
        handed_over_at=handed,
        delivered_at=shipment.delivered_at,
        promised_by=shipment.promised_by,
    )
    return None if _problem(obs) else obs


# -- combining and describing -----------------------------------------------------------


def combine(
    carrier_eta: Eta | None,
    own_eta: Eta | None,
    now: datetime,
    *,
    issued_at: datetime | None = None,
    max_age: timedelta = timedelta(days=2),
) -> Eta | None:
    """The window to show, given the carrier's ETA (if any) and ours.

    The carrier's ETA is used when present and recent: its window has not lapsed before
    ``now`` and, when ``issued_at`` is known, it is at most ``max_age`` old. Against a
    learned estimate of ours it keeps the carrier's most likely time and widens the window to
    cover both (source COMBINED); against a prior-only estimate, or alone, it is shown as it
    is (source CARRIER). Otherwise our own estimate is returned unchanged.
    """
    usable = (
        carrier_eta is not None
        and carrier_eta.latest >= now
        and (issued_at is None or now - issued_at <= max_age)
    )
    if not usable or carrier_eta is None:
        return own_eta
    as_carrier = Eta(
        earliest=carrier_eta.earliest,
        latest=carrier_eta.latest,
        most_likely=carrier_eta.most_likely,
        source=EtaSource.CARRIER,
        confidence=carrier_eta.confidence,
    )
    if own_eta is None or own_eta.source in (EtaSource.PRIOR, EtaSource.CARRIER):
        return as_carrier
    earliest = max(min(carrier_eta.earliest, own_eta.earliest), now)
    most_likely = min(max(carrier_eta.most_likely, earliest), max(carrier_eta.latest, earliest))
    latest = max(carrier_eta.latest, own_eta.latest, most_likely)
    return Eta(
        earliest=earliest,
        latest=latest,
        most_likely=most_likely,
        source=EtaSource.COMBINED,
        confidence=max(carrier_eta.confidence, own_eta.confidence),
    )


def moved_days(old: Eta | None, new: Eta, tz: str | tzinfo = "UTC") -> int:
    """By how many local days the most likely day moved (positive: later; 0 without ``old``).

    An ETA that moves by a day or more is worth telling subscribers about.
    """
    if old is None:
        return 0
    zone = resolve_zone(tz)
    before = old.most_likely.astimezone(zone).date()
    return (new.most_likely.astimezone(zone).date() - before).days


def _day(moment: date) -> str:
    return format_day(moment)


def source_text(eta: Eta, carrier: str = "") -> str:
    """Whose estimate it is, in plain words (``carrier`` is the carrier's display name)."""
    based = eta.based_on
    match eta.source:
        case EtaSource.CARRIER:
            return (
                _("{carrier}'s estimate").format(carrier=carrier)
                if carrier
                else _("The carrier's estimate")
            )
        case EtaSource.COMBINED:
            if based > 0:
                checked = ngettext(
                    "checked against {count} similar delivery",
                    "checked against {count} similar deliveries",
                    based,
                ).format(count=f"{based:,}")
            else:
                checked = _("checked against past deliveries")
            return (
                _("{carrier}'s estimate, {checked}").format(carrier=carrier, checked=checked)
                if carrier
                else _("The carrier's estimate, {checked}").format(checked=checked)
            )
        case EtaSource.LEARNED:
            if based > 0:
                return ngettext(
                    "Our estimate from {count} similar delivery",
                    "Our estimate from {count} similar deliveries",
                    based,
                ).format(count=f"{based:,}")
            return _("Our estimate from past deliveries")
        case EtaSource.PROMISE:
            return _("The shop's promised date")
        case _:
            return (
                _("Our estimate from {carrier}'s published transit times").format(carrier=carrier)
                if carrier
                else _("Our estimate from the carrier's published transit times")
            )


def describe(
    eta: Eta,
    promised_by: datetime | None,
    tz: str | tzinfo = "UTC",
    *,
    carrier: str = "",
    now: datetime | None = None,
) -> list[str]:
    """Reply lines for a window, in whole days in the buyer's time zone ``tz``.

    ``Arrives Thu 10 – Mon 14 Dec, most likely Fri 11``; hours only when the window is today
    (``now``, the delivery day). Then how it compares with the shop's promise ("on time" or
    "about N days later than promised") when one is known, and whose estimate it is. Words and
    dates are in the active language (``core.i18n``).
    """
    zone = resolve_zone(tz)
    first = eta.earliest.astimezone(zone)
    last = eta.latest.astimezone(zone)
    likely = eta.most_likely.astimezone(zone).date()
    today = now.astimezone(zone).date() if now is not None else None
    if first.date() == last.date():
        if first.date() == today:
            window = _("Arrives today, between {start} and {end}").format(
                start=format_time(first, zone), end=format_time(last, zone)
            )
        else:
            window = _("Arrives {day}").format(day=_day(first.date()))
    else:
        window = _("Arrives {window}, most likely {day}").format(
            window=format_window(first.date(), last.date()), day=_day(likely)
        )
    lines = [window]
    if promised_by is not None:
        promised = promised_by.astimezone(zone).date()
        late = (likely - promised).days
        if late <= 0:
            if last.date() > promised:
                lines.append(
                    _("On time (promised by {day}), though it may slip").format(day=_day(promised))
                )
            else:
                lines.append(_("On time (promised by {day})").format(day=_day(promised)))
        else:
            lines.append(
                ngettext(
                    "About {count} day later than promised ({day})",
                    "About {count} days later than promised ({day})",
                    late,
                ).format(count=late, day=_day(promised))
            )
    lines.append(source_text(eta, carrier))
    return lines

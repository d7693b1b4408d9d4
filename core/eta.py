"""Arrival windows learned from delivered parcels, re-estimated at every stage of a parcel.

The model learns two duration distributions from history, both measured in the carrier's
working days (:mod:`core.eta_calendar`):

* *order → delivery*, used before the carrier has the parcel;
* *first carrier scan → delivery*, used once it has.

Each is kept per group, from the most specific to the coarsest: lane (carrier + service +
origin region → destination region), destination, origin, carrier + service, carrier, and
everything. A group's distribution is its own recency-weighted empirical quantiles shrunk
towards its parent's, the parent counting as ``EtaConfig.shrinkage`` observations, so a lane
with three deliveries mostly follows its destination and one with three hundred follows itself.
With no history at all the carriers' published transit times (:mod:`core.eta_priors`) are the
root. A month-of-year factor, learned from the residuals after removing each period's own level,
captures peak seasons, and the P10/P50/P90 levels are recalibrated on the most recent part of the
history, predicted by a model fitted only on what came before.

When a parcel's details are known (postcodes, freight, weight, items: :class:`ParcelDetails`),
its window comes instead from additive effects on log durations (:mod:`core.eta_effects`):
lane, destination postcode area, sender, freight and weight bins, start weekday and hour and,
after handoff, how long the seller took. Those estimates get their own recalibrated levels.

Estimates are cheap: groups are precomputed quantile grids and an estimate is a few lookups.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Protocol

from core.eta_calendar import BusinessCalendar, calendar_for_country, resolve_zone
from core.eta_effects import EffectsFit, ParcelDetails, detail_keys, fit_effects
from core.eta_priors import (
    GENERIC_PRIOR,
    PRIORS,
    PROCESSING_PRIOR,
    TransitPrior,
    find_prior,
    normalise,
    prior_index,
)
from core.eta_stats import (
    Grid,
    blend,
    cdf,
    combine_offsets,
    lognormal_grid,
    quantile,
    scale,
    weighted_grid,
)
from core.models import Eta, EtaSource, Shipment, ShipmentKey, Status

__all__ = [
    "DEFAULT_CALENDAR",
    "EtaConfig",
    "EtaModel",
    "Observation",
    "ObservationRepository",
    "ParcelDetails",
    "combine",
    "describe",
    "moved_days",
    "observation_from",
]

logger = logging.getLogger(__name__)

_DAY = 86_400.0
_PURCHASE = "purchase"
_TRANSIT = "transit"

_COUNTRY_ZONES = {
    "US": "America/New_York",
    "BR": "America/Sao_Paulo",
    "GB": "Europe/London",
    "DE": "Europe/Berlin",
    "CA": "America/Toronto",
}

DEFAULT_CALENDAR = BusinessCalendar("", "UTC")
"""Monday to Friday in UTC, no holidays: for carriers whose country is unknown."""


@dataclass(frozen=True, slots=True)
class Observation:
    """One delivered parcel. Times are aware; ``handed_over_at`` is the first carrier scan."""

    carrier: str
    service: str
    origin: str
    destination: str
    ordered_at: datetime
    handed_over_at: datetime | None
    delivered_at: datetime
    promised_by: datetime | None = None
    details: ParcelDetails | None = None
    """Postcodes, freight, weight and item count when the shop told us (sharper estimates)."""


class ObservationRepository(Protocol):
    """Where delivered parcels are kept as history (storage implements this).

    ``add`` stores a parcel once: with a ``key``, adding the same parcel again is ignored and
    returns False. ``iter`` yields oldest first, in batches, so history never has to fit in
    one query. ``forget`` removes what was learned from one parcel.
    """

    async def add(self, obs: Observation, key: ShipmentKey | None = None) -> bool: ...

    async def all(self) -> list[Observation]: ...

    def iter(self, batch: int = 500) -> AsyncIterator[Observation]: ...

    async def count(self) -> int: ...

    async def forget(self, key: ShipmentKey) -> int: ...


@dataclass(frozen=True, slots=True)
class EtaConfig:
    """Tuning knobs. The defaults were chosen on held-out months of the training history."""

    half_life_days: float = 180.0
    """Age (before the newest delivery) at which an observation weighs half as much."""
    shrinkage: float = 12.0
    """How many observations a parent group's distribution counts as inside its child."""
    prior_strength: float = 5.0
    """How many observations the published transit times count as."""
    season_strength: float = 40.0
    """Pseudo-count pulling each month's factor towards 1."""
    season_window_days: float = 182.0
    """Half-width of the window whose average level is removed before reading a season."""
    use_origin: bool = True
    """Shift a lane by its origin's own effect (on top of its destination's)."""
    calibrate: bool = True
    calibration_cuts: tuple[float, ...] = (0.5, 0.625, 0.75, 0.875)
    """Where (as shares of the history, oldest first) the rolling recalibration cuts it."""
    calibration_min: int = 60
    calibration_strength: float = 30.0
    """Pseudo-count pulling the recalibrated levels towards the nominal ones."""
    low: float = 0.1
    high: float = 0.9
    refit_share: float = 0.05
    """Refit once new observations reach this share of those already fitted."""
    auto_refit: bool = True
    """Refit inside ``estimate`` when due; turn off to refit elsewhere (e.g. in a thread)."""
    delivery_day_end_hour: int = 21
    """Local hour by which an out-for-delivery parcel is expected."""
    effects: bool = True
    """Fit additive per-detail effects (:mod:`core.eta_effects`) for parcels with details."""
    effects_shrinkage: float = 20.0
    """How many no-effect observations each detail's effect is shrunk with."""
    effects_half_life_days: float = 365.0
    """Recency half-life for the detail effects (they change more slowly than levels)."""
    effects_iterations: int = 6
    effects_min: int = 50
    """Fewest deliveries before the detail effects are fitted at all."""


@dataclass(frozen=True, slots=True)
class _Record:
    carrier: str
    service: str
    origin: str
    destination: str
    start: datetime
    end: datetime
    days: float
    month: int
    keys: tuple[str, ...] = ()
    detailed: bool = False


_Key = tuple[str, ...]


@dataclass(slots=True)
class _StageFit:
    """The fitted distributions of one stage (purchase or transit)."""

    own: dict[_Key, tuple[Grid, float]]
    root: Callable[[str, str], Grid]
    config: EtaConfig
    season: dict[int, float] = field(default_factory=dict)
    levels: tuple[float, float, float] = (0.1, 0.5, 0.9)
    total_weight: float = 0.0
    cache: dict[_Key, Grid] = field(default_factory=dict)
    effects: EffectsFit | None = None
    effects_levels: tuple[float, float, float] = (0.1, 0.5, 0.9)

    def distribution(self, record: _Record) -> Grid:
        """A history row's predicted distribution, on the season-free scale when detailed."""
        if record.detailed and self.effects is not None:
            return self.effects.grid(record.keys)
        return scale(
            self.group(record.carrier, record.service, record.origin, record.destination),
            self.factor(record.month),
        )

    def _blend(self, key: _Key, parent: Grid) -> Grid:
        own = self.own.get(key)
        if own is None:
            return parent
        return blend(own[0], own[1], parent, self.config.shrinkage)

    def group(self, carrier: str, service: str, origin: str, destination: str) -> Grid:
        """The shrunk distribution for a lane (built from its parents when unseen)."""
        lane: _Key = ("lane", carrier, service, origin, destination)
        cached = self.cache.get(lane)
        if cached is not None:
            return cached
        top = self._service(carrier, service)
        dest = self._blend(("dest", carrier, service, destination), top)
        parent = dest
        if self.config.use_origin and ("orig", carrier, service, origin) in self.own:
            orig = self._blend(("orig", carrier, service, origin), top)
            parent = combine_offsets(dest, orig, top)
        grid = self._blend(lane, parent)
        self.cache[lane] = grid
        return grid

    def _service(self, carrier: str, service: str) -> Grid:
        key: _Key = ("service", carrier, service)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        generic = self.root("", "")
        carrier_root = self.root(carrier, "")
        # A carrier with published transit times starts from them, others from everything.
        carrier_parent = self._blend(("*",), generic) if carrier_root == generic else carrier_root
        grid = self._blend(("carrier", carrier), carrier_parent)
        if service:
            service_root = self.root(carrier, service)
            parent = grid if service_root == carrier_root else service_root
            grid = self._blend(key, parent)
        self.cache[key] = grid
        return grid

    def factor(self, month: int) -> float:
        return self.season.get(month, 1.0)


def _keys(record: _Record) -> tuple[_Key, ...]:
    c, s = record.carrier, record.service
    keys: list[_Key] = [("*",), ("carrier", c)]
    if s:
        keys.append(("service", c, s))
    keys += [
        ("dest", c, s, record.destination),
        ("orig", c, s, record.origin),
        ("lane", c, s, record.origin, record.destination),
    ]
    return tuple(keys)


class EtaModel:
    """Learns arrival windows from delivered parcels and estimates them for parcels on the way.

    ``observe``/``observe_many`` add history; the model refits lazily on the next estimate
    once enough is new (``EtaConfig.refit_share``). A refit is CPU-bound (about a second per
    few thousand parcels); with a large history set ``auto_refit=False`` and call ``refit``
    from a worker thread (``asyncio.to_thread(model.refit)``) instead.
    ``calendars`` maps carrier codes to their working calendar; carriers in the priors table
    get their country's calendar, others ``default_calendar``.
    """

    def __init__(
        self,
        *,
        config: EtaConfig | None = None,
        calendars: Mapping[str, BusinessCalendar] | None = None,
        default_calendar: BusinessCalendar | None = None,
        priors: Iterable[TransitPrior] = PRIORS,
    ) -> None:
        self.config = config or EtaConfig()
        self._calendars = {normalise(k): v for k, v in (calendars or {}).items()}
        self._default_calendar = default_calendar or DEFAULT_CALENDAR
        self.priors = tuple(priors)
        self._prior_index = prior_index(self.priors)
        self._observations: list[Observation] = []
        self._fit: dict[str, _StageFit] | None = None
        self._fitted_count = 0
        self._root_cache: dict[tuple[str, str, str], Grid] = {}
        # Working-day spans per observation, reused by every (re)fit and calibration cut.
        self._record_cache: dict[Observation, tuple[tuple[str, _Record], ...]] = {}

    # -- history -------------------------------------------------------------------------

    def observe(self, obs: Observation) -> None:
        """Add one delivered parcel; raises ``ValueError`` when its times are inconsistent."""
        problem = _problem(obs)
        if problem:
            raise ValueError(problem)
        self._observations.append(obs)

    def observe_many(self, observations: Iterable[Observation]) -> int:
        """Add many parcels, skipping inconsistent ones; returns how many were kept."""
        kept = 0
        for obs in observations:
            if _problem(obs):
                logger.debug("skipping inconsistent observation for %s", obs.carrier)
                continue
            self._observations.append(obs)
            kept += 1
        return kept

    def __len__(self) -> int:
        return len(self._observations)

    @property
    def fitted_count(self) -> int:
        """How many observations the current fit has seen."""
        return self._fitted_count

    def calendar(self, carrier: str) -> BusinessCalendar:
        """The working calendar transit times of ``carrier`` are counted in."""
        code = normalise(carrier)
        found = self._calendars.get(code)
        if found is not None:
            return found
        prior = find_prior(self._prior_index, code)
        if prior is not None and prior.country in _COUNTRY_ZONES:
            made = calendar_for_country(prior.country, _COUNTRY_ZONES[prior.country])
            self._calendars[code] = made
            return made
        return self._default_calendar

    def refit(self) -> None:
        """Fit now instead of lazily at the next estimate."""
        self._fit = self._build(self._observations, calibrate=self.config.calibrate)
        self._fitted_count = len(self._observations)

    def _current(self) -> dict[str, _StageFit]:
        new = len(self._observations) - self._fitted_count
        threshold = max(1.0, self.config.refit_share * self._fitted_count)
        if self._fit is None or (self.config.auto_refit and new >= threshold):
            self.refit()
        assert self._fit is not None  # noqa: S101 - refit() always sets it
        return self._fit

    # -- fitting -------------------------------------------------------------------------

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

    def _records(self, observations: Iterable[Observation]) -> dict[str, list[_Record]]:
        out: dict[str, list[_Record]] = {_PURCHASE: [], _TRANSIT: []}
        for obs in observations:
            cached = self._record_cache.get(obs)
            if cached is None:
                cached = self._make_records(obs)
                self._record_cache[obs] = cached
            for stage, record in cached:
                out[stage].append(record)
        return out

    def _make_records(self, obs: Observation) -> tuple[tuple[str, _Record], ...]:
        cal = self.calendar(obs.carrier)
        c, s = normalise(obs.carrier), normalise(obs.service)
        stages = [(_PURCHASE, obs.ordered_at)]
        if obs.handed_over_at is not None:
            stages.append((_TRANSIT, obs.handed_over_at))
        return tuple(
            (
                stage,
                _Record(
                    carrier=c,
                    service=s,
                    origin=obs.origin,
                    destination=obs.destination,
                    start=start,
                    end=obs.delivered_at,
                    days=max(cal.between(start, obs.delivered_at), 0.0),
                    month=start.astimezone(cal.zone).month,
                    keys=_effect_keys(
                        carrier=c,
                        service=s,
                        origin=obs.origin,
                        destination=obs.destination,
                        details=obs.details,
                        cal=cal,
                        ordered_at=obs.ordered_at,
                        start=start,
                        transit=stage == _TRANSIT,
                    ),
                    detailed=obs.details is not None,
                ),
            )
            for stage, start in stages
        )

    def _build(self, observations: list[Observation], *, calibrate: bool) -> dict[str, _StageFit]:
        records = self._records(observations)
        fits = {stage: self._fit_stage(stage, rows) for stage, rows in records.items()}
        if calibrate and observations:
            self._calibrate(observations, fits)
        return fits

    def _fit_stage(self, stage: str, rows: list[_Record]) -> _StageFit:
        config = self.config

        def root(carrier: str, service: str) -> Grid:
            return self._root(stage, carrier, service)

        if not rows:
            return _StageFit(own={}, root=root, config=config)
        newest = max(r.end for r in rows)
        weights = [
            0.5 ** ((newest - r.end).total_seconds() / _DAY / config.half_life_days) for r in rows
        ]
        season: dict[int, float] = {}
        fit = self._fit_groups(rows, weights, season, root)
        if config.season_strength > 0:
            season = _learn_season(rows, fit, config)
            fit = self._fit_groups(rows, weights, season, root)
        fit.season = season
        fit.total_weight = sum(weights)
        if config.effects and len(rows) >= config.effects_min:
            half_life = config.effects_half_life_days
            fit.effects = fit_effects(
                [
                    (r.keys, r.days, 0.5 ** ((newest - r.end).total_seconds() / _DAY / half_life))
                    for r in rows
                ],
                shrinkage=config.effects_shrinkage,
                iterations=config.effects_iterations,
            )
        return fit

    def _fit_groups(
        self,
        rows: list[_Record],
        weights: list[float],
        season: Mapping[int, float],
        root: Callable[[str, str], Grid],
    ) -> _StageFit:
        values: dict[_Key, list[float]] = defaultdict(list)
        group_weights: dict[_Key, list[float]] = defaultdict(list)
        for row, weight in zip(rows, weights, strict=True):
            adjusted = row.days / season.get(row.month, 1.0)
            for key in _keys(row):
                values[key].append(adjusted)
                group_weights[key].append(weight)
        own = {
            key: (weighted_grid(values[key], group_weights[key]), sum(group_weights[key]))
            for key in values
        }
        return _StageFit(own=own, root=root, config=self.config, season=dict(season))

    def _calibrate(self, observations: list[Observation], fits: dict[str, _StageFit]) -> None:
        """Re-read the P10/P50/P90 levels from how well older history predicted newer.

        Rolling origin: for several cut times, a model fitted on what was delivered before
        the cut predicts the parcels sent after it. Parcels sent too close to the newest
        delivery are left out, because only the quick ones among them can have arrived yet.
        """
        config = self.config
        ordered = sorted(observations, key=lambda o: o.delivered_at)
        newest = ordered[-1].delivered_at
        pits: dict[str, list[float]] = {_PURCHASE: [], _TRANSIT: []}
        detailed_pits: dict[str, list[float]] = {_PURCHASE: [], _TRANSIT: []}
        for share in config.calibration_cuts:
            cut = ordered[min(int(len(ordered) * share), len(ordered) - 1)].delivered_at
            past = [o for o in ordered if o.delivered_at < cut]
            if len(past) < config.calibration_min:
                continue
            older = self._build(past, calibrate=False)
            held = self._records(o for o in ordered if o.delivered_at >= cut)
            for stage, rows in held.items():
                spans = sorted((r.end - r.start).total_seconds() for r in rows)
                if not spans:
                    continue
                limit = newest - timedelta(seconds=_plain_quantile(spans, 0.9))
                stage_fit = older[stage]
                for r in rows:
                    if not cut <= r.start <= limit:
                        continue
                    level = cdf(stage_fit.distribution(r), r.days)
                    if r.detailed and stage_fit.effects is not None:
                        detailed_pits[stage].append(level)
                    else:
                        pits[stage].append(level)
        for stage, values in pits.items():
            levels = self._levels(values)
            if levels is not None:
                fits[stage].levels = levels
        for stage, values in detailed_pits.items():
            levels = self._levels(values)
            if levels is not None:
                fits[stage].effects_levels = levels

    def _levels(self, values: list[float]) -> tuple[float, float, float] | None:
        """Levels that would have given nominal coverage, shrunk towards the nominal ones."""
        config = self.config
        if len(values) < config.calibration_min // 2:
            return None
        values.sort()
        n = len(values)
        weight = config.calibration_strength
        levels = []
        for nominal in (config.low, 0.5, config.high):
            seen = _plain_quantile(values, nominal)
            levels.append((n * seen + weight * nominal) / (n + weight))
        low, mid, high = (min(max(v, 0.005), 0.995) for v in levels)
        mid = min(max(mid, low), high)
        return low, mid, high

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
    ) -> Eta:
        """The arrival window for a parcel at its current stage.

        Stage is read from the arguments: out for delivery (a scan today, in ``tz``, the
        delivery address's zone) → the rest of today; handed over → from the first carrier
        scan; otherwise from the order time. Windows never start before ``now``: time
        already elapsed without a delivery narrows the distribution to what is left.
        With ``details`` (postcodes, freight, weight…) the window comes from the per-detail
        effects learned from history, when there is enough of it.
        """
        for moment in (ordered_at, now, handed_over_at, out_for_delivery_at):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("naive datetime")
        fits = self._current()
        if out_for_delivery_at is not None:
            today = _out_for_delivery(out_for_delivery_at, now, resolve_zone(tz), self.config)
            if today is not None:
                learned = fits[_TRANSIT].total_weight > 0
                return Eta(
                    earliest=today[0],
                    latest=today[1],
                    most_likely=today[2],
                    source=EtaSource.LEARNED if learned else EtaSource.PRIOR,
                    confidence=0.9,
                )
        stage, start = (_TRANSIT, handed_over_at) if handed_over_at else (_PURCHASE, ordered_at)
        fit = fits[stage]
        cal = self.calendar(carrier)
        c, s = normalise(carrier), normalise(service)
        if details is not None and fit.effects is not None:
            keys = _effect_keys(
                carrier=c,
                service=s,
                origin=origin,
                destination=destination,
                details=details,
                cal=cal,
                ordered_at=ordered_at,
                start=start,
                transit=stage == _TRANSIT,
            )
            grid = fit.effects.grid(keys)
            low, mid, high = fit.effects_levels
        else:
            grid = scale(
                fit.group(c, s, origin, destination), fit.factor(start.astimezone(cal.zone).month)
            )
            low, mid, high = fit.levels
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

        earliest, most_likely, latest = at(low), at(mid), at(high)
        now_utc = now.astimezone(UTC)
        earliest = max(earliest, now_utc)
        most_likely = max(most_likely, earliest)
        latest = max(latest, most_likely)
        learned = fit.total_weight > 0
        return Eta(
            earliest=earliest,
            latest=latest,
            most_likely=most_likely,
            source=EtaSource.LEARNED if learned else EtaSource.PRIOR,
            confidence=round(high - low, 3) if learned else 0.5,
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
        if shipment.is_final or shipment.status is Status.DELIVERED:
            return None
        handed = _handed_over(shipment)
        out_for_delivery = None
        last = shipment.last_event
        if shipment.status is Status.OUT_FOR_DELIVERY and last is not None:
            out_for_delivery = last.time
        start = ordered_at or shipment.first_seen or handed or now
        return self.estimate(
            carrier=shipment.carrier,
            origin=shipment.origin,
            destination=shipment.destination,
            ordered_at=min(start, now),
            handed_over_at=handed,
            out_for_delivery_at=out_for_delivery,
            now=now,
            tz=tz,
        )


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


def _effect_keys(
    *,
    carrier: str,
    service: str,
    origin: str,
    destination: str,
    details: ParcelDetails | None,
    cal: BusinessCalendar,
    ordered_at: datetime,
    start: datetime,
    transit: bool,
) -> tuple[str, ...]:
    """Effect keys for a span starting at ``start`` (the order time, or the handoff)."""
    line = f"{carrier}/{service}"
    base = (
        f"service={line}",
        f"dest={line}/{destination}",
        f"orig={line}/{origin}",
        f"lane={line}/{origin}/{destination}",
    )
    delay = max(cal.between(ordered_at, start), 0.0) if transit else None
    return detail_keys(
        base=base, details=details, start_local=start.astimezone(cal.zone), delay_days=delay
    )


def _plain_quantile(sorted_values: list[float], p: float) -> float:
    position = p * (len(sorted_values) - 1)
    index = int(position)
    if index >= len(sorted_values) - 1:
        return sorted_values[-1]
    share = position - index
    return sorted_values[index] + share * (sorted_values[index + 1] - sorted_values[index])


def _learn_season(rows: list[_Record], fit: _StageFit, config: EtaConfig) -> dict[int, float]:
    """Month-of-year factors from log residuals with each period's local level removed."""
    residuals: list[tuple[float, float, int]] = []
    for row in rows:
        median = quantile(fit.group(row.carrier, row.service, row.origin, row.destination), 0.5)
        if median <= 0:
            continue
        residual = math.log((row.days + 0.25) / (median + 0.25))
        residuals.append((row.start.timestamp(), residual, row.month))
    if len(residuals) < 2:
        return {}
    residuals.sort()
    times = [t for t, _, _ in residuals]
    prefix = [0.0]
    for _, value, _ in residuals:
        prefix.append(prefix[-1] + value)
    window = config.season_window_days * _DAY
    sums: dict[int, float] = defaultdict(float)
    counts: dict[int, int] = defaultdict(int)
    low_index = high_index = 0
    for time_value, value, month in residuals:
        while times[low_index] < time_value - window:
            low_index += 1
        while high_index < len(times) and times[high_index] <= time_value + window:
            high_index += 1
        level = (prefix[high_index] - prefix[low_index]) / (high_index - low_index)
        sums[month] += value - level
        counts[month] += 1
    return {
        month: math.exp(sums[month] / (counts[month] + config.season_strength)) for month in sums
    }


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


_SOURCE_TEXT = {
    EtaSource.CARRIER: "Estimate: the carrier's",
    EtaSource.LEARNED: "Estimate: ours, from past deliveries on this route",
    EtaSource.PRIOR: "Estimate: ours, from the carrier's published transit times",
    EtaSource.COMBINED: "Estimate: the carrier's, checked against past deliveries",
    EtaSource.PROMISE: "Estimate: the shop's promised date",
}


def _day(moment: date) -> str:
    return f"{moment:%a} {moment.day} {moment:%b}"


def describe(eta: Eta, promised_by: datetime | None, tz: str | tzinfo = "UTC") -> list[str]:
    """Reply lines for a window, in the buyer's time zone ``tz``.

    The window, the most likely day, how it compares with the original promise ("on time" or
    "about N days later than promised") when one is known, and where the estimate comes from.
    """
    zone = resolve_zone(tz)
    first = eta.earliest.astimezone(zone)
    last = eta.latest.astimezone(zone)
    likely = eta.most_likely.astimezone(zone).date()
    if first.date() == last.date():
        window = f"Arrives {_day(first.date())}, between {first:%H:%M} and {last:%H:%M}"
    else:
        window = f"Arrives between {_day(first.date())} and {_day(last.date())}"
    lines = [window, f"Most likely: {_day(likely)}"]
    if promised_by is not None:
        promised = promised_by.astimezone(zone).date()
        late = (likely - promised).days
        if late <= 0:
            if last.date() > promised:
                lines.append(f"On time (promised by {_day(promised)}), though it may slip")
            else:
                lines.append(f"On time (promised by {_day(promised)})")
        else:
            unit = "day" if late == 1 else "days"
            lines.append(f"About {late} {unit} later than promised ({_day(promised)})")
    lines.append(_SOURCE_TEXT[eta.source])
    return lines

"""One stage's duration distribution, learned online, one delivery at a time.

Durations ``d`` (working days) are modelled on the log scale, ``z = log(d + c)`` with ``c``
the stage's ``log_offset`` (``c = 1``: spread grows with the duration; a larger ``c``: spread
nearer to a fixed number of days):

* **Level** — the recency-weighted median of ``z`` per group, shrunk step by step towards its
  parent (each parent counting as a fixed number of observations): carrier (towards its
  published transit times) → service → origin region and destination region → lane, a lane's
  parent being its destination shifted by its origin's own offset.
* **Parcel effects** — additive corrections for categorical facts about a parcel (freight and
  weight bins, item count, the seller, the seller's usual handling time, the start weekday…),
  each the shrunk recency-weighted mean of what the level and the other effects leave
  unexplained, updated per delivery (an online form of backfitting).
* **Window** — the point is ``level + effects``; the distribution around it is the empirical
  distribution of recent *prequential* residuals (each computed before its delivery was
  learned: a split-conformal calibration, run online) per carrier, destination and lane, each
  shrunk towards the coarser one. Residuals are kept as they fall, so a window is as
  asymmetric as the data; the window shown is the narrowest one holding ``window_share`` of
  them (``core.eta.model``).

Everything is incremental: a delivery updates a few bounded ring buffers and running sums, and
groups and keys beyond ``max_keys`` are forgotten least recently used first, so memory stays
bounded however long the bot runs.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from core.eta.stats import GRID_LEVELS, Grid

__all__ = ["Facts", "LearnerConfig", "StageLearner"]

_DAY = 86_400.0
_GRID_MEMO = 1_024  # distributions remembered for one moment (about 3 MiB at most)
_K = TypeVar("_K")


@dataclass(frozen=True, slots=True)
class LearnerConfig:
    """Knobs of one stage; defaults chosen by rolling backtests on training history only."""

    half_life_days: float = 0.0
    """Recency of the levels: the age at which a delivery weighs half; 0 means no recency."""
    window: int = 400
    """Most recent deliveries kept per group for its median (bounds memory)."""
    prior_strength: float = 5.0
    service_strength: float = 30.0
    region_strength: float = 30.0
    lane_strength: float = 10.0
    effect_strength: float = 30.0
    """How many no-effect deliveries each effect is shrunk with."""
    effect_half_life_days: float = 0.0
    factors: frozenset[str] = frozenset()
    """Which effect factors (the part of a key before ``=``) are used; others are ignored."""
    calibration_window: int = 600
    calibration_strength: float = 50.0
    """How many residuals a parent's residual distribution counts as inside its child
    (carrier → destination → lane)."""
    lane_spread: bool = True
    """Read residuals per lane too (shrunk towards the destination's)."""
    warmup: int = 30
    """Deliveries of a carrier learned before its residuals and effects are: until then the
    level itself is still settling, and errors against it would linger in both."""
    max_keys: int = 200_000
    """Most groups and effect keys kept (least recently updated forgotten first)."""
    window_share: float = 0.8
    """Share of recent residuals an arrival window holds (the narrowest such window)."""
    log_offset: float = 1.0
    """Durations are modelled as ``log(days + log_offset)``: the larger, the less a window
    widens with the duration it is around."""


@dataclass(frozen=True, slots=True)
class Facts:
    """What the learner knows of one parcel at one stage."""

    carrier: str
    service: str
    origin: str
    destination: str
    keys: tuple[str, ...] = ()
    """Effect keys, ``factor=value``."""


class _Ring:
    """The most recent values of one group, with their times, also kept sorted.

    Without recency the median and quantiles are read straight off the sorted copy (a
    delivery costs one insertion and one removal). With recency they are recomputed once the
    values added since the last summary reach a fiftieth of the ring: one delivery barely moves
    the weighted median of hundreds.
    """

    __slots__ = ("_cache", "_fresh", "_timed", "at", "ordered", "times", "values")

    def __init__(self, size: int, timed: bool) -> None:
        self.values: deque[float] = deque(maxlen=size)
        # Times are only needed for recency weights.
        self.times: deque[float] = deque(maxlen=size if timed else 0)
        self._timed = timed
        self.at = 0.0
        """When the ring last got a value (for forgetting idle groups)."""
        self.ordered: list[float] = []
        self._cache: dict[tuple[str, int], tuple[float, ...]] = {}
        self._fresh = 0

    def add(self, value: float, at: float) -> None:
        values, ordered = self.values, self.ordered
        if len(values) == values.maxlen:
            del ordered[bisect.bisect_left(ordered, values[0])]
        values.append(value)
        self.at = at
        if self._timed:
            self.times.append(at)
        bisect.insort(ordered, value)
        self._fresh += 1
        if self._fresh * 50 > len(values):
            if self._cache:
                self._cache.clear()
            self._fresh = 0

    def weights(self, half_life: float, now: float) -> list[float]:
        scale = half_life * _DAY
        return [0.5 ** (max(now - t, 0.0) / scale) for t in self.times]

    def median(self, half_life: float, now: float) -> tuple[float, float]:
        """The weighted median and the total weight (0, 0 when empty)."""
        if not self.values:
            return 0.0, 0.0
        if half_life <= 0:
            return _sorted_quantile(self.ordered, 0.5), float(len(self.ordered))
        key = ("median", _bucket(half_life, now))
        cached = self._cache.get(key)
        if cached is None:
            weights = self.weights(half_life, now)
            cached = (_weighted_quantiles(self.values, weights, (0.5,))[0], sum(weights))
            self._cache[key] = cached
        return cached[0], cached[1]

    def grid(self, half_life: float, now: float) -> Grid:
        """The weighted quantiles at :data:`GRID_LEVELS` (empty when no value)."""
        if not self.values:
            return ()
        key = ("grid", _bucket(half_life, now))
        cached = self._cache.get(key)
        if cached is None:
            if half_life <= 0:
                cached = tuple(_sorted_quantile(self.ordered, p) for p in GRID_LEVELS)
            else:
                weights = self.weights(half_life, now)
                cached = _weighted_quantiles(self.values, weights, GRID_LEVELS)
            self._cache[key] = cached
        return cached


def _sorted_quantile(ordered: Sequence[float], p: float) -> float:
    """The quantile at ``p`` of sorted values, each at the middle of its share of the mass."""
    n = len(ordered)
    position = p * n - 0.5
    if position <= 0:
        return ordered[0]
    if position >= n - 1:
        return ordered[-1]
    index = int(position)
    share = position - index
    return ordered[index] + share * (ordered[index + 1] - ordered[index])


def _bucket(half_life: float, now: float) -> int:
    # Weights change slowly with time: a summary stands for a fiftieth of a half-life.
    return int(now / (half_life * _DAY / 50)) if half_life > 0 else 0


def _weighted_quantiles(
    values: Iterable[float], weights: Sequence[float], levels: Sequence[float]
) -> tuple[float, ...]:
    pairs = sorted(zip(values, weights, strict=True))
    total = sum(w for _, w in pairs)
    if total <= 0:
        pairs = [(v, 1.0) for v, _ in pairs]
        total = float(len(pairs))
    mids: list[float] = []
    running = 0.0
    for _, weight in pairs:
        mids.append((running + weight / 2) / total)
        running += weight
    out: list[float] = []
    for p in levels:
        index = bisect.bisect_left(mids, p)
        if index == 0:
            out.append(pairs[0][0])
        elif index >= len(mids):
            out.append(pairs[-1][0])
        else:
            left, right = mids[index - 1], mids[index]
            share = (p - left) / (right - left) if right > left else 1.0
            low, high = pairs[index - 1][0], pairs[index][0]
            out.append(low + share * (high - low))
    return tuple(out)


@dataclass(slots=True)
class _Effect:
    total: float = 0.0
    weight: float = 0.0
    at: float = 0.0


def _forget_oldest(table: dict[_K, _Ring] | dict[_K, _Effect]) -> None:
    """Drop the least recently updated quarter of a table that outgrew its limit.

    A sweep every quarter of the limit keeps the hot path free of bookkeeping while memory
    stays bounded.
    """
    ranked = sorted(table.items(), key=lambda item: item[1].at)
    for key, _ in ranked[: max(1, len(ranked) // 4)]:
        del table[key]


@functools.lru_cache(maxsize=65_536)
def _factor(key: str) -> str:
    return key.split("=", 1)[0]


def _shrink(own: tuple[float, float], parent: float, strength: float) -> float:
    value, weight = own
    if weight <= 0:
        return parent
    return (weight * value + strength * parent) / (weight + strength)


@dataclass(slots=True)
class StageLearner:
    """The online model of one stage (purchase → delivery, or handoff → delivery).

    ``root(carrier, service)`` gives the published-transit-time distribution (working days)
    used before any delivery of that carrier is known.
    """

    config: LearnerConfig
    root: Callable[[str, str], Grid]
    count: int = 0
    _groups: dict[tuple[str, ...], _Ring] = field(default_factory=dict)
    _residuals: dict[tuple[str, ...], _Ring] = field(default_factory=dict)
    _effects: dict[str, _Effect] = field(default_factory=dict)
    _carriers: dict[str, int] = field(default_factory=dict)
    _roots: dict[tuple[str, str], tuple[bool, float, float | None]] = field(default_factory=dict)
    # Distributions already worked out for one moment and one state of learning: a batch of
    # parcels is estimated at one ``now``, and parcels on one lane share their facts.
    _grids: dict[Facts, Grid] = field(default_factory=dict)
    _grids_for: tuple[float, int] = (math.nan, -1)

    # -- learning ------------------------------------------------------------------------

    def learn(self, facts: Facts, days: float, at: float) -> None:
        """Learn one delivery that took ``days`` working days, delivered at ``at`` (epoch s)."""
        config = self.config
        z = math.log(max(days, 0.0) + config.log_offset)
        timed = config.half_life_days > 0
        if self._carriers.get(facts.carrier, 0) < config.warmup:
            self._learn_level(facts, z, at)
            return
        strength = config.effect_strength
        states = [self._effect_state(key, at) for key in self._keys(facts)]
        owns = [state.total / (state.weight + strength) for state in states]
        point = self.level(facts, at) + sum(owns)
        # Prequential residual: the error this model made before seeing the delivery.
        residual = z - point
        for group in self._residual_groups(facts):
            self._ring(self._residuals, group, config.calibration_window, timed).add(residual, at)
        # One backfitting step per key: what the level and the other effects leave over.
        for state, own in zip(states, owns, strict=True):
            state.total += residual + own
            state.weight += 1.0
        self._learn_level(facts, z, at)

    def _learn_level(self, facts: Facts, z: float, at: float) -> None:
        config = self.config
        timed = config.half_life_days > 0
        for group in self._level_groups(facts):
            self._ring(self._groups, group, config.window, timed).add(z, at)
        self.count += 1
        self._carriers[facts.carrier] = self._carriers.get(facts.carrier, 0) + 1

    def learned(self, carrier: str) -> int:
        """How many deliveries of ``carrier`` this stage has learned."""
        return self._carriers.get(carrier, 0)

    def _ring(
        self,
        table: dict[tuple[str, ...], _Ring],
        key: tuple[str, ...],
        size: int,
        timed: bool,
    ) -> _Ring:
        ring = table.get(key)
        if ring is None:
            ring = table[key] = _Ring(size, timed)
            if len(table) > self.config.max_keys:
                _forget_oldest(table)
        return ring

    def _effect_state(self, key: str, at: float) -> _Effect:
        state = self._effects.get(key)
        if state is None:
            state = self._effects[key] = _Effect(at=at)
            if len(self._effects) > self.config.max_keys:
                _forget_oldest(self._effects)
        elif self.config.effect_half_life_days > 0:
            self._decay(state, at)
        else:
            state.at = at
        return state

    def _decay(self, state: _Effect, at: float) -> None:
        half_life = self.config.effect_half_life_days
        if half_life > 0 and at > state.at:
            factor = 0.5 ** ((at - state.at) / (half_life * _DAY))
            state.total *= factor
            state.weight *= factor
        state.at = max(state.at, at)

    # -- predicting ----------------------------------------------------------------------

    def _keys(self, facts: Facts) -> list[str]:
        factors = self.config.factors
        return [key for key in facts.keys if _factor(key) in factors]

    def _effect(self, key: str, now: float) -> float:
        state = self._effects.get(key)
        if state is None:
            return 0.0
        total, weight = state.total, state.weight
        half_life = self.config.effect_half_life_days
        if half_life > 0 and now > state.at:
            factor = 0.5 ** ((now - state.at) / (half_life * _DAY))
            total, weight = total * factor, weight * factor
        return total / (weight + self.config.effect_strength)

    @staticmethod
    def _level_groups(facts: Facts) -> tuple[tuple[str, ...], ...]:
        c, s, o, d = facts.carrier, facts.service, facts.origin, facts.destination
        groups: list[tuple[str, ...]] = [("*",), ("carrier", c)]
        if s:
            groups.append(("service", c, s))
        groups += [("orig", c, s, o), ("dest", c, s, d), ("lane", c, s, o, d)]
        return tuple(groups)

    @staticmethod
    def _residual_groups(facts: Facts) -> tuple[tuple[str, ...], ...]:
        c = facts.carrier
        return (
            ("carrier", c),
            ("dest", c, facts.destination),
            ("lane", c, facts.origin, facts.destination),
        )

    def _summary(self, key: tuple[str, ...], now: float) -> tuple[float, float]:
        ring = self._groups.get(key)
        return (0.0, 0.0) if ring is None else ring.median(self.config.half_life_days, now)

    def _root_level(self, carrier: str, service: str) -> float:
        grid = self.root(carrier, service)
        return math.log(grid[len(grid) // 2] + self.config.log_offset)

    def _root_levels(self, carrier: str, service: str) -> tuple[bool, float, float | None]:
        """Whether ``carrier`` has no published transit times, the level of its root, and
        its service's when that differs (published times never change, so kept)."""
        cached = self._roots.get((carrier, service))
        if cached is None:
            carrier_root = self.root(carrier, "")
            unknown = carrier_root == self.root("", "")
            level = self._root_level("", "") if unknown else self._root_level(carrier, "")
            service_level = None
            if service and self.root(carrier, service) != carrier_root:
                service_level = self._root_level(carrier, service)
            cached = (unknown, level, service_level)
            if len(self._roots) >= self.config.max_keys:
                self._roots.clear()
            self._roots[(carrier, service)] = cached
        return cached

    def level(self, facts: Facts, now: float) -> float:
        """The shrunk median of ``log(days + log_offset)`` for the parcel's lane."""
        config = self.config
        c, s = facts.carrier, facts.service
        unknown, parent, service_parent = self._root_levels(c, s)
        if unknown:
            # A carrier without published transit times starts from everything learned.
            parent = _shrink(self._summary(("*",), now), parent, 1.0)
        top = _shrink(self._summary(("carrier", c), now), parent, config.prior_strength)
        if s:
            top = _shrink(
                self._summary(("service", c, s), now),
                top if service_parent is None else service_parent,
                config.service_strength,
            )
        orig = _shrink(
            self._summary(("orig", c, s, facts.origin), now), top, config.region_strength
        )
        dest = _shrink(
            self._summary(("dest", c, s, facts.destination), now), top, config.region_strength
        )
        lane = ("lane", c, s, facts.origin, facts.destination)
        return _shrink(self._summary(lane, now), dest + orig - top, config.lane_strength)

    def spread(self, facts: Facts, now: float) -> Grid:
        """Residual quantiles (log scale) around the point, at :data:`GRID_LEVELS`."""
        half_life = self.config.half_life_days
        groups = self._residual_groups(facts)
        carrier = self._residuals.get(groups[0])
        if carrier is None or not carrier.values:
            grid = self.root(facts.carrier, facts.service)
            offset = self.config.log_offset
            centre = math.log(grid[len(grid) // 2] + offset)
            return tuple(math.log(v + offset) - centre for v in grid)
        spread = carrier.grid(half_life, now)
        strength = self.config.calibration_strength
        for group in groups[1 : 3 if self.config.lane_spread else 2]:
            ring = self._residuals.get(group)
            if ring is None or not ring.values:
                break
            weight = float(len(ring.values))
            own = ring.grid(half_life, now)
            spread = tuple(
                (weight * a + strength * b) / (weight + strength)
                for a, b in zip(own, spread, strict=True)
            )
        return spread

    def distribution(self, facts: Facts, now: float) -> Grid:
        """The parcel's duration distribution (working days) at :data:`GRID_LEVELS`."""
        # Every delivery learned counts (``count``), so a new one empties the memory.
        if self._grids_for != (now, self.count) or len(self._grids) >= _GRID_MEMO:
            self._grids.clear()
            self._grids_for = (now, self.count)
        grid = self._grids.get(facts)
        if grid is None:
            point = self.level(facts, now) + sum(self._effect(k, now) for k in self._keys(facts))
            spread = self.spread(facts, now)
            offset = self.config.log_offset
            grid = self._grids[facts] = tuple(
                max(math.exp(point + e) - offset, 0.0) for e in spread
            )
        return grid

    def memory_items(self) -> int:
        """How many stored numbers the learner holds (for the memory benchmark)."""
        rings = sum(len(r.values) for r in self._groups.values())
        rings += sum(len(r.values) for r in self._residuals.values())
        return 2 * rings + 3 * len(self._effects)

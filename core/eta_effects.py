"""Additive effects on log durations: finer than groups, for parcels whose details are known.

A duration ``d`` (working days) is modelled as ``log(d + 1) = level + Σ effect(key) + ε``.
Keys are categorical facts about a parcel (its lane, destination postcode area, the seller's
postcode, a freight bin, the weekday it started…); each key's effect is a recency-weighted
mean of what the other keys leave unexplained, shrunk towards zero as if it had
``shrinkage`` extra observations with no effect. A key seen a handful of times thus barely
moves an estimate, and a parcel with an unknown detail simply lacks that key. The effects
are found by backfitting (cycling through the factors, each refitted on the others'
residuals), which for such shrunk means converges in a few rounds.

The spread is the weighted empirical distribution of ``ε``, stored as a quantile grid, so a
parcel's distribution is ``exp(prediction + ε) - 1`` at every grid level.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from core.eta_stats import Grid, weighted_grid

__all__ = [
    "EffectsFit",
    "ParcelDetails",
    "detail_keys",
    "fit_effects",
]

_OFFSET = 1.0


@dataclass(frozen=True, slots=True)
class ParcelDetails:
    """What a shop knows about a parcel besides its regions; ``None`` means unknown.

    Postcodes are read as prefixes, most significant digit first (Brazilian CEPs, US ZIP
    codes and the like are geographic in their leading digits); ``origin_zip`` also stands in
    for the sender, since one seller ships from one place. ``freight`` is what the buyer paid
    for shipping (it follows distance and service), ``weight_g`` the total weight in grams.
    """

    origin_zip: str | None = None
    destination_zip: str | None = None
    freight: float | None = None
    weight_g: float | None = None
    items: int | None = None


def _bin(value: float, step: float) -> str:
    return str(math.floor(math.log1p(max(value, 0.0)) / step))


def detail_keys(
    *,
    base: Sequence[str],
    details: ParcelDetails | None,
    start_local: datetime,
    delay_days: float | None,
) -> tuple[str, ...]:
    """The effect keys of one parcel at one stage.

    ``base`` are the keys always known (carrier, service, regions, lane); ``start_local`` is
    when the measured span starts, in the carrier's zone; ``delay_days`` is how long the
    seller took to hand the parcel over, known only once it has.
    """
    keys = list(base)
    keys.append(f"weekday={start_local.weekday()}")
    keys.append(f"hour={start_local.hour // 4}")
    if delay_days is not None:
        keys.append(f"delay={min(int(delay_days * 2), 12)}")
    if details is None:
        return tuple(keys)
    if details.destination_zip:
        digits = details.destination_zip.strip()
        keys.append(f"dzip2={digits[:2]}")
        keys.append(f"dzip3={digits[:3]}")
    if details.origin_zip:
        digits = details.origin_zip.strip()
        keys.append(f"ozip3={digits[:3]}")
        keys.append(f"sender={digits}")
    if details.freight is not None:
        keys.append(f"freight={_bin(details.freight, 0.2)}")
        if details.weight_g is not None and details.weight_g > 0:
            per_kg = details.freight / (details.weight_g / 1000 + 0.5)
            keys.append(f"freight_kg={_bin(per_kg, 0.25)}")
    if details.weight_g is not None:
        keys.append(f"weight={_bin(details.weight_g / 100, 0.4)}")
    if details.items is not None:
        keys.append(f"items={min(details.items, 4)}")
    return tuple(keys)


def _factor(key: str) -> str:
    return key.split("=", 1)[0]


@dataclass(slots=True)
class EffectsFit:
    """A fitted additive model: ``level``, per-key effects and the residual grid."""

    level: float
    effects: dict[str, float]
    residuals: Grid
    total_weight: float
    cache: dict[tuple[str, ...], Grid] = field(default_factory=dict)

    def predict(self, keys: Sequence[str]) -> float:
        """The expected ``log(days + 1)`` for a parcel with these keys."""
        return self.level + sum(self.effects.get(k, 0.0) for k in keys)

    def grid(self, keys: tuple[str, ...]) -> Grid:
        """The parcel's duration distribution (working days) as a quantile grid."""
        cached = self.cache.get(keys)
        if cached is not None:
            return cached
        centre = self.predict(keys)
        made = tuple(max(math.exp(centre + e) - _OFFSET, 0.0) for e in self.residuals)
        if len(self.cache) < 50_000:
            self.cache[keys] = made
        return made


def fit_effects(
    rows: Sequence[tuple[tuple[str, ...], float, float]],
    *,
    shrinkage: float,
    iterations: int,
) -> EffectsFit:
    """Fit on ``(keys, days, weight)`` rows; raises ``ValueError`` without positive weight."""
    targets = [math.log(days + _OFFSET) for _, days, _ in rows]
    weights = [w for _, _, w in rows]
    total = sum(weights)
    if not rows or total <= 0:
        raise ValueError("no weight")
    level = sum(w * t for w, t in zip(weights, targets, strict=True)) / total
    members: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for index, (keys, _, _) in enumerate(rows):
        for key in keys:
            members[_factor(key)].append((index, key))
    effects: dict[str, float] = {}
    fitted = [level] * len(rows)
    for _ in range(iterations):
        for entries in members.values():
            sums: dict[str, float] = defaultdict(float)
            mass: dict[str, float] = defaultdict(float)
            for index, key in entries:
                w = weights[index]
                sums[key] += w * (targets[index] - fitted[index] + effects.get(key, 0.0))
                mass[key] += w
            new = {key: sums[key] / (mass[key] + shrinkage) for key in sums}
            for index, key in entries:
                fitted[index] += new[key] - effects.get(key, 0.0)
            effects.update(new)
        # Keep the effects centred so the level stays the weighted mean.
        shift = sum(w * (t - f) for w, t, f in zip(weights, targets, fitted, strict=True)) / total
        level += shift
        fitted = [f + shift for f in fitted]
    residuals = [t - f for t, f in zip(targets, fitted, strict=True)]
    return EffectsFit(
        level=level,
        effects=effects,
        residuals=weighted_grid(residuals, weights),
        total_weight=total,
    )

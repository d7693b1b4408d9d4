"""Quantile grids: the compact distribution shape the ETA model reads its windows from.

A grid holds a distribution's quantiles at ``GRID_SIZE`` evenly spaced probability levels
(the midpoints ``(i + 0.5) / GRID_SIZE``). Grids are cheap to blend (averaging quantile
functions keeps them monotonic), to query (linear interpolation) and to invert (bisection),
so every per-scan estimate is a handful of lookups.
"""

from __future__ import annotations

import bisect
import math

__all__ = [
    "GRID_LEVELS",
    "GRID_SIZE",
    "Grid",
    "cdf",
    "lognormal_grid",
    "quantile",
]

GRID_SIZE = 100
GRID_LEVELS: tuple[float, ...] = tuple((i + 0.5) / GRID_SIZE for i in range(GRID_SIZE))

Grid = tuple[float, ...]
"""Quantiles at :data:`GRID_LEVELS`, non-decreasing."""

# Inverse of the standard normal CDF at GRID_LEVELS, for lognormal priors (Acklam's rational
# approximation is exact enough here; the priors themselves are rough).
_A = (
    -39.69683028665376,
    220.9460984245205,
    -275.9285104469687,
    138.3577518672690,
    -30.66479806614716,
    2.506628277459239,
)
_B = (
    -54.47609879822406,
    161.5858368580409,
    -155.6989798598866,
    66.80131188771972,
    -13.28068155288572,
)
_C = (
    -0.007784894002430293,
    -0.3223964580411365,
    -2.400758277161838,
    -2.549732539343734,
    4.374664141464968,
    2.938163982698783,
)
_D = (0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416)


def _normal_ppf(p: float) -> float:
    if p < 0.02425:
        q = math.sqrt(-2 * math.log(p))
        num = ((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]
        return num / ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1)
    if p > 1 - 0.02425:
        return -_normal_ppf(1 - p)
    q = p - 0.5
    r = q * q
    num = (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q
    return num / (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1)


_Z90 = _normal_ppf(0.9)


def lognormal_grid(p10: float, p90: float) -> Grid:
    """A lognormal distribution whose 10th and 90th percentiles are ``p10`` and ``p90``."""
    low = max(p10, 0.05)
    high = max(p90, low * 1.2)
    mu = (math.log(low) + math.log(high)) / 2
    sigma = (math.log(high) - math.log(low)) / (2 * _Z90)
    return tuple(math.exp(mu + sigma * _normal_ppf(p)) for p in GRID_LEVELS)


def quantile(grid: Grid, p: float) -> float:
    """The grid's quantile at level ``p`` (linear between levels, flat beyond the ends)."""
    position = p * GRID_SIZE - 0.5
    if position <= 0:
        return grid[0]
    if position >= GRID_SIZE - 1:
        return grid[-1]
    index = int(position)
    share = position - index
    return grid[index] + share * (grid[index + 1] - grid[index])


def cdf(grid: Grid, x: float) -> float:
    """The probability level at which the grid reaches ``x`` (0 below, 1 above the range)."""
    if x <= grid[0]:
        return 0.0
    if x >= grid[-1]:
        return 1.0
    index = bisect.bisect_right(grid, x)
    low, high = grid[index - 1], grid[index]
    share = (x - low) / (high - low) if high > low else 1.0
    return (index - 1 + 0.5 + share) / GRID_SIZE

"""Choose ETA settings by rolling monthly backtests on the training file alone.

    .venv/bin/python benchmarks/eta_tune.py ../shared/data/olist_train.csv.gz

Runs the online monthly folds of ``parcelbot bench eta`` (each month predicted from the
deliveries completed before each prediction) for each candidate below and prints, per stage,
the pooled MAE as a ratio of the online lane median's, the worst fold's ratio, pooled coverage
with the lowest and highest fold's, and the mean window width beside the online lane median's
own P10–P90 width. Candidates: recency half-lives (0 = none), shrinkage strengths, the offset
of the log scale durations are read on (both stages set to one value), effect
factor sets (each factor dropped in turn: a factor stays only if dropping it raises the MAE),
and the share of residuals a window holds (each stage's, moved together).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from bots.cli.bench_eta import bench_model, monthly_folds, read_orders, run_folds
from core.eta.model import EtaConfig

__all__ = ["main"]


def _config(share_delta: float = 0.0, **settings: Any) -> EtaConfig:
    base = EtaConfig()
    purchase = dict(settings)
    transit = dict(settings)
    drop = purchase.pop("drop", None)
    transit.pop("drop", None)
    if drop is not None:
        purchase["factors"] = base.purchase.factors - {drop}
        transit["factors"] = base.transit.factors - {drop}
    purchase.setdefault("window_share", base.purchase.window_share + share_delta)
    transit.setdefault("window_share", base.transit.window_share + share_delta)
    return replace(
        base,
        purchase=replace(base.purchase, **purchase),
        transit=replace(base.transit, **transit),
    )


def _candidates() -> list[tuple[str, EtaConfig]]:
    base = EtaConfig()
    out: list[tuple[str, EtaConfig]] = [("defaults", base)]
    for half_life in (60.0, 180.0):
        out.append((f"half_life_days={half_life:g}", _config(half_life_days=half_life)))
    strengths: tuple[tuple[str, tuple[float, ...]], ...] = (
        ("lane_strength", (3.0, 30.0)),
        ("region_strength", (10.0, 100.0)),
        ("effect_strength", (15.0, 60.0)),
        ("calibration_strength", (20.0, 150.0)),
        ("log_offset", (1.0, 3.0, 16.0)),
    )
    for name, values in strengths:
        for value in values:
            settings: dict[str, Any] = {name: value}
            out.append((f"{name}={value:g}", _config(**settings)))
    for window in (200, 800):
        out.append((f"window={window}", _config(window=window)))
    for factor in sorted(base.purchase.factors | base.transit.factors):
        out.append((f"without {factor}", _config(drop=factor)))
    for delta in (-0.02, 0.02):
        out.append((f"window_share{delta:+g}", _config(share_delta=delta)))
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    orders = read_orders(Path(argv[0]))
    folds = monthly_folds(orders, None, None)
    for name, config in _candidates():
        result = run_folds(orders, folds, partial(bench_model, config))
        cells = []
        for stage in ("handoff", "purchase"):
            ours, lane = result.scores[stage], result.scores[f"online_lane_{stage}"]
            ratios = [
                (f[stage].mae() or 0.0) / (f[f"online_lane_{stage}"].mae() or 1.0)
                for f in result.folds.values()
            ]
            cover = [f[stage].coverage() or 0.0 for f in result.folds.values()]
            cells.append(
                f"{stage} ×{(ours.mae() or 0) / (lane.mae() or 1):.3f} worst ×{max(ratios):.3f} "
                f"cover {ours.coverage() or 0:.1%} [{min(cover):.0%}–{max(cover):.0%}] "
                f"width {ours.mean_width() or 0:.1f}/{lane.mean_width() or 0:.1f}"
            )
        print(f"{name:<28}", " | ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""``parcelbot bench eta``: how good are the arrival windows on real delivered orders?

Feeds the delivered orders of ``--train`` into the bot's own :class:`core.eta.EtaModel` as
history, then predicts every delivered order of ``--test`` twice, at purchase time and at
carrier handoff, and compares the results with the shop's promise and a plain lane-median.

Input: gzip (or plain) CSV with the columns of the Olist public data set (``order_status``,
``order_purchase_timestamp``, ``order_delivered_carrier_date``,
``order_delivered_customer_date``, ``order_estimated_delivery_date``, ``seller_state``,
``customer_state``); timestamps are naive Brazil local time. ``--split-date`` splits one file
in time instead: orders purchased before the date train, the rest test.

``--until`` limits the test rows of ``--split-date`` (a validation window inside the training
period). ``--online`` lets the model learn, as the bot does, from every test order delivered
before each prediction's moment (never from one delivered later), refitting every
``--refit-days``; the default static mode learns from ``--train`` only.

With ``--json`` the last line printed is one JSON object with the headline figures; coverage
and on-time shares are fractions (0–1), errors and widths are days.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from core.eta import EtaConfig, EtaModel, Observation, ParcelDetails
from core.eta_calendar import BusinessCalendar, calendar_for_country
from core.models import Eta

__all__ = [
    "BENCH_CARRIER",
    "BenchResult",
    "Order",
    "bench_calendar",
    "bench_model",
    "main",
    "read_orders",
    "render",
    "run",
    "split",
    "summary",
]

ZONE = ZoneInfo("America/Sao_Paulo")
BENCH_CARRIER = "olist"
_DAY = 86_400.0
_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class Order:
    """One row of the input file, with times as aware UTC."""

    status: str
    purchased: datetime | None
    handed_over: datetime | None
    delivered: datetime | None
    promised: datetime | None
    origin: str
    destination: str
    details: ParcelDetails | None = None


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _details(row: dict[str, str]) -> ParcelDetails:
    items = _number(row.get("n_items"))
    return ParcelDetails(
        origin_zip=(row.get("seller_zip_code_prefix") or "").strip() or None,
        destination_zip=(row.get("customer_zip_code_prefix") or "").strip() or None,
        freight=_number(row.get("freight_value")),
        weight_g=_number(row.get("total_weight_g")),
        items=None if items is None else int(items),
    )


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    for fmt in _FORMATS:
        try:
            naive = datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
        return naive.replace(tzinfo=ZONE).astimezone(UTC)
    return None


def _open_text(path: Path) -> io.TextIOBase:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return io.StringIO(raw.decode("utf-8-sig"))


def read_orders(path: Path) -> list[Order]:
    """Every row of a CSV (gzip or plain) as an :class:`Order`."""
    with _open_text(path) as handle:
        return [
            Order(
                status=(row.get("order_status") or "").strip(),
                purchased=_time(row.get("order_purchase_timestamp")),
                handed_over=_time(row.get("order_delivered_carrier_date")),
                delivered=_time(row.get("order_delivered_customer_date")),
                promised=_time(row.get("order_estimated_delivery_date")),
                origin=(row.get("seller_state") or "").strip(),
                destination=(row.get("customer_state") or "").strip(),
                details=_details(row),
            )
            for row in csv.DictReader(handle)
        ]


def bench_calendar() -> BusinessCalendar:
    """Brazilian carriers work weekdays, a short Saturday round, and not on national holidays."""
    return calendar_for_country("BR", ZONE, saturday=0.3)


def bench_model(config: EtaConfig | None = None) -> EtaModel:
    """The estimator the bot uses, with the Brazilian working calendar for the data set."""
    return EtaModel(config=config, calendars={BENCH_CARRIER: bench_calendar()})


def _observation(order: Order) -> Observation | None:
    if order.status != "delivered" or order.purchased is None or order.delivered is None:
        return None
    return Observation(
        carrier=BENCH_CARRIER,
        service="",
        origin=order.origin,
        destination=order.destination,
        ordered_at=order.purchased,
        handed_over_at=order.handed_over,
        delivered_at=order.delivered,
        promised_by=order.promised,
        details=order.details,
    )


def _local_day(moment: datetime) -> date:
    return moment.astimezone(ZONE).date()


@dataclass(slots=True)
class _Score:
    """Running totals for one predictor on one set of rows."""

    n: int = 0
    abs_error: float = 0.0
    on_or_before: int = 0
    covered: int = 0
    width: float = 0.0
    has_window: bool = False

    def add(
        self, actual: datetime, point: datetime, window: tuple[datetime, datetime] | None
    ) -> None:
        self.n += 1
        self.abs_error += abs((point - actual).total_seconds()) / _DAY
        self.on_or_before += _local_day(actual) <= _local_day(point)
        if window is not None:
            self.has_window = True
            self.covered += window[0] <= actual <= window[1]
            self.width += (window[1] - window[0]).total_seconds() / _DAY

    def mae(self) -> float | None:
        return self.abs_error / self.n if self.n else None

    def share(self) -> float | None:
        return self.on_or_before / self.n if self.n else None

    def coverage(self) -> float | None:
        return self.covered / self.n if self.n and self.has_window else None

    def mean_width(self) -> float | None:
        return self.width / self.n if self.n and self.has_window else None


def _lane_medians(
    orders: Iterable[Order],
) -> tuple[dict[tuple[str, str], tuple[float, float]], tuple[float, float]]:
    """Median purchase→delivery and handoff→delivery days per lane, and over all lanes."""
    totals: dict[tuple[str, str], list[float]] = defaultdict(list)
    transits: dict[tuple[str, str], list[float]] = defaultdict(list)
    for obs in (o for o in map(_observation, orders) if o is not None):
        lane = (obs.origin, obs.destination)
        totals[lane].append((obs.delivered_at - obs.ordered_at).total_seconds() / _DAY)
        if obs.handed_over_at is not None:
            transits[lane].append((obs.delivered_at - obs.handed_over_at).total_seconds() / _DAY)
    all_total = [v for values in totals.values() for v in values]
    all_transit = [v for values in transits.values() for v in values]
    overall = (
        statistics.median(all_total) if all_total else 10.0,
        statistics.median(all_transit) if all_transit else 7.0,
    )
    medians = {
        lane: (
            statistics.median(totals[lane]),
            statistics.median(transits[lane]) if transits.get(lane) else overall[1],
        )
        for lane in totals
    }
    return medians, overall


@dataclass(frozen=True, slots=True)
class BenchResult:
    """Every figure the table shows."""

    n_train: int
    n_test: int
    scores: dict[str, _Score]
    fit_seconds: float
    estimates_per_second: float


def run(
    train: Sequence[Order],
    test: Sequence[Order],
    model: EtaModel | None = None,
    *,
    online: bool = False,
    refit_days: float = 7.0,
) -> BenchResult:
    """Score the estimator and the baselines on the delivered orders of ``test``.

    Static (the default): the model knows ``train`` only. ``online``: as the bot works, every
    test order delivered before a prediction's moment is history by then (never one
    delivered later); the model is refitted at most every ``refit_days``.
    """
    # ``is None``, not ``or``: an empty model has length 0 and is falsy.
    if model is None:
        model = bench_model(replace(EtaConfig(), auto_refit=False) if online else None)
    started = time.perf_counter()
    kept = model.observe_many(o for o in map(_observation, train) if o is not None)
    model.refit()
    fit_seconds = time.perf_counter() - started
    medians, overall = _lane_medians(train)

    scores = {name: _Score() for name in _LABELS}
    rows = [(o, obs) for o in test if (obs := _observation(o)) is not None]
    # Prediction moments in time order: (moment, row index, at handoff?).
    moments = [(obs.ordered_at, i, False) for i, (_, obs) in enumerate(rows)]
    moments += [
        (obs.handed_over_at, i, True)
        for i, (_, obs) in enumerate(rows)
        if obs.handed_over_at is not None
    ]
    moments.sort(key=lambda m: (m[0], m[1], m[2]))
    arrivals = sorted((obs for _, obs in rows), key=lambda o: o.delivered_at)
    learned = 0
    last_refit: datetime | None = None
    fit_seconds_online = 0.0
    started = time.perf_counter()
    for moment, index, at_handoff in moments:
        if online:
            fresh = 0
            while learned < len(arrivals) and arrivals[learned].delivered_at < moment:
                model.observe(arrivals[learned])
                learned += 1
                fresh += 1
            due = last_refit is None or moment - last_refit >= timedelta(days=refit_days)
            if due and (fresh or len(model) > model.fitted_count):
                tick = time.perf_counter()
                model.refit()
                fit_seconds_online += time.perf_counter() - tick
                last_refit = moment
        order, obs = rows[index]
        actual = obs.delivered_at
        lane_total, lane_transit = medians.get((obs.origin, obs.destination), overall)
        if at_handoff:
            eta = _estimate(model, obs, moment, moment)
            scores["handoff"].add(actual, eta.most_likely, (eta.earliest, eta.latest))
            scores["lane_handoff"].add(actual, moment + timedelta(days=lane_transit), None)
        else:
            eta = _estimate(model, obs, moment, None)
            scores["purchase"].add(actual, eta.most_likely, (eta.earliest, eta.latest))
            scores["lane_purchase"].add(actual, moment + timedelta(days=lane_total), None)
            if order.promised is not None:
                scores["promise"].add(actual, order.promised, None)
    estimate_seconds = time.perf_counter() - started - fit_seconds_online
    return BenchResult(
        n_train=kept,
        n_test=len(rows),
        scores=scores,
        fit_seconds=fit_seconds + fit_seconds_online,
        estimates_per_second=len(moments) / estimate_seconds if estimate_seconds > 0 else 0.0,
    )


def _estimate(model: EtaModel, obs: Observation, now: datetime, handed: datetime | None) -> Eta:
    return model.estimate(
        carrier=BENCH_CARRIER,
        origin=obs.origin,
        destination=obs.destination,
        ordered_at=obs.ordered_at,
        handed_over_at=handed,
        now=now,
        tz=ZONE,
        details=obs.details,
    )


_LABELS = {
    "purchase": "parcelbot, at purchase",
    "handoff": "parcelbot, at handoff",
    "promise": "shop promise",
    "lane_purchase": "lane median, at purchase",
    "lane_handoff": "lane median, at handoff",
}


def _cell(value: float | None, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)


def render(result: BenchResult) -> list[str]:
    """The comparison table as lines of text."""
    header = f"{'predictor':<26}{'rows':>7}{'MAE d':>8}{'≤ day':>8}{'P10–P90':>9}{'width d':>9}"
    lines = [
        f"train deliveries: {result.n_train}   test deliveries: {result.n_test}",
        header,
        "-" * len(header),
    ]
    for key, label in _LABELS.items():
        score = result.scores[key]
        lines.append(
            f"{label:<26}{score.n:>7}{_cell(score.mae(), '{:.2f}'):>8}"
            f"{_cell(score.share(), '{:.1%}'):>8}{_cell(score.coverage(), '{:.1%}'):>9}"
            f"{_cell(score.mean_width(), '{:.2f}'):>9}"
        )
    lines.append(
        f"fit {result.fit_seconds:.2f} s, {result.estimates_per_second:.0f} estimates/s; "
        "coverage = share delivered inside the P10–P90 window"
    )
    return lines


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def summary(result: BenchResult) -> dict[str, int | float | None]:
    """The headline figures (the ``--json`` object)."""
    scores = result.scores
    return {
        "n_test": result.n_test,
        "mae_purchase": _rounded(scores["purchase"].mae()),
        "mae_handoff": _rounded(scores["handoff"].mae()),
        "coverage_purchase": _rounded(scores["purchase"].coverage()),
        "coverage_handoff": _rounded(scores["handoff"].coverage()),
        "width_purchase": _rounded(scores["purchase"].mean_width()),
        "width_handoff": _rounded(scores["handoff"].mean_width()),
        "promise_mae": _rounded(scores["promise"].mae()),
        "lane_median_mae_handoff": _rounded(scores["lane_handoff"].mae()),
    }


def split(
    orders: Sequence[Order], cut: date, until: date | None = None
) -> tuple[list[Order], list[Order]]:
    """Orders purchased before ``cut`` (Brazil local date), and the rest (before ``until``)."""
    before = [o for o in orders if o.purchased is not None and _local_day(o.purchased) < cut]
    after = [
        o
        for o in orders
        if o.purchased is not None
        and _local_day(o.purchased) >= cut
        and (until is None or _local_day(o.purchased) < until)
    ]
    return before, after


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parcelbot bench eta", description="Score arrival windows on delivered orders."
    )
    parser.add_argument("--train", type=Path, required=True, help="history CSV (gzip or plain)")
    parser.add_argument("--test", type=Path, help="orders to predict (same columns)")
    parser.add_argument(
        "--split-date",
        type=date.fromisoformat,
        help="split --train in time instead: purchased before this date trains, the rest tests",
    )
    parser.add_argument(
        "--until",
        type=date.fromisoformat,
        help="with --split-date: test only orders purchased before this date (validation)",
    )
    parser.add_argument(
        "--online",
        action="store_true",
        help="learn from each test order once it is delivered (before later predictions)",
    )
    parser.add_argument(
        "--refit-days",
        type=float,
        default=7.0,
        help="with --online: refit at most this often (days of data time; default 7)",
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON summary line")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns a process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        orders = read_orders(args.train)
        if args.split_date is not None:
            if args.test is not None:
                parser.error("give either --test or --split-date, not both")
            train, test = split(orders, args.split_date, args.until)
        elif args.test is not None:
            train, test = orders, read_orders(args.test)
        else:
            parser.error("--test or --split-date is required")
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        print(f"cannot read input: {err}", file=sys.stderr)
        return 2
    result = run(train, test, online=args.online, refit_days=args.refit_days)
    for line in render(result):
        print(line)
    if args.json:
        print(json.dumps(summary(result), sort_keys=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

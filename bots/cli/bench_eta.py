"""``parcelbot bench eta``: how good are the arrival windows on real delivered orders?

Predicts every delivered test order twice, at purchase time and at carrier handoff, with the
bot's own :class:`core.eta.model.EtaModel`, beside three baselines on the same rows: the shop's
promise, the lane median of the training orders, and an online lane median (each lane's median
of the deliveries completed before the prediction, with its own empirical P10–P90 window).

Modes. Online (the default, as the bot lives): at each prediction's moment the model has learned
every delivery completed before it (training orders first, then test orders as they complete)
and nothing delivered later. ``--frozen``: the model learns the training orders once.

Rows. ``--test`` names a second file; ``--split-date`` splits ``--train`` in time (orders
purchased before the date train, the rest test; ``--until`` ends the test rows); ``--folds
monthly`` runs rolling-origin monthly folds within ``--train`` (each month predicted from what
came before it; ``--from``/``--to`` bound the months), printing each fold and the pooled figures
with ratio columns.

Input: gzip (or plain) CSV with the columns of the Olist public data set (``order_status``,
``order_purchase_timestamp``, ``order_delivered_carrier_date``,
``order_delivered_customer_date``, ``order_estimated_delivery_date``, ``seller_state``,
``customer_state`` and, for parcel details, ``seller_zip_code_prefix``,
``customer_zip_code_prefix``, ``freight_value``, ``total_weight_g``, ``n_items``); timestamps are
naive Brazil local time.

With ``--json`` the last line printed is one JSON object with the headline figures (``folds``
holds each fold's own); coverage and on-time shares are fractions (0–1), errors and widths are
days.

Windows, parcelbot's and the online lane median's alike, are scored by one rule, two ways: as
instants (width in fractional days from the first to the last instant, covered when delivered
between them) and as the buyer reads them (``day_`` keys: the whole local days from the first
day to the last, counted inclusive, covered when delivered on one of them). Both predictors'
windows are calendar spans from the moment of prediction, at the same stage.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import gzip
import io
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bots.public_holidays import PublicHolidays
from core.eta.calendar import BusinessCalendar, calendar_for_country
from core.eta.model import EtaConfig, EtaModel
from core.models import Eta, Observation, ParcelDetails

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
    return calendar_for_country("BR", ZONE, saturday=0.3, holidays=PublicHolidays())


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
    windows: int = 0
    day_covered: int = 0
    day_width: int = 0
    """Coverage and width in whole local days, as the buyer reads the window."""

    def add(
        self, actual: datetime, point: datetime, window: tuple[datetime, datetime] | None
    ) -> None:
        self.n += 1
        self.abs_error += abs((point - actual).total_seconds()) / _DAY
        self.on_or_before += _local_day(actual) <= _local_day(point)
        if window is not None:
            self.windows += 1
            self.covered += window[0] <= actual <= window[1]
            self.width += (window[1] - window[0]).total_seconds() / _DAY
            first, last = _local_day(window[0]), _local_day(window[1])
            self.day_covered += first <= _local_day(actual) <= last
            self.day_width += (last - first).days + 1

    def merge(self, other: _Score) -> None:
        """Add ``other``'s rows to these totals (pooling folds)."""
        self.n += other.n
        self.abs_error += other.abs_error
        self.on_or_before += other.on_or_before
        self.covered += other.covered
        self.width += other.width
        self.windows += other.windows
        self.day_covered += other.day_covered
        self.day_width += other.day_width

    def mae(self) -> float | None:
        return self.abs_error / self.n if self.n else None

    def share(self) -> float | None:
        return self.on_or_before / self.n if self.n else None

    def coverage(self) -> float | None:
        return self.covered / self.windows if self.windows else None

    def mean_width(self) -> float | None:
        return self.width / self.windows if self.windows else None

    def day_coverage(self) -> float | None:
        """Share delivered on one of the window's whole local days."""
        return self.day_covered / self.windows if self.windows else None

    def mean_day_width(self) -> float | None:
        """Mean count of whole local days the window spans (first and last included)."""
        return self.day_width / self.windows if self.windows else None


_Lanes = tuple[dict[tuple[str, str], tuple[float, float]], tuple[float, float]]


def _days(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / _DAY


def _lane_medians(orders: Iterable[Order]) -> _Lanes:
    """Median purchase→delivery and handoff→delivery days per lane, and over all lanes."""
    totals: dict[tuple[str, str], list[float]] = defaultdict(list)
    transits: dict[tuple[str, str], list[float]] = defaultdict(list)
    for obs in (o for o in map(_observation, orders) if o is not None):
        lane = (obs.origin, obs.destination)
        totals[lane].append(_days(obs.ordered_at, obs.delivered_at))
        if obs.handed_over_at is not None:
            transits[lane].append(_days(obs.handed_over_at, obs.delivered_at))
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


class _OnlineLanes:
    """The online baseline: each lane's durations among deliveries completed so far.

    Its point is the lane's median and its window the lane's own empirical P10–P90; a lane
    with no delivery yet uses every lane's.
    """

    def __init__(self) -> None:
        self._lanes: dict[tuple[bool, str, str], list[float]] = defaultdict(list)
        self._all: dict[bool, list[float]] = {False: [], True: []}

    def learn(self, obs: Observation) -> None:
        spans = [(False, obs.ordered_at)]
        if obs.handed_over_at is not None:
            spans.append((True, obs.handed_over_at))
        for at_handoff, start in spans:
            value = _days(start, obs.delivered_at)
            bisect.insort(self._lanes[(at_handoff, obs.origin, obs.destination)], value)
            bisect.insort(self._all[at_handoff], value)

    def predict(
        self, obs: Observation, at_handoff: bool, moment: datetime
    ) -> tuple[datetime, tuple[datetime, datetime]] | None:
        values = self._lanes.get((at_handoff, obs.origin, obs.destination)) or self._all[at_handoff]
        if not values:
            return None
        low, mid, high = (_sorted_quantile(values, p) for p in (0.1, 0.5, 0.9))
        return moment + timedelta(days=mid), (
            moment + timedelta(days=low),
            moment + timedelta(days=high),
        )


def _sorted_quantile(values: Sequence[float], p: float) -> float:
    position = p * (len(values) - 1)
    index = min(int(position), len(values) - 1)
    if index + 1 >= len(values):
        return values[index]
    share = position - index
    return values[index] + share * (values[index + 1] - values[index])


_LABELS = {
    "purchase": "parcelbot, at purchase",
    "handoff": "parcelbot, at handoff",
    "promise": "shop promise",
    "lane_purchase": "lane median, at purchase",
    "lane_handoff": "lane median, at handoff",
    "online_lane_purchase": "online lane median, at purchase",
    "online_lane_handoff": "online lane median, at handoff",
}


def _scores() -> dict[str, _Score]:
    return {name: _Score() for name in _LABELS}


@dataclass(frozen=True, slots=True)
class Fold:
    """One rolling-origin fold: history is everything purchased before ``start``."""

    label: str
    start: date
    end: date


@dataclass(frozen=True, slots=True)
class BenchResult:
    """Every figure the tables show; ``folds`` maps a fold's label to its own scores."""

    n_train: int
    n_test: int
    scores: dict[str, _Score]
    fit_seconds: float
    estimates_per_second: float
    folds: dict[str, dict[str, _Score]] = field(default_factory=dict)
    online: bool = True


@dataclass(slots=True)
class _Timing:
    fit: float = 0.0
    estimate: float = 0.0
    estimates: int = 0


def _score_rows(
    model: EtaModel,
    history: Sequence[Observation],
    rows: Sequence[tuple[Order, Observation, str]],
    medians: Mapping[str, _Lanes],
    scores: Mapping[str, dict[str, _Score]],
    *,
    timing: _Timing,
    online: bool,
) -> None:
    """Predict every row at purchase and at handoff, scoring into ``scores[row's fold]``.

    Frozen: the model learns ``history`` once. Online: the model, and the online lane
    baseline, learn each delivery of ``history`` and of ``rows`` only once it is complete
    before a prediction's moment (never one delivered later).
    """
    lanes = _OnlineLanes()
    stream: list[Observation] = []
    if online:
        stream = sorted([*history, *(obs for _, obs, _ in rows)], key=lambda o: o.delivered_at)
    else:
        tick = time.perf_counter()
        model.observe_many(history)
        timing.fit += time.perf_counter() - tick
        for obs in history:
            lanes.learn(obs)
    # Prediction moments in time order: (moment, row index, at handoff?).
    moments = [(obs.ordered_at, i, False) for i, (_, obs, _) in enumerate(rows)]
    moments += [
        (obs.handed_over_at, i, True)
        for i, (_, obs, _) in enumerate(rows)
        if obs.handed_over_at is not None
    ]
    moments.sort(key=lambda m: (m[0], m[1], m[2]))
    learned = 0
    for moment, index, at_handoff in moments:
        if online:
            tick = time.perf_counter()
            while learned < len(stream) and stream[learned].delivered_at < moment:
                model.observe(stream[learned])
                lanes.learn(stream[learned])
                learned += 1
            timing.fit += time.perf_counter() - tick
        order, obs, fold = rows[index]
        fold_scores = scores[fold]
        actual = obs.delivered_at
        lane_total, lane_transit = medians[fold][0].get(
            (obs.origin, obs.destination), medians[fold][1]
        )
        tick = time.perf_counter()
        eta = _estimate(model, obs, moment, moment if at_handoff else None)
        timing.estimate += time.perf_counter() - tick
        timing.estimates += 1
        stage = "handoff" if at_handoff else "purchase"
        fold_scores[stage].add(actual, eta.most_likely, (eta.earliest, eta.latest))
        lane_days = lane_transit if at_handoff else lane_total
        fold_scores[f"lane_{stage}"].add(actual, moment + timedelta(days=lane_days), None)
        online_lane = lanes.predict(obs, at_handoff, moment)
        if online_lane is not None:
            fold_scores[f"online_lane_{stage}"].add(actual, *online_lane)
        if not at_handoff and order.promised is not None:
            fold_scores["promise"].add(actual, order.promised, None)


def _delivered(orders: Iterable[Order]) -> list[tuple[Order, Observation]]:
    return [(o, obs) for o in orders if (obs := _observation(o)) is not None]


def run(
    train: Sequence[Order],
    test: Sequence[Order],
    model: EtaModel | None = None,
    *,
    online: bool = True,
) -> BenchResult:
    """Score the estimator and the baselines on the delivered orders of ``test``.

    Online (the default, as the bot lives): at each prediction's moment the model has learned
    every delivery of ``train`` and ``test`` completed before that moment and nothing else;
    Frozen
    (``online=False``): the model learns ``train`` once.
    """
    # ``is None``, not ``or``: an empty model has length 0 and is falsy.
    if model is None:
        model = bench_model()
    history = [obs for _, obs in _delivered(train)]
    rows = [(o, obs, "all") for o, obs in _delivered(test)]
    scores = {"all": _scores()}
    timing = _Timing()
    _score_rows(
        model,
        history,
        rows,
        {"all": _lane_medians(train)},
        scores,
        timing=timing,
        online=online,
    )
    return BenchResult(
        n_train=len(history),
        n_test=len(rows),
        scores=scores["all"],
        fit_seconds=timing.fit,
        estimates_per_second=timing.estimates / timing.estimate if timing.estimate > 0 else 0.0,
        online=online,
    )


def monthly_folds(orders: Sequence[Order], first: date | None, last: date | None) -> list[Fold]:
    """Calendar months (Brazil local) from ``first`` to ``last`` (months, inclusive).

    Without bounds: from the first month preceded by at least 500 orders, to the last month
    of the file.
    """
    days = sorted(_local_day(o.purchased) for o in orders if o.purchased is not None)
    if not days:
        return []
    if first is None:
        month = days[min(499, len(days) - 1)]
        first = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    if last is None:
        last = days[-1]
    month = date(first.year, first.month, 1)
    end = date(last.year, last.month, 1)
    folds = []
    while month <= end:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        folds.append(Fold(f"{month:%Y-%m}", month, following))
        month = following
    return folds


def run_folds(
    orders: Sequence[Order],
    folds: Sequence[Fold],
    make_model: Callable[[], EtaModel] | None = None,
    *,
    online: bool = True,
) -> BenchResult:
    """Rolling-origin folds within one file: each fold predicts the orders purchased in its
    month from what was delivered before (online) or purchased before it (frozen).

    Online, the folds share one pass over time: history at any moment is every delivery
    completed before it, whichever fold it belongs to, so one model serves them all.
    """
    if not folds:
        raise ValueError("no folds")
    if make_model is None:

        def make_model() -> EtaModel:
            return bench_model()

    delivered = _delivered(orders)
    medians = {
        fold.label: _lane_medians(
            o for o, _ in delivered if _local_day(o.purchased or _EPOCH) < fold.start
        )
        for fold in folds
    }
    scores = {fold.label: _scores() for fold in folds}
    timing = _Timing()

    def fold_of(obs: Observation) -> Fold | None:
        day = _local_day(obs.ordered_at)
        return next((f for f in folds if f.start <= day < f.end), None)

    labelled = [(o, obs, fold_of(obs)) for o, obs in delivered]
    n_train = sum(1 for _, obs, _ in labelled if _local_day(obs.ordered_at) < folds[0].start)
    # Online: one pass over time serves every fold. Frozen: one model per fold.
    passes: list[tuple[list[Observation], list[tuple[Order, Observation, str]]]]
    if online:
        end = folds[-1].end
        history = [
            obs for _, obs, fold in labelled if fold is None and _local_day(obs.ordered_at) < end
        ]
        passes = [(history, [(o, obs, f.label) for o, obs, f in labelled if f is not None])]
    else:
        passes = [
            (
                [obs for _, obs, _ in labelled if _local_day(obs.ordered_at) < fold.start],
                [(o, obs, fold.label) for o, obs, f in labelled if f is fold],
            )
            for fold in folds
        ]
    for history, rows in passes:
        _score_rows(make_model(), history, rows, medians, scores, timing=timing, online=online)
    pooled = _scores()
    for fold_scores in scores.values():
        for name, score in fold_scores.items():
            pooled[name].merge(score)
    return BenchResult(
        n_train=n_train,
        n_test=pooled["purchase"].n,
        scores=pooled,
        fit_seconds=timing.fit,
        estimates_per_second=timing.estimates / timing.estimate if timing.estimate > 0 else 0.0,
        folds=scores,
        online=online,
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
        promised_by=obs.promised_by,
    )


def _cell(value: float | None, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)


def _ratio(top: float | None, bottom: float | None) -> float | None:
    return None if top is None or bottom is None or bottom <= 0 else top / bottom


def _fold_table(result: BenchResult, stage: str) -> list[str]:
    header = (
        f"{'fold':<9}{'rows':>6}{'bot MAE':>9}{'lane':>7}{'online':>8}{'÷online':>9}{'÷lane':>7}"
        f"{'cover':>7}{'width':>7}{'ol cover':>9}{'ol width':>9}"
        f"{'days cov':>9}{'days w':>7}{'ol d cov':>9}{'ol d w':>7}"
    )
    lines = [f"at {stage}:", header, "-" * len(header)]
    entries = [*result.folds.items(), ("pooled", result.scores)]
    for label, scores in entries:
        bot, lane, online = scores[stage], scores[f"lane_{stage}"], scores[f"online_lane_{stage}"]
        lines.append(
            f"{label:<9}{bot.n:>6}{_cell(bot.mae(), '{:.2f}'):>9}{_cell(lane.mae(), '{:.2f}'):>7}"
            f"{_cell(online.mae(), '{:.2f}'):>8}"
            f"{_cell(_ratio(bot.mae(), online.mae()), '{:.3f}'):>9}"
            f"{_cell(_ratio(bot.mae(), lane.mae()), '{:.3f}'):>7}"
            f"{_cell(bot.coverage(), '{:.1%}'):>7}{_cell(bot.mean_width(), '{:.2f}'):>7}"
            f"{_cell(online.coverage(), '{:.1%}'):>9}{_cell(online.mean_width(), '{:.2f}'):>9}"
            f"{_cell(bot.day_coverage(), '{:.1%}'):>9}{_cell(bot.mean_day_width(), '{:.2f}'):>7}"
            f"{_cell(online.day_coverage(), '{:.1%}'):>9}"
            f"{_cell(online.mean_day_width(), '{:.2f}'):>7}"
        )
    return lines


def render(result: BenchResult) -> list[str]:
    """The comparison tables as lines of text."""
    mode = "online (learns each delivery once complete)" if result.online else "frozen"
    header = (
        f"{'predictor':<34}{'rows':>7}{'MAE d':>8}{'≤ day':>8}{'P10–P90':>9}{'width d':>9}"
        f"{'days cov':>9}{'days w':>8}"
    )
    lines = [
        f"train deliveries: {result.n_train}   test deliveries: {result.n_test}   mode: {mode}",
        header,
        "-" * len(header),
    ]
    for key, label in _LABELS.items():
        score = result.scores[key]
        lines.append(
            f"{label:<34}{score.n:>7}{_cell(score.mae(), '{:.2f}'):>8}"
            f"{_cell(score.share(), '{:.1%}'):>8}{_cell(score.coverage(), '{:.1%}'):>9}"
            f"{_cell(score.mean_width(), '{:.2f}'):>9}"
            f"{_cell(score.day_coverage(), '{:.1%}'):>9}"
            f"{_cell(score.mean_day_width(), '{:.2f}'):>8}"
        )
    if result.folds:
        for stage in ("handoff", "purchase"):
            lines.append("")
            lines += _fold_table(result, stage)
        lines.append(
            "lane = the train file's lane median; online = the online lane median "
            "(ol cover/width: its own empirical P10–P90)"
        )
    lines.append(
        f"fit {result.fit_seconds:.2f} s, {result.estimates_per_second:.0f} estimates/s; "
        "coverage = share delivered inside the P10–P90 window"
    )
    lines.append(
        "every window by one rule: width in days between its first and last instant; "
        "days cov/w: as the buyer reads it, whole local days, first and last included"
    )
    return lines


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _stage_figures(scores: Mapping[str, _Score]) -> dict[str, int | float | None]:
    return {
        "mae_purchase": _rounded(scores["purchase"].mae()),
        "mae_handoff": _rounded(scores["handoff"].mae()),
        "coverage_purchase": _rounded(scores["purchase"].coverage()),
        "coverage_handoff": _rounded(scores["handoff"].coverage()),
        "width_purchase": _rounded(scores["purchase"].mean_width()),
        "width_handoff": _rounded(scores["handoff"].mean_width()),
        "promise_mae": _rounded(scores["promise"].mae()),
        "lane_median_mae_handoff": _rounded(scores["lane_handoff"].mae()),
    }


def _online_figures(scores: Mapping[str, _Score]) -> dict[str, float | None]:
    return {
        "online_lane_median_mae_handoff": _rounded(scores["online_lane_handoff"].mae()),
        "online_lane_median_mae_purchase": _rounded(scores["online_lane_purchase"].mae()),
    }


def _day_figures(scores: Mapping[str, _Score]) -> dict[str, float | None]:
    """Windows in whole local days, parcelbot's and the online lane median's."""
    out: dict[str, float | None] = {}
    for prefix, name in (("", "{}"), ("online_lane_", "online_lane_{}")):
        for stage in ("handoff", "purchase"):
            score = scores[name.format(stage)]
            out[f"{prefix}day_coverage_{stage}"] = _rounded(score.day_coverage())
            out[f"{prefix}day_width_{stage}"] = _rounded(score.mean_day_width())
    return out


def summary(result: BenchResult) -> dict[str, object]:
    """The headline figures (the ``--json`` object); ``folds`` holds each fold's own."""
    scores = result.scores
    folds = [
        {
            "fold": label,
            "n_test": fold_scores["purchase"].n,
            **_stage_figures(fold_scores),
            **_online_figures(fold_scores),
            "online_lane_coverage_handoff": _rounded(fold_scores["online_lane_handoff"].coverage()),
            "online_lane_coverage_purchase": _rounded(
                fold_scores["online_lane_purchase"].coverage()
            ),
            "online_lane_width_handoff": _rounded(fold_scores["online_lane_handoff"].mean_width()),
            "online_lane_width_purchase": _rounded(
                fold_scores["online_lane_purchase"].mean_width()
            ),
            **_day_figures(fold_scores),
        }
        for label, fold_scores in result.folds.items()
    ]
    return {
        "n_test": result.n_test,
        **_stage_figures(scores),
        **_online_figures(scores),
        "online_lane_coverage_handoff": _rounded(scores["online_lane_handoff"].coverage()),
        "online_lane_coverage_purchase": _rounded(scores["online_lane_purchase"].coverage()),
        "online_lane_width_handoff": _rounded(scores["online_lane_handoff"].mean_width()),
        "online_lane_width_purchase": _rounded(scores["online_lane_purchase"].mean_width()),
        **_day_figures(scores),
        "folds": folds,
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


def _month(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m").date()
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM month: {text}") from err


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
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--online",
        action="store_true",
        help="(the default) learn each delivery once it is complete, as the bot does",
    )
    mode.add_argument(
        "--frozen",
        action="store_true",
        help="learn the training orders once and nothing after (train-once mode)",
    )
    parser.add_argument(
        "--folds",
        choices=["monthly"],
        help="rolling-origin folds within --train: each month predicted from what came before",
    )
    parser.add_argument(
        "--from",
        dest="first",
        type=_month,
        help="with --folds: first fold month, YYYY-MM (default: once 500 orders precede it)",
    )
    parser.add_argument(
        "--to",
        dest="last",
        type=_month,
        help="with --folds: last fold month, YYYY-MM (default: the file's last)",
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON summary line")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns a process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        orders = read_orders(args.train)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        print(f"cannot read input: {err}", file=sys.stderr)
        return 2
    online = not args.frozen
    if args.folds is not None:
        if args.test is not None or args.split_date is not None:
            parser.error("--folds splits --train itself; give neither --test nor --split-date")
        folds = monthly_folds(orders, args.first, args.last)
        if not folds:
            parser.error("no orders to fold")
        result = run_folds(
            orders,
            folds,
            online=online,
        )
    else:
        if args.split_date is not None:
            if args.test is not None:
                parser.error("give either --test or --split-date, not both")
            train, test = split(orders, args.split_date, args.until)
        elif args.test is not None:
            try:
                test = read_orders(args.test)
            except (OSError, UnicodeDecodeError, csv.Error) as err:
                print(f"cannot read input: {err}", file=sys.stderr)
                return 2
            train = orders
        else:
            parser.error("--test, --split-date or --folds is required")
        result = run(
            train,
            test,
            online=online,
        )
    for line in render(result):
        print(line)
    if args.json:
        print(json.dumps(summary(result), sort_keys=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

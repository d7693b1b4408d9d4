"""``parcelbot bench eta`` on a small generated file with the public data set's columns."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bots.cli import bench_eta
from core.eta.model import EtaModel
from core.models import Eta, EtaSource, Observation, ParcelDetails

COLUMNS = [
    "order_id",
    "order_status",
    "order_purchase_timestamp",
    "order_approved_at",
    "order_delivered_carrier_date",
    "order_delivered_customer_date",
    "order_estimated_delivery_date",
    "seller_zip_code_prefix",
    "seller_state",
    "customer_zip_code_prefix",
    "customer_state",
    "freight_value",
    "total_weight_g",
    "n_items",
    "n_sellers",
    "ts_precision",
]
STAMP = "%Y-%m-%d %H:%M:%S"
KEYS = [
    "n_test",
    "mae_purchase",
    "mae_handoff",
    "coverage_purchase",
    "coverage_handoff",
    "width_purchase",
    "width_handoff",
    "promise_mae",
    "lane_median_mae_handoff",
    "online_lane_median_mae_handoff",
    "online_lane_median_mae_purchase",
    "online_lane_coverage_handoff",
    "online_lane_coverage_purchase",
    "online_lane_width_handoff",
    "online_lane_width_purchase",
    "day_coverage_handoff",
    "day_width_handoff",
    "day_coverage_purchase",
    "day_width_purchase",
    "online_lane_day_coverage_handoff",
    "online_lane_day_width_handoff",
    "online_lane_day_coverage_purchase",
    "online_lane_day_width_purchase",
    "folds",
]


def write_orders(path: Path, start: datetime, count: int, seed: int) -> None:
    """Synthetic orders: São Paulo buyers get parcels faster than Bahia ones."""
    rng = random.Random(seed)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for i in range(count):
        purchased = start + timedelta(hours=7 * i + rng.uniform(0, 3))
        state = rng.choice(["SP", "SP", "BA"])
        handed = purchased + timedelta(days=rng.uniform(0.5, 3))
        transit = rng.lognormvariate(1.2 if state == "SP" else 2.2, 0.4)
        delivered = handed + timedelta(days=transit)
        status = "delivered" if i % 20 else "canceled"
        promised = (purchased + timedelta(days=20)).replace(hour=0, minute=0, second=0)
        writer.writerow(
            {
                "order_id": f"{i:032x}",
                "order_status": status,
                "order_purchase_timestamp": purchased.strftime(STAMP),
                "order_approved_at": purchased.strftime(STAMP),
                "order_delivered_carrier_date": handed.strftime(STAMP),
                "order_delivered_customer_date": delivered.strftime(STAMP)
                if status == "delivered"
                else "",
                "order_estimated_delivery_date": promised.strftime(STAMP),
                "seller_zip_code_prefix": "01000",
                "seller_state": "SP",
                "customer_zip_code_prefix": "40000",
                "customer_state": state,
                "freight_value": "10.0",
                "total_weight_g": "500",
                "n_items": "1",
                "n_sellers": "1",
                "ts_precision": "second",
            }
        )
    path.write_bytes(gzip.compress(buffer.getvalue().encode()))


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    train, test = tmp_path / "train.csv.gz", tmp_path / "test.csv.gz"
    write_orders(train, datetime(2017, 1, 2, 9), 500, seed=1)
    write_orders(test, datetime(2017, 5, 1, 9), 120, seed=2)
    return train, test


def test_json_summary_has_every_key_with_sane_values(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = files
    assert bench_eta.main(["--train", str(train), "--test", str(test), "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    assert list(summary) == KEYS
    assert summary["n_test"] == 114  # every 20th order was cancelled
    assert summary["folds"] == []
    for key in ("coverage_purchase", "coverage_handoff"):
        assert 0.5 <= summary[key] <= 1.0
    assert 0 < summary["mae_handoff"] < summary["mae_purchase"] < summary["promise_mae"]
    assert 0 < summary["width_handoff"] < summary["width_purchase"]
    assert summary["lane_median_mae_handoff"] > 0
    assert (
        0 < summary["online_lane_median_mae_handoff"] < summary["online_lane_median_mae_purchase"]
    )
    assert any(line.startswith("parcelbot, at handoff") for line in out)


def test_split_date_uses_one_file(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    train, _ = files
    assert bench_eta.main(["--train", str(train), "--split-date", "2017-04-01", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0 < summary["n_test"] < 500


def test_table_without_json(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    train, test = files
    assert bench_eta.main(["--train", str(train), "--test", str(test)]) == 0
    out = capsys.readouterr().out
    assert "shop promise" in out and "{" not in out


def test_missing_test_file_is_a_usage_error(files: tuple[Path, Path]) -> None:
    train, _ = files
    with pytest.raises(SystemExit) as raised:
        bench_eta.main(["--train", str(train)])
    assert raised.value.code == 2


def test_unreadable_input_returns_an_error_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.csv.gz"
    assert bench_eta.main(["--train", str(missing), "--test", str(missing)]) == 2
    assert "cannot read input" in capsys.readouterr().err


class _LeakCheckingModel(EtaModel):
    """Records, at every estimate, the latest delivery the model had been shown."""

    def __init__(self) -> None:
        super().__init__(
            calendars={bench_eta.BENCH_CARRIER: bench_eta.bench_calendar()},
        )
        self.latest: datetime | None = None
        self.gaps: list[timedelta] = []

    def observe(self, obs: Observation) -> None:
        super().observe(obs)
        self.latest = (
            obs.delivered_at if self.latest is None else max(self.latest, obs.delivered_at)
        )

    def estimate(self, **kwargs: Any) -> Eta:
        if self.latest is not None:
            self.gaps.append(kwargs["now"] - self.latest)
        return super().estimate(**kwargs)


def test_online_mode_learns_only_from_parcels_delivered_before_each_prediction(
    files: tuple[Path, Path],
) -> None:
    train, test = files
    model = _LeakCheckingModel()
    result = bench_eta.run(
        bench_eta.read_orders(train),
        bench_eta.read_orders(test),
        model,
        online=True,
    )
    assert result.n_test == 114
    assert model.gaps, "test deliveries were never learned from"
    assert all(gap > timedelta(0) for gap in model.gaps)
    assert len(model) > result.n_train


def test_online_flag_and_validation_window(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    train, _ = files
    args = ["--train", str(train), "--split-date", "2017-03-01", "--until", "2017-04-01"]
    assert bench_eta.main([*args, "--online", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert list(summary) == KEYS
    # 500 orders seven hours apart from 2 Jan: March holds about 100 of them.
    assert 80 <= summary["n_test"] <= 110


def test_orders_carry_their_details(files: tuple[Path, Path]) -> None:
    train, _ = files
    order = bench_eta.read_orders(train)[0]
    assert order.details == ParcelDetails(
        origin_zip="01000", destination_zip="40000", freight=10.0, weight_g=500.0, items=1
    )


def test_frozen_mode_learns_the_training_file_only(files: tuple[Path, Path]) -> None:
    train, test = files
    model = bench_eta.bench_model()
    result = bench_eta.run(
        bench_eta.read_orders(train), bench_eta.read_orders(test), model, online=False
    )
    assert len(model) == result.n_train == 475


def test_online_lane_median_knows_only_earlier_deliveries() -> None:
    lanes = bench_eta._OnlineLanes()
    start = datetime(2017, 1, 2, 12, tzinfo=UTC)
    first = Observation(
        "olist", "", "SP", "BA", start, start + timedelta(days=1), start + timedelta(days=5)
    )
    assert lanes.predict(first, True, start) is None
    lanes.learn(first)
    point, (low, high) = lanes.predict(first, True, start) or (start, (start, start))
    assert point - start == timedelta(days=4) == high - start == low - start
    other = replace(first, destination="RJ")
    # An unseen lane falls back to every lane's deliveries.
    assert lanes.predict(other, False, start) == (
        start + timedelta(days=5),
        (start + timedelta(days=5),) * 2,
    )


def test_a_window_is_scored_as_instants_and_as_the_buyers_whole_days() -> None:
    zone = bench_eta.ZONE
    score = bench_eta._Score()
    # Thu 10 Dec 15:00 to Mon 14 Dec 09:00 local: the buyer reads "Thu 10 – Mon 14 Dec".
    window = (
        datetime(2020, 12, 10, 15, tzinfo=zone).astimezone(UTC),
        datetime(2020, 12, 14, 9, tzinfo=zone).astimezone(UTC),
    )
    point = window[0]
    score.add(datetime(2020, 12, 14, 18, tzinfo=zone).astimezone(UTC), point, window)
    score.add(datetime(2020, 12, 12, 12, tzinfo=zone).astimezone(UTC), point, window)
    score.add(datetime(2020, 12, 15, 8, tzinfo=zone).astimezone(UTC), point, window)
    assert score.mean_width() == pytest.approx(3.75)
    assert score.coverage() == pytest.approx(1 / 3)
    # Delivered on Monday evening: after the last instant, but on the window's last day.
    assert score.mean_day_width() == 5
    assert score.day_coverage() == pytest.approx(2 / 3)


class _LaneWindowModel(EtaModel):
    """Answers with the online lane median's own window, learned from the same deliveries."""

    def __init__(self) -> None:
        super().__init__()
        self.lanes = bench_eta._OnlineLanes()

    def observe(self, obs: Observation) -> None:
        super().observe(obs)
        self.lanes.learn(obs)

    def estimate(self, **kwargs: Any) -> Eta:
        now = kwargs["now"]
        handed = kwargs.get("handed_over_at")
        obs = Observation(
            "olist", "", kwargs["origin"], kwargs["destination"], kwargs["ordered_at"], handed, now
        )
        predicted = self.lanes.predict(obs, handed is not None, now)
        assert predicted is not None
        point, (low, high) = predicted
        return Eta(earliest=low, latest=high, most_likely=point, source=EtaSource.LEARNED)


def test_parcelbot_and_the_online_lane_median_are_scored_by_one_rule(
    files: tuple[Path, Path],
) -> None:
    train, _ = files
    orders = bench_eta.read_orders(train)
    folds = bench_eta.monthly_folds(orders, date(2017, 3, 1), date(2017, 4, 1))
    result = bench_eta.run_folds(orders, folds, _LaneWindowModel)
    for stage in ("handoff", "purchase"):
        ours, lane = result.scores[stage], result.scores[f"online_lane_{stage}"]
        assert ours.n == lane.n > 0
        assert ours.mae() == pytest.approx(lane.mae())
        assert ours.coverage() == pytest.approx(lane.coverage())
        assert ours.mean_width() == pytest.approx(lane.mean_width())
        assert ours.day_coverage() == pytest.approx(lane.day_coverage())
        assert ours.mean_day_width() == pytest.approx(lane.mean_day_width())
    summary = bench_eta.summary(result)
    assert summary["width_handoff"] == summary["online_lane_width_handoff"]
    assert summary["day_width_purchase"] == summary["online_lane_day_width_purchase"]


def test_monthly_folds_print_each_month_and_pool_them(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    train, _ = files
    args = ["--train", str(train), "--folds", "monthly", "--from", "2017-03", "--to", "2017-04"]
    assert bench_eta.main([*args, "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    assert [fold["fold"] for fold in summary["folds"]] == ["2017-03", "2017-04"]
    assert summary["n_test"] == sum(fold["n_test"] for fold in summary["folds"])
    for fold in summary["folds"]:
        assert fold["mae_handoff"] > 0 and fold["online_lane_median_mae_handoff"] > 0
    assert any(line.startswith("2017-03") for line in out)
    assert any(line.startswith("pooled") for line in out)


def test_online_folds_are_one_pass_that_never_sees_later_deliveries(
    files: tuple[Path, Path],
) -> None:
    train, _ = files
    orders = bench_eta.read_orders(train)
    model = _LeakCheckingModel()
    # 500 orders from 2 January, seven hours apart, end in May: no month has 500 before it.
    assert bench_eta.monthly_folds(orders, None, None) == []
    folds = bench_eta.monthly_folds(orders, date(2017, 4, 1), None)
    assert [f.label for f in folds] == ["2017-04", "2017-05"]
    result = bench_eta.run_folds(orders, folds, lambda: model)
    assert result.n_test > 0
    assert all(gap > timedelta(0) for gap in model.gaps)


def test_frozen_folds_fit_one_model_per_fold(files: tuple[Path, Path]) -> None:
    train, _ = files
    orders = bench_eta.read_orders(train)
    folds = bench_eta.monthly_folds(orders, date(2017, 3, 1), date(2017, 4, 1))
    made: list[EtaModel] = []

    def make() -> EtaModel:
        made.append(bench_eta.bench_model())
        return made[-1]

    result = bench_eta.run_folds(orders, folds, make, online=False)
    assert len(made) == 2
    assert len(made[0]) < len(made[1])
    assert set(result.folds) == {"2017-03", "2017-04"}


def _shared_orders() -> Path | None:
    """The shared Olist sample beside the checkout (never in the repository: its licence)."""
    for folder in Path(__file__).resolve().parents:
        candidate = folder / "shared" / "data" / "olist_train.csv.gz"
        if candidate.is_file():
            return candidate
    return None


@pytest.mark.skipif(_shared_orders() is None, reason="the licensed Olist sample is not here")
def test_a_slice_of_the_monthly_folds_on_real_deliveries(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _shared_orders()
    assert path is not None
    args = ["--train", str(path), "--folds", "monthly", "--from", "2017-06", "--to", "2017-07"]
    assert bench_eta.main([*args, "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    assert [fold["fold"] for fold in summary["folds"]] == ["2017-06", "2017-07"]
    assert any(line.startswith("2017-06") for line in out)
    # The targets, on this slice: pooled MAE at most 0.95 × the online lane median's,
    # no fold worse than 1.02 ×, and every fold's P10–P90 window holding 70–90% of deliveries.
    for stage in ("handoff", "purchase"):
        baseline = f"online_lane_median_mae_{stage}"
        assert summary[f"mae_{stage}"] <= 0.95 * summary[baseline]
        for fold in summary["folds"]:
            assert fold[f"mae_{stage}"] <= 1.02 * fold[baseline], (stage, fold["fold"])
            assert 0.7 <= fold[f"coverage_{stage}"] <= 0.9, (stage, fold["fold"])

"""Estimate, lateness and never-handed-over rules, one chat at a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from core import incidents
from core.eta.news import chat_alerts, estimate_news, first_told
from core.explanations import explain
from core.incidents import NEVER_HANDED_OVER_AFTER, NOT_YET_ACTIVE_AFTER, RouteClass
from core.models import (
    Alert,
    AlertKind,
    Eta,
    EtaSource,
    EtaTold,
    IncidentReason,
    Shipment,
    Status,
    TrackingEvent,
    TrackingNumber,
)
from core.replies import shipment_reply

T0 = datetime(2026, 12, 7, 12, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)
D = timedelta(days=1)


def window(likely: datetime, *, spread: timedelta = D) -> Eta:
    return Eta(likely - spread, likely + spread, likely, EtaSource.LEARNED, based_on=50)


def parcel(eta: Eta | None, *, status: Status = Status.IN_TRANSIT, **extra: object) -> Shipment:
    scan = TrackingEvent(T0 - D, Status.IN_TRANSIT, "Picked up", "Origin hub")
    return Shipment(
        carrier="ups",
        number=TrackingNumber("1Z999AA10123456784"),
        status=status,
        events=(scan,),
        eta=eta,
        first_seen=T0 - 2 * D,
        origin="US",
        destination="US",
        **extra,  # type: ignore[arg-type]
    )


def told(day: date, at: datetime, first_latest: date | None = None) -> EtaTold:
    return EtaTold(first_latest=first_latest or date(2026, 12, 20), day=day, at=at)


# -- first sight ---------------------------------------------------------------------------------


def test_the_first_window_is_remembered_silently() -> None:
    eta = window(T0 + 3 * D)
    found, known = estimate_news(parcel(eta), None, T0)
    assert found == []
    assert known == EtaTold(first_latest=date(2026, 12, 11), day=date(2026, 12, 10), at=T0)
    # The shop's promise, when known, is the latest day first promised.
    promised = first_told(eta, T0 + 5 * D, T0)
    assert promised.first_latest == date(2026, 12, 12)


# -- new estimate ------------------------------------------------------------------------------


def test_a_move_within_the_day_last_told_is_quiet() -> None:
    known = told(date(2026, 12, 10), T0 - 2 * D)
    found, after = estimate_news(parcel(window(T0 + 3 * D + 6 * H)), known, T0)
    assert found == [] and after == known


def test_a_move_of_a_day_is_told_with_the_day_last_told() -> None:
    known = told(date(2026, 12, 10), T0 - 2 * D)
    found, after = estimate_news(parcel(window(T0 + 4 * D)), known, T0)
    assert [a.kind for a in found] == [AlertKind.ETA_CHANGED]
    assert found[0].detail == "2026-12-10"
    assert after is not None and after.day == date(2026, 12, 11) and after.at == T0


def test_at_most_one_new_estimate_a_day_and_was_is_the_day_last_told() -> None:
    known = told(date(2026, 12, 10), T0 - 2 * D)
    found, known_after = estimate_news(parcel(window(T0 + 4 * D)), known, T0)
    assert len(found) == 1 and known_after is not None
    # Twelve hours later it moves again: too soon, and the chat still knows the 11th.
    again, still = estimate_news(parcel(window(T0 + 5 * D)), known_after, T0 + 12 * H)
    assert again == [] and still == known_after
    # A day later it is told, "was" the 11th (the day last told), not the 12th seen between.
    later, final = estimate_news(parcel(window(T0 + 6 * D)), still, T0 + 25 * H)
    assert [a.detail for a in later] == ["2026-12-11"]
    assert final is not None and final.day == date(2026, 12, 13)
    assert later[0].dedupe_key != found[0].dedupe_key


def test_days_are_the_chats_own() -> None:
    # 02:00 UTC on the 11th is still the 10th in São Paulo: no move there.
    known = told(date(2026, 12, 10), T0 - 2 * D)
    moved = parcel(window(datetime(2026, 12, 11, 2, tzinfo=UTC)))
    assert estimate_news(moved, known, T0, tz="America/Sao_Paulo")[0] == []
    assert len(estimate_news(moved, known, T0, tz="Europe/Berlin")[0]) == 1


def test_no_estimate_news_once_out_for_delivery_finished_or_unscanned() -> None:
    known = told(date(2026, 12, 10), T0 - 2 * D)
    eta = window(T0 + 5 * D)
    for status in (Status.OUT_FOR_DELIVERY, Status.DELIVERED, Status.INFO_RECEIVED):
        assert estimate_news(parcel(eta, status=status), known, T0)[0] == []
    refused = parcel(eta, status=Status.EXCEPTION, incident=IncidentReason.REFUSED)
    assert estimate_news(refused, known, T0)[0] == []


# -- running late ------------------------------------------------------------------------------


def test_running_late_once_past_the_latest_day_first_promised() -> None:
    known = told(date(2026, 12, 10), T0 - 3 * D, first_latest=date(2026, 12, 7))
    # Still the 7th: not late yet (the window has slid to the 9th–11th meanwhile).
    assert estimate_news(parcel(window(T0 + 3 * D)), known, T0)[0] == []
    found, after = estimate_news(parcel(window(T0 + 3 * D)), known, T0 + D)
    assert [a.kind for a in found] == [AlertKind.LATE]
    assert found[0].incident is IncidentReason.LATE and found[0].detail == "2026-12-07"
    assert after is not None and after.late
    assert estimate_news(parcel(window(T0 + 3 * D)), after, T0 + 2 * D)[0] == []


def test_late_from_the_current_window_and_from_the_first_window_is_told_once() -> None:
    shipment = parcel(window(T0 + 3 * D))
    window_late = Alert(AlertKind.LATE, shipment.key, f"{shipment.key}|late")
    known = told(date(2026, 12, 10), T0 - D, first_latest=date(2026, 12, 6))
    found, after = chat_alerts([window_late], shipment, known, T0)
    assert [a.kind for a in found] == [AlertKind.LATE]
    assert after is not None and after.late
    again, _ = chat_alerts([window_late], shipment, after, T0 + D)
    assert again == []


def test_the_shops_promise_on_this_chats_order_wins_over_the_first_window() -> None:
    # The first window ended on the 6th, but this chat's order promised the 9th.
    known = told(date(2026, 12, 10), T0 - D, first_latest=date(2026, 12, 6))
    promise = datetime(2026, 12, 9, 18, tzinfo=UTC)
    shipment = parcel(window(T0 + 3 * D))
    assert chat_alerts([], shipment, known, T0, promised_by=promise)[0] == []
    assert chat_alerts([], shipment, known, T0 + 2 * D, promised_by=promise)[0] == []
    found, after = chat_alerts([], shipment, known, T0 + 3 * D, promised_by=promise)
    assert [(a.kind, a.detail) for a in found] == [(AlertKind.LATE, "2026-12-09")]
    assert after is not None and after.late
    # Another chat following the same parcel without an order is judged by its first window.
    found, _ = chat_alerts([], shipment, known, T0)
    assert [(a.kind, a.detail) for a in found] == [(AlertKind.LATE, "2026-12-06")]


def test_a_passed_promise_is_late_even_for_a_label_not_scanned_yet() -> None:
    promise = datetime(2026, 12, 5, 18, tzinfo=UTC)
    unscanned = parcel(None, status=Status.INFO_RECEIVED)
    found, known = chat_alerts([], unscanned, None, T0, promised_by=promise)
    assert [(a.kind, a.detail) for a in found] == [(AlertKind.LATE, "2026-12-05")]
    assert known is None
    # Not before the promised day has passed in the chat's own time zone.
    evening = datetime(2026, 12, 5, 23, tzinfo=UTC)
    assert chat_alerts([], unscanned, None, evening, promised_by=promise)[0] == []
    # Arrived, waiting at a pickup point or not coming: no longer late.
    for status in (Status.DELIVERED, Status.AVAILABLE_FOR_PICKUP):
        assert chat_alerts([], parcel(None, status=status), None, T0, promised_by=promise)[0] == []
    returning = parcel(None, status=Status.EXCEPTION, incident=IncidentReason.RETURNING)
    assert chat_alerts([], returning, None, T0, promised_by=promise)[0] == []


def test_diff_candidates_are_replaced_by_the_chats_own_decision() -> None:
    shipment = parcel(window(T0 + 3 * D + 2 * H))
    candidate = Alert(AlertKind.ETA_CHANGED, shipment.key, "k", detail="2026-12-09")
    moved = Alert(AlertKind.MOVED, shipment.key, "m")
    known = told(date(2026, 12, 10), T0 - 2 * D)
    found, _ = chat_alerts([candidate, moved], shipment, known, T0)
    assert found == [moved]


# -- never handed over -------------------------------------------------------------------------


def unscanned(first_seen: datetime, destination: str = "US") -> Shipment:
    return Shipment(
        carrier="ups",
        number=TrackingNumber("1Z999AA10123456784"),
        status=Status.INFO_RECEIVED,
        events=(TrackingEvent(first_seen, Status.INFO_RECEIVED, "Label created"),),
        first_seen=first_seen,
        origin="US",
        destination=destination,
    )


def test_a_label_never_scanned_past_its_carriers_limit_was_never_handed_over() -> None:
    label = unscanned(T0)
    assert incidents.route_class(label) is RouteClass.DOMESTIC
    limit = NEVER_HANDED_OVER_AFTER[RouteClass.DOMESTIC]
    assert limit > NOT_YET_ACTIVE_AFTER
    assert incidents.derive_all(label, T0 + NOT_YET_ACTIVE_AFTER) == (
        IncidentReason.NOT_YET_ACTIVE,
    )
    assert incidents.derive_all(label, T0 + limit - H) == (IncidentReason.NOT_YET_ACTIVE,)
    assert incidents.derive_all(label, T0 + limit) == (IncidentReason.NEVER_HANDED_OVER,)
    # Further journeys get longer before a first scan is overdue.
    far = unscanned(T0, destination="CN")
    assert incidents.never_handed_over_after(far) > limit
    assert not incidents.never_handed_over(far, T0 + limit)


def test_never_handed_over_says_what_to_do_and_shows_no_arrival_date() -> None:
    about = explain(IncidentReason.NEVER_HANDED_OVER)
    assert about.title == "Probably never handed to the carrier"
    assert "Ask the seller to ship it or refund you." in about.next_steps
    label = replace(
        unscanned(T0), eta=window(T0 + 9 * D), incident=IncidentReason.NEVER_HANDED_OVER
    )
    lines = shipment_reply(label, now=T0 + 9 * D).lines
    assert not any(line.startswith("Arrives") for line in lines)
    assert about.what_happened in lines


def test_no_arrival_date_for_refused_returning_returned_or_lost_parcels() -> None:
    eta = window(T0 + 3 * D)
    assert any(line.startswith("Arrives") for line in shipment_reply(parcel(eta), now=T0).lines)
    for reason in (
        IncidentReason.REFUSED,
        IncidentReason.RETURNING,
        IncidentReason.RETURNED,
        IncidentReason.LOST,
    ):
        gone = parcel(eta, status=Status.EXCEPTION, incident=reason)
        assert not any(line.startswith("Arrives") for line in shipment_reply(gone, now=T0).lines)


# -- /orders -----------------------------------------------------------------------------------


def test_orders_judges_lateness_as_of_the_last_check() -> None:
    from core.models import ChatRef, OrderId, OrderLink, Platform, Subscription
    from core.report import history_reply

    promised = T0 + D
    checked = T0 + 2 * D + H
    shipment = replace(parcel(window(T0 + 3 * D)), checked_at=checked)
    me = ChatRef(Platform.CONSOLE, "1", "1")
    sub = Subscription(chat=me, key=shipment.key)
    # The promise is this chat's, on its order link (never on the shared parcel).
    links = {shipment.key: OrderLink(shipment.key, OrderId("576000000000000001"), T0, "", promised)}
    fresh = history_reply([sub], {shipment.key: shipment}, links, now=checked + H, tz="UTC")
    assert any("(1 day late)" in line and "as of" not in line for line in fresh.lines)
    # Four days on, nothing newer is known: it was one day late when last checked, and says so.
    old = history_reply([sub], {shipment.key: shipment}, links, now=checked + 4 * D, tz="UTC")
    line = next(line for line in old.lines if "day late" in line)
    assert "(1 day late) as of Wed 9 Dec" in line

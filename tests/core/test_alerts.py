"""Snapshot diffs → alerts with stable dedupe keys, preference filters and alert replies."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.alerts import (
    PREFERENCE_KINDS,
    alert_reply,
    diff,
    event_key,
    scan_identity,
    wanted,
)
from core.explanations import explain
from core.incidents import DELIVERY_CHECK_AFTER, NOT_YET_ACTIVE_AFTER
from core.models import (
    Alert,
    AlertKind,
    Eta,
    EtaSource,
    IncidentReason,
    Preference,
    ProofKind,
    ProofOfDelivery,
    Shipment,
    Status,
    TrackingEvent,
    TrackingNumber,
)
from core.replies import ReplyKind

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NUMBER = TrackingNumber("1Z999AA10123456784")
H = timedelta(hours=1)


def ev(
    hours: float,
    status: Status = Status.IN_TRANSIT,
    location: str = "",
    incident: IncidentReason | None = None,
    code: str = "",
    *,
    description: str = "",
) -> TrackingEvent:
    return TrackingEvent(
        time=T0 + hours * H,
        status=status,
        description=description or f"{status.value} scan",
        location=location,
        raw_code=code,
        incident=incident,
    )


def snap(
    *events: TrackingEvent,
    at: float,
    status: Status | None = None,
    eta: Eta | None = None,
    proof: ProofOfDelivery | None = None,
    origin: str = "US",
    destination: str = "US",
) -> Shipment:
    """The parcel as seen at ``at`` hours: events so far, status of the latest one."""
    current = status or (events[-1].status if events else Status.NOT_FOUND)
    delivered = events[-1].time if current is Status.DELIVERED and events else None
    return Shipment(
        carrier="ups",
        number=NUMBER,
        status=current,
        events=events,
        eta=eta,
        checked_at=T0 + at * H,
        delivered_at=delivered,
        proof=proof,
        first_seen=T0,
        origin=origin,
        destination=destination,
    )


def now(hours: float) -> datetime:
    return T0 + hours * H


def kinds(alerts: list[Alert]) -> list[AlertKind]:
    return [alert.kind for alert in alerts]


LABEL = ev(0, Status.INFO_RECEIVED, code="IR")
PICKED = ev(6, location="Origin hub", code="PU")
HUB = ev(20, location="Destination hub", code="AR")
OFD = ev(30, Status.OUT_FOR_DELIVERY, "Local depot", code="OFD")
DELIVERED = ev(34, Status.DELIVERED, "Front door", code="DL")


def _journey() -> list[Shipment]:
    proof = ProofOfDelivery(ProofKind.SIGNATURE, "J. SMITH")
    return [
        snap(LABEL, at=1),
        snap(LABEL, PICKED, at=7),
        snap(LABEL, PICKED, HUB, at=21),
        snap(LABEL, PICKED, HUB, OFD, at=31),
        snap(LABEL, PICKED, HUB, OFD, DELIVERED, at=35, proof=proof),
    ]


# ---------------------------------------------------------------- sequences


def test_each_change_yields_exactly_one_alert() -> None:
    steps = _journey()
    got = [diff(old, new, new.checked_at or T0) for old, new in pairwise(steps)]
    assert [kinds(alerts) for alerts in got] == [
        [AlertKind.SHIPPED],
        [AlertKind.MOVED],
        [AlertKind.OUT_FOR_DELIVERY],
        [AlertKind.DELIVERED],
    ]
    shipped, moved, ofd, delivered = (alerts[0] for alerts in got)
    assert shipped.event == PICKED and moved.event == HUB and ofd.event == OFD
    assert delivered.detail == "Signed for on delivery"
    keys = [alert.dedupe_key for alerts in got for alert in alerts]
    assert len(set(keys)) == len(keys)
    assert all(key.startswith("ups:1Z999AA10123456784|") for key in keys)


def test_re_diffing_the_same_pair_gives_identical_keys_whenever_polled() -> None:
    steps = _journey()
    for old, new in pairwise(steps):
        first = diff(old, new, new.checked_at or T0)
        later = diff(old, replace(new, checked_at=now(36)), now(36))
        assert [a.dedupe_key for a in first] == [a.dedupe_key for a in later]


def test_an_unchanged_snapshot_yields_nothing() -> None:
    for shipment in _journey():
        at = shipment.checked_at or T0
        assert diff(shipment, shipment, at) == []
        # The next poll a little later, nothing new.
        assert diff(shipment, replace(shipment, checked_at=at + H), at + H) == []


def test_the_delivery_check_comes_once_a_day_after_delivery() -> None:
    delivered = _journey()[-1]
    due = DELIVERED.time + DELIVERY_CHECK_AFTER
    assert diff(delivered, replace(delivered, checked_at=due - H), due - H) == []
    recheck = replace(delivered, checked_at=due)
    alerts = diff(replace(delivered, checked_at=due - H), recheck, due)
    assert kinds(alerts) == [AlertKind.DELIVERY_CHECK]
    assert alerts[0].dedupe_key == "ups:1Z999AA10123456784|delivery_check"
    assert diff(recheck, replace(recheck, checked_at=due + H), due + H) == []


def test_a_poll_that_skips_ahead_reports_only_the_furthest_state() -> None:
    steps = _journey()
    alerts = diff(steps[0], steps[3], now(31))
    assert kinds(alerts) == [AlertKind.OUT_FOR_DELIVERY]


def test_failed_attempt_then_second_round() -> None:
    failed = ev(36, Status.DELIVERY_FAILED, "Main St", IncidentReason.RECIPIENT_UNAVAILABLE, "NH")
    ofd2 = ev(50, Status.OUT_FOR_DELIVERY, "Local depot", code="OFD")
    first = snap(LABEL, PICKED, HUB, OFD, at=31)
    after_fail = snap(LABEL, PICKED, HUB, OFD, failed, at=37)
    second = snap(LABEL, PICKED, HUB, OFD, failed, ofd2, at=51)
    incident = diff(first, after_fail, now(37))
    assert kinds(incident) == [AlertKind.INCIDENT]
    assert incident[0].incident is IncidentReason.RECIPIENT_UNAVAILABLE
    assert incident[0].event == failed
    again = diff(after_fail, second, now(51))
    assert kinds(again) == [AlertKind.OUT_FOR_DELIVERY]
    first_ofd = diff(snap(LABEL, PICKED, HUB, at=21), first, now(31))[0]
    assert again[0].dedupe_key != first_ofd.dedupe_key


def test_a_new_event_for_the_same_incident_is_an_update_not_a_new_incident() -> None:
    hold = ev(25, Status.EXCEPTION, "Customs", IncidentReason.CUSTOMS_HOLD, "C1")
    still = ev(40, Status.EXCEPTION, "Customs", IncidentReason.CUSTOMS_HOLD, "C2")
    duties = ev(48, Status.EXCEPTION, "Customs", IncidentReason.DUTIES_DUE, "C3")
    base = snap(LABEL, PICKED, HUB, hold, at=26)
    same = snap(LABEL, PICKED, HUB, hold, still, at=41)
    changed = snap(LABEL, PICKED, HUB, hold, still, duties, at=49)
    assert kinds(diff(base, same, now(41))) == [AlertKind.MOVED]
    alerts = diff(same, changed, now(49))
    assert kinds(alerts) == [AlertKind.INCIDENT]
    assert alerts[0].incident is IncidentReason.DUTIES_DUE


def test_problem_resolved_back_in_transit_is_an_update() -> None:
    hold = ev(25, Status.EXCEPTION, "Customs", IncidentReason.CUSTOMS_HOLD, "C1")
    released = ev(40, location="Customs", code="CR")
    alerts = diff(snap(PICKED, hold, at=26), snap(PICKED, hold, released, at=41), now(41))
    assert kinds(alerts) == [AlertKind.MOVED]


def test_backfilled_older_scans_do_not_alert() -> None:
    late_arrival = ev(10, location="Sort centre", code="XX")
    old = snap(LABEL, PICKED, HUB, at=21)
    new = snap(LABEL, PICKED, late_arrival, HUB, at=22)
    assert diff(old, new, now(22)) == []


def test_edited_description_is_not_a_new_event() -> None:
    old = snap(LABEL, PICKED, at=7)
    edited = replace(PICKED, description="Picked up (updated text)", location="ORIGIN HUB")
    assert event_key(edited) == event_key(PICKED)
    assert diff(old, snap(LABEL, edited, at=8), now(8)) == []


def test_a_status_change_without_events_still_alerts() -> None:
    old = snap(LABEL, PICKED, HUB, at=21)
    expired = replace(old, status=Status.EXPIRED, checked_at=now(24 * 40))
    alerts = diff(old, expired, now(24 * 40))
    assert AlertKind.EXPIRED in kinds(alerts)
    assert next(a for a in alerts if a.kind is AlertKind.EXPIRED).dedupe_key.endswith("|expired")


def test_delivered_straight_from_label_is_one_alert() -> None:
    alerts = diff(snap(LABEL, at=1), snap(LABEL, DELIVERED, at=35), now(35))
    assert kinds(alerts) == [AlertKind.DELIVERED]


# ---------------------------------------------------------------- derived incidents


def test_stale_alerts_once_and_again_only_after_a_new_stall() -> None:
    shipment = snap(LABEL, PICKED, HUB, at=21)
    threshold = HUB.time + timedelta(days=4)
    before = replace(shipment, checked_at=threshold - H)
    assert diff(shipment, before, threshold - H) == []
    at_threshold = replace(shipment, checked_at=threshold)
    alerts = diff(before, at_threshold, threshold)
    assert kinds(alerts) == [AlertKind.INCIDENT]
    assert alerts[0].incident is IncidentReason.STALE
    assert alerts[0].event == HUB
    assert diff(at_threshold, replace(shipment, checked_at=threshold + H), threshold + H) == []
    # A new scan, then another four quiet days: a second, different stale alert.
    moved = ev(24 * 6, location="Other hub", code="AR")
    later = snap(LABEL, PICKED, HUB, moved, at=24 * 6 + 1)
    assert kinds(diff(at_threshold, later, later.checked_at or T0)) == [AlertKind.MOVED]
    second_at = moved.time + timedelta(days=4)
    second = diff(later, replace(later, checked_at=second_at), second_at)
    assert kinds(second) == [AlertKind.INCIDENT]
    assert second[0].dedupe_key != alerts[0].dedupe_key


def test_late_is_its_own_kind_and_is_said_once() -> None:
    latest = now(40)
    window = Eta(now(20), latest, now(30), EtaSource.CARRIER)
    shipment = snap(LABEL, PICKED, HUB, at=21, eta=window)
    on_time = replace(shipment, checked_at=latest)
    late = replace(shipment, checked_at=latest + H)
    alerts = diff(on_time, late, latest + H)
    assert kinds(alerts) == [AlertKind.LATE]
    assert alerts[0].dedupe_key == "ups:1Z999AA10123456784|late"
    assert diff(late, replace(late, checked_at=latest + 2 * H), latest + 2 * H) == []


def test_not_yet_active_alerts_once() -> None:
    label = snap(LABEL, at=1)
    due = T0 + NOT_YET_ACTIVE_AFTER
    alerts = diff(replace(label, checked_at=due - H), replace(label, checked_at=due), due)
    assert kinds(alerts) == [AlertKind.INCIDENT]
    assert alerts[0].incident is IncidentReason.NOT_YET_ACTIVE
    assert alerts[0].dedupe_key == "ups:1Z999AA10123456784|incident|not_yet_active"


def test_loop_alert_is_keyed_by_the_revisit_scan() -> None:
    back = ev(30, location="Origin hub", code="AR")
    old = snap(LABEL, PICKED, HUB, at=21)
    new = snap(LABEL, PICKED, HUB, back, at=31)
    alerts = diff(old, new, now(31))
    assert kinds(alerts) == [AlertKind.MOVED, AlertKind.INCIDENT]
    loop = alerts[1]
    assert loop.incident is IncidentReason.LOOP and loop.event == back
    assert scan_identity(back) in loop.dedupe_key


def test_without_checked_at_open_derived_incidents_are_reported_with_the_same_key() -> None:
    label = snap(LABEL, at=1)
    due = T0 + NOT_YET_ACTIVE_AFTER
    fresh = diff(replace(label, checked_at=due - H), replace(label, checked_at=due), due)
    unknown = diff(replace(label, checked_at=None), replace(label, checked_at=due + H), due + H)
    assert [a.dedupe_key for a in unknown] == [a.dedupe_key for a in fresh]


# ---------------------------------------------------------------- eta


def _eta(most_likely_hours: float) -> Eta:
    middle = now(most_likely_hours)
    return Eta(middle - 12 * H, middle + 12 * H, middle, EtaSource.CARRIER)


def test_eta_moved_a_day_or_more_alerts_with_the_new_date_in_the_key() -> None:
    old = snap(LABEL, PICKED, at=7, eta=_eta(48))
    new = snap(LABEL, PICKED, at=8, eta=_eta(48 + 24))
    alerts = diff(old, new, now(8))
    assert kinds(alerts) == [AlertKind.ETA_CHANGED]
    assert alerts[0].dedupe_key.endswith("|eta|2026-03-05")
    assert alerts[0].detail == "2026-03-04"


def test_eta_moved_within_the_same_day_is_quiet() -> None:
    # Whether a chat hears of a change of day is decided per chat (tests/core/eta/test_news.py).
    old = snap(LABEL, PICKED, at=7, eta=_eta(48))
    assert diff(old, snap(LABEL, PICKED, at=8, eta=_eta(48 + 3)), now(8)) == []


def test_first_eta_is_not_a_change() -> None:
    assert diff(snap(LABEL, PICKED, at=7), snap(LABEL, PICKED, at=8, eta=_eta(48)), now(8)) == []


# ---------------------------------------------------------------- first snapshot


def test_first_snapshot_has_no_backlog() -> None:
    for shipment in _journey():
        assert diff(None, shipment, shipment.checked_at or T0) == []


def test_first_snapshot_reports_an_open_incident_with_the_usual_key() -> None:
    hold = ev(25, Status.EXCEPTION, "Customs", IncidentReason.CUSTOMS_HOLD, "C1")
    shipment = snap(LABEL, PICKED, hold, at=26)
    first = diff(None, shipment, now(26))
    assert kinds(first) == [AlertKind.INCIDENT]
    usual = diff(snap(LABEL, PICKED, at=7), shipment, now(26))
    assert [a.dedupe_key for a in first] == [a.dedupe_key for a in usual]


# ---------------------------------------------------------------- preferences


@pytest.mark.parametrize(
    ("preference", "expected"),
    [
        (Preference.ALL, set(AlertKind)),
        (
            Preference.MILESTONES,
            {
                AlertKind.SHIPPED,
                AlertKind.OUT_FOR_DELIVERY,
                AlertKind.AVAILABLE_FOR_PICKUP,
                AlertKind.DELIVERED,
                AlertKind.INCIDENT,
                AlertKind.LATE,
                AlertKind.EXPIRED,
                AlertKind.DELIVERY_CHECK,
            },
        ),
        (Preference.EXCEPTIONS, {AlertKind.INCIDENT, AlertKind.LATE, AlertKind.EXPIRED}),
        (Preference.OFF, set()),
    ],
)
def test_preferences_filter(preference: Preference, expected: set[AlertKind]) -> None:
    passed = {
        kind for kind in AlertKind if wanted(Alert(kind, snap(at=0).key, f"k|{kind}"), preference)
    }
    assert passed == expected
    assert set(PREFERENCE_KINDS) == set(Preference)


def test_failed_delivery_reaches_exceptions_only_chats() -> None:
    failed = ev(36, Status.DELIVERY_FAILED, "Main St", IncidentReason.ADDRESS_ISSUE, "AD")
    alerts = diff(snap(PICKED, OFD, at=31), snap(PICKED, OFD, failed, at=37), now(37))
    assert [wanted(alert, Preference.EXCEPTIONS) for alert in alerts] == [True]


# ---------------------------------------------------------------- replies


def _reply_for(alert: Alert, shipment: Shipment) -> list[str]:
    reply = alert_reply(alert, shipment, tz="Asia/Jakarta", label="Birthday gift")
    assert reply.kind is ReplyKind.ALERT
    assert reply.title.endswith("Birthday gift")
    assert all(line.strip() for line in reply.lines)
    return [reply.title, *reply.lines]


def test_milestone_replies_are_short_and_have_buttons() -> None:
    steps = _journey()
    for old, new in pairwise(steps):
        (alert,) = diff(old, new, new.checked_at or T0)
        reply = alert_reply(alert, new)
        assert reply.kind is ReplyKind.ALERT and len(reply.lines) <= 3
        assert [b.command for b in reply.buttons] == [
            "/track 1Z999AA10123456784 ups",
            "/history 1Z999AA10123456784 ups",
        ]


def test_delivered_reply_keeps_the_signer_name_out() -> None:
    steps = _journey()
    (alert,) = diff(steps[3], steps[4], now(35))
    text = "\n".join(_reply_for(alert, steps[4]))
    assert "Signed for on delivery" in text and "SMITH" not in text
    assert "WIB" in text  # local time in the chat's zone


def test_incident_reply_explains_and_gives_next_steps() -> None:
    failed = ev(36, Status.DELIVERY_FAILED, "Main St", IncidentReason.ADDRESS_ISSUE, "AD")
    new = snap(PICKED, OFD, failed, at=37)
    (alert,) = diff(snap(PICKED, OFD, at=31), new, now(37))
    text = _reply_for(alert, new)
    about = explain(IncidentReason.ADDRESS_ISSUE)
    assert text[0].startswith(about.title)
    assert about.what_happened in text
    assert "What to do:" in text
    assert f"1. {about.next_steps[0]}" in text


def test_late_eta_and_expiry_replies() -> None:
    shipment = snap(LABEL, PICKED, at=8, eta=_eta(72))
    late = Alert(AlertKind.LATE, shipment.key, "k1", incident=IncidentReason.LATE)
    assert _reply_for(late, shipment)[0].startswith(explain(IncidentReason.LATE).title)
    moved = Alert(AlertKind.ETA_CHANGED, shipment.key, "k2", detail="2026-03-04")
    assert any("was Wed 4 Mar" in line for line in _reply_for(moved, shipment))
    expired = Alert(AlertKind.EXPIRED, shipment.key, "k3")
    assert _reply_for(expired, shipment)[0].startswith("Tracking expired")


def test_delivery_check_reply_offers_report() -> None:
    delivered = _journey()[-1]
    alert = Alert(AlertKind.DELIVERY_CHECK, delivered.key, "k")
    reply = alert_reply(alert, delivered)
    assert reply.buttons[0].command == "/report 1Z999AA10123456784 ups"
    assert "neighbours" in reply.plain_text()


# ---------------------------------------------------------------- properties

_STATUSES = st.sampled_from(list(Status))
_EVENTS = st.lists(
    st.builds(
        ev,
        hours=st.integers(min_value=0, max_value=24 * 40),
        status=_STATUSES,
        location=st.sampled_from(["", "Hub A", "Hub B", "US", "Depot"]),
        incident=st.none() | st.sampled_from(list(IncidentReason)),
        code=st.sampled_from(["", "A", "B"]),
    ),
    max_size=12,
).map(lambda events: sorted(events, key=lambda event: event.time))
_ETAS = st.none() | st.integers(min_value=0, max_value=24 * 40).map(_eta)


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[Shipment, Shipment, datetime]:
    events = draw(_EVENTS)
    cut = draw(st.integers(min_value=0, max_value=len(events)))
    checked = draw(st.integers(min_value=0, max_value=24 * 45))
    later = checked + draw(st.integers(min_value=0, max_value=24 * 10))
    old = snap(
        *events[:cut],
        at=checked,
        status=draw(st.none() | _STATUSES),
        eta=draw(_ETAS),
        origin=draw(st.sampled_from(["", "US", "CN"])),
    )
    new = snap(
        *events,
        at=later,
        status=draw(st.none() | _STATUSES),
        eta=draw(_ETAS),
        proof=draw(st.none() | st.just(ProofOfDelivery(ProofKind.LEFT_AT_DOOR, "porch"))),
        origin=old.origin,
    )
    return old, new, now(later)


@settings(max_examples=300, deadline=None)
@given(_pairs(), st.integers(min_value=0, max_value=24 * 30))
def test_diff_never_raises_and_keys_are_stable(
    pair: tuple[Shipment, Shipment, datetime], extra_hours: int
) -> None:
    old, new, at = pair
    alerts = diff(old, new, at)
    keys = [alert.dedupe_key for alert in alerts]
    assert len(keys) == len(set(keys))
    assert all(key.startswith(f"{new.key}|") for key in keys)
    # The same pair diffed again gives the same alerts, keys included.
    assert diff(old, new, at) == alerts
    # Polled later, a change is keyed the same: the key never depends on the polling time.
    later = diff(old, new, at + extra_hours * H)
    by_cause = {(a.kind, a.incident): a.dedupe_key for a in alerts}
    for alert in later:
        if (alert.kind, alert.incident) in by_cause:
            assert by_cause[(alert.kind, alert.incident)] == alert.dedupe_key
    # Nothing new: nothing to say.
    assert diff(new, new, new.checked_at or at) == []
    for alert in alerts + diff(None, new, at):
        alert_reply(alert, new, tz="America/New_York")

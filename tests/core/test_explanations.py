"""The explanation catalogue: every status and incident explained, codes read tolerantly."""

from __future__ import annotations

import pytest

from core.explanations import explain, explain_code, explain_status, known_codes
from core.models import IncidentReason, Status


@pytest.mark.parametrize("reason", list(IncidentReason))
def test_every_reason_is_explained(reason: IncidentReason) -> None:
    about = explain(reason)
    assert about.title and about.what_happened and about.next_steps
    assert about.contact in ("carrier", "seller", "none")
    assert all(step.endswith((".", "?")) for step in about.next_steps)


@pytest.mark.parametrize("status", list(Status))
def test_every_status_is_explained(status: Status) -> None:
    about = explain_status(status)
    assert about.title and about.what_happened and about.next_steps
    assert about.contact in ("carrier", "seller", "none")


def test_faq_advice_is_present() -> None:
    assert "48 hours" in " ".join(explain(IncidentReason.NOT_YET_ACTIVE).next_steps)
    stale = explain(IncidentReason.STALE)
    assert stale.contact == "seller"
    assert "seller" in stale.next_steps[0] and "carrier" in stale.next_steps[1]
    delivered = " ".join(explain_status(Status.DELIVERED).next_steps)
    assert "neighbours" in delivered and "report" in delivered.lower()
    damaged = " ".join(explain(IncidentReason.DAMAGED).next_steps)
    assert "photos" in damaged and "packaging" in damaged
    customs = " ".join(explain(IncidentReason.CUSTOMS_HOLD).next_steps)
    assert "Have ready" in customs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stale", explain(IncidentReason.STALE)),
        ("  NOT-YET-ACTIVE ", explain(IncidentReason.NOT_YET_ACTIVE)),
        ("not yet active", explain(IncidentReason.NOT_YET_ACTIVE)),
        ("Out for delivery", explain_status(Status.OUT_FOR_DELIVERY)),
        ("OutForDelivery", explain_status(Status.OUT_FOR_DELIVERY)),
        ("AttemptFail", explain_status(Status.DELIVERY_FAILED)),
        ("InTransit", explain_status(Status.IN_TRANSIT)),
        ("customs", explain(IncidentReason.CUSTOMS_HOLD)),
        ("duties_due", explain(IncidentReason.DUTIES_DUE)),
        ("delivered but not received", explain_status(Status.DELIVERED)),
        ("Pending", explain_status(Status.NOT_FOUND)),
    ],
)
def test_explain_code_is_tolerant(text: str, expected: object) -> None:
    assert explain_code(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "--", "banana", "<script>", "x" * 10_000])
def test_explain_code_unknown_is_none(text: str) -> None:
    assert explain_code(text) is None


def test_every_known_code_explains() -> None:
    codes = known_codes()
    assert set(codes) == {*(s.value for s in Status), *(r.value for r in IncidentReason)}
    assert all(explain_code(code) is not None for code in codes)

"""Every real-world paste form of ``tests/core/paste_forms.py`` through the real router.

Each form runs in its own chat on a real database with the sandbox carrier, so a carrier
remembered for one form never helps another.
"""

from __future__ import annotations

import pytest

from core.commands import CommandRouter
from core.errors import TrackingError
from core.service import ParcelService
from tests.core.paste_forms import FORMS, Form, outcome
from tests.fakes import chat


def test_the_table_covers_every_carrier_and_every_kind_of_form() -> None:
    from core.carriers import CARRIERS

    carriers_seen = {want.split("@")[1] for form in FORMS for want in form.expected if "@" in want}
    assert carriers_seen == set(CARRIERS)
    assert len(FORMS) >= 200
    categories = {form.category for form in FORMS}
    assert {
        *("plain", "grouped", "dashes", "dots", "lower case", "fullwidth", "zero-width"),
        *("link", "e-mail", "sms", "command", "several", "carrier word", "label"),
        *("typo", "unread", "ask", "help", "faq", "none"),
    } <= categories


@pytest.mark.parametrize(
    "index_form", list(enumerate(FORMS)), ids=[f"{i}-{f.category}" for i, f in enumerate(FORMS)]
)
async def test_paste_form(
    router: CommandRouter, service: ParcelService, index_form: tuple[int, Form]
) -> None:
    index, form = index_form
    try:
        replies = await router.handle_text(chat(f"form{index}"), form.text)
    except TrackingError as err:
        got = outcome(None, err.user_message)
    else:
        got = outcome(replies)
    assert got == form.expected, form.text

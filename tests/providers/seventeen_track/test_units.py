"""17TRACK's error codes and carrier keys → our errors and catalogue codes."""

from __future__ import annotations

from core.errors import (
    InvalidInput,
    ProviderAuthError,
    RateLimited,
)
from core.providers import seventeen_track as st


def test_number_errors() -> None:
    assert st.number_error(-18019901) is None
    assert st.number_error(-18019909) is None
    assert isinstance(st.number_error(-18010012), InvalidInput)
    assert isinstance(st.number_error(-18019908), ProviderAuthError)
    assert isinstance(st.number_error(-18019907), RateLimited)
    assert st.carrier_from_code(21051) == "usps"
    assert st.carrier_from_code(999) == ""

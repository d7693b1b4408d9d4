"""The provider registry with the settings it drives: each entry builds the source it names
from real settings fields, and importing it (or the sandbox) leaves the HTTP stack unloaded."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import httpx
import pytest

from bots.settings import TRACKING_PROVIDERS, Settings, load_settings
from core.providers import (
    AGGREGATORS,
    PROVIDERS,
    SANDBOX,
    SANDBOX_SHOP,
    TIKTOK_SHOP,
    ProviderSpec,
    Wiring,
)
from core.providers.tiktok_shop import TokenSet
from tests.fakes import FakeClock

pytestmark = pytest.mark.usefixtures("clean_environment")

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
TOKENS = TokenSet(
    access_token="a", access_expires_at=NOW, refresh_token="r", refresh_expires_at=NOW
)


def test_ids_are_unique_and_aggregators_come_first_in_their_default_order() -> None:
    assert list(PROVIDERS) == [spec.id for spec in PROVIDERS.values()]
    assert tuple(PROVIDERS)[: len(AGGREGATORS)] == tuple(spec.id for spec in AGGREGATORS)
    assert all(spec.aggregator for spec in AGGREGATORS)
    assert not any(spec.aggregator for spec in PROVIDERS.values() if spec not in AGGREGATORS)
    assert TRACKING_PROVIDERS == ("17track", "aftership")


def test_every_setting_an_entry_names_is_a_settings_field() -> None:
    fields = set(Settings.model_fields)
    for spec in PROVIDERS.values():
        named = {*spec.settings, *spec.hosts.values()}
        named |= {need.setting for need in spec.needs} | {f for n in spec.needs for f in n.when}
        named |= set(spec.needs_tracking)
        if spec.webhook is not None:
            named |= set(spec.webhook.secrets)
        assert named <= fields, (spec.id, named - fields)
        # Whatever an entry reads is handed to its factory.
        assert named - {"sandbox_speed"} <= set(spec.settings) | {
            f for n in spec.needs for f in n.when
        }
        if spec.switch:
            assert spec.switch in spec.settings


def test_webhook_paths_are_distinct() -> None:
    paths = [spec.webhook.path for spec in PROVIDERS.values() if spec.webhook is not None]
    assert len(paths) == len(set(paths)) == 3


@pytest.mark.parametrize("spec", list(PROVIDERS.values()), ids=list(PROVIDERS))
async def test_each_entry_builds_the_source_it_names(spec: ProviderSpec[object]) -> None:
    settings = load_settings(
        seventeen_track_api_key="k",
        aftership_api_key="k",
        tiktok_app_key="app",
        tiktok_app_secret="secret",
        tiktok_refresh_token="r",
    )
    async with httpx.AsyncClient() as http:
        wiring = Wiring(
            settings.provider_settings(spec),
            FakeClock(NOW),
            None if spec in (SANDBOX, SANDBOX_SHOP) else http,
            seller_tokens=TOKENS if spec is TIKTOK_SHOP else None,
        )
        built = spec.build(wiring)
    assert getattr(built, "name", None) == spec.id


def test_a_source_that_calls_out_needs_the_http_client() -> None:
    spec = AGGREGATORS[0]
    settings = load_settings(seventeen_track_api_key="k")
    with pytest.raises(ValueError, match="HTTP client"):
        spec.build(Wiring(settings.provider_settings(spec), FakeClock(NOW)))


def test_the_registry_and_the_sandbox_do_not_load_the_http_stack() -> None:
    code = (
        "import sys, core.providers.sandbox, bots.settings\n"
        "print(sorted(m for m in ('httpx', 'aiolimiter') if m in sys.modules))\n"
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"

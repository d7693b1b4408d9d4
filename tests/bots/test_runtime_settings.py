"""Settings: blank values, provider order, webhook mode and the combinations that are refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bots.__main__ import main
from bots.runtime import _poll_lease, open_runtime, service_config
from bots.settings import Settings, load_settings
from core.config import ServiceConfig
from core.models import Shipment, ShipmentKey, SnapshotWrite, Status, TrackingNumber
from storage.db import Database
from tests.postgres import postgres_schema

pytestmark = pytest.mark.usefixtures("clean_environment")


def settings(**values: Any) -> Settings:
    return load_settings(**values)


def refusal(**values: Any) -> dict[str, str]:
    """Field → message of every refused combination."""
    with pytest.raises(ValidationError) as caught:
        settings(**values)
    return {str(error["loc"][0]): error["msg"] for error in caught.value.errors()}


def one_sentence(text: str) -> bool:
    body = text.rstrip(".")
    return text.endswith(".") and not re.search(r"[.!?]\s", body)


def test_nothing_set_is_the_sandbox() -> None:
    plain = settings()
    assert plain.sandbox_only
    assert not plain.tiktok_enabled
    assert not plain.webhook_server
    assert not plain.telegram_webhook_mode
    assert plain.active_tracking_providers == []
    assert plain.webhook_urls() == {}


def test_blank_values_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SEVENTEEN_TRACK_API_KEY",
        "AFTERSHIP_API_KEY",
        "AFTERSHIP_WEBHOOK_SECRET",
        "TIKTOK_APP_KEY",
        "TIKTOK_APP_SECRET",
        "TIKTOK_ACCESS_TOKEN_EXPIRES_AT",
        "WEBHOOK_PORT",
        "PUBLIC_URL",
        "TELEGRAM_TOKEN",
        "TELEGRAM_WEBHOOK_SECRET",
        "DISCORD_TEST_GUILD",
    ):
        monkeypatch.setenv(f"PARCELBOT_{name}", "  ")
    loaded = settings()
    assert loaded.seventeen_track_api_key is None
    assert loaded.aftership_webhook_secret is None
    assert loaded.tiktok_app_key is None
    assert loaded.tiktok_access_token_expires_at is None
    assert loaded.webhook_port is None
    assert loaded.public_url is None
    assert loaded.discord_test_guild is None
    assert loaded.sandbox_only


def test_a_tracking_key_leaves_the_sandbox_and_stays_secret() -> None:
    loaded = settings(seventeen_track_api_key="k17")
    assert not loaded.sandbox_only
    assert loaded.active_tracking_providers == ["17track"]
    assert "k17" not in repr(loaded)


def test_provider_order_follows_the_setting() -> None:
    both = {"seventeen_track_api_key": "a", "aftership_api_key": "b"}
    assert settings(**both).active_tracking_providers == ["17track", "aftership"]
    named = settings(**both, tracking_providers=" AfterShip , 17track")
    assert named.active_tracking_providers == ["aftership", "17track"]
    assert settings(**both, tracking_providers="aftership").active_tracking_providers == [
        "aftership",
        "17track",
    ]


def test_unknown_provider_name_is_refused() -> None:
    problems = refusal(tracking_providers="fedex")
    assert "unknown tracking provider 'fedex'" in problems["tracking_providers"]


@pytest.mark.parametrize(
    ("values", "field", "needle"),
    [
        ({"tiktok_app_key": "k", "seventeen_track_api_key": "x"}, "tiktok_app_secret", "secret"),
        (
            {"tiktok_app_secret": "s", "tiktok_refresh_token": "r", "aftership_api_key": "x"},
            "tiktok_app_key",
            "app key",
        ),
        (
            {"tiktok_app_key": "k", "tiktok_app_secret": "s", "seventeen_track_api_key": "x"},
            "tiktok_refresh_token",
            "tokens",
        ),
        (
            {"tiktok_app_key": "k", "tiktok_app_secret": "s", "tiktok_refresh_token": "r"},
            "seventeen_track_api_key",
            "tracking provider",
        ),
        ({"aftership_webhook_secret": "w"}, "aftership_api_key", "webhook secret"),
        (
            {"seventeen_track_api_key": "x", "tracking_providers": "17track,aftership"},
            "aftership_api_key",
            "names aftership",
        ),
        ({"telegram_webhook": True, "webhook_port": 8080, "public_url": "https://x.example"},
         "telegram_token", "bot token"),
        ({"telegram_webhook": True, "telegram_token": "1:a", "public_url": "https://x.example"},
         "webhook_port", "PARCELBOT_WEBHOOK_PORT"),
        ({"telegram_webhook": True, "telegram_token": "1:a", "webhook_port": 8080},
         "public_url", "PARCELBOT_PUBLIC_URL"),
        ({"tiktok_access_token_expires_at": "1767830400"}, "tiktok_access_token", "expiry"),
        ({"stale_deadline": 30, "fresh_deadline": 20}, "stale_deadline",
         "PARCELBOT_FRESH_DEADLINE"),
        ({"flush_retry_base": 600, "flush_retry_max": 60}, "flush_retry_base",
         "PARCELBOT_FLUSH_RETRY_MAX"),
    ],
)  # fmt: skip
def test_combinations_that_cannot_work_are_refused_in_one_sentence(
    values: dict[str, Any], field: str, needle: str
) -> None:
    problems = refusal(**values)
    assert field in problems, problems
    assert needle in problems[field]
    for message in problems.values():
        assert one_sentence(message), message


def test_every_problem_is_reported_at_once() -> None:
    problems = refusal(tiktok_app_key="k", aftership_webhook_secret="w")
    assert {"tiktok_app_secret", "tiktok_refresh_token", "aftership_api_key"} <= set(problems)


def test_telegram_webhook_mode_gets_a_secret_and_its_urls() -> None:
    loaded = settings(
        telegram_token="1:a",
        telegram_webhook=True,
        webhook_port=8443,
        public_url="https://bot.example.com/",
        seventeen_track_api_key="k",
    )
    secret = loaded.telegram_webhook_secret
    assert secret is not None
    assert re.fullmatch(r"[A-Za-z0-9_-]{20,}", secret.get_secret_value())
    assert loaded.telegram_public_url == "https://bot.example.com/webhooks/telegram"
    assert loaded.webhook_urls() == {
        "17track": "https://bot.example.com/webhooks/17track",
        "telegram": "https://bot.example.com/webhooks/telegram",
    }
    # A secret that is set is kept; no webhook mode, no generated secret.
    kept = settings(
        telegram_token="1:a",
        telegram_webhook_url="https://hooks.example.com/tg",
        telegram_webhook_secret="my-secret_1",
        webhook_port=8443,
    )
    assert kept.telegram_webhook_mode
    assert kept.telegram_public_url == "https://hooks.example.com/tg"
    assert kept.telegram_webhook_secret is not None
    assert kept.telegram_webhook_secret.get_secret_value() == "my-secret_1"
    assert settings(telegram_token="1:a").telegram_webhook_secret is None


def test_bad_telegram_secret_and_urls_are_refused() -> None:
    problems = refusal(telegram_webhook_secret="no spaces allowed")
    assert "letters, digits" in problems["telegram_webhook_secret"]
    assert "https://" in refusal(public_url="bot.example.com")["public_url"]


def test_token_expiries_read_unix_seconds_and_iso() -> None:
    loaded = settings(
        seventeen_track_api_key="x",
        tiktok_app_key="k",
        tiktok_app_secret="s",
        tiktok_access_token="a",
        tiktok_refresh_token="r",
        tiktok_access_token_expires_at="1767830400",
        tiktok_refresh_token_expires_at="2027-01-01T00:00:00",
    )
    assert loaded.tiktok_enabled
    assert loaded.tiktok_access_token_expires_at == datetime(2026, 1, 8, tzinfo=UTC)
    assert loaded.tiktok_refresh_token_expires_at == datetime(2027, 1, 1, tzinfo=UTC)
    assert loaded.webhook_urls() == {}


def test_the_program_names_the_variable_and_says_one_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARCELBOT_TIKTOK_APP_KEY", "k")
    monkeypatch.setenv("PARCELBOT_SEVENTEEN_TRACK_API_KEY", "x")
    monkeypatch.setenv("PARCELBOT_TIKTOK_REFRESH_TOKEN", "r")
    assert main(["track", "1Z999AA10123456784"]) == 2
    err = capsys.readouterr().err
    assert "PARCELBOT_TIKTOK_APP_SECRET: TikTok Shop needs the app secret" in err
    assert "Traceback" not in err


ROOT = Path(__file__).resolve().parents[2]
VARIABLES = [f"PARCELBOT_{name.upper()}" for name in Settings.model_fields]


def test_env_example_mirrors_the_settings_field_by_field() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert re.findall(r"^(PARCELBOT_\w+)=", text, re.MULTILINE) == VARIABLES


def test_readme_configuration_table_lists_every_setting() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Configuration") :]
    section = section[: section.index("\n## ", 1)]
    listed = re.findall(r"^\| `(PARCELBOT_\w+)`", section, re.MULTILINE)
    assert sorted(listed) == sorted(VARIABLES)


def test_the_service_tunables_come_from_the_settings() -> None:
    tuned = settings(
        default_timezone=" Asia/Jakarta ",
        refresh_after=60,
        stale_deadline=1.5,
        fresh_deadline=12,
        error_retry=600,
        flush_retry_base=10,
        flush_retry_max=900,
        send_timeout=15,
        max_send_attempts=4,
        user_requests_per_minute=12,
        confirm_within=300,
        archive_after_days=3,
        expire_after_days=45,
        housekeeping_every=1800,
        webhook_trust_hours=24,
        fail_after_calls=2,
        recover_after_calls=7,
        proof_attempts_per_user=3,
        proof_attempts_per_order=8,
        send_lease=30,
        send_concurrency=1,
    )
    config = service_config(tuned)
    assert config.default_timezone == "Asia/Jakarta"
    assert (config.refresh_after, config.stale_deadline, config.fresh_deadline) == (
        timedelta(minutes=1),
        timedelta(seconds=1.5),
        timedelta(seconds=12),
    )
    assert config.error_retry == timedelta(minutes=10)
    assert (config.flush_retry_base, config.flush_retry_max) == (
        timedelta(seconds=10),
        timedelta(minutes=15),
    )
    assert (config.send_timeout, config.max_send_attempts) == (timedelta(seconds=15), 4)
    assert config.user_requests_per_minute == 12
    assert config.confirm_within == timedelta(minutes=5)
    assert (config.archive_after, config.expire_after) == (timedelta(days=3), timedelta(days=45))
    assert config.housekeeping_every == timedelta(minutes=30)
    assert config.webhook_trust == timedelta(hours=24)
    assert (config.fail_after_calls, config.recover_after_calls) == (2, 7)
    assert (config.user_proofs.attempts, config.order_proofs.attempts) == (3, 8)
    assert (config.send_lease, config.send_concurrency) == (timedelta(seconds=30), 1)
    # Only the count is a setting: the windows and lockouts keep the core's values.
    assert config.user_proofs.window == ServiceConfig().user_proofs.window


def test_the_defaults_are_the_cores_own() -> None:
    assert service_config(settings(seventeen_track_api_key="k")) == ServiceConfig()
    # The sandbox's fast clock caps the wait between polls at one cycle of its time.
    sandbox = service_config(settings(poll_interval=10, sandbox_speed=60))
    assert sandbox.poll_at_most == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("default_timezone", "Mars/Olympus"),
        ("refresh_after", 0),
        ("max_send_attempts", 0),
        ("send_concurrency", 0),
        ("fail_after_calls", -1),
        ("archive_after_days", -2),
    ],
)
def test_unusable_tunables_are_refused(field: str, value: object) -> None:
    assert field in refusal(**{field: value})


async def test_pollers_claim_parcels_only_where_they_share_a_database(tmp_path: Path) -> None:
    tuned = settings(poll_lease=90)
    # A SQLite file is locked for one process: its one poller has nobody to keep out.
    async with Database.open(tmp_path / "bot.sqlite3") as sqlite:
        assert _poll_lease(tuned, sqlite) is None
    with postgres_schema() as url:
        async with Database.open(url) as shared:
            assert _poll_lease(tuned, shared) == timedelta(seconds=90)


async def test_a_changed_default_time_zone_judges_every_parcel_again(tmp_path: Path) -> None:
    """Stored next-news moments were worked out in the default zone of the run that stored
    them: kept while it stays, forgotten (and the parcel judged again) when it changes."""
    parcel = ShipmentKey("ups", TrackingNumber("1Z999AA10123456784"))
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    later = start + timedelta(days=2)

    async def news(timezone: str, judged: bool = False) -> tuple[datetime | None, int]:
        tuned = settings(database=str(tmp_path / "bot.sqlite3"), default_timezone=timezone)
        async with open_runtime(tuned) as runtime:
            shipments = runtime.db.shipments
            if judged:
                snapshot = Shipment(
                    carrier=parcel.carrier,
                    number=parcel.number,
                    status=Status.IN_TRANSIT,
                    checked_at=start,
                )
                await shipments.save_many([SnapshotWrite(snapshot, start)])
                await shipments.save_many(
                    [SnapshotWrite(snapshot, start, news_due_at=later, news_epoch=0)]
                )
            due = await shipments.due_parcels(later + timedelta(days=30), 10, start)
            return due.news_due_at.get(parcel), due.news_epoch[parcel]

    assert await news("UTC", judged=True) == (later, 0)
    assert await news("UTC") == (later, 0)
    assert await news("Asia/Jakarta") == (None, 1)
    assert await news("Asia/Jakarta") == (None, 1)

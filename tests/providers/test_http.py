"""The shared retry/decoding/health rules, at the transport level with respx."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime

import httpx
import pytest
import respx

from core.errors import ProviderUnavailable, RateLimited
from core.models import ProofKind
from core.providers.http import (
    RetryPolicy,
    create_http_client,
    parse_time,
    proof_from_text,
    request_json,
    retry_after_seconds,
)
from tests.providers.conftest import FAST_RETRY, RecordingSleep

URL = "https://api.example.test/v1/things"


async def test_5xx_is_retried_then_succeeds(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.get(URL).mock(
        side_effect=[httpx.Response(503), httpx.Response(502), httpx.Response(200, json={"a": 1})]
    )
    sleep = RecordingSleep()
    async with httpx.AsyncClient() as client:
        result = await request_json(
            client, "GET", URL, provider="p", policy=FAST_RETRY, sleep=sleep
        )
    assert result.data == {"a": 1}
    assert route.call_count == 3
    assert len(sleep.delays) == 2


async def test_4xx_is_never_retried(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.get(URL).mock(return_value=httpx.Response(404, json={"err": "no"}))
    async with httpx.AsyncClient() as client:
        result = await request_json(client, "GET", URL, provider="p", policy=FAST_RETRY)
    assert result.status == 404
    assert result.data == {"err": "no"}
    assert route.call_count == 1


async def test_connection_errors_become_provider_unavailable(
    respx_mock: respx.MockRouter,
) -> None:
    respx_mock.get(URL).mock(side_effect=httpx.ConnectError("refused"))
    async with httpx.AsyncClient() as client:
        with pytest.raises(ProviderUnavailable) as caught:
            await request_json(
                client, "GET", URL, provider="p", policy=FAST_RETRY, sleep=RecordingSleep()
            )
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert caught.value.provider == "p"


async def test_retry_after_is_capped(respx_mock: respx.MockRouter) -> None:
    respx_mock.get(URL).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "120"}),
            httpx.Response(200, json=[]),
        ]
    )
    sleep = RecordingSleep()
    policy = RetryPolicy(attempts=2, base_delay=0.001, jitter=0.0, max_retry_after=5.0)
    async with httpx.AsyncClient() as client:
        await request_json(client, "GET", URL, provider="p", policy=policy, sleep=sleep)
    assert sleep.delays == [5.0]


async def test_rate_limited_carries_retry_after(respx_mock: respx.MockRouter) -> None:
    respx_mock.get(URL).mock(return_value=httpx.Response(429, headers={"Retry-After": "7"}))
    async with httpx.AsyncClient() as client:
        with pytest.raises(RateLimited) as caught:
            await request_json(
                client, "GET", URL, provider="p", policy=FAST_RETRY, sleep=RecordingSleep()
            )
    assert caught.value.retry_after == 7.0


async def test_html_with_200_and_non_json_are_unavailable(respx_mock: respx.MockRouter) -> None:
    respx_mock.get(URL).mock(
        return_value=httpx.Response(
            200, text="<html>maintenance</html>", headers={"content-type": "text/html"}
        )
    )
    async with httpx.AsyncClient() as client:
        with pytest.raises(ProviderUnavailable):
            await request_json(
                client, "GET", URL, provider="p", policy=FAST_RETRY, sleep=RecordingSleep()
            )


async def test_secrets_in_the_query_are_never_logged(
    respx_mock: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    respx_mock.get(URL).mock(return_value=httpx.Response(500))
    caplog.set_level(logging.DEBUG)
    async with create_http_client() as client:
        with pytest.raises(ProviderUnavailable):
            await request_json(
                client,
                "GET",
                URL,
                provider="p",
                params={"app_secret": "SUPERSECRET", "refresh_token": "TOKEN123"},
                headers={"x-tts-access-token": "TOKEN456"},
                policy=FAST_RETRY,
                sleep=RecordingSleep(),
            )
    text = caplog.text
    assert "SUPERSECRET" not in text
    assert "TOKEN123" not in text
    assert "TOKEN456" not in text
    assert logging.getLogger("httpx").level == logging.WARNING


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0, jitter=0.5)
    rng = random.Random(1)
    delays = [policy.backoff(n, rng) for n in range(6)]
    assert 1.0 <= delays[0] <= 1.5
    assert 2.0 <= delays[1] <= 2.5
    assert all(10.0 <= d <= 10.5 for d in delays[4:])


def test_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds({"retry-after": "3"}, now) == 3.0
    assert retry_after_seconds({"retry-after": "Thu, 01 Jan 2026 12:00:10 GMT"}, now) == 10.0
    assert retry_after_seconds({"x-ratelimit-reset": str(int(now.timestamp()) + 4)}, now) == 4.0
    assert retry_after_seconds({}, now) is None


def test_parse_time_forms() -> None:
    expected = datetime(2026, 1, 1, 11, 59, 50, tzinfo=UTC)
    assert parse_time("2026-01-01T11:59:50Z") == expected
    assert parse_time("2026-01-01T03:59:50-08:00") == expected
    assert parse_time(int(expected.timestamp())) == expected
    assert parse_time(int(expected.timestamp()) * 1000) == expected
    assert parse_time("") is None
    assert parse_time("yesterday") is None
    assert parse_time(None) is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Delivered, Front Door/Porch", ProofKind.LEFT_AT_DOOR),
        ("Delivered, signed for by J DOE", ProofKind.SIGNATURE),
        ("Delivered to neighbour at No. 5", ProofKind.NEIGHBOUR),
        ("Delivered, Parcel Locker", ProofKind.PICKUP_POINT),
        ("Delivered", ProofKind.OTHER),
    ],
)
def test_proof_from_text(text: str, kind: ProofKind) -> None:
    assert proof_from_text(text).kind is kind

"""Shared HTTP behaviour of every provider: one client, retries, the error tree.

Contract of :func:`request_json`:

- timeouts, connection errors, 5xx and 429 are retried with exponential backoff plus jitter
  (``Retry-After`` wins when the server sends it); any other 4xx is returned at once;
- a body that is not JSON (an HTML page with status 200, a truncated document) is a
  :class:`~core.errors.ProviderUnavailable` and is retried like a 5xx;
- when the attempts run out the last failure is raised as a ``ProviderError`` subclass chained
  to the library error (``raise ... from err``); no httpx exception ever escapes;
- URLs, query strings, headers and bodies are never logged: they carry keys and tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from core.errors import ProviderError, ProviderUnavailable, RateLimited
from core.models import ProofKind, ProofOfDelivery
from core.ports import Clock, Pacer

__all__ = [
    "DEFAULT_USER_AGENT",
    "Envelope",
    "HttpResult",
    "ProviderTransport",
    "RetryPolicy",
    "Sleep",
    "UtcClock",
    "create_http_client",
    "decode_json",
    "first_time",
    "parse_time",
    "proof_from_text",
    "request_json",
    "retry_after_seconds",
    "silence_http_loggers",
]

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = "parcelbot/0.1 (+https://github.com/parcelbot)"

Sleep = Callable[[float], Awaitable[None]]

# Jitter only spreads retries out; it needs no cryptographic randomness.
_RNG = random.Random()  # noqa: S311
Classifier = Callable[["HttpResult"], ProviderError | None]


def silence_http_loggers() -> None:
    """Keep httpx/httpcore below WARNING: their INFO lines print full URLs with keys."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def create_http_client(
    *,
    timeout: float = 15.0,
    connect_timeout: float = 5.0,
    max_connections: int = 20,
    max_keepalive: int = 10,
    user_agent: str = DEFAULT_USER_AGENT,
    wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
) -> httpx.AsyncClient:
    """The process-wide client; open it once (``async with``) and pass it to every provider.

    ``wrap`` puts a layer around the connection pool (metrics count calls there)."""
    silence_http_loggers()
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_keepalive)
    transport: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport(limits=limits)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        transport=wrap(transport) if wrap is not None else transport,
        headers={"user-agent": user_agent},
        follow_redirects=False,
    )


@dataclass(frozen=True, slots=True)
class UtcClock:
    """The wall clock as an aware UTC datetime (a ``Clock``)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry.

    The n-th retry waits ``min(max_delay, base_delay * 2**n) + uniform(0, jitter)`` seconds,
    or the server's ``Retry-After`` capped at ``max_retry_after``.
    """

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.5
    max_retry_after: float = 60.0

    def backoff(self, retry: int, rng: random.Random | None = None) -> float:
        """Delay before retry number ``retry`` (0-based) when the server gave no hint."""
        spread = (rng or _RNG).uniform(0.0, self.jitter) if self.jitter > 0 else 0.0
        return min(self.max_delay, self.base_delay * (2.0**retry)) + spread


@dataclass(frozen=True, slots=True)
class HttpResult:
    """A response whose body decoded as JSON (``data``); status is 2xx or a non-retried 4xx."""

    status: int
    headers: Mapping[str, str]
    data: Any = field(repr=False)


def decode_json(response: httpx.Response, provider: str) -> Any:
    """The JSON body, or ``ProviderUnavailable`` for HTML pages and broken documents."""
    raw = response.content
    content_type = response.headers.get("content-type", "").lower()
    if "html" in content_type or raw.lstrip()[:1] == b"<":
        raise ProviderUnavailable(provider=provider) from ValueError(
            f"HTML page instead of JSON (status {response.status_code})"
        )
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ProviderUnavailable(provider=provider) from err


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or ``x-ratelimit-reset``."""
    now = now or datetime.now(UTC)
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                return max(0.0, (when - now).total_seconds())
    reset = headers.get("x-ratelimit-reset")
    if reset:
        try:
            epoch = float(reset)
        except ValueError:
            return None
        # AfterShip sends an epoch timestamp; small values are already a delay.
        if epoch > 1_000_000_000:
            return max(0.0, epoch - now.timestamp())
        return max(0.0, epoch)
    return None


class _RetryableError(Exception):
    """Internal: one attempt failed in a way worth retrying."""

    def __init__(self, error: ProviderError, cause: BaseException | None, wait: float | None):
        super().__init__(str(error))
        self.error = error
        self.cause = cause
        self.wait = wait


async def request_json(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    provider: str,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    policy: RetryPolicy | None = None,
    classify: Classifier | None = None,
    sleep: Sleep = asyncio.sleep,
    before_attempt: Callable[[], Awaitable[None]] | None = None,
    request_timeout: float | None = None,
    pacer: Pacer | None = None,
) -> HttpResult:
    """Send one request with the retry contract described in the module docstring.

    ``classify`` may inspect a decoded 2xx/4xx result and return a retryable error (for APIs
    that say "rate limited" or "internal error" inside a 200 envelope). ``before_attempt``
    runs before every attempt (e.g. to honour a rate-limit reset the server announced);
    every attempt is made inside a ``pacer`` slot, held until its answer was read. Whether a
    source is failing
    is judged by the service, per call (``core.sources.SourceHealth``), not here.
    """
    policy = policy or RetryPolicy()
    last: _RetryableError | None = None
    for attempt in range(max(1, policy.attempts)):
        if attempt and last is not None:
            wait = last.wait if last.wait is not None else policy.backoff(attempt - 1)
            await sleep(min(wait, policy.max_retry_after))
        if before_attempt is not None:
            await before_attempt()
        try:
            async with pacer.slot() if pacer is not None else contextlib.nullcontext():
                result = await _attempt(
                    client,
                    method,
                    url,
                    provider=provider,
                    params=params,
                    headers=headers,
                    content=content,
                    classify=classify,
                    request_timeout=request_timeout,
                )
        except _RetryableError as retry:
            last = retry
            log.info(
                "%s %s attempt %d failed: %s",
                provider,
                _path_of(url),
                attempt + 1,
                type(retry.cause or retry.error).__name__,
            )
            continue
        return result
    if last is None:  # unreachable: attempts >= 1
        raise ProviderUnavailable(provider=provider)
    raise last.error from last.cause


async def _attempt(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    provider: str,
    params: Mapping[str, str] | None,
    headers: Mapping[str, str] | None,
    content: bytes | None,
    classify: Classifier | None,
    request_timeout: float | None,
) -> HttpResult:
    extra: dict[str, Any] = {}
    if request_timeout is not None:
        extra["timeout"] = request_timeout
    try:
        response = await client.request(
            method,
            url,
            params=dict(params) if params else None,
            headers=dict(headers) if headers else None,
            content=content,
            **extra,
        )
    except httpx.TimeoutException as err:
        raise _RetryableError(ProviderUnavailable(provider=provider), err, None) from err
    except httpx.HTTPError as err:
        # Connection refused/reset, protocol errors, TLS failures: all transient for us.
        raise _RetryableError(ProviderUnavailable(provider=provider), err, None) from err
    status = response.status_code
    if status == 429:
        wait = retry_after_seconds(response.headers)
        limited = RateLimited(provider=provider, retry_after=wait if wait is not None else 1.0)
        raise _RetryableError(limited, None, wait)
    if status >= 500:
        raise _RetryableError(ProviderUnavailable(provider=provider), _status_error(response), None)
    try:
        data = decode_json(response, provider)
    except ProviderUnavailable as bad:
        if 200 <= status < 300:
            raise _RetryableError(bad, bad.__cause__, None) from bad
        # A non-JSON 4xx (a proxy's error page) is final; the caller maps the status.
        data = None
    result = HttpResult(status=status, headers=response.headers, data=data)
    if classify is not None:
        retryable = classify(result)
        if retryable is not None:
            wait = retryable.retry_after if isinstance(retryable, RateLimited) else None
            raise _RetryableError(retryable, None, wait)
    return result


class ProviderTransport:
    """One provider's plumbing: the shared client, retry policy, clock, sleep, timeout.

    Every call of the provider goes through :meth:`request`, i.e. :func:`request_json` with
    these settings.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        provider: str,
        *,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        timeout: float | None = None,
    ) -> None:
        self.http = http
        self.provider = provider
        self.retry = retry or RetryPolicy()
        self.clock: Clock = clock or UtcClock()
        self.sleep = sleep
        self.timeout = timeout

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        classify: Classifier | None = None,
        before_attempt: Callable[[], Awaitable[None]] | None = None,
        pacer: Pacer | None = None,
    ) -> HttpResult:
        """:func:`request_json` with this provider's name, policy, sleep and timeout."""
        return await request_json(
            self.http,
            method,
            url,
            provider=self.provider,
            params=params,
            headers=headers,
            content=content,
            policy=self.retry,
            classify=classify,
            sleep=self.sleep,
            before_attempt=before_attempt,
            request_timeout=self.timeout,
            pacer=pacer,
        )


@dataclass(frozen=True, slots=True)
class Envelope:
    """The ``{"code": …, "message": …, "data": …}`` wrapper some APIs put around every answer.

    A body that is not a JSON object reads as an envelope with no code, message or data.
    """

    code: object = None
    message: str = ""
    data: object = field(default=None, repr=False)

    @classmethod
    def of(cls, result: HttpResult) -> Envelope:
        body = result.data
        if not isinstance(body, Mapping):
            return cls()
        return cls(
            code=body.get("code"), message=str(body.get("message") or ""), data=body.get("data")
        )


def _status_error(response: httpx.Response) -> Exception:
    return RuntimeError(f"HTTP {response.status_code} from {_path_of(str(response.url))}")


def _path_of(url: str) -> str:
    """The URL without query string: the query may hold keys."""
    return url.split("?", 1)[0]


# --- shared parsing helpers -------------------------------------------------------------------


def parse_time(value: object) -> datetime | None:
    """An aware UTC datetime from ISO-8601 text, epoch seconds or epoch milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value) / 1000.0 if value > 10_000_000_000 else float(value)
        return datetime.fromtimestamp(seconds, UTC)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        # A date or time without an offset is taken as UTC rather than dropped.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def first_time(raw: Mapping[str, Any], *keys: str) -> datetime | None:
    """The first of ``keys`` whose value in ``raw`` reads as a time (see :func:`parse_time`)."""
    for key in keys:
        when = parse_time(raw.get(key))
        if when is not None:
            return when
    return None


_PROOF_PATTERNS: tuple[tuple[re.Pattern[str], ProofKind], ...] = (
    (re.compile(r"signed (?:for )?by|signature", re.I), ProofKind.SIGNATURE),
    (re.compile(r"neighbou?r", re.I), ProofKind.NEIGHBOUR),
    (
        re.compile(r"locker|pick-?up point|parcel ?shop|post office|picked up by", re.I),
        ProofKind.PICKUP_POINT,
    ),
    (
        re.compile(r"front door|porch|mailbox|mail room|parcel box|doorstep|garage", re.I),
        ProofKind.LEFT_AT_DOOR,
    ),
    (re.compile(r"photo", re.I), ProofKind.PHOTO),
)


def proof_from_text(description: str, signed_by: str = "") -> ProofOfDelivery:
    """How a parcel was handed over, read from the delivery scan's wording."""
    if signed_by.strip():
        return ProofOfDelivery(ProofKind.SIGNATURE, signed_by.strip())
    for pattern, kind in _PROOF_PATTERNS:
        if pattern.search(description):
            return ProofOfDelivery(kind, description.strip())
    return ProofOfDelivery(ProofKind.OTHER, description.strip())

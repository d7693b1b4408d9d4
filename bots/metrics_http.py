"""Provider call metrics at the HTTP transport of the providers' shared client."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from bots.metrics import Metrics

__all__ = ["MeteredTransport"]

# Headers in which providers state what is left of their rate-limit window.
_REMAINING_HEADERS = ("x-ratelimit-remaining", "as-api-rate-limit-remaining", "ratelimit-remaining")


class MeteredTransport(httpx.AsyncBaseTransport):
    """Counts every provider call on the way out; the provider is told by the URL's host."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, metrics: Metrics, hosts: Mapping[str, str]
    ) -> None:
        self._inner = inner
        self._metrics = metrics
        self._hosts = dict(hosts)

    @staticmethod
    def hosts_of(urls: Mapping[str, str]) -> dict[str, str]:
        """``{provider: base URL}`` → ``{host: provider}``."""
        return {urlsplit(url).netloc: name for name, url in urls.items() if url}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        provider = self._hosts.get(request.url.netloc.decode("ascii", "replace"), "other")
        m = self._metrics
        m.provider_calls.labels(provider).inc()
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TransportError:
            m.provider_errors.labels(provider).inc()
            raise
        if response.status_code == 429:
            m.provider_throttled.labels(provider).inc()
        elif response.status_code >= 500:
            m.provider_errors.labels(provider).inc()
        for header in _REMAINING_HEADERS:
            value = response.headers.get(header)
            if value is not None and value.strip().isdigit():
                m.provider_quota.labels(provider, "rate_window").set(int(value))
                break
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

"""TikTok Shop's request and webhook signatures, byte for byte as documented: the signature
covers the exact body bytes that go on the wire, so a request is built (and its body
serialised) once, here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "SignedRequest",
    "build_base_string",
    "build_request",
    "sign",
    "verify_webhook_signature",
]


def build_base_string(
    path: str, query: Mapping[str, str], body: bytes = b"", *, multipart: bool = False
) -> bytes:
    """``path + sorted(k + v)`` over the query minus ``sign``/``access_token``, then the body.

    Keys sort in plain byte order; values are used un-encoded. Multipart bodies are not signed.
    """
    parts = [path]
    for key in sorted(k for k in query if k not in ("sign", "access_token")):
        parts.append(key + query[key])
    base = "".join(parts).encode()
    if body and not multipart:
        base += body
    return base


def sign(
    app_secret: str,
    path: str,
    query: Mapping[str, str],
    body: bytes = b"",
    *,
    multipart: bool = False,
) -> str:
    """Lower-hex HMAC-SHA256 keyed by the app secret over ``secret + base + secret``."""
    secret = app_secret.encode()
    message = secret + build_base_string(path, query, body, multipart=multipart) + secret
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """Everything to send: the body bytes are exactly the ones that were signed."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(repr=False)
    body: bytes | None = None


def build_request(
    method: str,
    path: str,
    *,
    app_key: str,
    app_secret: str,
    access_token: str,
    timestamp: int,
    query: Mapping[str, str | Sequence[str]] | None = None,
    body: Mapping[str, Any] | None = None,
    shop_cipher: str | None = None,
) -> SignedRequest:
    """A signed API request. Array params are comma-joined and signed that way.

    ``shop_cipher`` is left out for ``/authorization/`` and ``/seller/`` paths, which reject it.
    """
    params: dict[str, str] = {}
    for key, value in (query or {}).items():
        params[key] = value if isinstance(value, str) else ",".join(value)
    params["app_key"] = app_key
    params["timestamp"] = str(timestamp)
    if shop_cipher and not path.startswith(("/authorization/", "/seller/")):
        params["shop_cipher"] = shop_cipher
    raw = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
    params["sign"] = sign(app_secret, path, params, raw or b"")
    headers = {"x-tts-access-token": access_token, "content-type": "application/json"}
    return SignedRequest(method.upper(), path, params, headers, raw)


def verify_webhook_signature(app_key: str, app_secret: str, body: bytes, header: str) -> bool:
    """Check the ``Authorization`` header: hex HMAC-SHA256(app_secret, app_key + raw body)."""
    expected = hmac.new(app_secret.encode(), app_key.encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().lower().encode())

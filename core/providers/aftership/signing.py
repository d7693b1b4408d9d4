"""AfterShip's webhook signature: base64 HMAC-SHA256 of the raw body with the webhook secret."""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["verify_webhook_signature", "webhook_signature"]


def webhook_signature(secret: str, body: bytes) -> str:
    """Base64 HMAC-SHA256 of the raw body keyed by the webhook secret."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_webhook_signature(secret: str, body: bytes, header: str) -> bool:
    """Constant-time check of the ``aftership-hmac-sha256`` header."""
    return hmac.compare_digest(webhook_signature(secret, body).encode(), header.strip().encode())

"""17TRACK's push signature: hex SHA-256 of the raw body, "/" and the security key."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["push_signature", "verify_push_signature"]


def push_signature(security_key: str, body: bytes) -> str:
    """Hex SHA-256 of ``raw body + "/" + key`` (plain SHA-256, not an HMAC)."""
    return hashlib.sha256(body + b"/" + security_key.encode()).hexdigest()


def verify_push_signature(security_key: str, body: bytes, sign: str) -> bool:
    """Constant-time check of a push's ``sign`` header."""
    expected = push_signature(security_key, body)
    return hmac.compare_digest(expected.encode(), sign.strip().lower().encode())

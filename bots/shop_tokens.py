"""The TikTok Shop seller's tokens: first from the settings, then the refreshed pair from the
database.

The client refreshes the access token before it expires and the refresh token may rotate, so
every new pair is stored (``db.meta``) and wins over the settings at the next start. A stored
pair remembers a fingerprint of the settings' refresh token it descends from: when the
seller authorises the shop again and puts new tokens in the settings, those win instead.

Stored pairs are encrypted (``TokenBox``: Fernet, authenticated) with the key from
``PARCELBOT_TIKTOK_TOKEN_KEY``, or one derived from the app secret (HKDF-SHA256) when that
is unset, so a copy of the database file alone does not hand out the seller's account. A pair
stored in clear by an older version is read once and written back encrypted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.ports import KeyValueStore
from core.providers.tiktok_shop import TokenSet

__all__ = ["TOKENS_KEY", "TokenBox", "TokenKeeper", "initial_tokens", "load_tokens"]

log = logging.getLogger(__name__)

TOKENS_KEY = "tiktok_shop.tokens"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Without a known expiry a given access token is used until the API says it expired (the
# client then refreshes and retries once); a refresh token is tried until it is refused.
_ASSUMED_ACCESS_LIFE = timedelta(days=7)
_ASSUMED_REFRESH_LIFE = timedelta(days=365)


_SEALED = "fernet:"


class TokenBox:
    """Encrypts and decrypts the stored token pair (Fernet: AES-128-CBC + HMAC-SHA256)."""

    def __init__(self, key: str = "", *, app_secret: str = "") -> None:
        """``key`` is a Fernet key; without one a key is derived from ``app_secret``."""
        if not key and not app_secret:
            raise ValueError("a token key or the app secret is needed to store tokens")
        self._fernet = Fernet(key.encode() if key else _derived_key(app_secret))

    def seal(self, text: str) -> str:
        return _SEALED + self._fernet.encrypt(text.encode()).decode()

    def open(self, stored: str) -> str:
        """The plain text of ``stored``; raises ``ValueError`` when it cannot be decrypted
        (another key). Text stored in clear by an older version passes through."""
        if not stored.startswith(_SEALED):
            return stored
        try:
            return self._fernet.decrypt(stored[len(_SEALED) :].encode()).decode()
        except InvalidToken as err:
            raise ValueError("stored tokens were encrypted with another key") from err


def _derived_key(app_secret: str) -> bytes:
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"parcelbot seller tokens v1")
    return base64.urlsafe_b64encode(kdf.derive(app_secret.encode()))


def _fingerprint(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()[:16]


def initial_tokens(
    access_token: str,
    refresh_token: str,
    now: datetime,
    *,
    access_expires_at: datetime | None = None,
    refresh_expires_at: datetime | None = None,
) -> TokenSet:
    """The pair from the settings; no access token means "refresh before the first call"."""
    access_at = (access_expires_at or now + _ASSUMED_ACCESS_LIFE) if access_token else _EPOCH
    return TokenSet(
        access_token=access_token,
        access_expires_at=access_at,
        refresh_token=refresh_token,
        refresh_expires_at=refresh_expires_at or now + _ASSUMED_REFRESH_LIFE,
    )


async def load_tokens(meta: KeyValueStore, configured: TokenSet, box: TokenBox) -> TokenSet:
    """The stored pair when it descends from ``configured``'s refresh token, else ``configured``.

    A pair an older version stored in clear is written back encrypted."""
    raw = await meta.get(TOKENS_KEY)
    if not raw:
        return configured
    try:
        text = box.open(raw)
        if text is raw:
            await meta.set(TOKENS_KEY, box.seal(raw))
            log.info("stored TikTok Shop tokens are now encrypted")
        doc = json.loads(text)
        if doc["seed"] != _fingerprint(configured.refresh_token):
            log.info("TikTok Shop tokens in the settings are new; the stored pair is replaced")
            return configured
        return TokenSet(
            access_token=str(doc["access_token"]),
            access_expires_at=datetime.fromisoformat(doc["access_expires_at"]),
            refresh_token=str(doc["refresh_token"]),
            refresh_expires_at=datetime.fromisoformat(doc["refresh_expires_at"]),
            open_id=str(doc.get("open_id") or ""),
            seller_name=str(doc.get("seller_name") or ""),
        )
    except (ValueError, KeyError, TypeError):
        log.warning("stored TikTok Shop tokens are unreadable; using the configured ones")
        return configured


class TokenKeeper:
    """``on_token_refresh`` callback: stores every refreshed pair, encrypted."""

    def __init__(self, meta: KeyValueStore, configured: TokenSet, box: TokenBox) -> None:
        self._meta = meta
        self._box = box
        self._seed = _fingerprint(configured.refresh_token)

    async def __call__(self, tokens: TokenSet) -> None:
        doc = {
            "seed": self._seed,
            "access_token": tokens.access_token,
            "access_expires_at": tokens.access_expires_at.isoformat(),
            "refresh_token": tokens.refresh_token,
            "refresh_expires_at": tokens.refresh_expires_at.isoformat(),
            "open_id": tokens.open_id,
            "seller_name": tokens.seller_name,
        }
        await self._meta.set(TOKENS_KEY, self._box.seal(json.dumps(doc)))

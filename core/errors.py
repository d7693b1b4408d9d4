"""The one error tree of parcelbot.

::

    TrackingError                  anything a user can cause or see
    ├── InvalidInput               the text cannot be a command, number or order id
    ├── CarrierNotDetected         a well-formed number no carrier claims
    ├── ShipmentNotFound           the carrier has no record of the number
    ├── OrderNotFound              the shop has no such order
    ├── NotAuthorised              the chat may not see this order (or is out of attempts)
    ├── ProviderError              a tracking/order source failed
    │   ├── ProviderUnavailable    timeouts, 5xx, malformed answers
    │   ├── RateLimited            429 or our own per-user limit; carries ``retry_after``
    │   └── ProviderAuthError      bad or expired credentials, quota exhausted
    └── StorageUnavailable         the database cannot be used now; ``reason`` says why

Every error carries ``user_message``: one sentence, safe to show (no secrets, no stack trace),
in the active language (``core.i18n``); ``default_message`` is the English source text.
Adapters turn errors into text in exactly one place each, using that sentence.
Providers wrap library errors with ``raise ProviderUnavailable(...) from err``.
"""

from __future__ import annotations

from core.i18n import N_, _

__all__ = [
    "CarrierNotDetected",
    "InvalidInput",
    "NotAuthorised",
    "OrderNotFound",
    "ProviderAuthError",
    "ProviderError",
    "ProviderUnavailable",
    "RateLimited",
    "ShipmentNotFound",
    "StorageUnavailable",
    "TrackingError",
]


class TrackingError(Exception):
    """Base of every error a user may be told about."""

    default_message = N_("Something went wrong while looking that up. Please try again shortly.")

    def __init__(self, user_message: str | None = None) -> None:
        self._message = user_message or self.default_message
        super().__init__(self._message)

    @property
    def user_message(self) -> str:
        """The sentence for the user, in the active language (``core.i18n``): a catalog
        message (the default, or one marked with ``N_``) is looked up when it is shown, so an
        error made in a background task still reaches each chat in its own language; a
        sentence worded when the error was made is shown as it is."""
        return _(self._message)


class InvalidInput(TrackingError):
    """The input cannot be used; the message says what was wrong and what would work."""

    default_message = N_(
        "That does not look like a tracking number or order id. "
        "Send letters and digits only, for example /track 1Z999AA10123456784."
    )


class CarrierNotDetected(TrackingError):
    """No carrier in the catalogue claims this number."""

    default_message = N_(
        "I could not tell which carrier this number belongs to. "
        "Add the carrier after the number, for example /track 123456789 ups."
    )


class ShipmentNotFound(TrackingError):
    """The carrier has no record of the number (yet)."""

    default_message = N_(
        "The carrier has no record of this number yet. New labels can take up to 48 hours "
        "to show a first scan."
    )


class OrderNotFound(TrackingError):
    """No order with this id in any connected shop."""

    default_message = N_("I could not find that order. Check the order id in your shop app.")


class NotAuthorised(TrackingError):
    """The chat has not proved it owns the order, or ran out of attempts."""

    default_message = N_("You are not allowed to see this order.")


class ProviderError(TrackingError):
    """A tracking or order source failed. ``provider`` names the source (never a secret)."""

    default_message = N_(
        "The tracking service is not answering right now. Please try again shortly."
    )

    def __init__(self, user_message: str | None = None, *, provider: str = "") -> None:
        self.provider = provider
        super().__init__(user_message)


class ProviderUnavailable(ProviderError):
    """Timeouts, connection errors, 5xx and answers that are not valid data."""


class RateLimited(ProviderError):
    """Too many requests; try again after ``retry_after`` seconds."""

    default_message = N_("Too many requests right now. Please wait a moment and try again.")

    def __init__(
        self,
        user_message: str | None = None,
        *,
        provider: str = "",
        retry_after: float = 1.0,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(user_message, provider=provider)


class ProviderAuthError(ProviderError):
    """Credentials are wrong or expired, or the plan's quota is used up."""

    default_message = N_(
        "The tracking service refused our credentials. The bot's operator has been told."
    )


class StorageUnavailable(TrackingError):
    """The database cannot be used now: locked by another program, disk full, read-only,
    damaged, or already in use by another parcelbot. ``reason`` is one sentence for the
    operator's log (the file and what to do); nothing was half written."""

    default_message = N_("I can't reach my records right now. Please try again in a few minutes.")

    def __init__(self, reason: str, user_message: str | None = None) -> None:
        self.reason = reason
        super().__init__(user_message)

    def __str__(self) -> str:
        return self.reason

"""Order access: who may see a shop order, and the limits on proving one is yours.

``OrderAccess`` decides whether a chat may see an order: the person proved it theirs with
``/verify`` (the postcode or the last four phone digits on the order, compared in constant
time) in this run, or the chat linked the order before; never in a group chat. Proven orders
are remembered per person for the run; the chat's order links (``OrderLinkRepository``) keep
the proof across restarts. Reading the shop counts towards its health (``SourceHealth``).

Limits on ownership proofs (``/verify``): per person and per order, with growing lockouts.

A proof is a postcode or the last four phone digits: few enough values that many accounts
guessing together would find it. So failed proofs are counted twice, in the database (they
survive a restart):

- per person (``Scope.USER``): ``user.attempts`` failures within ``user.window`` lock that
  person out of every proof for ``user.lock``;
- per order (``Scope.ORDER``), across every account: ``order.attempts`` failures within
  ``order.window`` lock the order for ``order.lock``, whoever asks, even with the right proof.

Each further lockout of the same subject lasts twice as long as the one before (at most
``max_lock``). A correct proof clears the person's record (not the order's: a lucky guess
must not reset the order's count).

Imports the standard library and the core's ``models``, ``errors``, ``identifiers``,
``privacy``, ``ports`` and ``sources``; never the use cases or the refresh pipeline.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import privacy
from core.errors import NotAuthorised, ProviderError
from core.i18n import _, ngettext
from core.identifiers import normalise
from core.models import (
    Attempts,
    ChatRef,
    IndexedParcel,
    Order,
    OrderId,
    OrderLink,
    Scope,
    Shipment,
    ShipmentKey,
)
from core.ports import Clock, OrderSource, Store
from core.sources import SourceHealth

__all__ = ["LockPolicy", "OrderAccess", "after_failure", "locked_until"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LockPolicy:
    """How many failures in how long lock a subject out, and for how long."""

    attempts: int
    window: timedelta
    lock: timedelta
    max_lock: timedelta


def locked_until(state: Attempts, now: datetime) -> datetime | None:
    """When the subject's lockout ends, or None when it is not locked at ``now``."""
    if state.locked_until is not None and now < state.locked_until:
        return state.locked_until
    return None


def after_failure(state: Attempts, now: datetime, policy: LockPolicy) -> Attempts:
    """The record after one more failed proof at ``now`` (it may start a lockout)."""
    fresh = state.window_start is None or now - state.window_start >= policy.window
    failures = 1 if fresh else state.failures + 1
    start = now if fresh else state.window_start
    if failures < max(1, policy.attempts):
        return Attempts(failures, start, state.locked_until, state.lockouts)
    lock = min(policy.lock * (2 ** min(state.lockouts, 20)), policy.max_lock)
    return Attempts(0, None, now + lock, state.lockouts + 1)


class OrderAccess:
    """Who may see which shop order (see the module docstring)."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        shop: OrderSource | None,
        health: SourceHealth,
        user_proofs: LockPolicy,
        order_proofs: LockPolicy,
    ) -> None:
        self._store = store
        self._clock = clock
        self._shop = shop
        self._health = health
        self._policies = {Scope.USER: user_proofs, Scope.ORDER: order_proofs}
        self._verified: dict[str, set[OrderId]] = defaultdict(set)

    def verified(self, chat: ChatRef, oid: OrderId) -> bool:
        """Whether the person in ``chat`` proved ``oid`` theirs in this run."""
        return oid in self._verified.get(_owner(chat), set())

    def forget(self, chat: ChatRef) -> None:
        """Forget the orders the person in ``chat`` proved (``/forget``)."""
        self._verified.pop(_owner(chat), None)

    async def prove(self, chat: ChatRef, oid: OrderId, proof: str | None) -> Order | None:
        """The shop's order ``oid`` for a person who proved it theirs, now with ``proof`` or
        before in this run; None when the shop has no such order (and it was proven).

        Raises ``NotAuthorised`` while the person or the order is locked out, or when the
        proof does not match (the failure is counted, see the module docstring); raises the
        shop's ``ProviderError`` when it cannot be read. Requires a shop.
        """
        owner = _owner(chat)
        if oid not in self._verified[owner]:
            await self._proofs_allowed(owner, oid)
        order = await self.read(oid)
        if oid not in self._verified[owner]:
            if order is None or not _owns(order, proof or ""):
                await self._proof_failed(owner, oid)
                raise NotAuthorised(
                    _(
                        "That does not match the order. Check the order id and the postcode "
                        "(or last 4 phone digits) and try again."
                    )
                )
            await self._store.attempts.clear(Scope.USER, _subject(Scope.USER, owner))
            self._verified[owner].add(oid)
        return order

    async def read(self, oid: OrderId) -> Order | None:
        """The shop's order (None when it has no such order), the call counted towards the
        shop's outage report; raises the shop's ``ProviderError`` when the call failed."""
        shop = self._shop
        if shop is None:
            return None
        try:
            found = await shop.get_orders([oid])
        except ProviderError as err:
            self._health.failure(shop.name, err)
            raise
        self._health.success(shop.name)
        return found.get(oid)

    async def shown_order(
        self,
        chat: ChatRef,
        shipment: Shipment,
        indexed: IndexedParcel | None,
        links: Mapping[ShipmentKey, OrderLink],
    ) -> tuple[OrderId, Order | None] | None:
        """The order that ships ``shipment``, when ``chat`` may see it: its id and the shop's
        order (None when the shop cannot be read); None when the chat may not.

        ``indexed`` is the order index entry for the parcel's number, ``links`` the chat's
        order links. The order index says which order ships a number but not whose it is, so
        the order is shown only when this person verified it (this run) or this chat linked it
        before (``/verify`` stores the link), and never in a group chat. The parcel is linked
        to the order for this chat (``/orders``, ``/report``).
        """
        if chat.is_group:
            return None
        if indexed is None or not indexed.order_id:
            return None
        oid = indexed.order_id
        verified = self._verified.get(_owner(chat), set())
        if oid not in verified and all(link.order_id != oid for link in links.values()):
            return None
        order: Order | None = None
        if self._shop is not None:
            try:
                order = await self.read(oid)
            except ProviderError as err:
                log.info("order %s not readable for a tracking reply: %s", oid, err)
        link = links.get(shipment.key)
        if link is None or link.order_id != oid:
            await self._store.orders.link(
                chat,
                OrderLink(
                    shipment.key,
                    oid,
                    self._clock.now(),
                    order.shop if order is not None else indexed.shop_id,
                    order.promised_by if order is not None else None,
                ),
            )
        return oid, order

    async def _proofs_allowed(self, owner: str, oid: OrderId) -> None:
        """Raise ``NotAuthorised`` while the person or the order is locked out of proofs
        (the records are in the database, so a restart changes nothing)."""
        now = self._clock.now()
        for scope, subject in ((Scope.USER, owner), (Scope.ORDER, oid)):
            state = await self._store.attempts.get(scope, _subject(scope, subject))
            until = locked_until(state, now)
            if until is not None:
                wait = max(1, int((until - now).total_seconds() // 60) + 1)
                raise NotAuthorised(
                    ngettext(
                        "Too many wrong attempts. Please try again in about {count} minute.",
                        "Too many wrong attempts. Please try again in about {count} minutes.",
                        wait,
                    ).format(count=wait)
                )

    async def _proof_failed(self, owner: str, oid: OrderId) -> None:
        """Count a failed proof against the person and the order; log each order lockout."""
        now = self._clock.now()
        for scope, subject in ((Scope.USER, owner), (Scope.ORDER, oid)):
            key = _subject(scope, subject)
            state = await self._store.attempts.get(scope, key)
            after = after_failure(state, now, self._policies[scope])
            await self._store.attempts.put(scope, key, after)
            if scope is Scope.ORDER and after.lockouts > state.lockouts:
                log.warning(
                    "order %s locked until %s after %d failed ownership proofs (lockout %d)",
                    privacy.mask(oid),
                    after.locked_until.isoformat() if after.locked_until else "-",
                    self._policies[scope].attempts,
                    after.lockouts,
                )


def _owner(chat: ChatRef) -> str:
    """The person behind ``chat``, across every chat they write in on one platform."""
    return f"{chat.platform}:{chat.user_id}"


def _subject(scope: Scope, value: str) -> str:
    """The stored stand-in for a person or an order in the proof records (a digest)."""
    return hashlib.sha256(f"{scope}:{value}".encode()).hexdigest()[:32]


def _owns(order: Order, proof: str) -> bool:
    """Compare the buyer's proof with the order's postcode or phone digits in constant time."""
    given = normalise(proof).encode()
    postcode_ok = bool(order.postcode) and hmac.compare_digest(
        given, normalise(order.postcode).encode()
    )
    phone_ok = bool(order.phone_last4) and hmac.compare_digest(given, order.phone_last4.encode())
    return postcode_ok or phone_ok

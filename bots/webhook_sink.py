"""Where verified pushes end up: the service's poll path and the shop's order index.

``ServiceSink`` implements ``bots.webhooks.WebhookSink``:

- ``ingest`` takes pushed 17TRACK/AfterShip snapshots. A snapshot whose carrier the provider
  did not name is first given one (the order index, then a parcel already stored or followed
  under one of the detected carriers, then the best detected match), because parcels are keyed
  by (carrier, number). Then it goes through ``ParcelService.ingest`` like a poll result.
- ``order_event`` reacts to TikTok Shop pushes. TikTok sends no tracking events, so the order
  (and, for package events, the package) is read again; its tracking numbers go into the
  index and are sent to the tracking provider, which registers numbers it does not know, and
  the snapshots it answers with go through the same path as a poll.
- ``sync_orders`` does the same for every order updated since the last sync (orders search),
  because webhooks alone may miss updates. It goes page by page and saves its place after
  each one: a failed page is asked again at the next run, a restart resumes where the last
  run stopped, and the update-time cursor moves only once the whole window is indexed.
- ``tracking_stopped`` handles 17TRACK's ``TRACKING_STOPPED``: 17TRACK stopped following a
  number (about 30 days without news, 15 after delivery, or on request). A parcel someone
  still follows goes back to regular polling at once and 17TRACK is asked to restart it
  (``retrack``, allowed once per number); it is never silently dropped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from core import carriers
from core.errors import ProviderError, TrackingError
from core.eta.provider import EstimatingProvider
from core.models import (
    IndexedParcel,
    OrderId,
    OrderStatus,
    Shipment,
    ShipmentKey,
    TrackingNumber,
    TrackRequest,
)
from core.ports import Clock, TrackingProvider
from core.providers.tiktok_shop import IndexEntry, TikTokShopClient, WebhookEvent
from core.service import ParcelService
from storage.db import Database

__all__ = [
    "ORDER_EVENT_TYPES",
    "SYNC_KEY",
    "SYNC_PAGE_KEY",
    "Retracker",
    "ServiceSink",
    "SyncStats",
]

log = logging.getLogger(__name__)

SYNC_KEY = "tiktok_shop.index_synced_at"
"""``db.meta`` key: when the order index was last brought up to date by a search."""

SYNC_PAGE_KEY = "tiktok_shop.index_sync_page"
"""``db.meta`` key: the unfinished search (its window and the next page token), if any."""

ORDER_EVENT_TYPES = frozenset({1, 3, 4, 11, 12})
"""TikTok Shop push types that concern an order (status, address, package, cancel, return)."""

_DEAUTHORISED = 6
_AUTH_EXPIRING = 7
_FIRST_SYNC = timedelta(days=1)
# Searches overlap the previous one a little: an order updated during a search is not lost.
_SYNC_OVERLAP = timedelta(minutes=5)
_SKIP_ORDERS = frozenset({OrderStatus.CANCELLED, OrderStatus.UNPAID})
# A saved page token older than this may have expired: the window is searched from page one.
_PAGE_TOKEN_LIFETIME = timedelta(minutes=30)


class Retracker(Protocol):
    """A tracking source that can restart numbers it stopped following (17TRACK)."""

    async def retrack(
        self, requests: Sequence[TrackRequest]
    ) -> Mapping[ShipmentKey, TrackingError | None]:
        """None per number tracked again, else why not; raises ``ProviderError`` when the
        whole call failed."""
        ...


@dataclass(frozen=True, slots=True)
class _SearchPlace:
    """Where an order search stands: its window ``[since, until)`` and the next page."""

    since: datetime
    until: datetime
    token: str = ""
    saved_at: datetime | None = None

    def dump(self, now: datetime) -> str:
        return json.dumps(
            {
                "since": self.since.isoformat(),
                "until": self.until.isoformat(),
                "token": self.token,
                "saved_at": now.isoformat(),
            }
        )

    @classmethod
    def load(cls, text: str) -> _SearchPlace | None:
        try:
            doc = json.loads(text)
            return cls(
                datetime.fromisoformat(doc["since"]),
                datetime.fromisoformat(doc["until"]),
                str(doc.get("token") or ""),
                datetime.fromisoformat(doc["saved_at"]) if doc.get("saved_at") else None,
            )
        except (ValueError, TypeError, KeyError):
            return None


@dataclass(frozen=True, slots=True)
class SyncStats:
    """What one order search did."""

    indexed: int = 0
    new: int = 0
    registered: int = 0
    alerts: int = 0


class ServiceSink:
    """``WebhookSink`` over the real service, provider, database and (optional) shop.

    ``provider`` is the service's own provider: shop parcels are tracked through
    ``ParcelService.track_batch``.
    """

    def __init__(
        self,
        service: ParcelService,
        provider: TrackingProvider,
        db: Database,
        clock: Clock,
        *,
        shop: TikTokShopClient | None = None,
        retracker: Retracker | None = None,
    ) -> None:
        self._service = service
        self._provider = provider
        self._db = db
        self._clock = clock
        self._shop = shop
        self._retracker = retracker

    # -- tracking pushes --

    async def ingest(self, shipments: Sequence[Shipment]) -> int:
        """Store pushed snapshots like polled ones; return how many alerts were queued."""
        keyed = []
        for pushed in shipments:
            if pushed.carrier:
                keyed.append(pushed)
                continue
            carrier = await self.carrier_for(pushed.number)
            if carrier:
                keyed.append(replace(pushed, carrier=carrier))
            else:
                log.info("pushed parcel skipped: its carrier could not be told")
        if not keyed:
            return 0
        if isinstance(self._provider, EstimatingProvider):
            keyed = await self._provider.enrich(keyed)
        stats = await self._service.ingest(keyed, webhook=True)
        return stats.alerts

    async def carrier_for(self, number: str) -> str:
        """Our carrier code for a number no provider named; "" when nothing tells."""
        indexed = await self._db.order_index.find(number)
        if indexed is not None and indexed.carrier:
            return indexed.carrier
        matches = carriers.detect(number, include_invalid=False)
        codes = list(dict.fromkeys(match.carrier.code for match in matches))
        if not codes:
            return ""
        keys = [ShipmentKey(code, TrackingNumber(number)) for code in codes]
        # A parcel someone already follows wins over a mere format match.
        followed = await self._db.subscriptions.subscribers(keys)
        stored = await self._db.shipments.get_many(keys)
        for key in keys:
            if key in followed or key in stored:
                return key.carrier
        return codes[0]

    # -- TikTok Shop --

    async def order_event(self, event: WebhookEvent) -> None:
        """Re-read what the push is about, update the index, register and refresh its parcels.

        Raises ``ProviderError`` when TikTok or the tracking provider fails as a whole, so the
        push is answered 500 and TikTok sends it again.
        """
        if event.type == _DEAUTHORISED:
            log.warning("TikTok Shop %s withdrew the app's authorisation", event.shop_id)
            return
        if event.type == _AUTH_EXPIRING:
            log.warning(
                "TikTok Shop %s: the seller must authorise the app again soon", event.shop_id
            )
            return
        if self._shop is None or event.type not in ORDER_EVENT_TYPES:
            return
        if self._shop.shop_id and event.shop_id and event.shop_id != self._shop.shop_id:
            log.info("TikTok Shop push for another shop ignored")
            return
        now = self._clock.now()
        entries: dict[str, IndexedParcel] = {}
        promises: dict[str, datetime] = {}
        order_ids = _order_ids(event)
        if order_ids:
            orders = await self._shop.get_orders(order_ids)
            for order in orders.values():
                if order.status in _SKIP_ORDERS:
                    continue
                for request in order.shipments:
                    entries[request.number] = IndexedParcel(
                        request.number,
                        request.carrier,
                        event.shop_id or self._shop.shop_id,
                        order.order_id,
                        "",
                        now,
                    )
                    if order.promised_by is not None:
                        promises[request.number] = order.promised_by
        for package_id in event.package_ids:
            package = await self._shop.get_package(package_id)
            if not package.number:
                continue
            known = entries.get(package.number)
            order_id = package.order_ids[0] if package.order_ids else None
            if order_id is None and known is None:
                continue
            entries[package.number] = IndexedParcel(
                package.number,
                package.carrier or (known.carrier if known else ""),
                event.shop_id or self._shop.shop_id,
                order_id or (known.order_id if known else OrderId("")),
                package.package_id or package_id,
                now,
            )
        if not entries:
            return
        await self._db.order_index.upsert(list(entries.values()))
        await self.register(list(entries.values()), promises)

    async def sync_orders(self, *, max_pages: int = 100, page_size: int = 50) -> SyncStats:
        """Index every order updated since the last sync; register the numbers new to it.

        A search covers the window ``[since, until)``: ``since`` is the last completed
        window's end minus a small overlap (a day back the first time), ``until`` the moment
        the search began (a fixed end keeps the pages stable while they are read). Each page
        is indexed, its new numbers registered with the tracking provider, and only then the
        next page token saved (``SYNC_PAGE_KEY``). A page that fails raises ``ProviderError``
        with the place kept, so the next run asks that page again and a restart resumes there.
        When the last page is done the cursor (``SYNC_KEY``) moves to ``until``. At most
        ``max_pages`` pages per run; the search continues at the next run.
        """
        if self._shop is None:
            return SyncStats()
        place = await self._search_place()
        indexed = new = alerts = 0
        for _ in range(max(1, max_pages)):
            page = await self._shop.search_page(
                updated_from=place.since,
                updated_to=place.until,
                page_size=page_size,
                page_token=place.token,
            )
            now = self._clock.now()
            rows = list({e.number: _indexed(e, now) for e in page.entries}.values())
            known = await self._db.order_index.known([row.number for row in rows])
            fresh = [row for row in rows if row.number not in known]
            # Registered before they are indexed: if that fails, they are still new next time.
            alerts += await self.register(fresh, {}) if fresh else 0
            await self._db.order_index.upsert(rows)
            indexed, new = indexed + len(rows), new + len(fresh)
            if not page.next_page_token:
                await self._db.meta.set(SYNC_KEY, place.until.isoformat())
                await self._db.meta.delete(SYNC_PAGE_KEY)
                log.info("order index: %d numbers seen, %d new", indexed, new)
                return SyncStats(indexed=indexed, new=new, registered=new, alerts=alerts)
            place = replace(place, token=page.next_page_token)
            await self._db.meta.set(SYNC_PAGE_KEY, place.dump(now))
        log.info("order index: %d numbers seen, %d new; the search goes on next run", indexed, new)
        return SyncStats(indexed=indexed, new=new, registered=new, alerts=alerts)

    async def _search_place(self) -> _SearchPlace:
        """The unfinished search to resume, else a new one from the last cursor to now."""
        now = self._clock.now()
        saved = await self._db.meta.get(SYNC_PAGE_KEY)
        place = _SearchPlace.load(saved) if saved else None
        if place is not None:
            if place.saved_at is None or now - place.saved_at > _PAGE_TOKEN_LIFETIME:
                place = replace(place, token="")
            return place
        cursor = await self._db.meta.get(SYNC_KEY)
        since = datetime.fromisoformat(cursor) - _SYNC_OVERLAP if cursor else now - _FIRST_SYNC
        return _SearchPlace(since, now)

    # -- 17TRACK stopped following a number --

    async def tracking_stopped(self, number: str, carrier: str) -> str:
        """React to ``TRACKING_STOPPED``; return what was done ("ignored", "retracked",
        "polling").

        Nothing happens for a parcel nobody follows or whose journey ended. Otherwise the
        parcel is polled again at the normal pace from now on (``ParcelService.push_stopped``)
        and, when a retracker is configured, 17TRACK is asked to restart it so pushes resume.
        A refused or failed restart leaves the parcel on polling.
        """
        carrier = carrier or await self.carrier_for(number)
        if not carrier:
            log.info("stopped parcel skipped: its carrier could not be told")
            return "ignored"
        request = TrackRequest(TrackingNumber(number), carrier)
        if not await self._service.push_stopped([request.key]):
            return "ignored"
        if self._retracker is None:
            log.info("tracking source stopped a followed %s parcel; it is polled now", carrier)
            return "polling"
        try:
            outcome = await self._retracker.retrack([request])
        except ProviderError as err:
            log.warning("retrack of a stopped %s parcel failed (%s); it is polled", carrier, err)
            return "polling"
        error = outcome.get(request.key, ProviderError())
        if error is not None:
            log.info(
                "a stopped %s parcel cannot be restarted (%s); it is polled now",
                carrier,
                type(error).__name__,
            )
            return "polling"
        return "retracked"

    async def register(
        self, parcels: Sequence[IndexedParcel], promises: Mapping[str, datetime]
    ) -> int:
        """Ask the provider about shop parcels (registering new ones with it) and store what
        it answers through the poll path; return the alerts queued."""
        if promises:
            # A shop's promise is kept for the chats that proved the order, never on the
            # parcel (``core.privacy``).
            await self._db.orders.update_promises(promises)
        requests: dict[ShipmentKey, TrackRequest] = {}
        for parcel in parcels:
            carrier = parcel.carrier or await self.carrier_for(parcel.number)
            if not carrier:
                log.info("shop parcel skipped: its carrier could not be told")
                continue
            request = TrackRequest(parcel.number, carrier)
            requests[request.key] = request
        if not requests:
            return 0
        shipments: list[Shipment] = []
        items = list(requests.values())
        size = max(1, self._provider.max_batch)
        for start in range(0, len(items), size):
            # Through the service, so the call counts towards the source's outage report.
            batch = await self._service.track_batch(items[start : start + size])
            for key, error in batch.errors.items():
                if isinstance(error, TrackingError):
                    log.info("shop parcel %s not tracked: %s", key.carrier, type(error).__name__)
            shipments.extend(batch.shipments.values())
        if not shipments:
            return 0
        stats = await self._service.ingest(shipments, webhook=False)
        return stats.alerts


def _order_ids(event: WebhookEvent) -> list[OrderId]:
    """Every order id a push names: its own, and those of the packages it lists."""
    found = [event.order_id] if event.order_id else []
    for package in event.data.get("package_list") or []:
        if isinstance(package, Mapping):
            for order_id in package.get("order_id_list") or []:
                if str(order_id).strip():
                    found.append(str(order_id).strip())
    return [OrderId(order_id) for order_id in dict.fromkeys(found)]


def _indexed(entry: IndexEntry, at: datetime) -> IndexedParcel:
    return IndexedParcel(
        entry.number, entry.carrier, entry.shop_id, entry.order_id, entry.package_id, at
    )

"""Keeping the shop's tracking number → order index current, and its parcels tracked.

What lives here: ``ShopSync``, the ``core.ports.ShopEvents`` of a shop that can be searched
(TikTok Shop).

- ``order_event`` reacts to a shop's push. The shop sends no tracking events, so the order
  (and, for package events, the package) is read again; its tracking numbers go into the
  order index and are sent to the tracking source, which registers numbers it does not know,
  and the snapshots it answers with go through the same path as a poll.
- ``sync_orders`` does the same for every order updated since the last sync (the shop's
  order search), because pushes alone may miss updates. It goes page by page and saves its
  place after each one (``KeyValueStore``): a failed page is asked again at the next run, a
  restart resumes where the last run stopped, and the update-time cursor moves only once the
  whole window is indexed.

What it may import: the standard library, ``core.models``, ``core.ports``, ``core.errors`` and
``core.pushes`` (carrier picking). The shop, the index, the cursor store and the refresh
pipeline come in through ports (import-linter holds it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from core.errors import TrackingError
from core.models import (
    IndexedParcel,
    OrderId,
    OrderStatus,
    Shipment,
    ShipmentKey,
    ShopPush,
    ShopPushKind,
    SyncStats,
    TrackRequest,
)
from core.ports import Clock, KeyValueStore, ParcelRefresh, ShopIndexEntry, ShopSource, Store
from core.pushes import carrier_for

__all__ = ["SYNC_KEY", "SYNC_PAGE_KEY", "ShopSync"]

log = logging.getLogger(__name__)

SYNC_KEY = "tiktok_shop.index_synced_at"
"""Cursor key: when the order index was last brought up to date by a search."""

SYNC_PAGE_KEY = "tiktok_shop.index_sync_page"
"""Cursor key: the unfinished search (its window and the next page token), if any."""

_FIRST_SYNC = timedelta(days=1)
# Searches overlap the previous one a little: an order updated during a search is not lost.
_SYNC_OVERLAP = timedelta(minutes=5)
_SKIP_ORDERS = frozenset({OrderStatus.CANCELLED, OrderStatus.UNPAID})
# A saved page token older than this may have expired: the window is searched from page one.
_PAGE_TOKEN_LIFETIME = timedelta(minutes=30)


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


class ShopSync:
    """``ShopEvents`` and the periodic order search over one shop.

    ``max_batch`` is the most numbers the tracking source takes in one call: shop parcels
    are tracked through ``ParcelRefresh.track_batch`` in batches of that size.
    """

    def __init__(
        self,
        refresh: ParcelRefresh,
        store: Store,
        cursors: KeyValueStore,
        clock: Clock,
        shop: ShopSource,
        *,
        max_batch: int,
    ) -> None:
        self._refresh = refresh
        self._store = store
        self._cursors = cursors
        self._clock = clock
        self._shop = shop
        self._max_batch = max(1, max_batch)

    async def order_event(self, push: ShopPush) -> None:
        """Re-read what the push is about, update the index, register and refresh its parcels.

        Raises ``ProviderError`` when the shop or the tracking source fails as a whole, so the
        push is answered 500 and the shop sends it again.
        """
        if push.kind is not ShopPushKind.ORDER:
            return
        if self._shop.shop_id and push.shop_id and push.shop_id != self._shop.shop_id:
            log.info("TikTok Shop push for another shop ignored")
            return
        now = self._clock.now()
        shop_id = push.shop_id or self._shop.shop_id
        entries: dict[str, IndexedParcel] = {}
        promises: dict[str, datetime] = {}
        if push.order_ids:
            orders = await self._shop.get_orders(push.order_ids)
            for order in orders.values():
                if order.status in _SKIP_ORDERS:
                    continue
                for request in order.shipments:
                    entries[request.number] = IndexedParcel(
                        request.number, request.carrier, shop_id, order.order_id, "", now
                    )
                    if order.promised_by is not None:
                        promises[request.number] = order.promised_by
        for package_id in push.package_ids:
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
                shop_id,
                order_id or (known.order_id if known else OrderId("")),
                package.package_id or package_id,
                now,
            )
        if not entries:
            return
        await self._store.order_index.upsert(list(entries.values()))
        await self.register(list(entries.values()), promises)

    async def sync_orders(self, *, max_pages: int = 100, page_size: int = 50) -> SyncStats:
        """Index every order updated since the last sync; register the numbers new to it.

        A search covers the window ``[since, until)``: ``since`` is the last completed
        window's end minus a small overlap (a day back the first time), ``until`` the moment
        the search began (a fixed end keeps the pages stable while they are read). Each page
        is indexed, its new numbers registered with the tracking source, and only then the
        next page token saved (``SYNC_PAGE_KEY``). A page that fails raises ``ProviderError``
        with the place kept, so the next run asks that page again and a restart resumes there.
        When the last page is done the cursor (``SYNC_KEY``) moves to ``until``. At most
        ``max_pages`` pages per run; the search continues at the next run.
        """
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
            known = await self._store.order_index.known([row.number for row in rows])
            fresh = [row for row in rows if row.number not in known]
            # Registered before they are indexed: if that fails, they are still new next time.
            alerts += await self.register(fresh, {}) if fresh else 0
            await self._store.order_index.upsert(rows)
            indexed, new = indexed + len(rows), new + len(fresh)
            if not page.next_page_token:
                await self._cursors.set(SYNC_KEY, place.until.isoformat())
                await self._cursors.delete(SYNC_PAGE_KEY)
                log.info("order index: %d numbers seen, %d new", indexed, new)
                return SyncStats(indexed=indexed, new=new, registered=new, alerts=alerts)
            place = replace(place, token=page.next_page_token)
            await self._cursors.set(SYNC_PAGE_KEY, place.dump(now))
        log.info("order index: %d numbers seen, %d new; the search goes on next run", indexed, new)
        return SyncStats(indexed=indexed, new=new, registered=new, alerts=alerts)

    async def _search_place(self) -> _SearchPlace:
        """The unfinished search to resume, else a new one from the last cursor to now."""
        now = self._clock.now()
        saved = await self._cursors.get(SYNC_PAGE_KEY)
        place = _SearchPlace.load(saved) if saved else None
        if place is not None:
            if place.saved_at is None or now - place.saved_at > _PAGE_TOKEN_LIFETIME:
                place = replace(place, token="")
            return place
        cursor = await self._cursors.get(SYNC_KEY)
        since = datetime.fromisoformat(cursor) - _SYNC_OVERLAP if cursor else now - _FIRST_SYNC
        return _SearchPlace(since, now)

    async def register(
        self, parcels: Sequence[IndexedParcel], promises: Mapping[str, datetime]
    ) -> int:
        """Ask the tracking source about shop parcels (registering new ones with it) and
        store what it answers through the poll path; return the alerts queued."""
        if promises:
            # A shop's promise is kept for the chats that proved the order, never on the
            # parcel (``core.privacy``).
            await self._store.orders.update_promises(promises)
        requests: dict[ShipmentKey, TrackRequest] = {}
        for parcel in parcels:
            carrier = parcel.carrier or await carrier_for(self._store, parcel.number)
            if not carrier:
                log.info("shop parcel skipped: its carrier could not be told")
                continue
            request = TrackRequest(parcel.number, carrier)
            requests[request.key] = request
        if not requests:
            return 0
        shipments: list[Shipment] = []
        items = list(requests.values())
        for start in range(0, len(items), self._max_batch):
            # Through the refresh, so the call counts towards the source's outage report.
            batch = await self._refresh.track_batch(items[start : start + self._max_batch])
            for key, error in batch.errors.items():
                if isinstance(error, TrackingError):
                    log.info("shop parcel %s not tracked: %s", key.carrier, type(error).__name__)
            shipments.extend(batch.shipments.values())
        if not shipments:
            return 0
        stats = await self._refresh.ingest(shipments, webhook=False)
        return stats.alerts


def _indexed(entry: ShopIndexEntry, at: datetime) -> IndexedParcel:
    return IndexedParcel(
        entry.number, entry.carrier, entry.shop_id, entry.order_id, entry.package_id, at
    )

"""Verified pushes from tracking sources and shops, through the same path as a poll.

What lives here:

- ``Pushes``, the ``core.ports.PushReceiver`` the webhook server and the push inbox hand
  parsed pushes to. ``ingest`` takes pushed snapshots (17TRACK, AfterShip): a snapshot whose
  carrier the source did not name is first given one (``carrier_for``), because parcels are
  keyed by (carrier, number); then it gets its arrival window and goes through the refresh
  pipeline like a poll result. ``tracking_stopped`` handles a source that stopped following
  a number (17TRACK's ``TRACKING_STOPPED``: about 30 days without news, 15 after delivery, or
  on request): a parcel someone still follows goes back to regular polling at once and the
  source is asked to restart it (``Retracker``, allowed once per number); it is never
  silently dropped. ``order_event`` hands a shop's push to the shop side
  (``core.shop_sync``).
- ``carrier_for``: our carrier code for a number no source named (the order index, then a
  parcel already stored or followed under one of the detected carriers, then the best
  detected match). The shop side uses it too.

What it may import: the standard library, ``core.models``, ``core.ports``, ``core.errors`` and
``core.carriers`` (detection). The refresh pipeline, the estimator, storage and the sources
come in through ports; never the use cases, providers, storage or adapters (import-linter
holds it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from core import carriers
from core.errors import ProviderError
from core.models import Shipment, ShipmentKey, ShopPush, ShopPushKind, TrackingNumber, TrackRequest
from core.ports import Estimator, ParcelRefresh, Retracker, ShopEvents, Store

__all__ = ["Pushes", "carrier_for"]

log = logging.getLogger(__name__)


async def carrier_for(store: Store, number: str) -> str:
    """Our carrier code for a number no source named; "" when nothing tells."""
    indexed = await store.order_index.find(number)
    if indexed is not None and indexed.carrier:
        return indexed.carrier
    matches = carriers.detect(number, include_invalid=False)
    codes = list(dict.fromkeys(match.carrier.code for match in matches))
    if not codes:
        return ""
    keys = [ShipmentKey(code, TrackingNumber(number)) for code in codes]
    # A parcel someone already follows wins over a mere format match.
    followed = await store.subscriptions.subscribers(keys)
    stored = await store.shipments.get_many(keys)
    for key in keys:
        if key in followed or key in stored:
            return key.carrier
    return codes[0]


class Pushes:
    """``PushReceiver`` over the refresh pipeline, the store and the optional parts.

    ``estimator`` gives pushed snapshots their arrival window (None: they keep what they
    carry); ``retracker`` restarts stopped numbers (None: they are polled); ``shop`` takes
    shop pushes (None: they are ignored, apart from the authorisation warnings).
    """

    def __init__(
        self,
        refresh: ParcelRefresh,
        store: Store,
        *,
        estimator: Estimator | None = None,
        retracker: Retracker | None = None,
        shop: ShopEvents | None = None,
    ) -> None:
        self._refresh = refresh
        self._store = store
        self._estimator = estimator
        self._retracker = retracker
        self._shop = shop

    async def ingest(self, shipments: Sequence[Shipment]) -> int:
        """Store pushed snapshots like polled ones; return how many alerts were queued."""
        keyed = []
        for pushed in shipments:
            if pushed.carrier:
                keyed.append(pushed)
                continue
            carrier = await carrier_for(self._store, pushed.number)
            if carrier:
                keyed.append(replace(pushed, carrier=carrier))
            else:
                log.info("pushed parcel skipped: its carrier could not be told")
        if not keyed:
            return 0
        if self._estimator is not None:
            keyed = await self._estimator.enrich(keyed)
        stats = await self._refresh.ingest(keyed, webhook=True)
        return stats.alerts

    async def carrier_for(self, number: str) -> str:
        """``carrier_for`` on this receiver's store."""
        return await carrier_for(self._store, number)

    async def order_event(self, push: ShopPush) -> None:
        """Hand a shop's order push to the shop side; warn when the seller's authorisation
        is gone or about to go. Raises what the shop side raises (``ProviderError``), so
        the push is answered 500 and sent again."""
        if push.kind is ShopPushKind.DEAUTHORISED:
            log.warning("TikTok Shop %s withdrew the app's authorisation", push.shop_id)
            return
        if push.kind is ShopPushKind.AUTH_EXPIRING:
            log.warning(
                "TikTok Shop %s: the seller must authorise the app again soon", push.shop_id
            )
            return
        if self._shop is not None and push.kind is ShopPushKind.ORDER:
            await self._shop.order_event(push)

    async def tracking_stopped(self, number: str, carrier: str) -> str:
        """React to a source that stopped following a number; return what was done
        ("ignored", "retracked", "polling").

        Nothing happens for a parcel nobody follows or whose journey ended. Otherwise the
        parcel is polled again at the normal pace from now on (``ParcelRefresh.push_stopped``)
        and, when a retracker is configured, the source is asked to restart it so pushes
        resume. A refused or failed restart leaves the parcel on polling.
        """
        carrier = carrier or await carrier_for(self._store, number)
        if not carrier:
            log.info("stopped parcel skipped: its carrier could not be told")
            return "ignored"
        request = TrackRequest(TrackingNumber(number), carrier)
        if not await self._refresh.push_stopped([request.key]):
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

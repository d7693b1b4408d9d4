"""The refresh pipeline: asking the sources about parcels and storing what they say.

``Refresher`` is built by ``ParcelService`` with the same ports and owns everything between a
source's answer and the outbox:

- fetching a parcel for a person (``fetch``, ``answer``): the stored snapshot while it is fresh
  or its source is failing, else the source asked under a deadline (``stale_deadline`` /
  ``fresh_deadline``), the stored snapshot answering when the source cannot;
- enrichment: first seen, the open incident (``core.incidents``), the next check
  (``core.polling``), the alerts the change deserves (``core.alerts``), per chat estimate and
  lateness news (``core.eta.news``) and each follower's preference;
- ``poll_due``: due parcels in full batches per underlying source (``Routing``), one batch in
  flight per source, sources side by side, each call counted towards the source's health
  (``SourceHealth``); ``ingest``: pushed snapshots through the same path; ``track_batch``:
  one counted call for parts outside the poll (shop sync);
- ``archive_due``: finished parcels archived, never-scanned ones expired with one last alert;
- ``push_stopped``: parcels a push source stopped following go back to normal polling.

Each snapshot is stored with its alerts in one transaction (``ShipmentRepository.save_many``);
``on_queued`` is called whenever alerts were queued, so delivery starts at once. It implements
``core.ports.ParcelRefresh`` for ``core.pushes`` and ``core.shop_sync``. Imports the domain
modules, ``core.eta.news``, ``core.ports`` and ``core.sources``; never the use cases
(``core.service``) or the adapters.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from core import alerts, incidents, polling, preferences
from core.config import ServiceConfig
from core.cooperative import Breather
from core.errors import (
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    ShipmentNotFound,
    TrackingError,
)
from core.eta import news as eta_news
from core.models import (
    Alert,
    ChatRef,
    ChatSettings,
    DueParcels,
    EtaTold,
    PollStats,
    Shipment,
    ShipmentKey,
    SnapshotWrite,
    Status,
    Subscription,
    TrackBatch,
    TrackRequest,
)
from core.ports import Clock, Store, TrackingProvider
from core.sources import Sources

__all__ = ["Refresher"]

log = logging.getLogger(__name__)

Tell = tuple[ChatRef, ShipmentKey, EtaTold]
"""What a chat was told about a parcel's arrival (``SubscriptionRepository.tell_many``)."""


class Refresher:
    """The refresh pipeline. See the module docstring."""

    def __init__(
        self,
        *,
        provider: TrackingProvider,
        store: Store,
        clock: Clock,
        sources: Sources,
        config: ServiceConfig,
        rng: random.Random,
        on_queued: Callable[[], None],
    ) -> None:
        """``provider`` answers every tracking call; ``sources`` names the source behind each
        carrier and keeps their health; ``on_queued`` is called after alerts were queued."""
        self._provider = provider
        self._store = store
        self._clock = clock
        self._sources = sources
        self._health = sources.health
        self._config = config
        self._rng = rng
        self._on_queued = on_queued
        self._next_housekeeping: datetime | None = None
        self._default_settings = ChatSettings(timezone=config.default_timezone)
        # Unclaimed poll cycles (no ``poll_lease``) run one at a time.
        self._polling = asyncio.Lock()

    async def poll_due(self, limit: int = 500) -> PollStats:
        """Refresh the parcels that are due, store snapshots and queue alerts (one transaction).

        Up to ``limit`` due parcels are taken oldest-due first and grouped into full batches
        per underlying provider; each provider gets one batch at a time (its client enforces
        the rate limit), providers run side by side. Each parcel is asked for once however many
        chats follow it; results fan out to every subscriber. A batch that fails is retried
        later and stops that provider for this cycle (its untried parcels stay due, first in
        line). Parcels nobody follows any more are unscheduled. Every ``housekeeping_every``
        the archive is tidied too (``archive_due``). With ``ServiceConfig.poll_lease`` (several
        pollers on one database) the parcels taken are claimed for that long; without, this
        process's cycles run one at a time.
        """
        lease = self._config.poll_lease
        if lease is not None:
            return await self._poll_due(limit, lease)
        # The database's only poller: cycles of this process take turns instead of claiming.
        async with self._polling:
            return await self._poll_due(limit, None)

    async def _poll_due(self, limit: int, lease: timedelta | None) -> PollStats:
        """``poll_due``; with ``lease`` the parcels taken are claimed for that long."""
        now = self._clock.now()
        archived = 0
        if self._next_housekeeping is None or now >= self._next_housekeeping:
            self._next_housekeeping = now + self._config.housekeeping_every
            archived = await self.archive_due()
        # Claimed when several pollers (processes) share the database: each gets its own.
        due = await self._store.shipments.due_parcels(
            now,
            limit,
            now - self._config.webhook_trust,
            now + lease if lease is not None else None,
        )
        if not due.keys:
            return PollStats(archived=archived)
        followed, fed = due.followed, due.pushed
        for key in due.keys:
            if key not in followed:
                await self._store.shipments.schedule(key, None)
        keys = [key for key in due.keys if key in followed]
        if not keys:
            return PollStats(archived=archived)
        old = await self._store.shipments.get_many(keys)
        requests: list[TrackRequest] = []
        # The stored key objects themselves: dictionary lookups by an identical key skip the
        # dataclass equality check that a rebuilt ``request.key`` would need.
        key_of: dict[int, ShipmentKey] = {}
        # A request costs a couple of microseconds, and a cycle makes a thousand: in slices.
        breathe = Breather()
        for key in keys:
            await breathe()
            stored = old.get(key)
            request = TrackRequest(
                key.number, key.carrier, stored.first_seen if stored is not None else None
            )
            requests.append(request)
            key_of[id(request)] = key
        results = await self._track_grouped(requests)
        tried = sum(len(chunk) for chunk, _batch, _failure in results)
        # Each request goes into one chunk at most: when every one was tried (nearly always),
        # there is nothing to hand back, and no need to look at each.
        if tried < len(requests) and due.due_at:
            asked = {id(request) for chunk, _batch, _failure in results for request in chunk}
            for request in requests:
                key = key_of[id(request)]
                if id(request) not in asked and key in due.due_at:
                    # Not asked this cycle (its source stopped): due again as it was, first in
                    # line (an unclaimed parcel never stopped being due: ``due_at`` is empty).
                    await self._store.shipments.schedule(key, due.due_at[key])
        writes: list[SnapshotWrite] = []
        # The key of each write, as ``due`` holds it (``writes[i]`` is ``write_keys[i]``'s).
        write_keys: list[ShipmentKey] = []
        # (index in writes, key, alerts) of the snapshots that caused alerts: only their
        # subscribers (and those chats' settings) are read, once for the whole cycle.
        alerting: list[tuple[int, ShipmentKey, list[Alert]]] = []
        errors = changed = calls = 0
        for chunk, batch, failure in results:
            calls += 1
            if batch is None:
                retry = now + _retry_delay(failure, self._config.error_retry)
                for request in chunk:
                    await self._store.shipments.schedule(request.key, retry)
                errors += len(chunk)
                continue
            for request in chunk:
                await breathe()
                key = key_of[id(request)]
                fresh = batch.shipments.get(key)
                if fresh is None:
                    errors += 1
                    delay = _retry_delay(batch.errors.get(key), self._config.error_retry)
                    await self._store.shipments.schedule(key, now + delay)
                    continue
                previous = old.get(key)
                write, found = self._enrich(
                    previous, fresh, now, followed=True, webhook_fed=key in fed
                )
                if previous is None or write.shipment.events != previous.events:
                    changed += 1
                if found:
                    alerting.append((len(writes), key, found))
                writes.append(write)
                write_keys.append(key)
        alerting, promises, quiet = await self._judged_per_chat(
            writes, alerting, old, due, now, keys=write_keys
        )
        epochs = due.news_epoch
        for index in quiet:
            # Judged without reading its followers: no estimate and no promise to judge.
            write = writes[index]
            epoch = epochs.get(write_keys[index])
            if epoch is not None:
                writes[index] = SnapshotWrite(
                    write.shipment, write.next_check_at, write.alerts, eta_news.NEWS_NEVER, epoch
                )
        tells: list[Tell] = []
        if alerting:
            subscribers = await self._store.subscriptions.subscribers(
                [key for _index, key, _found in alerting]
            )
            settings = await self._settings_for(subscribers.values())
            for index, key, found in alerting:
                # Per-chat news for a parcel costs tens of microseconds, and most parcels of a
                # cycle whose scans changed have some.
                await breathe()
                news: list[datetime] = []
                pairs = self._pairs(
                    found,
                    subscribers.get(key, ()),
                    settings,
                    writes[index].shipment,
                    now,
                    promises=promises.get(key, {}),
                    news_due=news,
                    tells=tells,
                )
                epoch = epochs.get(key)
                # Built whole: a copy with changes (``_replace``) costs more, and this runs
                # for every alerting parcel of a cycle.
                write = writes[index]
                if epoch is not None:
                    writes[index] = SnapshotWrite(
                        write.shipment,
                        write.next_check_at,
                        pairs,
                        min(news, default=eta_news.NEWS_NEVER),
                        epoch,
                    )
                elif pairs:
                    writes[index] = SnapshotWrite(
                        write.shipment,
                        write.next_check_at,
                        pairs,
                        write.news_due_at,
                        write.news_epoch,
                    )
        added = await self._save_many(writes, tells) if writes else 0
        return PollStats(
            checked=tried,
            changed=changed,
            alerts=added,
            errors=errors,
            calls=calls,
            archived=archived,
        )

    async def ingest(self, shipments: Sequence[Shipment], *, webhook: bool = True) -> PollStats:
        """Store pushed snapshots (webhooks) exactly as if a poll had fetched them.

        Same enrichment, alerts, preferences and outbox transaction as ``poll_due``. With
        ``webhook`` the parcels are marked as pushed, so until pushes stop for
        ``webhook_trust`` they are polled only as a daily safety net. Parcels nobody tracks
        are ignored; a push older than the stored snapshot (fewer events and an older latest
        scan) is skipped. Never raises for one bad snapshot's content; returns what it did.
        """
        now = self._clock.now()
        latest: dict[ShipmentKey, Shipment] = {}
        for shipment in shipments:
            # Pushes sent close together can arrive (and be stored) out of order: per parcel
            # the newest counts, not the last in the list.
            kept = latest.get(shipment.key)
            if kept is None or not _older(shipment, kept):
                latest[shipment.key] = shipment
        keys = list(latest)
        if not keys:
            return PollStats()
        old = await self._store.shipments.get_many(keys)
        subscribers = await self._store.subscriptions.subscribers(keys)
        settings = await self._settings_for(subscribers.values())
        promises = await self._store.orders.promises(list(subscribers))
        writes: list[SnapshotWrite] = []
        tells: list[Tell] = []
        changed = skipped = 0
        breathe = Breather()
        for key, fresh in latest.items():
            await breathe()
            previous = old.get(key)
            followers = subscribers.get(key, [])
            if previous is None and not followers:
                skipped += 1
                continue
            if previous is not None and _older(fresh, previous):
                skipped += 1
                continue
            write = self._snapshot(
                previous,
                fresh,
                now,
                followers,
                settings,
                webhook_fed=webhook,
                promises=promises.get(key),
                tells=tells,
            )
            if not followers:
                write = write._replace(next_check_at=None)
            if previous is None or write.shipment.events != previous.events:
                changed += 1
            writes.append(write)
        added = await self._save_many(writes, tells) if writes else 0
        if webhook and writes:
            await self._store.shipments.mark_pushed([w.shipment.key for w in writes], now)
        return PollStats(checked=len(writes), changed=changed, alerts=added, skipped=skipped)

    async def track_batch(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        """Ask the tracking provider once about ``requests``, counting the call per source.

        For parts that ask the provider outside ``poll_due`` and ``track`` (``core.shop_sync``
        registering shop parcels), so that every call feeds the one outage report
        (``SourceHealth``). Raises the provider's ``ProviderError`` when the call failed.
        """
        try:
            batch = await self._provider.track(requests)
        except ProviderError as err:
            self._note_call(requests, None, err)
            raise
        self._note_call(requests, batch, None)
        return batch

    async def push_stopped(self, keys: Sequence[ShipmentKey]) -> list[ShipmentKey]:
        """A push source stopped following these parcels: poll them at the normal pace again.

        Parcels someone follows whose journey has not ended lose their "pushed" mark (so
        polling no longer treats them as webhook-fed and checks them only daily) and are due
        at once; they are returned. Parcels nobody follows, unknown or finished are left alone.
        """
        if not keys:
            return []
        now = self._clock.now()
        subscribers = await self._store.subscriptions.subscribers(keys)
        followed = [key for key in keys if key in subscribers]
        stored = await self._store.shipments.get_many(followed) if followed else {}
        resumed = [key for key in followed if key in stored and not stored[key].is_final]
        if resumed:
            await self._store.shipments.clear_pushed(resumed)
            for key in resumed:
                await self._store.shipments.schedule(key, now)
        return resumed

    async def archive_due(self, limit: int = 500) -> int:
        """Archive finished parcels and expire never-scanned ones; return how many.

        Delivered, returned (and other final) parcels go to the archive ``archive_after``
        their end; parcels with no carrier scan ``expire_after`` after they were first seen
        stop being polled, get one last alert (``alerts.expiry_alert``) and are archived too.
        Safe to repeat: the last alert's dedupe key keeps it to one.
        """
        now = self._clock.now()
        settle = max(self._config.archive_after, alerts.DELIVERY_CHECK_AFTER + timedelta(hours=6))
        keys = await self._store.shipments.finished(
            now - settle, now - self._config.expire_after, limit
        )
        if not keys:
            return 0
        snapshots = await self._store.shipments.get_many(keys)
        subscribers = await self._store.subscriptions.subscribers(keys)
        settings = await self._settings_for(subscribers.values())
        writes: list[SnapshotWrite] = []
        for key in keys:
            shipment = snapshots.get(key)
            if shipment is not None and shipment.status in _UNSCANNED:
                last = alerts.expiry_alert(shipment)
                pairs = self._plain_pairs([last], subscribers.get(key, []), settings)
                writes.append(SnapshotWrite(shipment, None, pairs))
        if writes:
            await self._save_many(writes)
        for key in keys:
            await self._store.subscriptions.archive(key)
        log.info("archived %d parcels (%d never scanned)", len(keys), len(writes))
        return len(keys)

    async def fetch(self, request: TrackRequest) -> Shipment:
        """The parcel's snapshot: the stored one when fresh, else asked from the provider.

        A fresh answer goes through the same path as a poll, so subscribers get the alerts
        for anything it reveals.
        """
        stored = await self._store.shipments.get(request.key)
        return await self.answer(request, stored)

    async def answer(self, request: TrackRequest, stored: Shipment | None) -> Shipment:
        """``_fetch`` for a parcel whose stored snapshot (``stored``) was read already."""
        now = self._clock.now()
        if stored is not None and stored.checked_at is not None:
            fresh_enough = now - stored.checked_at < self._config.refresh_after
            if fresh_enough or stored.is_final:
                return stored
        first_seen = stored.first_seen if stored is not None else request.first_seen or now
        # What answers when the source cannot: the stored snapshot, however old.
        fallback = stored if stored is not None and stored.checked_at is not None else None
        source = self._source_for(request.carrier)
        name = source.name if source is not None else ""
        if fallback is not None and name in self._health.failing:
            return fallback
        deadline = self._config.stale_deadline if fallback else self._config.fresh_deadline
        asked = [replace(request, first_seen=first_seen)]
        try:
            # A person is waiting: the client's full retries would take a minute or more.
            async with asyncio.timeout(deadline.total_seconds()):
                batch = await self.track_batch(asked)
        except TimeoutError as err:
            late = ProviderUnavailable(provider=name)
            self._note_call(asked, None, late)
            if fallback is not None:
                return fallback
            raise late from err
        except ProviderError:
            if fallback is not None:
                return fallback
            raise
        fresh = batch.shipments.get(request.key)
        if fresh is None:
            error = batch.errors.get(request.key)
            if isinstance(error, ProviderError) and fallback is not None:
                return fallback
            if isinstance(error, TrackingError):
                raise error
            raise ShipmentNotFound()
        subs = (await self._store.subscriptions.subscribers([request.key])).get(request.key, [])
        settings = await self._settings_for([subs])
        fed = bool(
            await self._store.shipments.pushed_since(
                [request.key], now - self._config.webhook_trust
            )
        )
        promises = await self._store.orders.promises([request.key]) if subs else {}
        tells: list[Tell] = []
        write = self._snapshot(
            stored,
            fresh,
            now,
            subs,
            settings,
            webhook_fed=fed,
            promises=promises.get(request.key),
            tells=tells,
        )
        if stored is not None and not subs:
            write = write._replace(next_check_at=None)
        await self._save_many([write], tells)
        return write.shipment

    def next_check(
        self,
        shipment: Shipment,
        now: datetime,
        *,
        webhook_fed: bool,
        assessment: incidents.Assessment | None = None,
    ) -> datetime | None:
        """``core.polling.next_check``, never later than ``poll_at_most`` from now."""
        due = polling.next_check(
            shipment, now, self._rng, webhook_fed=webhook_fed, assessment=assessment
        )
        cap = self._config.poll_at_most
        if due is None or cap is None:
            return due
        return min(due, now + cap)

    async def _save_many(self, writes: Sequence[SnapshotWrite], tells: Sequence[Tell] = ()) -> int:
        """Store snapshots with their alerts, then what ``tells`` says chats now know about
        arrivals (``_pairs``); wake the delivery of any alert queued."""
        added = await self._store.shipments.save_many(writes)
        if added:
            self._on_queued()
        await self._store.subscriptions.tell_many(tells)
        return added

    def _snapshot(
        self,
        previous: Shipment | None,
        fresh: Shipment,
        now: datetime,
        subscribers: Sequence[Subscription],
        settings: Mapping[str, ChatSettings],
        *,
        webhook_fed: bool = False,
        promises: Mapping[str, datetime] | None,
        tells: list[Tell],
    ) -> SnapshotWrite:
        """Enrich a provider snapshot (incident, first seen) and work out its alerts for
        ``subscribers``; ``promises`` are the shop's promises on their order links, ``tells``
        gets what chats will know once the alerts are stored (``_pairs``)."""
        write, found = self._enrich(
            previous, fresh, now, followed=bool(subscribers), webhook_fed=webhook_fed
        )
        if subscribers and (found or eta_news.lateness_judged(write.shipment)):
            pairs = self._pairs(
                found, subscribers, settings, write.shipment, now, promises=promises, tells=tells
            )
            if pairs:
                write = write._replace(alerts=pairs)
        return write

    def _enrich(
        self,
        previous: Shipment | None,
        fresh: Shipment,
        now: datetime,
        *,
        followed: bool,
        webhook_fed: bool,
    ) -> tuple[SnapshotWrite, list[Alert]]:
        """The snapshot to store (incident, first seen, promise), its next check (only when
        someone follows the parcel) and the alerts the change deserves, for no chat yet."""
        first_seen = (previous.first_seen if previous else None) or fresh.first_seen or now
        # A promised date is the shop's word to one buyer: it lives on that chat's order link
        # (``OrderLink.promised_by``), never on the parcel every follower reads.
        promised_by = None
        shipment = fresh
        # Most snapshots already carry these values: copying a Shipment is not free.
        if (
            fresh.first_seen is not first_seen
            or fresh.checked_at is not now
            or fresh.promised_by is not promised_by
        ):
            shipment = replace(
                fresh, first_seen=first_seen, checked_at=now, promised_by=promised_by
            )
        # Assessed once: setting the incident changes none of it, so alerts and polling read
        # this value instead of deriving again.
        assessment = incidents.assess(shipment, now)
        incident = assessment.incident
        if incident is not shipment.incident:
            shipment = replace(shipment, incident=incident)
        found = []
        if previous is not None:
            found = alerts.diff(previous, shipment, now, assessment=assessment)
        next_check = (
            self.next_check(shipment, now, webhook_fed=webhook_fed, assessment=assessment)
            if followed
            else None
        )
        return SnapshotWrite(shipment, next_check), found

    async def _judged_per_chat(
        self,
        writes: Sequence[SnapshotWrite],
        alerting: list[tuple[int, ShipmentKey, list[Alert]]],
        old: Mapping[ShipmentKey, Shipment],
        due: DueParcels,
        now: datetime,
        *,
        keys: Sequence[ShipmentKey],
    ) -> tuple[
        list[tuple[int, ShipmentKey, list[Alert]]],
        dict[ShipmentKey, dict[str, datetime]],
        list[int],
    ]:
        """Parcels with news to judge per chat join ``alerting`` (with no alert of their own),
        even when their snapshot did not change: days pass, so a chat's first window or its
        shop's promise can be passed, and an estimate held back a day can be told. Those are
        the parcels that can still be late and have a window or a chat's promise; nobody else's
        subscribers are read. A parcel whose estimate, status and incident are as when its
        followers were last judged waits until news could be due (``DueParcels.news_due_at``,
        ``core.eta.news.next_news_at``). Also returns, per parcel, the promise on each chat's
        order link (by chat key), and the writes judged to have no window or promise to judge.
        ``keys[i]`` is the key of ``writes[i]``.
        """
        # The keys are distinct (one write per due parcel): skip the alerting ones by place.
        alerted = {index for index, _key, _found in alerting}
        news_due = due.news_due_at
        judged = []
        breathe = Breather()
        for index, key in enumerate(keys):
            if index in alerted:
                continue
            await breathe()
            shipment = writes[index].shipment
            if not eta_news.lateness_judged(shipment):
                continue
            until = news_due.get(key)
            if until is not None and now < until and _same_news(old.get(key), shipment):
                continue
            judged.append((key, index))
        open_keys = [*(key for _index, key, _found in alerting), *(key for key, _ in judged)]
        promises = await self._store.orders.promises(open_keys) if open_keys else {}
        more: list[tuple[int, ShipmentKey, list[Alert]]] = []
        quiet: list[int] = []
        for key, index in judged:
            if writes[index].shipment.eta is not None or key in promises:
                more.append((index, key, []))
            else:
                quiet.append(index)
        return [*alerting, *more], promises, quiet

    def _plain_pairs(
        self,
        found: Sequence[Alert],
        subscribers: Sequence[Subscription],
        settings: Mapping[str, ChatSettings],
    ) -> tuple[tuple[ChatRef, Alert], ...]:
        """(chat, alert) for every subscriber whose effective preference wants the alert, with
        no arrival news (a parcel leaving tracking: nothing about its arrival is told)."""
        pairs: list[tuple[ChatRef, Alert]] = []
        for sub in subscribers:
            if sub.archived:
                continue
            chat_settings = settings.get(sub.chat.chat_key) or self._default_settings
            preference = preferences.effective(sub, chat_settings)
            pairs.extend((sub.chat, alert) for alert in found if alerts.wanted(alert, preference))
        return tuple(pairs)

    def _pairs(
        self,
        found: Sequence[Alert],
        subscribers: Sequence[Subscription],
        settings: Mapping[str, ChatSettings],
        shipment: Shipment,
        now: datetime,
        *,
        promises: Mapping[str, datetime] | None,
        tells: list[Tell],
        news_due: list[datetime] | None = None,
    ) -> tuple[tuple[ChatRef, Alert], ...]:
        """(chat, alert) for every subscriber whose effective preference wants the alert.

        Estimate and lateness news are decided per chat against what that chat was last told
        and the shop's promise on its own order link (``promises``, by chat key;
        ``eta_news.chat_alerts``); what each chat then knows goes to ``tells``, for the caller
        to store after the alerts (``_save_many``): per call, so cycles that interleave never
        store each other's. ``tells`` is required so that no caller can drop what chats were
        told by leaving it out. ``news_due`` then gets, per chat, from when it could have news
        again (``eta_news.next_news_at``).
        """
        pairs: list[tuple[ChatRef, Alert]] = []
        for sub in subscribers:
            if sub.archived:
                continue
            chat_key = sub.chat.chat_key
            chat_settings = settings.get(chat_key) or self._default_settings
            preference = preferences.effective(sub, chat_settings)
            promised_by = promises.get(chat_key) if promises else None
            chat_found, told = eta_news.chat_alerts(
                found,
                shipment,
                sub.told,
                now,
                tz=chat_settings.timezone,
                promised_by=promised_by,
            )
            if told is not None and told != sub.told:
                tells.append((sub.chat, sub.key, told))
            if news_due is not None:
                news_due.append(
                    eta_news.next_news_at(
                        shipment,
                        told,
                        now,
                        tz=chat_settings.timezone,
                        promised_by=promised_by,
                    )
                )
            pairs.extend(
                (sub.chat, alert) for alert in chat_found if alerts.wanted(alert, preference)
            )
        return tuple(pairs)

    async def _settings_for(
        self, groups: Iterable[Sequence[Subscription]]
    ) -> dict[str, ChatSettings]:
        chat_keys = sorted({sub.chat.chat_key for group in groups for sub in group})
        if not chat_keys:
            return {}
        zone = self._config.default_timezone
        found = await self._store.chats.settings_many(chat_keys)
        # Chats that never saved settings share one defaults object: zoned once, not per chat
        # (each copy of a dataclass costs microseconds, and a poll reads thousands of chats).
        zoned: dict[int, ChatSettings] = {}
        settings_of: dict[str, ChatSettings] = {}
        for key, settings in found.items():
            done = zoned.get(id(settings))
            if done is None:
                done = zoned[id(settings)] = settings.zoned(zone)
            settings_of[key] = done
        return settings_of

    def _note_call(
        self,
        requests: Sequence[TrackRequest],
        batch: TrackBatch | None,
        error: ProviderError | None,
    ) -> None:
        """Count one provider call towards the health of each source it reached.

        A source failed the call when the call raised, or by ``_call_failure`` (the rule
        ``_track_grouped`` applies to a poll batch); any other answer, even "not found", is a
        success.
        """
        asked: dict[str, list[TrackRequest]] = {}
        for request in requests:
            source = self._source_for(request.carrier)
            if source is not None:
                asked.setdefault(source.name, []).append(request)
        for name, mine in asked.items():
            failure = (error or ProviderError()) if batch is None else _call_failure(batch, mine)
            if failure is not None:
                self._health.failure(name, failure)
            else:
                self._health.success(name)

    def _source_for(self, carrier: str) -> TrackingProvider | None:
        """The source that tracks ``carrier`` (``Routing``)."""
        return self._sources.routing.source_for(carrier)

    async def _track_grouped(
        self, requests: Sequence[TrackRequest]
    ) -> list[tuple[list[TrackRequest], TrackBatch | None, ProviderError | None]]:
        """Ask the provider in full batches per underlying source, oldest-due first.

        Sources run concurrently, one batch in flight each. A failed batch (the whole call
        raised, or every number came back as a source failure) stops its source for this
        cycle; its remaining requests are not tried and stay due.
        """
        groups: dict[str, tuple[int, list[TrackRequest]]] = {}
        # One routing decision per carrier, not per parcel.
        routes: dict[str, tuple[str, int]] = {}
        for request in requests:
            route = routes.get(request.carrier)
            if route is None:
                source = self._source_for(request.carrier)
                name = source.name if source is not None else "unsupported"
                size = max(1, min(self._provider.max_batch, source.max_batch if source else 1000))
                route = routes[request.carrier] = (name, size)
            name, size = route
            groups.setdefault(name, (size, []))[1].append(request)
        results: list[tuple[list[TrackRequest], TrackBatch | None, ProviderError | None]] = []

        async def run(name: str, size: int, items: list[TrackRequest]) -> None:
            breathe = Breather()
            for start in range(0, len(items), size):
                # A source that answers without waiting for anything (the sandbox, one that
                # remembers its answers) runs its calls back to back: give way between them.
                await breathe()
                chunk = items[start : start + size]
                try:
                    batch = await self._provider.track(chunk)
                except ProviderError as err:
                    self._health.failure(name, err)
                    results.append((chunk, None, err))
                    return
                # Every number of a chunk goes to this one source: any snapshot is a success.
                failure = None if batch.shipments else _call_failure(batch, chunk)
                if failure is not None:
                    self._health.failure(name, failure)
                    results.append((chunk, None, failure))
                    return
                self._health.success(name)
                results.append((chunk, batch, None))

        # Untried requests keep their schedule: they stay due, first in line next cycle.
        await asyncio.gather(*(run(name, size, items) for name, (size, items) in groups.items()))
        return results


_UNSCANNED = frozenset({Status.NOT_FOUND, Status.INFO_RECEIVED})


def _same_news(before: Shipment | None, after: Shipment) -> bool:
    """Whether per-chat arrival news judges ``after`` as it judged ``before``: the same
    estimate, status and incident (``core.eta.news`` reads nothing else of a snapshot)."""
    return (
        before is not None
        and before.status is after.status
        and before.incident is after.incident
        and before.eta == after.eta
    )


def _older(pushed: Shipment, stored: Shipment) -> bool:
    """Whether a pushed snapshot is behind the stored one (a late or replayed push)."""
    if len(pushed.events) >= len(stored.events):
        return False
    newest_pushed = max((event.time for event in pushed.events), default=None)
    newest_stored = max((event.time for event in stored.events), default=None)
    if newest_stored is None:
        return False
    return newest_pushed is None or newest_pushed < newest_stored


def _call_failure(batch: TrackBatch, asked: Sequence[TrackRequest]) -> ProviderError | None:
    """Why a call failed for the source asked about ``asked``: none of those numbers came back
    and some came back as a ``ProviderError`` (the first of those); None when it succeeded."""
    failure: ProviderError | None = None
    for request in asked:
        key = request.key
        if key in batch.shipments:
            return None
        error = batch.errors.get(key)
        if failure is None and isinstance(error, ProviderError):
            failure = error
    return failure


def _retry_delay(err: Exception | None, default: timedelta) -> timedelta:
    if isinstance(err, RateLimited):
        return timedelta(seconds=max(err.retry_after, 1.0))
    return default

"""A bounded read-through cache of stored values, valid while nobody else writes.

``ReadCache`` holds values a repository read or committed, keyed as the repository likes,
bounded by an estimate of their size in bytes. It is valid for one *data version* of the
database (SQLite's ``PRAGMA data_version``, which changes when another connection commits):
each read and write hands in the version it saw inside its own transaction
(``check_version``), and a different version — or none, when the backend cannot tell —
empties it. Writes through the repository's own connection leave the version as it is; the
repository tells the cache what they stored (``put``, ``replace``, ``discard``).

When full, a value not cached yet is simply not added (``put``), so a poller cycling through
more parcels than fit keeps hitting the ones it holds instead of evicting each just before it
is needed again; a value already cached is updated in place and becomes the most recently
used, the least recently used ones making room when it grew. The values are kept in an
``OrderedDict``: finding the least recently used in a plain dict whose keys were moved to its
end one by one scans past every slot they left behind, tens of microseconds per eviction at
10,000 entries, and a poll cycle's growing snapshots evict one each.

A write that changes cached values in bulk works out the new ones before it commits and puts
them after, in slices between which other tasks run. Meanwhile the cached values of its parcels
are older than the rows. So the write *holds* those keys from before its commit until each is
settled (``hold``): a held key counts as not cached (``get``, ``read``, ``in``), so readers load
it from the database, and what they load is not cached over the writer's work. The writer
compares a held key's value (``peek``) with the one it started from, and drops the key when
another write got there first.

Counts its hits and misses (``stats``) for the benchmarks that show it pays
(``benchmarks/caches.py``). Imports only the standard library.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["CacheStats", "ReadCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class CacheStats:
    """What a cache did since it was made: keys asked for, found, and times it was emptied."""

    hits: int
    misses: int
    clears: int
    entries: int
    size: int
    """Estimated bytes held."""

    @property
    def hit_rate(self) -> float:
        asked = self.hits + self.misses
        return self.hits / asked if asked else 0.0


class ReadCache(Generic[K, V]):
    """Values by key, at most ``limit`` bytes by ``size_of``; see the module docstring.

    Not thread-safe for changes: change it on the event loop only. Looking a key up from a
    worker thread (``__contains__``, ``get``) is safe: each lookup is one step the
    interpreter lock keeps whole, and a key whose value is being changed meanwhile is held.
    """

    def __init__(self, limit: int, size_of: Callable[[V], int]) -> None:
        self._limit = limit
        self._size_of = size_of
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._size = 0
        self._version: int | None = None
        self._hits = self._misses = self._clears = 0
        # The keys of each write in flight (``hold``): not cached for anyone else meanwhile.
        self._held: list[set[K]] = []

    @property
    def limit(self) -> int:
        """The bound, in estimated bytes (0: nothing is ever kept)."""
        return self._limit

    @property
    def version(self) -> int | None:
        """The data version the cached values belong to."""
        return self._version

    @property
    def size(self) -> int:
        """Estimated bytes held."""
        return self._size

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: K) -> bool:
        """Whether a value is cached for ``key`` (a held key's is not)."""
        return key in self._entries and not (self._held and self._is_held(key))

    def _is_held(self, key: K) -> bool:
        return any(key in keys for keys in self._held)

    def stats(self) -> CacheStats:
        return CacheStats(self._hits, self._misses, self._clears, len(self._entries), self._size)

    def check_version(self, version: int | None) -> None:
        """Empty the cache when the database changed under it since it was filled (always,
        when the backend cannot tell: ``None``)."""
        if version is None or version != self._version:
            self.clear()
            self._version = version

    def clear(self) -> None:
        """Forget everything (another writer, a cancelled write, rows deleted)."""
        if self._entries:
            self._clears += 1
        self._entries.clear()
        self._size = 0

    def get(self, key: K) -> V | None:
        """The cached value (None for a held key), without counting it as a read or changing
        its place."""
        if self._held and self._is_held(key):
            return None
        return self._entries.get(key)

    def peek(self, key: K) -> V | None:
        """The cached value, held or not: for the write that holds ``key``."""
        return self._entries.get(key)

    def hold(self, keys: Iterable[K]) -> set[K]:
        """Hold ``keys`` for a write about to change their rows (see the module docstring)
        until each leaves the returned set (``set.discard``, once the writer settled its
        value) or ``release`` lets them all go."""
        held = set(keys)
        self._held.append(held)
        return held

    def release(self, held: set[K]) -> None:
        """End a ``hold``: the keys still in ``held`` lose their cached values (whatever the
        write left settled stays)."""
        for key in held:
            self.discard(key)
        held.clear()
        self._held = [keys for keys in self._held if keys is not held]

    async def read(
        self,
        keys: Sequence[K],
        version: int | None,
        load: Callable[[list[K]], Awaitable[dict[K, V]]],
    ) -> dict[K, V]:
        """The values of ``keys`` that exist: from the cache, the rest through ``load``.

        ``version`` is the data version seen in the read transaction ``load`` reads in, so
        cached values and loaded rows come from the same state. ``load(missing)`` returns the
        values of the keys it found (unknown keys are absent); they are cached (``put``).
        """
        self.check_version(version)
        entries = self._entries
        found: dict[K, V] = {}
        missing: list[K] = []
        for key in keys:
            hit = entries.get(key)
            if hit is None or (self._held and self._is_held(key)):
                missing.append(key)
            else:
                found[key] = hit
        self._hits += len(found)
        self._misses += len(missing)
        if missing:
            for key, value in (await load(missing)).items():
                found[key] = value
                # A key held meanwhile gets its value from the write that holds it.
                if not (self._held and self._is_held(key)):
                    self.put(key, value)
        return found

    def put(self, key: K, value: V) -> None:
        """Remember a stored value: updated (as the most recently used) when cached, added
        only while there is room when not."""
        entries = self._entries
        size = self._size_of(value)
        old = entries.pop(key, None)
        if old is None and self._size + size > self._limit:
            return
        if old is not None:
            self._size -= self._size_of(old)
        entries[key] = value
        self._size += size
        while self._size > self._limit and len(entries) > 1:
            self._size -= self._size_of(entries.popitem(last=False)[1])

    def replace(self, key: K, value: V) -> None:
        """Swap a cached value for one of the same size (the caller vouches for that), as the
        most recently used: cheaper than ``put`` when only a field that does not count
        towards the size changed."""
        entries = self._entries
        entries.move_to_end(key)
        entries[key] = value

    def discard(self, key: K) -> None:
        """Forget one value, if cached."""
        old = self._entries.pop(key, None)
        if old is not None:
            self._size -= self._size_of(old)

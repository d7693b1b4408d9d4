"""The read-through cache: bounded by size, loads only what it lacks, trusts one data version."""

from __future__ import annotations

from storage.cache import ReadCache


class Rows:
    """A table to read through: how many times each key was loaded."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.loaded: list[list[str]] = []

    async def load(self, keys: list[str]) -> dict[str, str]:
        self.loaded.append(list(keys))
        return {key: self.values[key] for key in keys if key in self.values}


async def test_a_read_loads_only_the_keys_it_does_not_hold() -> None:
    rows = Rows({"a": "1", "b": "22", "c": "333"})
    cache: ReadCache[str, str] = ReadCache(100, len)
    assert await cache.read(["a", "b", "x"], 1, rows.load) == {"a": "1", "b": "22"}
    assert await cache.read(["a", "b", "c"], 1, rows.load) == {"a": "1", "b": "22", "c": "333"}
    assert rows.loaded == [["a", "b", "x"], ["c"]]
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.entries, stats.size) == (2, 4, 3, 6)


async def test_another_data_version_empties_it_and_none_always_does() -> None:
    rows = Rows({"a": "1"})
    cache: ReadCache[str, str] = ReadCache(100, len)
    await cache.read(["a"], 1, rows.load)
    await cache.read(["a"], 1, rows.load)
    await cache.read(["a"], 2, rows.load)
    await cache.read(["a"], None, rows.load)
    await cache.read(["a"], None, rows.load)
    assert rows.loaded == [["a"], ["a"], ["a"], ["a"]]
    assert cache.stats().clears == 3


async def test_when_full_new_values_stay_out_and_cached_ones_stay_in() -> None:
    rows = Rows({key: "xx" for key in "abcdef"})
    cache: ReadCache[str, str] = ReadCache(6, len)
    await cache.read(list("abcdef"), 1, rows.load)
    assert [key for key in "abcdef" if key in cache] == ["a", "b", "c"]
    await cache.read(list("abcdef"), 1, rows.load)
    assert rows.loaded[-1] == ["d", "e", "f"]
    # A cached value that grows pushes out the least recently used.
    cache.put("c", "xxxx")
    assert [key for key in "abcdef" if key in cache] == ["b", "c"]
    assert cache.size == 6


async def test_a_zero_bound_keeps_nothing() -> None:
    rows = Rows({"a": "1"})
    cache: ReadCache[str, str] = ReadCache(0, len)
    await cache.read(["a"], 1, rows.load)
    await cache.read(["a"], 1, rows.load)
    assert rows.loaded == [["a"], ["a"]]
    assert len(cache) == 0


def test_replace_and_discard_keep_the_size_counted() -> None:
    cache: ReadCache[str, str] = ReadCache(10, len)
    cache.put("a", "12")
    cache.put("b", "34")
    cache.replace("a", "56")
    assert cache.get("a") == "56" and cache.size == 4
    cache.discard("a")
    cache.discard("missing")
    assert cache.size == 2 and "a" not in cache


def test_a_replaced_value_becomes_the_most_recently_used() -> None:
    cache: ReadCache[str, str] = ReadCache(6, len)
    for name in "abc":
        cache.put(name, "xx")
    cache.replace("a", "yy")
    cache.put("c", "xxxx")  # grows: the least recently used make room
    assert [name for name in "abc" if name in cache] == ["a", "c"]
    assert cache.get("a") == "yy" and cache.size == 6


async def test_a_held_key_is_read_from_the_rows_until_its_writer_settles_it() -> None:
    rows = Rows({"a": "new", "b": "new"})
    cache: ReadCache[str, str] = ReadCache(100, len)
    cache.check_version(1)
    cache.put("a", "old")
    cache.put("b", "old")
    held = cache.hold(["a", "b"])
    # Neither is cached for anyone but the writer, nor cached over its work when read.
    assert "a" not in cache and cache.get("a") is None and cache.peek("a") == "old"
    assert await cache.read(["a", "b"], 1, rows.load) == {"a": "new", "b": "new"}
    assert cache.peek("a") == "old"
    cache.replace("a", "new")
    held.discard("a")
    assert cache.get("a") == "new"
    # Released before the writer settled it: "b" is forgotten, not left at its old value.
    cache.release(held)
    assert "b" not in cache and cache.peek("b") is None
    assert await cache.read(["a", "b"], 1, rows.load) == {"a": "new", "b": "new"}
    assert rows.loaded == [["a", "b"], ["b"]]

"""TtlCache: values kept a fixed number of seconds per process, so hot paths read slow-changing data once a minute."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Entries expire `ttl_seconds` after they were loaded; a change upstream shows within that time.

    Time is monotonic (`ticks`), never the wired clock: a simulated clock standing still must not pin an entry.
    Past `max_entries` the cache starts afresh rather than grow without bound in a long-lived worker.
    """

    def __init__(self, ttl_seconds: float, ticks: Callable[[], float] = time.monotonic,
                 max_entries: int = 10_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.ticks = ticks
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K, load: Callable[[K], V], *, fresh: bool = False) -> V:
        """The live entry for `key`, else `load(key)` kept from now on; `fresh` loads (and keeps) it regardless."""
        hit = None if fresh else self.peek(key)
        if hit is not None:
            return hit[0]
        value = load(key)
        self.put(key, value)
        return value

    def peek(self, key: K) -> tuple[V] | None:
        """`(value,)` while the entry lives, else None (a one-tuple: a cached None is still a hit)."""
        hit = self._entries.get(key)
        if hit is None or self.ticks() - hit[0] > self.ttl_seconds:
            return None
        return (hit[1],)

    def put(self, key: K, value: V) -> None:
        if len(self._entries) >= self.max_entries and key not in self._entries:
            self._entries.clear()
        self._entries[key] = (self.ticks(), value)

    def clear(self) -> None:
        self._entries.clear()

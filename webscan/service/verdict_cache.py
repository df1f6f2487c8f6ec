"""A per-process cache of each scope's shared verdict, ready to send.

Lookups outnumber reports, and a site's verdict changes only when a report or an audit about
it is stored. So each scope's SiteVerdict is kept as JSON bytes until this process stores
something about it (the store calls `invalidate` after each commit), or for `ttl_s` at most:
the bound on staleness for writes made by other processes sharing the database, and for
reports leaving the consensus window. A read that raced with a write is not cached (per-key
generations), so a stale answer never outlives the TTL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from webscan.model import VerdictLabel

Entry = tuple[VerdictLabel | None, bytes]


class VerdictCache:
    def __init__(self, ttl_s: float = 1.0, max_entries: int = 200_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Entry]] = {}
        self._gen: dict[str, int] = {}
        self._epoch = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Entry | None:
        found = self._entries.get(key)
        if found is not None and found[0] > time.monotonic():
            self.hits += 1
            return found[1]
        self.misses += 1
        return None

    def snapshot(self, key: str) -> tuple[int, int]:
        """Take before reading the database; `put` drops the value if a write came between."""
        return self._epoch, self._gen.get(key, 0)

    def put(self, key: str, snap: tuple[int, int], entry: Entry) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            if snap != (self._epoch, self._gen.get(key, 0)):
                return
            if len(self._entries) >= self.max_entries:
                self._reset()
            self._entries[key] = (time.monotonic() + self.ttl_s, entry)

    def invalidate(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._gen[key] = self._gen.get(key, 0) + 1
                self._entries.pop(key, None)
            if len(self._gen) > self.max_entries:
                self._reset()

    def _reset(self) -> None:
        """Forget everything; the new epoch voids any read that started before."""
        self._entries.clear()
        self._gen.clear()
        self._epoch += 1

"""A per-process cache of each scope's shared verdict, ready to send.

Lookups outnumber reports, and a site's verdict changes only when a report or an audit about
it is stored. So each scope's SiteVerdict is kept as JSON bytes until something is stored
about it. Worker processes on one host learn of each other's writes through a change board:
a small memory-mapped file of counters beside the database, one counter per hash bucket of
scope keys, bumped after each commit. An entry is valid while its bucket's counter is what it
was when the entry was read, and for `ttl_s` at most: the bound on staleness for writers on
other hosts (a shared PostgreSQL) and for reports ageing out of the consensus window.
"""

from __future__ import annotations

import mmap
import os
import threading
import time
import zlib
from collections.abc import Iterable
from pathlib import Path

from webscan.model import VerdictLabel

Entry = tuple[VerdictLabel | None, bytes]
SLOTS = 1 << 16


class ChangeBoard:
    """Counters shared by the processes that map the same file."""

    def __init__(self, path: Path | None) -> None:
        self._mm = None
        if path is None:
            self._counts = memoryview(bytearray(SLOTS * 4)).cast("I")
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < SLOTS * 4:
                os.ftruncate(fd, SLOTS * 4)
            self._mm = mmap.mmap(fd, SLOTS * 4)
        finally:
            os.close(fd)
        self._counts = memoryview(self._mm).cast("I")

    @staticmethod
    def slot(key: str) -> int:
        return zlib.crc32(key.encode("utf-8", "surrogatepass")) & (SLOTS - 1)

    def read(self, key: str) -> int:
        return self._counts[self.slot(key)]

    def bump(self, key: str) -> None:
        """Not atomic across processes; a lost increment still changes the value, which is all
        a reader compares."""
        i = self.slot(key)
        self._counts[i] = (self._counts[i] + 1) & 0xFFFFFFFF


class VerdictCache:
    def __init__(self, ttl_s: float = 30.0, board: ChangeBoard | None = None,
                 max_entries: int = 200_000) -> None:
        self.ttl_s = ttl_s
        self.board = board or ChangeBoard(None)
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, int, Entry]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Entry | None:
        found = self._entries.get(key)
        if found is None or found[0] <= time.monotonic() or found[1] != self.board.read(key):
            return None
        return found[2]

    def snapshot(self, key: str) -> int:
        """Take BEFORE reading the database: a write that lands during the read bumps the
        counter, so the entry is born stale and never served."""
        return self.board.read(key)

    def put(self, key: str, snap: int, entry: Entry) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + self.ttl_s, snap, entry)

    def invalidate(self, keys: Iterable[str]) -> None:
        """Call AFTER the commit that changed these scopes."""
        for key in keys:
            self.board.bump(key)
            self._entries.pop(key, None)

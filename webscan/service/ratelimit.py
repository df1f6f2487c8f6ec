"""Per-client rate limits: a token bucket per client address and kind of request.

In memory and per process: the point is to keep one client from flooding reports, scans or
audits, not exact global accounting. Buckets of clients that went quiet are dropped, so the
table stays bounded however many addresses call.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

MAX_CLIENTS = 100_000


@dataclass(frozen=True)
class RateLimits:
    """Requests per minute per client address; 0 switches a limit off."""

    reports: float = 120.0
    scans: float = 30.0
    audits: float = 6.0
    lookups: float = 1200.0


class RateLimiter:
    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, kind: str, client: str) -> float:
        """Spend one token; returns 0 when allowed, else the seconds until one is available."""
        per_min = getattr(self.limits, kind)
        if per_min <= 0:
            return 0.0
        rate = per_min / 60.0
        burst = _burst(per_min)
        now = time.monotonic()
        key = (kind, client)
        with self._lock:
            tokens, last = self._buckets.get(key, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > MAX_CLIENTS:
                self._prune(now)
            return (1.0 - tokens) / rate

    def _prune(self, now: float) -> None:
        """Drop buckets idle long enough to have refilled: forgetting them changes nothing."""
        for key, (_, last) in list(self._buckets.items()):
            per_min = getattr(self.limits, key[0])
            if now - last > 60.0 * _burst(per_min) / max(per_min, 1e-9):
                del self._buckets[key]


def _burst(per_min: float) -> float:
    """What a client may send at once: ten seconds' worth, at least 5 (or the whole minute's
    allowance if that is less), at least 1."""
    return max(1.0, per_min / 6.0, min(per_min, 5.0))

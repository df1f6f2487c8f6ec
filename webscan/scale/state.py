"""A crawl's record in Redis, keyed by crawl id: what to visit, how, and what came back.

Keys (all under `webscan:crawl:<id>:`, all expiring KEEP_S after the last write):
  meta        hash: options (JSON), total, sites enqueued so far, created, signatures
              version of the submitter
  sites       list: [site as given, URL to visit] in submission order (lets `--attach`
              finish an interrupted enqueue, and a recovery re-enqueue)
  results     hash: site -> its Report as zlib-compressed JSON, set with HSETNX
  arrivals    list: sites in the order their result was first written (the submitter's cursor)
  deliveries  hash: site -> times a worker started it (a site that keeps killing its worker
              is given up after a bound)

The result is written by one Lua script (HSETNX, then RPUSH only if it was new), so a site
visited twice (a redelivery after a lost acknowledgement) has exactly one result and appears
once in `arrivals`, whoever finishes first.
"""

from __future__ import annotations

import json
import time
import uuid
import zlib
from collections.abc import Iterable

import redis

from webscan.model import Report

KEEP_S = 14 * 86400
"""How long a crawl's keys outlive its last write: time to attach again after a long pause."""

_RECORD = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  return 1
end
return 0
"""


def new_crawl_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:8]


def connect(url: str, *, timeout_s: float = 10.0) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                health_check_interval=30)


def encode(report: Report) -> bytes:
    return zlib.compress(report.model_dump_json().encode("utf-8"), 6)


def decode(blob: bytes) -> Report:
    return Report.model_validate_json(zlib.decompress(blob))


class CrawlState:
    def __init__(self, client: redis.Redis, crawl_id: str) -> None:
        self.r = client
        self.id = crawl_id
        base = f"webscan:crawl:{crawl_id}:"
        self.meta, self.sites, self.results = base + "meta", base + "sites", base + "results"
        self.arrivals, self.deliveries = base + "arrivals", base + "deliveries"
        self._record = client.register_script(_RECORD)

    # -- the submitter's side ------------------------------------------------------------------
    def create(self, sites: Iterable[tuple[str, str]], options: dict, signatures_version: str,
               chunk: int = 5000) -> int:
        """Write the crawl's sites and options (idempotent: a recovery writes them again)."""
        self.r.delete(self.sites)
        batch: list[str] = []
        for given, url in sites:
            batch.append(json.dumps([given, url]))
            if len(batch) >= chunk:
                self.r.rpush(self.sites, *batch)
                batch = []
        if batch:
            self.r.rpush(self.sites, *batch)
        total = self.r.llen(self.sites)
        self.r.hset(self.meta, mapping={"options": json.dumps(options), "total": total,
                                        "created": time.time(),
                                        "signatures_version": signatures_version})
        for key in (self.meta, self.sites):
            self.r.expire(key, KEEP_S)
        return total

    def exists(self) -> bool:
        return bool(self.r.exists(self.meta))

    def load(self) -> tuple[dict, dict[str, str], str]:
        """(options, sites given -> url, submitter's signatures version) of an existing crawl."""
        meta = {k.decode(): v.decode() for k, v in self.r.hgetall(self.meta).items()}
        sites: dict[str, str] = {}
        total = self.r.llen(self.sites)
        for start in range(0, total, 5000):
            for item in self.r.lrange(self.sites, start, start + 4999):
                given, url = json.loads(item)
                sites[given] = url
        return json.loads(meta["options"]), sites, meta.get("signatures_version", "")

    def set_enqueued(self, n: int) -> None:
        self.r.hset(self.meta, "enqueued", n)

    def enqueued(self) -> int:
        return int(self.r.hget(self.meta, "enqueued") or 0)

    def arrived(self, start: int, count: int = 1000) -> tuple[int, list[tuple[str, Report]]]:
        """(positions read, results) in arrival order from position `start` (a cursor the
        caller keeps and advances by the positions read)."""
        names = self.r.lrange(self.arrivals, start, start + count - 1)
        if not names:
            return 0, []
        blobs = self.r.hmget(self.results, names)
        return len(names), [(n.decode(), decode(b)) for n, b in zip(names, blobs)
                            if b is not None]

    # -- the worker's side ---------------------------------------------------------------------
    def has_result(self, site: str) -> bool:
        return bool(self.r.hexists(self.results, site))

    def count_delivery(self, site: str) -> int:
        n = self.r.hincrby(self.deliveries, site, 1)
        self.r.expire(self.deliveries, KEEP_S)
        return int(n)

    def record(self, site: str, report: Report) -> bool:
        """Store the site's result unless it has one; True if this one was stored."""
        return bool(self._record(keys=[self.results, self.arrivals],
                                 args=[site, encode(report), KEEP_S]))

"""The submitting side of a distributed crawl: enqueue the sites, then follow their results.

The submitter is not needed for the crawl to go on: the sites, options and results live in
Redis (webscan.scale.state), so it can be stopped and another can attach by crawl id and read
the results from the start (the caller skips those it already has).

Redis gone for a while (a restart): the follower waits up to `wait_s` and goes on. Redis back
but EMPTY (restarted without persistence, so the queue and the crawl's keys are lost): the
follower still holds the crawl's sites, so it writes the crawl again and re-enqueues every site
it has no result for; visits in flight at the restart store their results into the new keys,
and a site that arrives twice is reported once. Redis away for longer than `wait_s`: BrokerLost,
with what to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import redis

from webscan.crawl.sites import Site
from webscan.model import Report, VerdictLabel
from webscan.scale.app import QUEUE, VISIT_TASK, make_app
from webscan.scale.state import CrawlState, connect, new_crawl_id

REDIS_WAIT_S = 300.0
CHECK_STATE_S = 1.0
"""How often a follower with nothing new checks that the crawl's keys still exist."""


class BrokerLost(Exception):
    """Redis stayed unreachable for too long; the message says how to pick the crawl up."""


class CrawlNotFound(Exception):
    pass


@dataclass
class Tally:
    """What the progress line shows."""

    total: int
    done: int = 0
    failed: int = 0
    new: int = 0  # results received by this follower (the rate is measured on these)
    started: float = field(default_factory=time.monotonic)
    note: str = ""

    @property
    def queued(self) -> int:
        return self.total - self.done

    def rate_per_min(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.new * 60.0 / elapsed if elapsed > 0 else 0.0

    def eta_s(self) -> float | None:
        rate = self.rate_per_min()
        return self.queued * 60.0 / rate if rate > 0 else None


@dataclass
class Crawl:
    state: CrawlState
    payload: dict
    sites: dict[str, str]  # given -> url, in submission order
    signatures_version: str


class Submitter:
    def __init__(self, broker: str, *, wait_s: float = REDIS_WAIT_S,
                 on_note: Callable[[str], None] = lambda note: None) -> None:
        self.broker = broker
        self.on_note = on_note
        """Told of events worth a line of their own (Redis lost, back, the crawl re-enqueued)."""
        self.client = connect(broker)
        self.app = make_app(broker)
        self.wait_s = wait_s

    def create(self, sites: list[Site], payload: dict, signatures_version: str) -> Crawl:
        """A new crawl's record in Redis (nothing enqueued yet: see `enqueue`)."""
        crawl = Crawl(CrawlState(self.client, new_crawl_id()), payload,
                      {s.given: s.url for s in sites}, signatures_version)
        crawl.state.create(crawl.sites.items(), payload, signatures_version)
        return crawl

    def start(self, sites: list[Site], payload: dict, signatures_version: str) -> Crawl:
        crawl = self.create(sites, payload, signatures_version)
        self.enqueue(crawl, crawl.sites.items())
        return crawl

    def attach(self, crawl_id: str) -> Crawl:
        state = CrawlState(self.client, crawl_id)
        if not state.exists():
            raise CrawlNotFound(
                f"no crawl {crawl_id!r} on {self.broker}: a mistyped id, or Redis lost it "
                "(restarted without persistence, or its keys expired). Submit the sites again "
                "with the same --out and --resume: the sites already there are skipped.")
        payload, sites, version = state.load()
        crawl = Crawl(state, payload, sites, version)
        enqueued = state.enqueued()
        if enqueued < len(sites):  # the submitter was stopped while enqueueing
            self.enqueue(crawl, list(sites.items())[enqueued:], start=enqueued)
        return crawl

    def enqueue(self, crawl: Crawl, sites: Iterable[tuple[str, str]], *, start: int | None = 0,
                chunk: int = 1000) -> None:
        """Send one task per site, in the crawl's order from `start`; the count sent is kept in
        the crawl's meta so an attach can finish an enqueue that was cut short (None: a subset,
        not counted)."""
        n = start or 0
        with self.app.producer_or_acquire() as producer:
            for given, url in sites:
                self.app.send_task(VISIT_TASK, args=[crawl.state.id, given, url, crawl.payload],
                                   queue=QUEUE, producer=producer, retry=True,
                                   retry_policy={"max_retries": 30, "interval_start": 1,
                                                 "interval_step": 1, "interval_max": 5})
                n += 1
                if start is not None and n % chunk == 0:
                    crawl.state.set_enqueued(n)
        if start is not None:
            crawl.state.set_enqueued(n)

    def follow(self, crawl: Crawl, have: set[str], on_report: Callable[[Report, bool], None],
               on_tick: Callable[[Tally], None], poll_s: float = 0.5) -> Tally:
        """Call `on_report(report, new)` once per site until every site has a result; `new`
        is False for sites already in `have` (the caller's out file)."""
        have = {s for s in have if s in crawl.sites}
        tally = Tally(total=len(crawl.sites), done=len(have))
        cursor = 0
        down_since: float | None = None
        checked = time.monotonic()
        reported: set[str] = set()
        while True:
            try:
                names, batch = crawl.state.arrived(cursor)
                if down_since is not None:
                    self.on_note(f"Redis is back after {time.monotonic() - down_since:.0f} s")
                    tally.note, down_since = "", None
                cursor += names
                for site, report in batch:
                    if site in reported or site not in crawl.sites:
                        continue
                    reported.add(site)
                    new = site not in have
                    if new:
                        have.add(site)
                        tally.done += 1
                        tally.new += 1
                    tally.failed += report.verdict is VerdictLabel.error
                    on_report(report, new)
                if not names:
                    if tally.done >= tally.total:
                        return tally
                    if time.monotonic() - checked > CHECK_STATE_S:
                        checked = time.monotonic()
                        if not crawl.state.exists():
                            cursor = self._recover(crawl, have, tally)
                    on_tick(tally)
                    time.sleep(poll_s)
            except (redis.ConnectionError, redis.TimeoutError) as e:
                now = time.monotonic()
                if down_since is None:
                    self.on_note(f"Redis unreachable ({e}); waiting up to {self.wait_s:.0f} s")
                    down_since = now
                if now - down_since > self.wait_s:
                    raise BrokerLost(
                        f"Redis at {self.broker} unreachable for {self.wait_s:.0f} s ({e}). The "
                        f"workers go on once it is back; pick the results up with: webscan crawl "
                        f"--broker {self.broker} --attach {crawl.state.id} --out FILE") from None
                tally.note = f"Redis unreachable for {now - down_since:.0f} s, waiting"
                on_tick(tally)
                time.sleep(1.0)

    def _recover(self, crawl: Crawl, have: set[str], tally: Tally) -> int:
        """Redis came back without the crawl: write it again and re-enqueue what has no result."""
        crawl.state.create(crawl.sites.items(), crawl.payload, crawl.signatures_version)
        missing = [(g, u) for g, u in crawl.sites.items() if g not in have]
        self.enqueue(crawl, missing, start=None)
        crawl.state.set_enqueued(len(crawl.sites))
        self.on_note(f"Redis lost crawl {crawl.state.id} (restarted without persistence?): "
                     f"{len(missing)} sites without a result enqueued again")
        return 0

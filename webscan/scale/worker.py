"""`webscan worker`: a Celery worker that visits sites for crawls submitted anywhere.

One process, one browser (started once, restarted if it crashes, a fresh context per site),
`concurrency` visits at once: Celery's thread pool runs that many tasks, and each hands its
visit to the one event loop that drives the browser, exactly as the local crawler's gate does.
Judging runs in the same judge processes as a local crawl (webscan.crawl.runner.Judges). More
processes or machines means more `webscan worker`s on the same broker.

A task's life: skip if the site already has a result (a redelivery after a lost ack); count the
delivery, and give the site up as `error` once it has been delivered more than the crawl's
bound (its visits keep killing the worker); visit and judge, the message's lease renewed
meanwhile (LeaseKeeper); write the result (HSETNX); return, and only then is the message
acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis

from webscan.crawl.runner import CrawlOptions, Judges, _error_report, observe_site
from webscan.crawl.sites import Site
from webscan.model import Report
from webscan.scale.app import QUEUE, VISIT_TASK, crawl_options, make_app
from webscan.scale.state import CrawlState, connect

log = logging.getLogger("webscan.worker")
T = TypeVar("T")

UNSAFE_SWITCHES = ("--renderer-cmd-prefix", "--gpu-launcher", "--utility-cmd-prefix",
                   "--browser-subprocess-path", "--ppapi-plugin-launcher", "--plugin-launcher",
                   "--remote-debugging", "--load-extension", "--user-data-dir")
"""Chromium switches a task may not carry: they start programs of the sender's choice, open the
browser to remote control, or point it at files of the worker's machine. Crawl options travel
in tasks, so anyone who can write to the queue chooses them; they must not own the worker.

"""
REDIS_WAIT_S = 600.0
"""How long a finished visit keeps trying to store its result while Redis is away (a restart)."""


class WorkerSetupError(Exception):
    """The worker cannot start (broker unreachable, bad URL); the message says what to do."""


def check_broker(url: str) -> None:
    """Fail early and plainly when the broker cannot be reached."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise WorkerSetupError(f"--broker {url!r}: give a Redis URL, e.g. redis://HOST:6379/0")
    try:
        connect(url, timeout_s=5).ping()
    except (redis.ConnectionError, redis.TimeoutError) as e:
        why = str(e).rstrip(".")
        raise WorkerSetupError(f"cannot reach the broker at {url}: {why}. Is redis-server "
                               "running there, and is the port open to this machine?") from None
    except (redis.ResponseError, redis.AuthenticationError, ValueError) as e:
        raise WorkerSetupError(f"the broker at {url} refused us: {e}") from None


def with_redis(what: str, fn: Callable[[], T], wait_s: float = REDIS_WAIT_S) -> T:
    """Run a Redis call, waiting out a broker restart rather than losing a finished visit."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return fn()
        except (redis.ConnectionError, redis.TimeoutError) as e:
            if time.monotonic() > deadline:
                raise
            log.warning("%s: Redis unreachable (%s); retrying", what, e)
            time.sleep(2.0)


def given_up(site: str, deliveries: int) -> Report:
    return _error_report(Site(site, site),
                         f"given up after {deliveries - 1} deliveries: each time its worker "
                         "stopped before finishing the visit (killed, out of memory, or its "
                         "machine was lost)")


class VisitEngine:
    """The browser and judges of one worker process, driven from Celery's task threads."""

    def __init__(self, executable: str | None, sig_dirs: tuple[str, ...]) -> None:
        self.executable = executable
        self.sig_dirs = sig_dirs
        self.judges = Judges(sig_dirs)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="webscan-browser",
                                        daemon=True)
        self._thread.start()
        self._browsers: dict[tuple[str, ...], object] = {}
        self._busy: dict[tuple[str, ...], int] = {}

    def visit(self, site: Site, options: CrawlOptions) -> Report:
        return asyncio.run_coroutine_threadsafe(self._visit(site, options), self.loop).result()

    async def _visit(self, site: Site, options: CrawlOptions) -> Report:
        key = options.browser_args
        browser = await self._browser(key)
        self._busy[key] = self._busy.get(key, 0) + 1
        try:
            seen = await observe_site(site, browser, options)
        finally:
            self._busy[key] -= 1
        if isinstance(seen, Report):
            return seen
        return await self.judges.judge(site, seen, options.file_timeout_s)

    async def _browser(self, args: tuple[str, ...]):  # noqa: ANN202
        """The browser for these Chromium switches; browsers for other switches are closed
        once idle (a crawl normally uses one set, so a worker keeps one browser)."""
        from webscan.browser.observe import Browser

        for other in [k for k in self._browsers if k != args and not self._busy.get(k)]:
            await self._browsers.pop(other).close()
        if args not in self._browsers:
            self._browsers[args] = Browser(self.executable, extra_args=args)
        browser = self._browsers[args]
        await browser.ensure()
        return browser

    def close(self) -> None:
        async def shut() -> None:
            for b in self._browsers.values():
                await b.close()

        try:
            asyncio.run_coroutine_threadsafe(shut(), self.loop).result(timeout=30)
        except Exception:  # noqa: BLE001 - closing on the way out
            log.exception("closing the browser")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.judges.close()


class LeaseKeeper:
    """Keeps the visibility lease of this worker's running visits fresh, as a live SQS consumer
    extends its messages' visibility: every `every_s` the kombu Redis transport's record of when
    each running task's message was taken is set to now. So the visibility timeout need only
    exceed the renewal period, not the longest visit: a slow visit is not delivered a second
    time (nor counted as a death), while a dead worker stops renewing and its visits go back to
    the queue one visibility timeout later. The keys are kombu's defaults (`unacked` holds the
    messages, `unacked_index` when each was taken); if their shape ever changes, nothing is
    renewed and the plain visibility timeout still holds.
    """

    UNACKED, INDEX = "unacked", "unacked_index"

    def __init__(self, client: redis.Redis, every_s: float) -> None:
        self.client = client
        self.every_s = every_s
        self.running: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="webscan-lease", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            ids = set(self.running)
            if ids:
                try:
                    self.renew(ids)
                except (redis.RedisError, ValueError, LookupError, TypeError) as e:
                    log.warning("could not renew the leases of running visits: %s", e)

    def renew(self, task_ids: set[str]) -> int:
        now = time.time()
        renewed = 0
        for tag, raw in self.client.hscan_iter(self.UNACKED, count=500):
            if json.loads(raw)[0].get("headers", {}).get("id") in task_ids:
                renewed += self.client.zadd(self.INDEX, {tag: now}, xx=True, ch=True)
        return renewed

    def close(self) -> None:
        self._stop.set()


def run_task(engine: VisitEngine, client: redis.Redis, crawl: str, site: str, url: str,
             payload: dict) -> str:
    """One delivery of one site; returns what happened (for the worker's log)."""
    state = CrawlState(client, crawl)
    if with_redis("check", lambda: state.has_result(site)):
        return "already done"
    options, max_deliveries = crawl_options(payload, browser=engine.executable,
                                            sig_dirs=engine.sig_dirs)
    n = with_redis("count", lambda: state.count_delivery(site))
    log.info("%s %s: delivery %d", crawl, site, n)
    unsafe = [a for a in options.browser_args if a.split("=", 1)[0].startswith(UNSAFE_SWITCHES)]
    if unsafe:
        report = _error_report(Site(site, url), f"the worker refuses the Chromium switch "
                               f"{unsafe[0].split('=', 1)[0]} sent with the crawl (it would let "
                               "the sender run programs or control the worker's browser)")
    elif n > max_deliveries:
        report = given_up(site, n)
    else:
        report = engine.visit(Site(site, url), options)
    stored = with_redis("store", lambda: state.record(site, report))
    return report.verdict.value if stored else f"{report.verdict.value} (a copy; already done)"


def run_worker(broker: str, *, concurrency: int, executable: str | None,
               sig_dirs: tuple[str, ...], visibility_timeout_s: float,
               loglevel: str = "INFO") -> None:
    """Serve visits until stopped (Ctrl-C or SIGTERM: the visits in flight finish first)."""
    check_broker(broker)
    app = make_app(broker, visibility_timeout_s=visibility_timeout_s)
    client = connect(broker)
    engine = VisitEngine(executable, sig_dirs)
    leases = LeaseKeeper(client, every_s=max(1.0, visibility_timeout_s / 4))

    @app.task(name=VISIT_TASK, bind=True)
    def visit(task, crawl: str, site: str, url: str, options: dict) -> None:  # noqa: ANN001
        started = time.monotonic()
        leases.running.add(task.request.id)
        try:
            outcome = run_task(engine, client, crawl, site, url, options)
        except (redis.ConnectionError, redis.TimeoutError):
            raise  # Redis gone past REDIS_WAIT_S: nothing can be stored; the submitter recovers
        except Exception as e:  # noqa: BLE001 - a site must never be left without a result
            log.exception("%s %s: the worker failed", crawl, site)
            report = _error_report(Site(site, url),
                                   f"the worker failed: {type(e).__name__}: {e}")
            with_redis("store", lambda: CrawlState(client, crawl).record(site, report))
            outcome = "error (worker failure)"
        finally:
            leases.running.discard(task.request.id)
        log.info("%s %s: %s in %.1f s", crawl, site, outcome, time.monotonic() - started)

    logging.basicConfig(level=loglevel, format="%(asctime)s %(levelname)s %(message)s")
    try:
        app.worker_main(["worker", "--pool=threads", f"--concurrency={concurrency}", "-Q", QUEUE,
                         "--without-gossip", "--without-mingle", "--without-heartbeat",
                         f"--loglevel={loglevel}", "-n", f"webscan-{os.getpid()}@%h"])
    finally:
        leases.close()
        engine.close()

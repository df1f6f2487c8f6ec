"""Crawl many sites: one browser, a fresh context per site, a verdict per site.

Visiting is waiting (one event loop, `concurrency` visits at a time); judging is CPU work
(static analysis of every script and module the page loaded), so it runs in worker processes
and never stalls the visits. Each script is analysed under its time budget (webscan.budget); a
judge still busy past the sum of its site's budgets (stuck in C code) is killed and replaced
(webscan.workers), and that site gets an `error` report. The browser layer records,
webscan.browser.evidence maps the records to findings, webscan.verdict decides: this module
only schedules and streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from webscan import budget
from webscan.browser.records import Observation
from webscan.browser.window import coverage_summary
from webscan.crawl.sites import Site
from webscan.model import CpuPoint, RefusedRequest, Report, RuntimeSummary, VerdictLabel
from webscan.net.egress import EgressPolicy
from webscan.workers import Overran, WorkerDied, WorkerError, Workers

_ENGINES = None
_SIGS = None


@dataclass(frozen=True)
class CrawlOptions:
    window_s: float = 10.0
    concurrency: int = 0  # 0: chosen from cores and memory
    nav_timeout_s: float = 20.0
    visit_timeout_s: float | None = None
    browser: str | None = None
    browser_args: tuple[str, ...] = ()
    sig_dirs: tuple[str, ...] = ()
    file_timeout_s: float | None = None  # per script; None: budget.default_budget of its size
    egress: EgressPolicy | None = None
    """Every connection of the browser checked by this policy (webscan.net.proxy): audits,
    `crawl --public-only`. None: the browser connects wherever pages lead."""


def default_concurrency() -> int:
    """Visits mostly wait, so more than the cores; each context costs ~40-70 MB of browser
    memory (BROWSER.md), and the issue's bar keeps the browser under 3 GB."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        import psutil

        mem_gb = psutil.virtual_memory().available / 1e9
    except Exception:  # noqa: BLE001 - psutil missing or unreadable: stay modest
        mem_gb = 4.0
    return max(1, min(4 * cores, int(mem_gb / 0.35), 8))


def _init_judge(sig_dirs: tuple[str, ...]) -> None:
    global _ENGINES, _SIGS
    from webscan.rules.loader import load_signatures
    from webscan.scanner import Engines

    _SIGS = load_signatures([Path(d) for d in sig_dirs] if sig_dirs else None)
    _ENGINES = Engines(_SIGS)


def _judge(obs: Observation, given: str, file_timeout: float | None) -> Report:
    """In a worker process: records -> findings -> verdict, with the runtime summary."""
    from webscan.browser.evidence import observation_to_analysis
    from webscan.verdict import judge

    analysis = observation_to_analysis(obs, _ENGINES, file_timeout=file_timeout)
    report = judge(analysis, _SIGS.verdict, url=given, signatures_version=_SIGS.version,
                   duration_ms=round(obs.duration_s * 1000, 1))
    report.runtime = runtime_summary(obs, _ENGINES.protocol)
    return report


JOB_MESSAGES = {"job", "login result", "notify"}
SUBMIT_MESSAGES = {"submit", "solved"}


def runtime_summary(obs: Observation, protocol=None) -> RuntimeSummary:
    """CPU as a series of shares per interval, and pool traffic counted by message shape
    (the same ProtocolMatcher as the evidence, never by host)."""
    series = []
    for a, b in zip(obs.cpu, obs.cpu[1:]):
        if b.ts > a.ts:
            series.append(CpuPoint(t=round(b.ts, 2),
                                   share=round(max(0.0, b.process_time_s - a.process_time_s)
                                               / (b.ts - a.ts), 3)))
    jobs = submits = 0
    if protocol is not None:
        from webscan.browser.evidence import decode_frame

        for frame in obs.frames:
            for msg in decode_frame(frame.payload):
                kinds = {r.message for r in protocol.match_message(msg)}
                jobs += bool(kinds & JOB_MESSAGES)
                submits += bool(kinds & SUBMIT_MESSAGES)
    return RuntimeSummary(
        window_s=obs.window_s, cpu_seconds=round(obs.cpu_seconds, 3),
        peak_cpu_share=round(obs.cpu_peak_share, 3), cpu_series=series,
        workers=len(obs.workers), sockets=sorted({s.url for s in obs.sockets})[:50],
        pool_jobs=jobs, pool_submits=submits, final_url=obs.final_url or None,
        coverage=coverage_summary(obs))


def judge_budget(obs: Observation, file_timeout: float | None) -> float:
    """A site's analysis budget: the sum of its scripts', documents' and modules' budgets (the
    static pass gives each its own), at least one floor for the runtime evidence."""
    sizes = [len(sc.body) for sc in obs.scripts]
    sizes += [len(w.source) for w in obs.workers if w.source]
    sizes += [len(m.data) for m in obs.wasm]
    return max(budget.FLOOR_S, sum(budget.budget_for(n, file_timeout) for n in sizes))


def _error_report(site: Site, reason: str) -> Report:
    return Report(url=site.given, verdict=VerdictLabel.error, score=0.0, error=reason,
                  explanation=f"Could not be visited: {reason}.")


class Judges:
    """The judge processes of one crawler (or one distributed worker) and the threads that wait
    on them, so judging never blocks the event loop that drives the browser."""

    def __init__(self, sig_dirs: tuple[str, ...] = ()) -> None:
        count = max(1, min(2, os.cpu_count() or 1))
        # A fork server, not fork: a judge forked (or replaced) once Chromium and the Playwright
        # driver run would inherit their pipes and sockets, and the driver would never see EOF.
        self._workers = Workers(count, _init_judge, (sig_dirs,), method="forkserver",
                                preload=("webscan.crawl.runner", "webscan.browser.evidence")).start()
        self._waiting = ThreadPoolExecutor(max_workers=count, thread_name_prefix="webscan-judge")

    async def judge(self, site: Site, obs: Observation, file_timeout_s: float | None) -> Report:
        """The site's report; an overrun or a dead judge is the site's own `error`."""
        seconds = judge_budget(obs, file_timeout_s)
        run = functools.partial(self._workers.run, _judge, obs, site.given, file_timeout_s,
                                limit=budget.hard_limit(seconds))
        try:
            return await asyncio.get_running_loop().run_in_executor(self._waiting, run)
        except Overran:
            return _error_report(site, budget.killed_reason(seconds))
        except (WorkerDied, WorkerError) as e:
            return _error_report(site, f"analysis failed: {e}")
        except Exception as e:  # noqa: BLE001
            return _error_report(site, f"analysis failed: {type(e).__name__}: {e}")

    def close(self) -> None:
        self._workers.close()
        self._waiting.shutdown(wait=False, cancel_futures=True)


async def observe_site(site: Site, browser, options: CrawlOptions) -> Observation | Report:  # noqa: ANN001
    """The site's observation, or its `error` report when the visit itself failed."""
    from webscan.browser.observe import observe

    try:
        return await observe(site.given, browser=browser, window_s=options.window_s,
                             nav_timeout_s=options.nav_timeout_s,
                             visit_timeout_s=options.visit_timeout_s)
    except Exception as e:  # noqa: BLE001 - one site's failure is its own error
        return _error_report(site, f"the visit failed: {type(e).__name__}: {e}")


async def crawl(sites: list[Site], options: CrawlOptions,
                on_report: Callable[[Report], None],
                on_start: Callable[[Site], None] | None = None,
                on_observed: Callable[[Site], None] | None = None) -> None:
    """Visit every site and call `on_report` once per site, as each finishes (`on_start` and
    `on_observed` mark the visit's start and its end, before judging: an audit's progress)."""
    from webscan.browser.observe import Browser

    concurrency = options.concurrency or default_concurrency()
    judges = Judges(options.sig_dirs)
    gate = asyncio.Semaphore(concurrency)

    async def one(site: Site, browser: Browser) -> None:
        async with gate:
            if on_start:
                on_start(site)
            if proxy is not None and browser.process is not None:
                proxy.forbid("127.0.0.1", browser.process.port)  # its DevTools port
            async with egress_channel(proxy) as refused:
                seen = await observe_site(site, browser, options)
            if on_observed:
                on_observed(site)
        report = seen if isinstance(seen, Report) else \
            await judges.judge(site, seen, options.file_timeout_s)
        on_report(with_refusals(report, refused))

    proxy = None
    try:
        browser_args = list(options.browser_args)
        if options.egress is not None:
            from webscan.browser.launch import proxy_switches
            from webscan.net.proxy import EgressProxy

            proxy = EgressProxy(options.egress)
            # The browser's own traffic (outside any visit's context) goes through a channel
            # of its own; each visit's context gets one in egress_channel.
            browser_args += proxy_switches((await proxy.channel()).url)
        async with Browser(options.browser, extra_args=browser_args) as browser:
            await asyncio.gather(*(one(s, browser) for s in sites))
    finally:
        if proxy is not None:
            await proxy.close()
        judges.close()


@contextlib.asynccontextmanager
async def egress_channel(proxy) -> AsyncIterator[list[RefusedRequest]]:  # noqa: ANN001
    """Around one visit: the browser contexts it makes use a channel of the egress proxy of
    their own (webscan.browser.launch.CONTEXT_PROXY), and the list yielded is filled, once the
    visit ends, with what the policy refused during it. No proxy: nothing to do."""
    refused: list[RefusedRequest] = []
    if proxy is None:
        yield refused
        return
    from webscan.browser.launch import CONTEXT_PROXY

    channel = await proxy.channel()
    token = CONTEXT_PROXY.set(channel.url)
    try:
        yield refused
    finally:
        CONTEXT_PROXY.reset(token)
        await channel.close()
        refused.extend(RefusedRequest(url=r.url, reason=r.reason, method=r.method,
                                      destination=r.destination, initiator=r.initiator)
                       for r in channel.refused)


def with_refusals(report: Report, refused: list[RefusedRequest]) -> Report:
    """The report with its visit's refused requests; a report without a runtime part (the
    visit or its analysis failed) gets an empty one to carry them."""
    if refused:
        if report.runtime is None:
            report.runtime = RuntimeSummary(window_s=0.0, cpu_seconds=0.0, peak_cpu_share=0.0)
        report.runtime.refused_requests = refused
    return report

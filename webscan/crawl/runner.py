"""Crawl many sites: one browser, a fresh context per site, a verdict per site.

Visiting is waiting (one event loop, `concurrency` visits at a time); judging is CPU work
(static analysis of every script and module the page loaded), so it runs in a process pool
and never stalls the visits. The browser layer records, webscan.browser.evidence maps the
records to findings, webscan.verdict decides: this module only schedules and streams.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from webscan.browser.records import Observation
from webscan.crawl.sites import Site
from webscan.model import CpuPoint, Report, RuntimeSummary, VerdictLabel

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


def _ready() -> bool:
    return _ENGINES is not None


def _judge(obs: Observation, given: str) -> Report:
    """In a worker process: records -> findings -> verdict, with the runtime summary."""
    from webscan.browser.evidence import observation_to_analysis
    from webscan.verdict import judge

    analysis = observation_to_analysis(obs, _ENGINES)
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
        pool_jobs=jobs, pool_submits=submits, final_url=obs.final_url or None)


def _error_report(site: Site, reason: str) -> Report:
    return Report(url=site.given, verdict=VerdictLabel.error, score=0.0, error=reason,
                  explanation=f"Could not be visited: {reason}.")


async def crawl(sites: list[Site], options: CrawlOptions,
                on_report: Callable[[Report], None],
                on_start: Callable[[Site], None] | None = None) -> None:
    """Visit every site and call `on_report` once per site, as each finishes."""
    from webscan.browser.observe import Browser, observe

    concurrency = options.concurrency or default_concurrency()
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    pool = ProcessPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1)), mp_context=ctx,
                               initializer=_init_judge, initargs=(options.sig_dirs,))
    # Fork the judges now, before Chromium and the Playwright driver exist: a child forked
    # later inherits their pipes and sockets, and the driver then never sees end-of-file.
    await asyncio.get_running_loop().run_in_executor(pool, _ready)
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)

    async def one(site: Site, browser: Browser) -> None:
        async with gate:
            if on_start:
                on_start(site)
            try:
                obs = await observe(site.given, browser=browser, window_s=options.window_s,
                                    nav_timeout_s=options.nav_timeout_s,
                                    visit_timeout_s=options.visit_timeout_s)
            except Exception as e:  # noqa: BLE001 - one site's failure is its own error
                on_report(_error_report(site, f"the visit failed: {type(e).__name__}: {e}"))
                return
        try:
            report = await loop.run_in_executor(pool, _judge, obs, site.given)
        except Exception as e:  # noqa: BLE001
            report = _error_report(site, f"analysis failed: {type(e).__name__}: {e}")
        on_report(report)

    try:
        async with Browser(options.browser, extra_args=options.browser_args) as browser:
            await asyncio.gather(*(one(s, browser) for s in sites))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)

"""Scan many files on all cores, in input order, surviving a crashed worker.

Analysis is CPU-bound Python, so threads would not help; each worker process builds its own
Scanner once (compiling the signatures) and then takes files. A worker that dies (a native
crash in a parser, the kernel's OOM killer) costs only the file it was on: that file gets an
`error` report and the run goes on with a fresh pool.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from webscan.model import Report
from webscan.rules.loader import SignatureSet, load_signatures
from webscan.scanner import DEFAULT_MAX_BYTES, Scanner, Target, error_report

_SCANNER: Scanner | None = None

SMALL_RUN_BYTES = 4 * 1024 * 1024
"""Below this much input a process pool costs more to start than it saves."""


def _init_worker(sig_dirs: list[str] | None, max_bytes: int, page_url: str | None) -> None:
    global _SCANNER
    sigs = load_signatures([Path(d) for d in sig_dirs] if sig_dirs else None)
    _SCANNER = Scanner(sigs, max_bytes=max_bytes, page_url=page_url)


def _scan_one(path: str) -> Report:
    assert _SCANNER is not None, "worker not initialised"
    return _SCANNER.scan_path(path)


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def scan_targets(
    targets: list[Target],
    *,
    sigs: SignatureSet,
    sig_dirs: list[str] | None = None,
    jobs: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    page_url: str | None = None,
    on_report: Callable[[Report], None] | None = None,
) -> Iterator[Report]:
    """Yield one Report per target, in the order given."""
    jobs = jobs or default_jobs()
    total = sum(t.size for t in targets)
    if jobs <= 1 or len(targets) < 2 or total < SMALL_RUN_BYTES:
        scanner = Scanner(sigs, max_bytes=max_bytes, page_url=page_url)
        for t in targets:
            report = scanner.scan_path(t.path)
            if on_report:
                on_report(report)
            yield report
        return
    yield from _pooled(targets, sigs, sig_dirs, jobs, max_bytes, page_url, on_report)


def _new_pool(jobs: int, sig_dirs, max_bytes, page_url) -> ProcessPoolExecutor:
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    return ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                               initargs=(sig_dirs, max_bytes, page_url))


def _pooled(targets, sigs, sig_dirs, jobs, max_bytes, page_url, on_report) -> Iterator[Report]:
    window = jobs * 8  # enough queued work to keep every core busy, bounded memory
    pool = _new_pool(jobs, sig_dirs, max_bytes, page_url)
    pending: dict[int, Future] = {}
    done: dict[int, Report] = {}
    next_submit = 0
    next_yield = 0
    try:
        while next_yield < len(targets):
            while next_submit < len(targets) and next_submit - next_yield < window:
                pending[next_submit] = pool.submit(_scan_one, targets[next_submit].path)
                next_submit += 1
            fut = pending.pop(next_yield)
            try:
                report = fut.result()
            except BrokenProcessPool:
                pool.shutdown(wait=False, cancel_futures=True)
                # Which file killed the worker is unknown: retry the in-flight ones alone.
                in_flight = [next_yield, *sorted(pending)]
                pending.clear()
                for i in in_flight:
                    done[i] = _isolated(targets[i].path, sigs, sig_dirs, max_bytes, page_url)
                next_submit = max(in_flight) + 1
                pool = _new_pool(jobs, sig_dirs, max_bytes, page_url)
                report = done.pop(next_yield)
            except Exception as e:  # pickling or similar: one file, not the run
                report = error_report(targets[next_yield].path,
                                      f"internal error: {type(e).__name__}: {e}", sigs)
            if on_report:
                on_report(report)
            yield report
            next_yield += 1
            while next_yield in done:
                report = done.pop(next_yield)
                if on_report:
                    on_report(report)
                yield report
                next_yield += 1
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _isolated(path, sigs, sig_dirs, max_bytes, page_url) -> Report:
    with _new_pool(1, sig_dirs, max_bytes, page_url) as solo:
        try:
            return solo.submit(_scan_one, path).result()
        except BrokenProcessPool:
            return error_report(path, "the analyser process died on this file (a crash or out of "
                                "memory); please report it with the file", sigs)

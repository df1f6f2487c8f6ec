"""Scan many files on all cores, in input order, each within its time budget.

Every file is analysed in a worker process (webscan.workers), never in the caller: the
cooperative budget (webscan.budget) stops the Python passes, and a worker that still has not
answered by the budget plus a grace period (stuck in C code) is killed and replaced, so one
file costs at most its budget and the run goes on. A worker that dies (a native crash, the
OOM killer) likewise costs only the file it was on. Workers are forked from a process that
has already built the Scanner, so they start in milliseconds and share its memory.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from webscan import budget
from webscan.model import Report
from webscan.rules.loader import SignatureSet
from webscan.scanner import DEFAULT_MAX_BYTES, Scanner, Target, error_report
from webscan.workers import Overran, WorkerDied, WorkerError, Workers

_SCANNER: Scanner | None = None

SMALL_RUN_BYTES = 4 * 1024 * 1024
"""Below this much input one worker does it all: a second would only wait."""


def _adopt(scanner: Scanner) -> None:
    """Worker start with "fork": the Scanner is the parent's, already built."""
    global _SCANNER
    _SCANNER = scanner


def build_scanner(sigs: SignatureSet, max_bytes: int, page_url: str | None,
                  file_timeout: float | None) -> None:
    """Worker start with "forkserver"/"spawn": build the Scanner from the pickled signatures."""
    global _SCANNER
    _SCANNER = Scanner(sigs, max_bytes=max_bytes, page_url=page_url, file_timeout=file_timeout)


def _scan_path(path: str) -> Report:
    assert _SCANNER is not None, "worker not initialised"
    return _SCANNER.scan_path(path)


def scan_bytes_in_worker(data: bytes, name: str) -> Report:
    """The job of a service scan worker (see build_scanner)."""
    assert _SCANNER is not None, "worker not initialised"
    return _SCANNER.scan_bytes(data, name)


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def supervised(workers: Workers, fn: Callable[..., Report], args: tuple, *, path: str,
               size: int, file_timeout: float | None, sigs: SignatureSet) -> Report:
    """One file's Report from a worker, whatever happens to the worker."""
    seconds = budget.budget_for(size, file_timeout)
    started = time.perf_counter()

    def failed(reason: str) -> Report:
        return error_report(path, reason, sigs, size=size,
                            duration_ms=round((time.perf_counter() - started) * 1000, 2))

    try:
        return workers.run(fn, *args, limit=budget.hard_limit(seconds))
    except Overran:
        return failed(budget.killed_reason(seconds))
    except WorkerDied as e:
        return failed(f"{e}; please report it with the file")
    except WorkerError as e:
        return failed(f"internal error: {e}; please report it with the file")


def scan_targets(
    targets: list[Target],
    *,
    sigs: SignatureSet,
    sig_dirs: list[str] | None = None,
    jobs: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    page_url: str | None = None,
    file_timeout: float | None = None,
    on_report: Callable[[Report], None] | None = None,
) -> Iterator[Report]:
    """Yield one Report per target, in the order given. `file_timeout` is each file's budget
    in seconds (None: budget.default_budget of its size). `sig_dirs` is accepted for callers
    that name them; the workers use `sigs` itself."""
    del sig_dirs
    jobs = jobs or default_jobs()
    if len(targets) < 2 or sum(t.size for t in targets) < SMALL_RUN_BYTES:
        jobs = 1
    jobs = max(1, min(jobs, len(targets)))
    if "fork" in mp.get_all_start_methods():
        scanner = Scanner(sigs, max_bytes=max_bytes, page_url=page_url, file_timeout=file_timeout)
        workers = Workers(jobs, _adopt, (scanner,), method="fork").start()
    else:  # each worker builds its own Scanner
        workers = Workers(jobs, build_scanner, (sigs, max_bytes, page_url, file_timeout),
                          method="spawn").start()
    dispatch = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="webscan-scan")
    window = jobs * 8  # enough queued work to keep every worker busy, bounded memory
    pending: dict[int, Future] = {}
    next_submit = 0
    try:
        for i, target in enumerate(targets):
            while next_submit < len(targets) and next_submit - i < window:
                t = targets[next_submit]
                pending[next_submit] = dispatch.submit(
                    supervised, workers, _scan_path, (t.path,), path=t.path, size=t.size,
                    file_timeout=file_timeout, sigs=sigs)
                next_submit += 1
            fut = pending.pop(i)
            try:
                report = fut.result()
            except Exception as e:  # noqa: BLE001 - one file, not the run
                report = error_report(target.path, f"internal error: {type(e).__name__}: {e}",
                                      sigs)
            if on_report:
                on_report(report)
            yield report
    finally:
        for fut in pending.values():
            fut.cancel()
        workers.close()  # running jobs end at once (WorkerDied), so the threads finish
        dispatch.shutdown(wait=True, cancel_futures=True)

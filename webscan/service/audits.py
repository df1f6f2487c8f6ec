"""The audit queue: accepted audits wait in the database and run a few at a time.

Bounded twice: at most `concurrency` crawls run at once (each is a browser), and at most
`max_queued` wait; beyond that the service answers 503 so a flood of audit requests cannot
grow memory or the database without end. Each audit is a child process
(webscan.service.audit_job) with a hard deadline; its report is stored as it comes. Audits a
previous run accepted but never finished are queued again at start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from starlette.concurrency import run_in_threadpool

from webscan.model import Report
from webscan.service.store import Store
from webscan.service.targets import TargetRefused, check_target, resolver_pin

log = logging.getLogger("webscan.service.audits")


class QueueFull(Exception):
    pass


class AuditQueue:
    def __init__(self, store: Store, *, concurrency: int = 1, max_queued: int = 100,
                 window_s: float = 10.0, deadline_s: float = 120.0, allow_private: bool = False,
                 browser: str | None = None, sig_dirs: tuple[str, ...] = ()) -> None:
        self.store = store
        self.concurrency = max(1, concurrency)
        self.max_queued = max_queued
        self.window_s = window_s
        self.deadline_s = deadline_s
        self.allow_private = allow_private
        self.browser = browser
        self.sig_dirs = sig_dirs
        self._queue: asyncio.Queue[str] | None = None
        self._tasks: list[asyncio.Task] = []
        self.running = 0

    @property
    def depth(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        for audit_id in await run_in_threadpool(self.store.pending_audits):
            self._queue.put_nowait(audit_id)
        self._tasks = [asyncio.create_task(self._worker(), name=f"audit-worker-{i}")
                       for i in range(self.concurrency)]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def has_room(self) -> bool:
        return self.depth < self.max_queued

    def submit(self, audit_id: str) -> None:
        if not self.has_room():
            raise QueueFull
        self._queue.put_nowait(audit_id)

    async def _worker(self) -> None:
        while True:
            audit_id = await self._queue.get()
            self.running += 1
            try:
                await self._run(audit_id)
            except Exception:  # noqa: BLE001 - one audit's failure never stops the queue
                log.exception("audit %s failed", audit_id)
                await run_in_threadpool(self.store.finish_audit, audit_id, None,
                                        "internal error while auditing")
            finally:
                self.running -= 1

    async def _run(self, audit_id: str) -> None:
        url = await run_in_threadpool(self.store.start_audit, audit_id)
        if url is None:
            return
        try:
            # Checked again at run time: the answer may have changed since it was queued, and
            # the browser is pinned to the address checked now.
            target = await run_in_threadpool(check_target, url, allow_private=self.allow_private)
        except TargetRefused as e:
            await run_in_threadpool(self.store.finish_audit, audit_id, None, str(e))
            return
        report, error = await self._crawl(url, ["--host-resolver-rules=" + resolver_pin(target)])
        await run_in_threadpool(self.store.finish_audit, audit_id, report, error)

    async def _crawl(self, url: str, browser_args: list[str]) -> tuple[Report | None, str | None]:
        cmd = [sys.executable, "-m", "webscan.service.audit_job", url,
               "--window", str(self.window_s)]
        if self.browser:
            cmd += ["--browser", self.browser]
        for d in self.sig_dirs:
            cmd += ["--signatures", d]
        for a in browser_args:
            cmd += [f"--browser-arg={a}"]
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL, start_new_session=True)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout=self.deadline_s)
        except (asyncio.TimeoutError, asyncio.CancelledError) as e:
            _kill_group(proc.pid)
            await proc.wait()
            if isinstance(e, asyncio.CancelledError):
                raise
            return None, f"the audit crawl did not finish within {self.deadline_s:.0f} s"
        if proc.returncode != 0:
            tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
            return None, f"the audit crawl failed (exit {proc.returncode}): {tail[0][:300]}"
        try:
            return Report.model_validate_json(out.strip().splitlines()[-1]), None
        except (ValueError, IndexError) as e:
            return None, f"the audit crawl gave no readable report: {e}"


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass

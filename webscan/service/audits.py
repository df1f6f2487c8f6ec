"""The audit queue: accepted audits wait in the database and run a few at a time.

The queue IS the audits table (status `queued`), so it survives restarts and is shared by all
the service's worker processes. Exactly one process runs audits: the one holding an
exclusive lock on a file beside the database (the others keep trying, so when it dies another
takes over and first re-queues what it left running). Bounded twice: at most `concurrency`
crawls at once (each is a browser) and at most `max_queued` waiting, beyond which the service
answers 503, so a flood of audit requests cannot grow without end. Each audit is a child
process (webscan.service.audit_job) with a hard deadline; that process owns the audit's egress
proxy, through which every connection of its browser is checked against the service's policy
(webscan.net.egress, webscan.net.proxy).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import sys

from starlette.concurrency import run_in_threadpool

from webscan.model import Report
from webscan.service.store import Store
from webscan.service.targets import Resolver, TableResolver, TargetRefused, check_target

log = logging.getLogger("webscan.service.audits")

POLL_S = 1.0
"""How often the runner looks for audits other processes queued (its own wake it at once)."""
LEADER_RETRY_S = 5.0


class QueueFull(Exception):
    pass


class AuditQueue:
    def __init__(self, store: Store, *, resolver: Resolver, concurrency: int = 1,
                 max_queued: int = 100, window_s: float = 10.0, nav_timeout_s: float = 20.0,
                 deadline_s: float = 120.0, allow_private: bool = False, browser: str | None = None,
                 sig_dirs: tuple[str, ...] = (), deny_cidrs: tuple[str, ...] = ()) -> None:
        self.store = store
        self.resolver = resolver
        self.concurrency = max(1, concurrency)
        self.max_queued = max_queued
        self.window_s = window_s
        self.nav_timeout_s = nav_timeout_s
        self.deadline_s = deadline_s
        self.allow_private = allow_private
        self.deny_cidrs = tuple(deny_cidrs)
        self.browser = browser
        self.sig_dirs = sig_dirs
        self.running = 0
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._lock_fd: int | None = None

    def depth(self) -> int:
        """Audits waiting, in every process (a database read)."""
        return self.store.count_queued()

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._lead(), name="audit-runner")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock for another process
            self._lock_fd = None

    async def submit(self, url: str, origin: str, domain: str, network: str):  # noqa: ANN201
        """Store a new audit if there is room (QueueFull if not) and wake the runner."""
        if await run_in_threadpool(self.depth) >= self.max_queued:
            raise QueueFull
        audit = await run_in_threadpool(self.store.create_audit, url, origin, domain, network)
        if self._wake is not None:
            self._wake.set()
        return audit

    def _try_lock(self) -> bool:
        path = self.store.shared_path(".audits.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    async def _lead(self) -> None:
        while not self._try_lock():
            await asyncio.sleep(LEADER_RETRY_S)
        await run_in_threadpool(self.store.pending_audits)  # what a dead runner left running
        gate = asyncio.Semaphore(self.concurrency)
        tasks: set[asyncio.Task] = set()
        try:
            while True:
                await gate.acquire()
                audit_id = await run_in_threadpool(self.store.claim_audit)
                if audit_id is None:
                    gate.release()
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), timeout=POLL_S)
                    except asyncio.TimeoutError:
                        pass
                    continue
                task = asyncio.create_task(self._one(audit_id, gate))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            for t in list(tasks):
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _one(self, audit_id: str, gate: asyncio.Semaphore) -> None:
        self.running += 1
        try:
            await self._run(audit_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one audit's failure never stops the queue
            log.exception("audit %s failed", audit_id)
            await run_in_threadpool(self.store.finish_audit, audit_id, None,
                                    "internal error while auditing")
        finally:
            self.running -= 1
            gate.release()

    async def _run(self, audit_id: str) -> None:
        url = await run_in_threadpool(self.store.audit_url, audit_id)
        if url is None:
            return
        try:
            # Checked again at run time (the answer may have changed since it was queued), so a
            # refused target costs no browser; the egress proxy then checks every connection.
            await run_in_threadpool(check_target, url, resolver=self.resolver,
                                    allow_private=self.allow_private, deny=self.deny_cidrs)
        except TargetRefused as e:
            await run_in_threadpool(self.store.finish_audit, audit_id, None, str(e))
            return
        report, error = await self._crawl(url, audit_id)
        await run_in_threadpool(self.store.finish_audit, audit_id, report, error)

    async def _stages(self, stream: asyncio.StreamReader, audit_id: str) -> bytes:
        """The job's stderr, read as it comes: its stage lines go to the audit's row (the
        progress page polls it); the rest is kept for the error message."""
        from webscan.service.audit_job import STAGE_PREFIX

        kept = bytearray()
        while line := await stream.readline():
            text = line.decode(errors="replace").strip()
            if text.startswith(STAGE_PREFIX):
                await run_in_threadpool(self.store.set_audit_stage, audit_id,
                                        text[len(STAGE_PREFIX):][:16])
            else:
                kept += line
                del kept[:-65536]
        return bytes(kept)

    async def _crawl(self, url: str, audit_id: str) -> tuple[Report | None, str | None]:
        cmd = [sys.executable, "-m", "webscan.service.audit_job", url,
               "--window", str(self.window_s), "--nav-timeout", str(self.nav_timeout_s)]
        if self.browser:
            cmd += ["--browser", self.browser]
        for d in self.sig_dirs:
            cmd += ["--signatures", d]
        cmd += self._egress_args()
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL, start_new_session=True)
        async def finish() -> tuple[bytes, bytes]:
            err_task = asyncio.ensure_future(self._stages(proc.stderr, audit_id))
            try:
                out = await proc.stdout.read()
                await proc.wait()
                return out, await err_task
            finally:
                err_task.cancel()

        try:
            out, err = await asyncio.wait_for(finish(), timeout=self.deadline_s)
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


    def _egress_args(self) -> list[str]:
        """The service's egress policy as audit_job options (its resolver table included: the
        audit's proxy must resolve names exactly as the service does)."""
        args = ["--egress", *(["--allow-private"] if self.allow_private else [])]
        args += [f"--deny-cidr={c}" for c in self.deny_cidrs]
        if isinstance(self.resolver, TableResolver):
            args += [f"--resolve={name}={a}" for name, addresses in self.resolver.table.items()
                     for a in addresses]
        return args


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass

"""Monitors: a page re-audited on a schedule, and a signed webhook call when its verdict changes.

A site owner's page usually turns into a miner through a third-party script that changed, long
after anyone looked: a monitor audits the page every `every` through the SAME audit queue and
limits as `POST /v1/audits` (a monitor is one more client of the queue, never a second crawler),
and when the verdict differs from the previous audit's, POSTs a JSON body to the owner's webhook
with `X-Webscan-Signature: sha256=<hex HMAC-SHA256 of the body>` keyed by the monitor's secret
(given once, on creation).

Schedules live in the database (table `monitors`), so they survive restarts. Every service
process runs a scheduler; a firing is taken by a compare-and-set on the monitor's row (its
`next_run_at` as read, or its pending audit), so with `--workers N` exactly one process queues
each audit and settles each result. Webhook calls run as background tasks with retries and
backoff: a slow or dead receiver never holds the scheduler or the audit queue. The delivery
itself is not durable: a call still retrying when the process stops is lost (the row's
`last_delivery` says how the last one went).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import logging
import re
import secrets
import socket
import ssl
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Path as PathParam, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from webscan.model import PAGE_URL_PATTERN, Audit, AuditStatus, VerdictLabel
from webscan.net.egress import EgressPolicy
from webscan.service.defaults import WEBHOOK_RETRY_S, WEBHOOK_TIMEOUT_S
from webscan.service.store import Store
from webscan.service.targets import (Resolver, TargetRefused, audit_policy, check_target,
                                     resolver_for, split_target)

log = logging.getLogger("webscan.service.monitors")

TICK_S = 1.0
"""How often a scheduler looks for due monitors and finished audits (two indexed reads)."""
BUSY_RETRY_S = 60.0
"""A firing the queue could not take (full) is tried again this much later."""
DELIVERY_DELAYS_S = (0.0, WEBHOOK_RETRY_S, 2.5 * WEBHOOK_RETRY_S, 7.5 * WEBHOOK_RETRY_S,
                     30 * WEBHOOK_RETRY_S, 150 * WEBHOOK_RETRY_S)
"""When each webhook attempt is made, after the previous one failed, with the default first
retry (2 s); `serve --webhook-retry` scales the whole schedule (see delivery_delays)."""
SIGNATURE_HEADER = "X-Webscan-Signature"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
EVERY_PATTERN = r"^[1-9][0-9]{0,5}[smhd]$"


def delivery_delays(first_retry_s: float) -> tuple[float, ...]:
    """The schedule with its first retry after `first_retry_s`: the same number of attempts,
    each gap the same multiple of the first, so a faster schedule is no less patient in
    attempts (an operator on a closed network, or a test, need not wait minutes)."""
    scale = first_retry_s / DELIVERY_DELAYS_S[1]
    return tuple(d * scale for d in DELIVERY_DELAYS_S)


def parse_every(text: str) -> float:
    """'30s', '15m', '6h', '1d' in seconds."""
    if not re.match(EVERY_PATTERN, text):
        raise ValueError(f"{text!r} is not a duration such as 30s, 15m, 6h or 1d")
    return float(int(text[:-1]) * _UNITS[text[-1]])


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for a body: what a receiver recomputes and compares."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class MonitorRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(strict=True, min_length=8, max_length=2048, pattern=PAGE_URL_PATTERN,
                     description="http(s) URL of the page to audit")
    every: str = Field(default="1d", pattern=EVERY_PATTERN,
                       description="how often: 30s, 15m, 6h, 1d... (at least the operator's "
                                   "minimum, 1h by default)")
    webhook: str = Field(strict=True, min_length=8, max_length=2048, pattern=PAGE_URL_PATTERN,
                         description="http(s) URL called with a signed JSON body when the "
                                     "verdict changes")


class MonitorPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paused: bool


class Monitor(BaseModel):
    id: str
    url: str
    every: str
    webhook: str
    paused: bool
    created_at: datetime
    next_run_at: datetime | None = Field(description="when it next queues an audit (None "
                                         "while it waits for one)")
    last_audit_id: str | None = None
    last_verdict: VerdictLabel | None = None
    last_checked_at: datetime | None = None
    last_error: str | None = None
    last_delivery: str | None = Field(default=None, description="how the last webhook call "
                                      "went")


class MonitorCreated(Monitor):
    secret: str = Field(description="the webhook's HMAC-SHA256 key; shown only this once")


class WebhookEvent(BaseModel):
    """The body of a webhook call (signed as sent, byte for byte)."""

    event: Literal["verdict-changed"] = "verdict-changed"
    monitor_id: str
    url: str
    previous: VerdictLabel
    verdict: VerdictLabel
    audit_id: str
    audit_page: str = Field(description="path of the audit's page on this service")
    checked_at: datetime


def _ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, timezone.utc)


def _every_text(seconds: float) -> str:
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{int(seconds)}s"


def monitor_of(row: dict) -> Monitor:
    return Monitor(id=row["id"], url=row["url"], every=_every_text(row["every_s"]),
                   webhook=row["webhook"], paused=bool(row["paused"]),
                   created_at=_ts(row["created_at"]),
                   next_run_at=None if row["pending_audit_id"] else _ts(row["next_run_at"]),
                   last_audit_id=row["last_audit_id"],
                   last_verdict=VerdictLabel(row["last_verdict"]) if row["last_verdict"] else None,
                   last_checked_at=_ts(row["last_checked_at"]), last_error=row["last_error"],
                   last_delivery=row["last_delivery"])


def monitors_router(store: Store, config, require_key: Callable, limit: Callable,  # noqa: ANN001
                    resolver: Resolver) -> APIRouter:
    """POST/GET /v1/monitors, PATCH/DELETE /v1/monitors/{id}; all need an API key when the
    operator set any (as audits do)."""
    router = APIRouter(prefix="/v1/monitors", tags=["monitors"],
                       dependencies=[Depends(require_key)])
    id_param = PathParam(pattern=r"^[0-9a-f]{32}$", description="id from POST /v1/monitors")

    def check(url: str, what: str) -> None:
        try:
            check_target(url, resolver=resolver, allow_private=config.allow_private,
                         deny=config.deny_cidrs)
        except TargetRefused as e:
            raise HTTPException(400, f"{what}: {e}") from None

    @router.post("", status_code=201, response_model=MonitorCreated,
                 responses={400: {"description": "the page or the webhook may not be reached"},
                            401: {"description": "API key missing or wrong"},
                            422: {"description": "bad body, or `every` below the minimum"},
                            429: {"description": "rate limited; see Retry-After"}})
    async def create(body: MonitorRequest, request: Request) -> MonitorCreated:
        """Audit a page on a schedule; the webhook hears of every change of its verdict."""
        limit("audits", request)
        every_s = parse_every(body.every)
        if every_s < config.monitor_min_interval_s:
            raise HTTPException(422, f"`every` is {body.every}: this service audits a page at "
                                     f"most every {_every_text(config.monitor_min_interval_s)}; "
                                     f"ask for that or longer")
        await run_in_threadpool(check, body.url, "the page")
        await run_in_threadpool(check, body.webhook, "the webhook")
        origin, domain, _, _ = split_target(body.url)
        now = store.clock()
        row = dict(id=uuid.uuid4().hex, url=body.url, origin=origin, domain=domain,
                   every_s=every_s, webhook=body.webhook, secret=secrets.token_hex(32),
                   paused=False, created_at=now, next_run_at=now)
        await run_in_threadpool(store.create_monitor, row)
        full = {**row, **dict.fromkeys(("pending_audit_id", "last_audit_id", "last_verdict",
                                        "last_checked_at", "last_error", "last_delivery"))}
        return MonitorCreated(**monitor_of(full).model_dump(), secret=row["secret"])

    @router.get("", response_model=list[Monitor])
    async def listing() -> list[Monitor]:
        """Every monitor, oldest first (secrets are never shown again)."""
        return [monitor_of(r) for r in await run_in_threadpool(store.monitor_rows)]

    async def one(monitor_id: str) -> Monitor:
        rows = await run_in_threadpool(lambda: store.monitor_rows(monitor_id=monitor_id))
        if not rows:
            raise HTTPException(404, f"no monitor with id {monitor_id}")
        return monitor_of(rows[0])

    @router.patch("/{monitor_id}", response_model=Monitor,
                  responses={404: {"description": "no monitor with this id"}})
    async def patch(body: MonitorPatch, monitor_id: str = id_param) -> Monitor:
        """Pause or resume; a resumed monitor audits at once."""
        values: dict = {"paused": body.paused}
        if not body.paused:
            values["next_run_at"] = store.clock()
        if not await run_in_threadpool(lambda: store.update_monitor(monitor_id, **values)):
            raise HTTPException(404, f"no monitor with id {monitor_id}")
        return await one(monitor_id)

    @router.delete("/{monitor_id}", status_code=204,
                   responses={404: {"description": "no monitor with this id"}})
    async def remove(monitor_id: str = id_param) -> Response:
        if not await run_in_threadpool(store.delete_monitor, monitor_id):
            raise HTTPException(404, f"no monitor with id {monitor_id}")
        return Response(status_code=204)

    return router


class MonitorScheduler:
    """One per service process; see the module docstring for how processes share the work."""

    def __init__(self, store: Store, config) -> None:  # noqa: ANN001
        self.store = store
        self.config = config
        self._task: asyncio.Task | None = None
        self._deliveries: set[asyncio.Task] = set()
        self._submit: Callable[[str, str], Awaitable[Audit]] | None = None

    def start(self, submit: Callable[[str, str], Awaitable[Audit]]) -> None:
        self._submit = submit
        self._task = asyncio.create_task(self._loop(), name="monitor-scheduler")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._deliveries) if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a database hiccup must not end the schedule
                log.exception("monitor scheduler tick failed")
            await asyncio.sleep(TICK_S)

    async def tick(self) -> None:
        for monitor_id, audit_id, status, verdict in await run_in_threadpool(
                self.store.waiting_monitors):
            if status in (AuditStatus.done.value, AuditStatus.failed.value, None):
                await self._settle(monitor_id, audit_id, status, verdict)
        now = self.store.clock()
        for monitor_id, next_run in await run_in_threadpool(self.store.due_monitors, now):
            await self._fire(monitor_id, next_run, now)

    async def _fire(self, monitor_id: str, seen_next: float, now: float) -> None:
        rows = await run_in_threadpool(lambda: self.store.monitor_rows(monitor_id=monitor_id))
        if not rows:
            return
        row = rows[0]
        if not await run_in_threadpool(self.store.claim_monitor, monitor_id, seen_next,
                                       now + row["every_s"]):
            return  # another process took this firing
        try:
            audit = await self._submit(row["url"], "monitor")
        except HTTPException as e:
            later = {"next_run_at": now + min(BUSY_RETRY_S, row["every_s"])} \
                if e.status_code == 503 else {}
            await run_in_threadpool(lambda: self.store.update_monitor(
                monitor_id, last_error=f"could not queue the audit: {e.detail}",
                last_checked_at=now, **later))
            return
        await run_in_threadpool(lambda: self.store.update_monitor(
            monitor_id, pending_audit_id=audit.id))

    async def _settle(self, monitor_id: str, audit_id: str, status: str | None,
                      verdict: str | None) -> None:
        now = self.store.clock()
        judged = verdict if status == AuditStatus.done.value and verdict not in (
            None, VerdictLabel.error.value) else None
        error = None
        if judged is None:
            audit = await run_in_threadpool(self.store.get_audit, audit_id)
            error = (audit.error or (audit.report.error if audit.report else None)
                     if audit else None) or "the audit gave no verdict"
        values = dict(last_audit_id=audit_id, last_checked_at=now, last_error=error)
        if judged is not None:
            values["last_verdict"] = judged
        before = await run_in_threadpool(self.store.settle_monitor, monitor_id, audit_id, values)
        if before is None or judged is None:
            return
        previous = before["last_verdict"]
        if previous is not None and previous != judged:
            event = WebhookEvent(monitor_id=monitor_id, url=before["url"],
                                 previous=VerdictLabel(previous), verdict=VerdictLabel(judged),
                                 audit_id=audit_id, audit_page=f"/audits/{audit_id}",
                                 checked_at=_ts(now))
            task = asyncio.create_task(self._deliver(before, event))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, row: dict, event: WebhookEvent) -> None:
        """POST the event until the receiver answers 2xx, waiting longer after each failure."""
        body = event.model_dump_json().encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(row["secret"], body),
                   "User-Agent": "webscan-monitor", "X-Webscan-Event": event.event}
        outcome = ""
        delays = delivery_delays(self.config.webhook_retry_s)
        for attempt, delay in enumerate(delays, 1):
            await asyncio.sleep(delay)
            try:
                status = await run_in_threadpool(self._post, row["webhook"], body, headers)
            except (OSError, http.client.HTTPException, ValueError) as e:
                outcome = f"attempt {attempt} failed: {e}"
                continue
            if 200 <= status < 300:
                outcome = f"delivered {event.previous.value} -> {event.verdict.value} " \
                          f"(HTTP {status}, attempt {attempt})"
                break
            outcome = f"attempt {attempt}: the webhook answered HTTP {status}"
        else:
            outcome = f"not delivered after {len(delays)} attempts; last: {outcome}"
        await run_in_threadpool(lambda: self.store.update_monitor(
            row["id"], last_delivery=f"{outcome} at {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"))

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        policy = audit_policy(_resolver_of(self.config), allow_private=self.config.allow_private,
                              deny=self.config.deny_cidrs)
        return post_webhook(url, body, headers, policy, timeout_s=self.config.webhook_timeout_s)


def post_webhook(url: str, body: bytes, headers: dict[str, str], policy: EgressPolicy,
                 tls: ssl.SSLContext | None = None, timeout_s: float = WEBHOOK_TIMEOUT_S) -> int:
    """One POST to an address the service's egress policy allows, checked now (the webhook's
    name may point elsewhere than when the monitor was made), and connected to that very
    address: https too, with the certificate checked against the name, so a second lookup
    can neither reach another address nor bypass the service's resolver table."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    address = policy.resolve(host)[0]
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = _PinnedHTTPS(address, host, port, tls, timeout_s)
    else:
        conn = http.client.HTTPConnection(address, port, timeout=timeout_s)
    try:
        conn.request("POST", path, body=body, headers={**headers, "Host": parts.netloc})
        response = conn.getresponse()
        response.read(65536)
        return response.status
    finally:
        conn.close()


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a given address, the TLS name (SNI and certificate) being the URL's host."""

    def __init__(self, address: str, host: str, port: int,
                 tls: ssl.SSLContext | None, timeout_s: float) -> None:
        self._address = address.split("%")[0]
        self._tls = tls or ssl.create_default_context()
        super().__init__(host, port, timeout=timeout_s, context=self._tls)

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def _resolver_of(config) -> Resolver:  # noqa: ANN001
    return resolver_for(config.resolver_table)


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver written in Python does: recompute the signature over the body's bytes
    as received (before parsing them), compare in constant time."""
    return hmac.compare_digest(sign(secret, body), header or "")


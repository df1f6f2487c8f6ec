"""The FastAPI application: reports from browsers, shared verdicts, audits, static scans,
the signature feed, health and metrics.

The service only moves data: detection is webscan.scanner and the crawler, verdicts are
webscan.verdict, and the shared verdict over many reports is webscan.consensus. The costly
parts (compiling signatures into engines, opening and migrating the database) happen once in
`create_app`, never per request.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Path as PathParam, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from webscan import __version__
from webscan.consensus import ConsensusPolicy, RuleCatalog, network_of, shared_verdict, worse
from webscan.model import (ATTACK_TECHNIQUE, Audit, AuditRequest, PageReport, Report,
                           VerdictLabel, VerdictLookup)
from webscan.rules.loader import SignatureSet, load_signatures
from webscan.parallel import build_scanner, scan_bytes_in_worker, supervised
from webscan.scanner import DEFAULT_MAX_BYTES
from webscan.service import defaults
from webscan.service.audits import AuditQueue, QueueFull
from webscan.service.limits import BodyLimitMiddleware
from webscan.service.metrics import Metrics, MetricsMiddleware
from webscan.service.ratelimit import RateLimiter, RateLimits
from webscan.service.store import ReportRow, Store
from webscan.service.targets import TargetRefused, check_target, resolver_for, split_target
from webscan.service.uploads import read_upload
from webscan.service.verdict_cache import ChangeBoard, VerdictCache
from webscan.workers import Workers

log = logging.getLogger("webscan.service")

READ_THREADS = 8
"""Threads for database reads (lookups); the store's connection pool keeps as many."""
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SCAN_BODY_DOC = {
    "required": True,
    "content": {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"}}}},
    },
}


def default_db_url() -> str:
    """A SQLite file in the user's data directory (created if missing)."""
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("webscan", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'webscan.db'}"


@dataclass
class ServiceConfig:
    """What an operator sets; the CLI's `webscan serve` options map onto these fields."""

    db_url: str | None = None  # None: default_db_url()
    allow_private: bool = False
    api_keys: tuple[str, ...] = ()
    rate_limits: RateLimits = field(default_factory=RateLimits)
    policy: ConsensusPolicy = field(default_factory=ConsensusPolicy)
    max_upload_bytes: int = 5_000_000
    max_report_bytes: int = 256 * 1024
    audit_concurrency: int = 1
    audit_queue: int = 100
    audit_window_s: float = 10.0
    audit_nav_timeout_s: float = 20.0  # the crawl's own limit on a page's load
    audit_deadline_s: float = 120.0
    browser: str | None = None
    sig_dirs: tuple[str, ...] = ()
    trust_proxy: bool = False  # take the client address from X-Forwarded-For
    verdict_cache_s: float = 30.0  # how stale a lookup may be after a write on another host
    scan_timeout_s: float | None = None
    """Analysis time budget per POST /v1/scan upload; None: webscan.budget's size-based default."""
    scan_processes: int = 1  # scan worker processes (per service worker)
    resolver_table: dict[str, list[str]] | None = None
    """Audit targets' names answered from this table (name -> addresses) and nothing else;
    None: the system's resolver (DNS)."""
    deny_cidrs: tuple[str, ...] = ()
    """Ranges no audit connection may reach, even with allow_private (`serve --deny-cidr`)."""
    monitor_min_interval_s: float = defaults.MONITOR_MIN_INTERVAL_S
    """The shortest `every` a monitor may have (`serve --monitor-min-interval`)."""
    webhook_timeout_s: float = defaults.WEBHOOK_TIMEOUT_S
    """How long one webhook call may take before it counts as failed (`serve --webhook-timeout`)."""
    webhook_retry_s: float = defaults.WEBHOOK_RETRY_S
    """The delay before a failed webhook call's first retry; later retries wait proportionally
    longer, 2.5x, 7.5x, 30x and 150x it (`serve --webhook-retry`)."""


CONFIG_ENV = "WEBSCAN_SERVICE_CONFIG"
"""How `webscan serve --workers N` hands its configuration to each worker process."""


def config_to_env(config: ServiceConfig) -> str:
    doc = asdict(config)
    doc["policy"]["window"] = config.policy.window.total_seconds()
    return json.dumps(doc)


def config_from_env(text: str) -> ServiceConfig:
    doc = json.loads(text)
    doc["rate_limits"] = RateLimits(**doc["rate_limits"])
    doc["policy"] = ConsensusPolicy(
        confirm_reporters=doc["policy"]["confirm_reporters"],
        window=timedelta(seconds=doc["policy"]["window"]))
    doc["api_keys"] = tuple(doc["api_keys"])
    doc["sig_dirs"] = tuple(doc["sig_dirs"])
    doc["deny_cidrs"] = tuple(doc.get("deny_cidrs", ()))
    doc["monitor_min_interval_s"] = float(doc.get("monitor_min_interval_s", defaults.MONITOR_MIN_INTERVAL_S))
    return ServiceConfig(**doc)


def app_from_env() -> FastAPI:
    """The app factory uvicorn calls in each worker process (`--workers N`)."""
    import os

    config = config_from_env(os.environ[CONFIG_ENV])
    sigs = load_signatures([Path(d) for d in config.sig_dirs] if config.sig_dirs else None)
    return create_app(sigs=sigs, config=config)


def signatures_document(sigs: SignatureSet) -> bytes:
    """The feed body, serialised once: it only changes when the service restarts."""
    doc = {
        "version": sigs.version,
        "digest": sigs.digest,
        "rules": [rule.model_dump(mode="json") for rule in sigs.all_rules()],
        "verdict": sigs.verdict.model_dump(mode="json"),
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match uses weak comparison (RFC 9110 13.1.2), so W/"x" matches "x"."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    candidates = (c.strip().removeprefix("W/") for c in if_none_match.split(","))
    return etag in candidates


def create_app(*, sigs: SignatureSet | None = None, config: ServiceConfig | None = None,
               max_upload_bytes: int | None = None,
               clock: Callable[[], float] = time.time) -> FastAPI:
    """The service. `clock` (Unix seconds) is where time enters verdicts: report and audit
    times, and the window after which reports stop counting; tests move it instead of
    waiting 30 days."""
    config = config or ServiceConfig()
    if max_upload_bytes is not None:
        config.max_upload_bytes = max_upload_bytes
    sigs = sigs or load_signatures()
    catalog = RuleCatalog(sigs)
    # Uploads are analysed in worker processes, never on the event loop (a scan in a thread
    # would still hold the GIL through the pure-Python passes and starve every other request),
    # each within its time budget: a worker that overruns it is killed and replaced. A fork
    # server, as the service holds threads and sockets a forked child would inherit.
    scans = Workers(config.scan_processes, build_scanner,
                    (sigs, DEFAULT_MAX_BYTES, None, config.scan_timeout_s), method="forkserver",
                    preload=("webscan.parallel",))
    scan_waits = ThreadPoolExecutor(max_workers=config.scan_processes,
                                    thread_name_prefix="webscan-scan")
    metrics = Metrics()
    feed = signatures_document(sigs)
    etag = f'"{sigs.digest}"'
    cache = VerdictCache(ttl_s=config.verdict_cache_s)
    store = Store(config.db_url or default_db_url(), on_change=cache.invalidate, clock=clock)
    cache.board = ChangeBoard(store.shared_path(".changes"))
    # On a server database, lookups read on a few threads of their own (SQLite reads run
    # inline, see `read`), as many as the store's pool keeps connections: Starlette's default
    # pool (40 threads) made the pool open and close overflow connections on every lookup under
    # load, and 40 threads contending for the GIL starved the report writer thread.
    readers = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="webscan-db-read")
    limiter = RateLimiter(config.rate_limits)
    resolver = resolver_for(config.resolver_table)
    queue = AuditQueue(store, resolver=resolver, concurrency=config.audit_concurrency,
                       max_queued=config.audit_queue, window_s=config.audit_window_s,
                       nav_timeout_s=config.audit_nav_timeout_s,
                       deadline_s=config.audit_deadline_s, allow_private=config.allow_private,
                       browser=config.browser, sig_dirs=config.sig_dirs,
                       deny_cidrs=config.deny_cidrs)
    metrics.gauge("webscan_audit_queue_depth", "Audits accepted and waiting to run.",
                  queue.depth)
    metrics.gauge("webscan_audits_running", "Audit crawls running now.", lambda: queue.running)
    api_keys = tuple(k.encode() for k in config.api_keys)

    from webscan.service.monitors import MonitorScheduler

    scheduler = MonitorScheduler(store, config)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await queue.start()
        scheduler.start(submit_audit)
        await run_in_threadpool(functools.partial(scans.start, wait=True))
        restore_signals = _abort_scans_on_exit_signals(scans)
        try:
            yield
        finally:
            restore_signals()
            await scheduler.stop()
            await run_in_threadpool(scans.close)
            scan_waits.shutdown(wait=False, cancel_futures=True)
            await queue.stop()
            await run_in_threadpool(store.close)
            readers.shutdown(wait=False)

    app = FastAPI(title="webscan", version=__version__, lifespan=lifespan, docs_url=None,
                  description="Cryptojacking detection: reports from browsers, shared "
                              "verdicts, audit crawls, static scans and the signature feed.")
    app.state.store = store
    app.state.config = config
    app.state.queue = queue
    app.add_middleware(BodyLimitMiddleware, limits={
        "/v1/reports": config.max_report_bytes, "/v1/audits": 16 * 1024})
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; the operator's log has the details"},
                            status_code=500)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 with where and what, without echoing the (possibly large) input back."""
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""),
                   "type": e.get("type", "")} for e in exc.errors()[:20]]
        return JSONResponse({"detail": errors}, status_code=422)

    def client_of(request: Request) -> str:
        if config.trust_proxy:
            forwarded = request.headers.get("x-forwarded-for", "")
            first = forwarded.split(",")[0].strip()
            if first:
                return first
        return request.client.host if request.client else "unknown"

    def limit(kind: str, request: Request) -> None:
        wait = limiter.take(kind, client_of(request))
        if wait:
            metrics.count("webscan_rate_limited_total", kind)
            raise HTTPException(429, f"too many {kind} from this address; retry in "
                                     f"{wait:.0f} s", headers={"Retry-After": str(int(wait) + 1)})

    key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="Required for audits when the operator set API keys.")

    def require_key(request: Request, key: str | None = Depends(key_header)) -> None:
        if not api_keys:
            return
        auth = request.headers.get("authorization", "")
        given = key or (auth[7:].strip() if auth[:7].lower() == "bearer " else "")
        if not given or not any(hmac.compare_digest(given.encode(), k) for k in api_keys):
            raise HTTPException(401, "an API key is required for audits: send it as X-API-Key "
                                     "or Authorization: Bearer KEY",
                                headers={"WWW-Authenticate": "Bearer"})

    async def read_json(request: Request, model: type[BaseModel]) -> BaseModel:
        """The body validated straight from its bytes (pydantic's JSON mode: faster than
        FastAPI's decode-then-validate, and strict types mean what they say)."""
        media = request.headers.get("content-type", "application/json").split(";")[0]
        media = media.strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            raise HTTPException(415, f"unsupported Content-Type {media!r}: send the report "
                                     f"as application/json")
        try:
            body = await request.body()
        except ClientDisconnect:
            raise HTTPException(400, "the client went away before sending the whole body") \
                from None
        if not body.strip():
            raise RequestValidationError([{"loc": ("body",), "type": "missing",
                                           "msg": "Field required: the body is empty; send "
                                                  "the report as a JSON object"}])
        try:
            return model.model_validate_json(body)
        except ValidationError as e:
            raise RequestValidationError(
                [{**err, "loc": ("body", *err.get("loc", ()))} for err in e.errors()]) from None

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__, "signatures_version": sigs.version}

    # -- reports and verdicts ---------------------------------------------------------------
    def scope_entries(keys: list[str]) -> list:
        """Each scope's (verdict, SiteVerdict JSON), from the database, cached if no write
        raced the read."""
        snaps = [cache.snapshot(k) for k in keys]
        cutoff = clock() - config.policy.window.total_seconds()
        out = []
        for key, snap, facts in zip(keys, snaps, store.facts(keys, cutoff)):
            scope, _, name = key.partition(":")
            sv, evidence = shared_verdict("origin" if scope == "o" else "domain", name,
                                          facts, config.policy)
            entry = (sv.verdict, _with_evidence(sv.model_dump_json().encode(), evidence))
            cache.put(key, snap, entry)
            out.append(entry)
        return out

    async def lookup(url: str, origin: str, domain: str) -> Response:
        """The VerdictLookup for a URL as JSON, composed from the two scopes' cached parts
        (the same document `VerdictLookup(...).model_dump_json()` gives, without rebuilding
        models on every hit)."""
        keys = [f"o:{origin}", f"d:{domain}"]
        entries = [cache.get(k) for k in keys]
        missing = [k for k, e in zip(keys, entries) if e is None]
        if missing:
            fresh = dict(zip(missing, await read(scope_entries, missing)))
            entries = [e if e is not None else fresh[k] for k, e in zip(keys, entries)]
        (ov, oj), (dv, dj) = entries
        verdict = worse(ov, dv)
        body = b"".join((
            b'{"url":', _json(url), b',"origin":', _json(origin), b',"domain":', _json(domain),
            b',"verdict":', _json(verdict.value if verdict else None),
            b',"technique":', _json(ATTACK_TECHNIQUE if verdict is VerdictLabel.miner else None),
            b',"origin_verdict":', oj, b',"domain_verdict":', dj, b"}"))
        return Response(body, media_type="application/json")

    inline_reads = store.dialect == "sqlite"

    async def read(fn, *args):  # noqa: ANN001, ANN202
        """Run a database read. SQLite in WAL mode answers an indexed read in ~60 us without
        ever waiting for the writer, less than handing the call to a thread and back costs
        (measured: bench/bench_service.py), so those run inline; a server database's reads
        go to the read threads, where a slow network cannot stall the event loop."""
        if inline_reads:
            return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(readers, fn, *args)

    @app.post("/v1/reports", response_model=VerdictLookup,
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": {"$ref": "#/components/schemas/PageReport"}}}}},
              responses={413: {"description": "report over the size limit"},
                         415: {"description": "the body is not JSON"},
                         422: {"description": "the report does not fit the PageReport model"},
                         429: {"description": "rate limited; see Retry-After"}})
    async def post_report(request: Request) -> Response:
        """Store what a browser saw on a page; answers with the site's shared verdict.

        The report's own verdict is kept for the record but never trusted: the service
        re-judges its findings with its own rules, and reports alone never make a site
        `miner` (see the README on report poisoning)."""
        limit("reports", request)
        report = await read_json(request, PageReport)
        origin, domain, _, _ = _split_or_422(report.url, "body")
        try:
            body = report.model_dump_json()
        except ValueError:  # e.g. a lone surrogate ("\ud800") that JSON decoding let through
            raise HTTPException(422, "report: text fields must be valid Unicode (no lone "
                                     "surrogates such as \\ud800)") from None
        judged = catalog.rejudge(report)
        row = ReportRow(url=report.url, origin=origin, domain=domain, reporter=report.reporter,
                        network=network_of(client_of(request)), client=report.client,
                        local_verdict=report.local_verdict.value, verdict=judged.verdict,
                        score=judged.score, body=body, evidence=judged.evidence)
        await asyncio.wrap_future(store.add_report(row))
        metrics.count("webscan_reports_total", judged.verdict.value)
        return await lookup(report.url, origin, domain)

    @app.get("/v1/verdicts", response_model=VerdictLookup,
             responses={429: {"description": "rate limited; see Retry-After"}})
    async def get_verdict(request: Request,
                          url: str = Query(min_length=1, max_length=2048,
                                           description="http(s) URL or origin of the site")
                          ) -> Response:
        """The shared verdict for a site: its exact origin and its registrable domain, with
        evidence, independent reporters, the last audit, first and last seen."""
        limit("lookups", request)
        origin, domain, _, _ = _split_or_422(url, "query")
        return await lookup(url, origin, domain)

    # -- audits ---------------------------------------------------------------------------
    @app.post("/v1/audits", status_code=202, response_model=Audit,
              dependencies=[Depends(require_key)],
              responses={400: {"description": "the URL may not be audited"},
                         401: {"description": "API key missing or wrong"},
                         429: {"description": "rate limited; see Retry-After"},
                         503: {"description": "the audit queue is full; see Retry-After"}})
    async def post_audit(body: AuditRequest, request: Request, response: Response) -> Audit:
        """Queue an audit crawl of a page; poll GET /v1/audits/{id} for the result."""
        limit("audits", request)
        audit = await submit_audit(body.url, network_of(client_of(request)))
        response.headers["Location"] = f"/v1/audits/{audit.id}"
        return audit

    async def submit_audit(url: str, network: str) -> Audit:
        """The one way an audit is queued (the API, the site owners' page, monitors): the
        target checked, then the queue and its bound; HTTPException 400 or 503 if not."""
        try:
            target = await run_in_threadpool(check_target, url, resolver=resolver,
                                             allow_private=config.allow_private,
                                             deny=config.deny_cidrs)
        except TargetRefused as e:
            raise HTTPException(400, str(e)) from None
        try:
            return await queue.submit(url, target.origin, target.domain, network)
        except QueueFull:
            raise HTTPException(503, "the audit queue is full; retry later",
                                headers={"Retry-After": "30"}) from None

    @app.get("/v1/audits/{audit_id}", response_model=Audit,
             responses={404: {"description": "no audit with this id"}})
    async def get_audit(request: Request,
                        audit_id: str = PathParam(pattern=r"^[0-9a-f]{32}$",
                                                  description="id from POST /v1/audits")
                        ) -> Audit:
        """An audit's status; when done, its verdict and the full crawl report."""
        limit("lookups", request)
        audit = await run_in_threadpool(store.get_audit, audit_id)
        if audit is None:
            raise HTTPException(404, f"no audit with id {audit_id}")
        return audit

    # -- static scans and the signature feed -------------------------------------------------
    def scan_sync(data: bytes, name: str) -> Report:
        """One upload's Report from a scan worker, within its budget whatever the input."""
        return supervised(scans, scan_bytes_in_worker, (data, name), path=name, size=len(data),
                          file_timeout=config.scan_timeout_s, sigs=sigs)

    @app.post("/v1/scan", response_model=Report, openapi_extra={"requestBody": SCAN_BODY_DOC},
              responses={400: {"description": "empty or malformed upload"},
                         413: {"description": "upload over the size limit"},
                         415: {"description": "unsupported Content-Type"},
                         429: {"description": "rate limited; see Retry-After"},
                         503: {"description": "the service is stopping; retry elsewhere"}})
    async def scan(request: Request,
                   name: str = Query("upload.js", min_length=1, max_length=255,
                                     pattern=r"^[^\x00-\x1f\x7f]+$",
                                     description="file name; its suffix picks the analyser "
                                                 "when the content does not")) -> Report:
        """Static verdict for one uploaded JS, HTML or Wasm file, within the file's analysis
        time budget: past it the verdict is `error` ("analysis time budget exceeded after N
        s") with the findings made so far, or `miner` if those already make one."""
        limit("scans", request)
        data, name = await read_upload(request, name, config.max_upload_bytes)
        if not data:
            raise HTTPException(400, "empty upload: send the file's bytes as the body or in "
                                     "a multipart field named `file`")
        report = await asyncio.get_running_loop().run_in_executor(scan_waits, scan_sync, data,
                                                                   name)
        if scans.closed:
            raise HTTPException(503, "the service is stopping; send the file again later",
                                headers={"Retry-After": "30"})
        metrics.count_verdict(report.verdict.value)
        return report

    @app.get("/v1/signatures", responses={304: {"description": "unchanged since the ETag"}})
    async def signatures(request: Request) -> Response:
        """The signature set for clients (the extension); revalidate with If-None-Match."""
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(feed, media_type="application/json", headers=headers)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=PROMETHEUS_TYPE)

    def openapi() -> dict:
        """FastAPI's schema, plus the PageReport model the reports endpoint reads itself."""
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            doc = get_openapi(title=app.title, version=app.version,
                              description=app.description, routes=app.routes)
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            own = PageReport.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in own.pop("$defs", {}).items():
                schemas.setdefault(name, sub)
            schemas["PageReport"] = own
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi
    # The site owners' pages and monitors: routers of their own, given what they share
    # with the API (one audit path, the rate limits, API keys, the shared verdict).
    from webscan.service.monitors import monitors_router
    from webscan.service.site_page import mount_pages

    app.state.hooks = ServiceHooks(submit_audit=submit_audit, limit=limit,
                                   require_key=require_key, lookup=lookup,
                                   network_of_request=lambda r: network_of(client_of(r)),
                                   keys_required=bool(api_keys))
    app.include_router(monitors_router(store, config, require_key, limit, resolver))
    mount_pages(app)
    return app


@dataclass
class ServiceHooks:
    """What the page router borrows from the API, so both take the same path."""

    submit_audit: Callable
    limit: Callable[[str, Request], None]
    require_key: Callable
    lookup: Callable
    network_of_request: Callable[[Request], str]
    keys_required: bool


def _abort_scans_on_exit_signals(scans: Workers) -> Callable[[], None]:
    """On SIGTERM/SIGINT, kill the scan workers before uvicorn's own handler runs.

    uvicorn waits for running requests before it stops, and a scan may run for its whole
    budget: killed workers make those requests answer 503 at once, so the service stops
    promptly. Signal handlers belong to the main thread; elsewhere (a test's server thread)
    nothing is changed. Returns the function that puts the previous handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous: dict[int, Callable] = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        handler = signal.getsignal(sig)
        if not callable(handler):
            continue  # not uvicorn's: leave the default or ignored disposition alone

        def abort_then(signum: int, frame, handler: Callable = handler) -> None:  # noqa: ANN001
            scans.abort()
            handler(signum, frame)

        previous[sig] = handler
        signal.signal(sig, abort_then)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


_EMPTY_EVIDENCE = b'"evidence":[]}'


def _with_evidence(site_verdict: bytes, evidence: str) -> bytes:
    """Put the stored evidence list (JSON written by the store from validated Findings) in
    place of the empty one; `evidence` is SiteVerdict's last field."""
    if not site_verdict.endswith(_EMPTY_EVIDENCE):
        raise ValueError("SiteVerdict no longer ends with its evidence field")
    return site_verdict[:-len(_EMPTY_EVIDENCE)] + b'"evidence":' + evidence.encode() + b"}"


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _split_or_422(url: str, where: str) -> tuple[str, str, str, int]:
    """split_target, with a refusal in the same 422 shape as FastAPI's validation errors."""
    try:
        return split_target(url)
    except TargetRefused as e:
        raise HTTPException(422, [{"loc": [where, "url"], "msg": str(e),
                                   "type": "url_refused"}]) from None

"""The FastAPI application: static scan uploads, the signature feed, health and metrics.

First slice of issue 4: no database yet, so no reports, verdict lookups or audits. Everything
here is stateless apart from the metrics counters, and the costly part (compiling signatures
into engines) happens once in `create_app`, never per request.
"""

from __future__ import annotations

import json
import logging
import threading

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from webscan import __version__
from webscan.model import Report
from webscan.rules.loader import SignatureSet, load_signatures
from webscan.scanner import Scanner
from webscan.service.metrics import Metrics, MetricsMiddleware
from webscan.service.uploads import read_upload

log = logging.getLogger("webscan.service")

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


def create_app(*, sigs: SignatureSet | None = None, max_upload_bytes: int = 5_000_000) -> FastAPI:
    sigs = sigs or load_signatures()
    scanner = Scanner(sigs)
    # The JS engine holds one tree-sitter parser, which is not safe to share between threads;
    # scans are CPU-bound under the GIL anyway, so serialising them costs little.
    scan_lock = threading.Lock()
    metrics = Metrics()
    feed = signatures_document(sigs)
    etag = f'"{sigs.digest}"'

    app = FastAPI(title="webscan", version=__version__,
                  description="Cryptojacking detection: static scans and the signature feed.")
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; the operator's log has the details"},
                            status_code=500)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__, "signatures_version": sigs.version}

    def scan_sync(data: bytes, name: str) -> Report:
        with scan_lock:
            return scanner.scan_bytes(data, name)

    @app.post("/v1/scan", response_model=Report, openapi_extra={"requestBody": SCAN_BODY_DOC},
              responses={400: {"description": "empty or malformed upload"},
                         413: {"description": "upload over the size limit"},
                         415: {"description": "unsupported Content-Type"}})
    async def scan(request: Request,
                   name: str = Query("upload.js", min_length=1, max_length=255,
                                     pattern=r"^[^\x00-\x1f\x7f]+$",
                                     description="file name; its suffix picks the analyser "
                                                 "when the content does not")) -> Report:
        """Static verdict for one uploaded JS, HTML or Wasm file."""
        data, name = await read_upload(request, name, max_upload_bytes)
        if not data:
            raise HTTPException(400, "empty upload: send the file's bytes as the body or in "
                                     "a multipart field named `file`")
        report = await run_in_threadpool(scan_sync, data, name)
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

    return app

"""The one data model of webscan.

Every producer (static scanner, crawler, service, extension reports) and every output format
(table, JSON, JSONL, SARIF) speaks these types, so a finding means the same thing wherever it
is read. Keep it small: adding a field here changes every border at once.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ATTACK_TECHNIQUE = "T1496"
"""MITRE ATT&CK Resource Hijacking; confirmed mining maps here (T1496.001 in recent versions)."""


class Severity(str, Enum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class EvidenceKind(str, Enum):
    """Where a piece of evidence came from, so a reader knows how to check it."""

    domain = "domain"  # a host or URL pattern of a mining service or pool proxy
    js = "js"  # JavaScript structure or strings
    html = "html"  # page structure: script src, iframes, handlers
    wasm = "wasm"  # WebAssembly module semantics
    protocol = "protocol"  # pool protocol message shapes
    runtime = "runtime"  # observed in a browser: workers, sockets, CPU
    parse = "parse"  # the input could not be fully understood


class VerdictLabel(str, Enum):
    miner = "miner"
    suspicious = "suspicious"
    clean = "clean"
    error = "error"  # could not be analysed; `error` on the report says why


VERDICT_RANK = {VerdictLabel.clean: 0, VerdictLabel.suspicious: 1, VerdictLabel.miner: 2}


class Location(BaseModel):
    """Where evidence sits: a file or URL with line/column, or a Wasm function and offset.

    Lines and columns are 1-based, as editors and SARIF count them. `context` says how the
    thing was reached when it is not the file itself, e.g. "inline <script> #2" or
    "Wasm decoded from base64 literal at line 14".
    """

    model_config = ConfigDict(extra="forbid")

    target: str
    line: int | None = Field(default=None, ge=1)
    column: int | None = Field(default=None, ge=1)
    wasm_function: int | None = Field(default=None, ge=0)
    wasm_offset: int | None = Field(default=None, ge=0)
    context: str | None = None


class Finding(BaseModel):
    """One piece of evidence: a rule that matched, where, and what it saw.

    `category` ties the finding to a weight in signatures/verdict.yaml; the verdict module
    is the only place that turns categories into a score.
    """

    model_config = ConfigDict(extra="forbid")

    rule: str
    kind: EvidenceKind
    category: str
    severity: Severity
    message: str
    location: Location
    excerpt: str | None = Field(default=None, max_length=400)
    references: list[str] = Field(default_factory=list)


class WasmSummary(BaseModel):
    """Fingerprint of one WebAssembly module, whether read from disk, inlined or captured."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    sha256: str
    size: int = Field(ge=0)
    location: Location
    functions: int = Field(default=0, ge=0)
    instructions: int = Field(default=0, ge=0)
    xor_share: float = Field(default=0.0, ge=0.0, le=1.0)
    rotates_per_1000: float = Field(default=0.0, ge=0.0)
    primitives: list[str] = Field(default_factory=list)
    imports: list[str] = Field(default_factory=list)
    exports: list[str] = Field(default_factory=list)


class CpuPoint(BaseModel):
    """Renderer CPU (workers included) over one sampling interval of a visit."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    t: float = Field(ge=0.0, description="seconds since the page loaded")
    share: float = Field(ge=0.0, description="CPU seconds per wall second (1.0 = one core)")


class RefusedRequest(BaseModel):
    """A connection the visit's browser tried and the egress policy refused (audits, and
    `webscan crawl --public-only`): nothing was sent to that address."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="the URL (plain http), or host:port of a tunnel (https, wss, ws)")
    reason: str = Field(description="why the policy refused it")
    method: str = Field(default="GET", description="HTTP method, or CONNECT for a tunnel")
    destination: str | None = Field(default=None, description="what asked, as the browser "
                                     "said: script, iframe, image, worker, websocket...")
    initiator: str | None = Field(default=None, description="the document or worker that "
                                  "asked (Referer), when the browser sent it")


WORKER_KINDS = {"worker": "dedicated", "shared_worker": "shared", "service_worker": "service"}
"""DevTools target types of workers, as the report names them."""


class Coverage(BaseModel):
    """What a visit's observation window saw and what it may have missed.

    A clean verdict means "nothing seen": this says how much was looked at (the window and its
    extensions, whether the page was visible and focused, the consent click, the workers the
    hook reached, the GPU) and names what a miner could have hidden behind (`missed`)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    window_s: float = Field(ge=0.0, description="the window asked for")
    observed_s: float = Field(ge=0.0, description="the window watched, extensions included")
    cap_s: float = Field(ge=0.0, description="how far the window could extend")
    extended: list[str] = Field(default_factory=list, max_length=10,
                                description="why the window was extended, each time")
    visible: bool | None = Field(default=None, description="the page was visible at the end")
    focused: bool | None = Field(default=None, description="the page had focus at the end")
    consent_clicked: str | None = Field(default=None, description="the consent button clicked")
    workers: dict[str, int] = Field(default_factory=dict, description="workers hooked, by kind: "
                                    "dedicated, shared, service")
    gpu: str | None = Field(default=None, description="what the page did with WebGPU")
    missed: list[str] = Field(default_factory=list, max_length=20,
                              description="what the window may have missed")

    def saw(self) -> str:
        """One sentence for the text and HTML reports."""
        parts = [f"watched {self.observed_s:.0f} s (window {self.window_s:.0f} s, cap {self.cap_s:.0f} s"
                 + (f"; extended: {'; '.join(self.extended)})" if self.extended else ", not extended)")]
        if self.visible is not None:
            parts.append("page visible and focused" if self.visible and self.focused else
                         f"page {'visible' if self.visible else 'hidden'}, "
                         f"{'focused' if self.focused else 'not focused'}")
        parts.append(f'consent banner: clicked "{self.consent_clicked}"' if self.consent_clicked
                     else "no consent banner clicked")
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.workers.items()))
        parts.append(f"workers hooked: {kinds or 'none'}")
        if self.gpu:
            parts.append(f"WebGPU: {self.gpu}")
        return "; ".join(parts)


class RuntimeSummary(BaseModel):
    """What a browser saw while a page was observed: the crawler's and extension's evidence
    beyond findings, kept small enough to store per site."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    window_s: float = Field(ge=0.0)
    cpu_seconds: float = Field(ge=0.0)
    peak_cpu_share: float = Field(ge=0.0)
    cpu_series: list[CpuPoint] = Field(default_factory=list)
    workers: int = Field(default=0, ge=0)
    sockets: list[str] = Field(default_factory=list)
    pool_jobs: int = Field(default=0, ge=0)
    pool_submits: int = Field(default=0, ge=0)
    final_url: str | None = None
    refused_requests: list[RefusedRequest] = Field(default_factory=list, max_length=200)
    coverage: Coverage | None = Field(default=None, description="what the window saw and may "
                                      "have missed (absent in reports from before it existed)")


class Report(BaseModel):
    """The verdict for one target: a scanned file, or (for the crawler) a visited site."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    path: str | None = None  # exactly as given by the user, for files
    url: str | None = None  # exactly as given by the user, for sites
    verdict: VerdictLabel
    score: float = Field(ge=0.0, le=1.0)
    technique: str | None = None  # ATT&CK technique when verdict is miner
    explanation: str
    error: str | None = None
    findings: list[Finding] = Field(default_factory=list)
    wasm_modules: list[WasmSummary] = Field(default_factory=list)
    runtime: RuntimeSummary | None = None  # for visited sites
    size: int | None = None
    signatures_version: str | None = None
    scanned_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    duration_ms: float | None = None
    tool: Literal["webscan"] = "webscan"


# --- Reports from browsers, shared verdicts and audits (the verdict service's vocabulary) ---

REPORTER_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"
PAGE_URL_PATTERN = r"^[hH][tT][tT][pP][sS]?://[^\s]+$"


class PageReport(BaseModel):
    """What one browser saw on one page, as the extension sends it to `POST /v1/reports`.

    Only the page's URL and evidence: never page content, cookies or form data. `reporter` is
    a random id the extension makes once per install; the service never trusts `local_verdict`
    or the findings' categories, it re-judges each finding by rule id with its own signatures.
    Bounds are here, not in the service, so any client can check a report before sending it.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    url: str = Field(strict=True, min_length=8, max_length=2048, pattern=PAGE_URL_PATTERN)
    reporter: str = Field(strict=True, pattern=REPORTER_PATTERN,
                          description="random per-install id (16-64 of A-Z a-z 0-9 _ -)")
    client: str = Field(strict=True, min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$",
                        description="client name/version, e.g. webscan-extension/0.1.0")
    local_verdict: VerdictLabel
    score: float = Field(default=0.0, strict=True, ge=0.0, le=1.0)
    findings: list[Finding] = Field(default_factory=list, max_length=100)
    wasm_modules: list[WasmSummary] = Field(default_factory=list, max_length=32)
    runtime: RuntimeSummary | None = None
    observed_at: datetime | None = None


class AuditStatus(str, Enum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class AuditRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(strict=True, min_length=8, max_length=2048, pattern=PAGE_URL_PATTERN,
                     description="http(s) URL of the page to crawl")


class Audit(BaseModel):
    """One audit crawl requested from the service; `report` is one line of `webscan crawl`."""

    id: str
    url: str
    status: AuditStatus
    stage: str | None = Field(default=None, description="where a running audit is: "
                              "starting, loading (the page loads, then is watched), judging")
    requested_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    verdict: VerdictLabel | None = None
    error: str | None = None
    report: Report | None = None


class AuditSummary(BaseModel):
    id: str
    status: AuditStatus
    verdict: VerdictLabel | None = None
    finished_at: datetime | None = None


class SiteVerdict(BaseModel):
    """The shared verdict for one scope (an exact origin, or a registrable domain).

    `verdict` is None when nothing is known. `source` says what decided it: an audit crawl by
    the service, enough independent reporters, or unconfirmed reports (never more than
    `suspicious`). `reporters` counts independent reporters (distinct client networks).
    """

    scope: Literal["origin", "domain"]
    key: str
    verdict: VerdictLabel | None = None
    technique: str | None = None
    source: Literal["audit", "reporters", "unconfirmed-reports", "none"] = "none"
    explanation: str
    reports: int = 0
    reporters: int = 0
    flagging_reporters: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    last_audit: AuditSummary | None = None
    evidence: list[Finding] = Field(default_factory=list)


class VerdictLookup(BaseModel):
    """Answer of `GET /v1/verdicts` and `POST /v1/reports`: both scopes, and the worse of them."""

    url: str
    origin: str
    domain: str
    verdict: VerdictLabel | None = None
    technique: str | None = None
    origin_verdict: SiteVerdict
    domain_verdict: SiteVerdict

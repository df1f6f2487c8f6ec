"""Typed records of one page visit: what ran, not what it means.

Plain dataclasses (picklable, so the crawler can hand an Observation to a process pool for
analysis). Timestamps `ts` are seconds since the visit started, taken when Python received the
record. evidence.py turns these into Findings; nothing here judges.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass
class WasmModuleSeen:
    data: bytes
    api: str  # compile | instantiate | instantiateStreaming | compileStreaming | Module | validate
    where: str  # URL of the page, frame or worker that compiled it
    realm: str  # page | frame | worker | shared-worker | service-worker
    ts: float
    url: str | None = None  # the .wasm URL for the streaming APIs
    size: int = 0  # as reported by the hook; > len(data) when the module was too big to hand out
    key: str = ""  # the hook's cheap per-realm key of the bytes; CallRate.module_key points here

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class WorkerSeen:
    url: str
    kind: str  # dedicated | module | shared (from the hook) or the CDP target type
    parent: str  # URL of the creating page/frame/worker
    ts: float
    source: str | None = None  # script text of Blob-URL workers, when the hook could read it
    via: str = "hook"  # hook (constructor seen) | cdp (target attached: its code was hooked)


@dataclass
class SocketSeen:
    url: str
    where: str  # page, frame or worker URL that opened it ("" when only the network saw it)
    ts: float
    socket_id: str = ""  # ties frames to their connection


@dataclass
class SocketFrame:
    socket_id: str
    url: str
    direction: str  # sent | received
    payload: str  # text frames as text; binary as base64 (opcode 2), truncated to a bound
    ts: float
    binary: bool = False


@dataclass
class CallRate:
    """Calls of one Wasm export (or crypto.subtle.digest) in one realm over about a second.

    The hook samples every 64th call and compares the inputs with the previous sample: `pairs`
    comparisons were possible, `nonce` of them showed the same buffer with one small field
    counted up (or the nonce itself as an argument): the shape of a proof-of-work search."""

    module_key: str  # WasmModuleSeen.key of the instance's module ("" for digest or unknown)
    export: str
    where: str
    realm: str
    ts: float
    calls: int
    span_ms: float
    pairs: int = 0
    nonce: int = 0
    realm_id: str = ""  # the hook's random id of its realm: two workers of one script differ

    @property
    def rate(self) -> float:
        return self.calls * 1000.0 / self.span_ms if self.span_ms > 0 else 0.0


@dataclass
class CpuSample:
    ts: float
    process_time_s: float  # renderer CPU seconds (workers included), summed over the page's processes


@dataclass
class ScriptLoaded:
    url: str
    body: bytes
    resource_type: str  # script | document | worker ...
    status: int


@dataclass
class PageError:
    kind: str  # navigation | load-timeout | visit-timeout | crash | dialog-storm | browser | script | instrument
    message: str
    ts: float
    fatal: bool = False  # fatal errors give the site an `error` verdict when nothing else was found


@dataclass
class GpuUse:
    """What the page did with WebGPU compute (the hook's gpu records, all realms together)."""

    adapters_asked: int = 0
    adapters_given: int = 0
    pipelines: int = 0
    dispatches: int = 0
    dispatch_span_ms: float = 0.0  # the time the dispatch counts cover
    shaders: list[str] = field(default_factory=list)  # WGSL of compute shaders, a few, bounded

    def describe(self) -> str | None:
        """For the coverage: None when the page never asked for WebGPU."""
        if not self.adapters_asked and not self.pipelines and not self.dispatches:
            return None
        if self.adapters_asked and not self.adapters_given:
            return (f"unavailable (the page asked for an adapter {self.adapters_asked} time(s); "
                    "this browser gave none)")
        if not self.pipelines and not self.dispatches:
            return "not used (an adapter was given; no compute pipeline was made)"
        rate = self.dispatches * 1000.0 / self.dispatch_span_ms if self.dispatch_span_ms else 0.0
        return (f"{self.pipelines} compute pipeline(s), {self.dispatches} dispatches "
                f"({rate:.0f}/s), {len(self.shaders)} compute shader(s) kept")


@dataclass
class Coverage:
    """What the observation window saw, and what it may have missed (facts, no judgement).

    The report says from these when a site could not be fully observed: a miner may have
    waited past the cap, hidden in a worker the hook could not reach, or used a GPU the
    browser did not offer."""

    window_s: float = 0.0  # the window asked for
    observed_s: float = 0.0  # the window actually watched, extensions included
    cap_s: float = 0.0  # how far the window could extend
    extended: list[str] = field(default_factory=list)  # why, each time it was
    rising_at_cap: str | None = None  # what still wanted watching when the cap came
    loading_at_end: bool = False  # the document had not finished loading when the window closed
    visible: bool | None = None  # document.visibilityState == "visible" at the end
    focused: bool | None = None  # document.hasFocus() at the end
    consent: str | None = None  # text of the consent button clicked, if one was
    workers_reached: dict[str, int] = field(default_factory=dict)  # hooked, by CDP target type
    workers_missed: list[str] = field(default_factory=list)  # workers the hook could not reach
    gpu: str | None = None  # what the page did with WebGPU, when it asked for it
    pending_timers_s: list[float] = field(default_factory=list)  # long timers due after the end


@dataclass
class Observation:
    url: str  # exactly as given
    final_url: str = ""
    started_at: float = 0.0  # time.time() at the start of the visit
    duration_s: float = 0.0
    window_s: float = 0.0
    wasm: list[WasmModuleSeen] = field(default_factory=list)
    workers: list[WorkerSeen] = field(default_factory=list)
    sockets: list[SocketSeen] = field(default_factory=list)
    frames: list[SocketFrame] = field(default_factory=list)
    cpu: list[CpuSample] = field(default_factory=list)
    calls: list[CallRate] = field(default_factory=list)
    scripts: list[ScriptLoaded] = field(default_factory=list)
    errors: list[PageError] = field(default_factory=list)
    dialogs: int = 0
    popups: int = 0
    downloads: int = 0
    frames_dropped: int = 0  # frames beyond the per-visit bound (counted, not kept)
    worker_hold_ms: list[float] = field(default_factory=list)
    browser_rss_bytes: int = 0
    coverage: Coverage = field(default_factory=Coverage)
    gpu: GpuUse = field(default_factory=GpuUse)

    @property
    def fatal(self) -> PageError | None:
        return next((e for e in self.errors if e.fatal), None)

    @property
    def cpu_seconds(self) -> float:
        if len(self.cpu) < 2:
            return 0.0
        return max(0.0, self.cpu[-1].process_time_s - self.cpu[0].process_time_s)

    @property
    def cpu_share(self) -> float:
        """Mean share of one core over the sampled span (1.0 = one core busy the whole time)."""
        if len(self.cpu) < 2 or self.cpu[-1].ts <= self.cpu[0].ts:
            return 0.0
        return self.cpu_seconds / (self.cpu[-1].ts - self.cpu[0].ts)

    def cpu_share_between(self, start: float, end: float) -> float:
        """Mean share of a core between two visit times, from the samples that span them."""
        inside = [c for c in self.cpu if start <= c.ts <= end]
        if len(inside) < 2 or inside[-1].ts <= inside[0].ts:
            return 0.0
        return max(0.0, inside[-1].process_time_s - inside[0].process_time_s) / (inside[-1].ts - inside[0].ts)

    @property
    def cpu_peak_share(self) -> float:
        """Highest share of a core between two consecutive samples."""
        best = 0.0
        for a, b in zip(self.cpu, self.cpu[1:]):
            if b.ts > a.ts:
                best = max(best, (b.process_time_s - a.process_time_s) / (b.ts - a.ts))
        return best

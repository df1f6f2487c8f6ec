"""Map one Observation onto the data model: runtime, protocol, Wasm and static findings.

The recorder's side of "instrument, record, store": records in, an Analysis out, and
webscan.verdict judges it exactly as it judges a scanned file. The analysers are the static
engines (captured Wasm through the Wasm engine, pool frames through the protocol matcher,
loaded scripts through the JS/HTML engines, loaded URLs through the domain matcher).

Facts only a browser can see (sustained CPU, Blob workers, a pool of identical workers, Wasm
compiled, a socket opened, a busy Wasm export) have no signature file; they are emitted under
the engine ids in RUNTIME_RULES, each with a category from signatures/verdict.yaml. Those are
weak on their own: a busy benign page must never become a miner through them.

Two observations name no algorithm and no protocol and still describe mining: the hashing
loop (the hook's call reports: one export kept hot on an input where only a nonce counts up)
and the job/share cycle on a connection (webscan/net/jobshare.py). Each alone is weak
(suspicious); the evidence says which context makes it decisive, as separate strong
categories: the loop on several cores or next to multi-core CPU, the cycle with multi-core CPU
between job and share, or both in one visit.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from webscan import budget
from webscan.analysis import Analysis
from webscan.browser.records import CallRate, Observation, SocketFrame
from webscan.evidence import excerpt_of, finding
from webscan.model import EvidenceKind, Finding, Location, Severity
from webscan.net.jobshare import Frame, decode_text, find_cycle


@dataclass(frozen=True)
class RuntimeRule:
    id: str
    category: str
    severity: Severity
    description: str


RUNTIME_RULES = {r.id: r for r in (
    RuntimeRule("runtime.cpu.sustained", "runtime-cpu", Severity.low,
                "The page kept the CPU busy for most of the observation window. Heavy pages do "
                "this too; it matters together with other evidence."),
    RuntimeRule("runtime.worker.blob", "worker-blob", Severity.low,
                "The page started a worker from a Blob URL of inline code, as miner kits do to "
                "ship their hashing loop; many benign apps do it too."),
    RuntimeRule("runtime.worker.pool", "thread-per-core", Severity.low,
                "The page started several workers running the same script (one per core is how "
                "miners scale); image and physics pools look the same."),
    RuntimeRule("runtime.wasm.compiled", "wasm-load", Severity.info,
                "A WebAssembly module was compiled at runtime; its bytes were captured and "
                "analysed (see the Wasm findings for what it computes)."),
    RuntimeRule("runtime.websocket.open", "websocket", Severity.info,
                "The page opened a WebSocket; its frames were checked for pool protocols."),
    RuntimeRule("runtime.wasm.hot-export", "hot-export", Severity.info,
                "A WebAssembly export was called thousands of times a second; its inputs did not "
                "look like a nonce search (games, codecs and hashing libraries do this)."),
    RuntimeRule("runtime.pow.hash-loop", "hash-loop", Severity.medium,
                "A proof-of-work search was observed: one function called thousands of times a "
                "second for the whole window on the same input, in which only a small nonce "
                "field counted up between calls."),
    RuntimeRule("runtime.pow.hash-loop-multicore", "hash-loop-multicore", Severity.high,
                "A proof-of-work search was observed on several cores at once: one function "
                "called thousands of times a second on the same input with only a nonce field "
                "counting up, in several threads or next to sustained multi-core CPU."),
    RuntimeRule("runtime.pool.job-share", "pool-jobshare", Severity.medium,
                "A connection carried a pool's job/share cycle, recognised by shape (no protocol "
                "name): work with a blob and a target came in, results with a nonce and a fresh "
                "hash-sized value answering it went out, repeatedly."),
    RuntimeRule("runtime.pow.loop-and-cycle", "pow-loop-and-cycle", Severity.high,
                "One visit showed both halves of mining without any signature: a proof-of-work "
                "search (one function called thousands of times a second on the same input, only "
                "a nonce counting up) and a pool's job/share cycle on a connection."),
    RuntimeRule("runtime.pool.job-share-cpu", "pool-jobshare-cpu", Severity.high,
                "A connection carried a pool's job/share cycle (by shape, no protocol name) while "
                "the page kept more than one core busy between jobs and shares."),
)}

CPU_SHARE_THRESHOLD = 0.5
"""Mean share of one core over the window above which CPU counts as sustained (weak evidence)."""
MIN_CPU_SPAN_S = 2.0
CPU_WINDOW_S = 10.0
"""The crawler's default observation window. CPU is judged over a whole window: a visit's mean
over its sampled span; a live tab in the extension (an open window) over its busiest span of
this length, never over a shorter one (a 2 s burst of a file hash is not sustained CPU)."""
HOT_CALLS_PER_S = 1000.0
"""Calls per second of one export in one realm above which a report counts as hot."""
LOOP_SUSTAIN = 0.5
"""Share of the window (in hook reports, about one a second) a loop must stay hot for."""
MIN_NONCE_PAIRS = 3
NONCE_SHARE = 0.5
"""Of the sampled input pairs of a hot export, how many must show a counting nonce field."""
MULTICORE_SHARE = 1.3
"""Mean CPU (cores) that only more than one busy thread can reach: 'sustained multi-core'."""
MAX_FRAMES_PARSED = 5000


def runtime_finding(rule_id: str, location: Location, *, message: str | None = None,
                    excerpt: str | None = None) -> Finding:
    r = RUNTIME_RULES[rule_id]
    return Finding(rule=r.id, kind=EvidenceKind.runtime, category=r.category, severity=r.severity,
                   message=message or r.description, location=location,
                   excerpt=excerpt_of(excerpt))


def decode_frame(payload: str) -> list[object]:
    """JSON values in one text frame: plain JSON, socket.io `42[...]`, or one per line (stratum)."""
    return decode_text(payload)[1]


def observation_to_analysis(obs: Observation, engines, *, cpu_threshold: float = CPU_SHARE_THRESHOLD,
                            static: bool = True, file_timeout: float | None = None) -> Analysis:
    """Everything the visit showed, as findings for webscan.verdict.judge.

    `engines` is a webscan.scanner.Engines. `static=False` skips the JS/HTML analysis of loaded
    scripts (the crawler may run those separately, e.g. in a process pool). Each script, document
    and Wasm module is analysed under its own time budget (`file_timeout` seconds, or the
    size-based default of webscan.budget), as `webscan scan` analyses a file.
    """
    out = Analysis()
    page = obs.final_url or obs.url
    _protocol(obs, engines, out)
    _wasm(obs, engines, out, file_timeout)
    _workers(obs, out)
    _sockets(obs, engines, out)
    _cpu(obs, page, out, cpu_threshold)
    _hash_loop(obs, page, out)
    _jobshare(obs, out)
    _loop_and_cycle(page, out)
    if static:
        _static(obs, engines, out, file_timeout)
    fatal = obs.fatal
    if fatal is not None:
        out.fatal = fatal.message
    for e in obs.errors:
        if not e.fatal and e.kind != "instrument":
            out.notes.append(f"{e.kind}: {e.message}")
    if obs.frames_dropped:
        out.notes.append(f"{obs.frames_dropped} WebSocket frames past the per-visit bound were not checked")
    return out


def _protocol(obs: Observation, engines, out: Analysis) -> None:
    """Pool messages per connection; a login and a submit on one connection make a session."""
    matcher = engines.protocol
    by_conn: dict[str, list[SocketFrame]] = {}
    for f in obs.frames[:MAX_FRAMES_PARSED]:
        by_conn.setdefault(f.socket_id or f.url, []).append(f)
    for frames in by_conn.values():
        url = frames[0].url or "(unknown socket)"
        hits: dict[str, list] = {}  # rule id -> [rule, count, first frame]
        for f in frames:
            if f.binary:
                continue
            for obj in decode_frame(f.payload):
                for rule in matcher.match_message(obj):
                    if rule.all_of:
                        continue  # sessions are decided per connection below
                    entry = hits.setdefault(rule.id, [rule, 0, f])
                    entry[1] += 1
        for rule, count, first in hits.values():
            loc = Location(target=url, context=f"WebSocket frame {first.direction} at {first.ts:.1f} s")
            msg = f"{rule.description} Seen {count} time(s) on this connection."
            out.findings.append(finding(rule, EvidenceKind.protocol, loc, message=msg,
                                        excerpt=first.payload))
        for rule in matcher.sessions(set(hits)):
            counts = ", ".join(f"{hits[i][1]} x {i.rsplit('.', 1)[-1]}" for i in rule.all_of)
            loc = Location(target=url, context="one WebSocket connection")
            out.findings.append(finding(rule, EvidenceKind.protocol, loc,
                                        message=f"{rule.description} Seen on one connection: {counts}."))


def _wasm(obs: Observation, engines, out: Analysis, file_timeout: float | None) -> None:
    done: set[str] = set()
    for m in obs.wasm:
        digest = m.sha256
        if digest in done:
            continue
        done.add(digest)
        target = m.url or m.where or obs.url
        where = f"{m.realm} {m.where}".strip()
        ctx = f"captured at runtime: {m.api} in {where}; sha256 {digest[:16]}"
        sightings = sum(1 for o in obs.wasm if o.data is m.data or o.sha256 == digest)
        _safely(out, lambda: engines.wasm.analyse(m.data, target, context=ctx), target,
                budget.budget_for(len(m.data), file_timeout))
        out.findings.append(runtime_finding(
            "runtime.wasm.compiled", Location(target=target, context=ctx),
            message=f"{RUNTIME_RULES['runtime.wasm.compiled'].description} Compiled in "
                    f"{sightings} place(s); {len(m.data)} bytes."))


def _workers(obs: Observation, out: Analysis) -> None:
    blob = [w for w in obs.workers if w.url.startswith("blob:")]
    if blob:
        w = blob[0]
        out.findings.append(runtime_finding(
            "runtime.worker.blob", Location(target=w.parent or obs.url, context=f"worker {w.url}"),
            message=f"{RUNTIME_RULES['runtime.worker.blob'].description} {len(blob)} such worker(s).",
            excerpt=w.source))
    groups: dict[str, list] = {}
    for w in obs.workers:
        if w.kind in ("dedicated", "module"):
            key = hashlib.sha256(w.source.encode()).hexdigest() if w.source else w.url
            groups.setdefault(key, []).append(w)
    biggest = max(groups.values(), key=len, default=[])
    if len(biggest) >= 2:
        w = biggest[0]
        out.findings.append(runtime_finding(
            "runtime.worker.pool", Location(target=w.parent or obs.url, context=f"worker {w.url}"),
            message=f"{RUNTIME_RULES['runtime.worker.pool'].description} {len(biggest)} workers "
                    "ran the same script."))


def _sockets(obs: Observation, engines, out: Analysis) -> None:
    """Loaded URLs (sockets, workers, scripts, streamed Wasm) against known mining services."""
    if obs.sockets:
        s = obs.sockets[0]
        out.findings.append(runtime_finding(
            "runtime.websocket.open", Location(target=s.url, context=f"opened by {s.where or 'the page'}"),
            message=f"{RUNTIME_RULES['runtime.websocket.open'].description} {len(obs.sockets)} socket(s)."))
    loads = [(s.url, f"WebSocket opened by {s.where or 'the page'}") for s in obs.sockets]
    loads += [(w.url, f"{w.kind} worker started by {w.parent}") for w in obs.workers
              if not w.url.startswith(("blob:", "data:"))]
    loads += [(sc.url, f"{sc.resource_type} loaded by the page") for sc in obs.scripts]
    loads += [(m.url, "WebAssembly streamed by the page") for m in obs.wasm if m.url]
    seen: set[tuple[str, str]] = set()
    for url, ctx in loads:
        for hit in engines.domains.match_url(url):
            if (hit.rule.id, url) in seen:
                continue
            seen.add((hit.rule.id, url))
            out.findings.append(finding(hit.rule, EvidenceKind.domain, Location(target=url, context=ctx),
                                        excerpt=url))


def _cpu(obs: Observation, page: str, out: Analysis, threshold: float) -> None:
    if len(obs.cpu) < 2 or obs.cpu[-1].ts - obs.cpu[0].ts < MIN_CPU_SPAN_S:
        return
    share = obs.cpu_share
    if share >= threshold:
        out.findings.append(runtime_finding(
            "runtime.cpu.sustained", Location(target=page, context="renderer CPU, workers included"),
            message=f"{RUNTIME_RULES['runtime.cpu.sustained'].description} {obs.cpu_seconds:.1f} CPU s "
                    f"over {obs.cpu[-1].ts - obs.cpu[0].ts:.1f} s: mean {share:.0%} of a core, "
                    f"peak {obs.cpu_peak_share:.0%}."))


def _module_name(module, key: str, export: str) -> str:
    if module is not None:
        return f"module sha256 {module.sha256[:16]}"
    if export.startswith("crypto.subtle.digest"):
        return "the page's Web Crypto"
    return "a module whose bytes were not read yet" if not key else f"module {key}"


def _hot(r: CallRate) -> bool:
    return r.rate >= HOT_CALLS_PER_S


def _hash_loop(obs: Observation, page: str, out: Analysis) -> None:
    """The hook's call reports, per export of a module: a hashing loop, a hot export, or nothing.

    A loop is an export kept hot in one realm for at least LOOP_SUSTAIN of the window whose
    sampled inputs mostly differed only in a counting nonce; multi-core when it ran so in two
    or more realms at once or next to MULTICORE_SHARE cores of CPU."""
    if not obs.calls:
        return
    names = {m.key: m for m in obs.wasm if m.key}
    groups: dict[tuple[str, str], dict[tuple[str, str, str], list[CallRate]]] = {}
    for r in obs.calls:
        realm = (r.realm, r.where, r.realm_id)
        groups.setdefault((r.module_key, r.export), {}).setdefault(realm, []).append(r)
    need = max(2, int(obs.window_s * LOOP_SUSTAIN))
    loops: list[tuple[tuple[str, str], list[list[CallRate]]]] = []
    hot: list[tuple[tuple[str, str], list[list[CallRate]]]] = []
    for key, realms in groups.items():
        busy = [rs for rs in realms.values() if sum(_hot(r) for r in rs) >= 2]
        if not busy:
            continue
        looping = [rs for rs in busy if sum(_hot(r) for r in rs) >= need
                   and sum(r.nonce for r in rs) >= MIN_NONCE_PAIRS
                   and sum(r.nonce for r in rs) >= NONCE_SHARE * max(1, sum(r.pairs for r in rs))]
        (loops if looping else hot).append((key, looping or busy))
    for (mkey, export), realms in loops[:4]:
        reports = [r for rs in realms for r in rs]
        rate = sum(r.calls for r in reports) * 1000.0 / sum(r.span_ms for r in reports)
        module = names.get(mkey)
        what = _module_name(module, mkey, export)
        multi = len(realms) >= 2 or obs.cpu_share >= MULTICORE_SHARE
        rule = "runtime.pow.hash-loop-multicore" if multi else "runtime.pow.hash-loop"
        nonce, pairs = sum(r.nonce for r in reports), sum(r.pairs for r in reports)
        target = (module.url or module.where) if module else (reports[0].where or page)
        out.findings.append(runtime_finding(
            rule, Location(target=target or page, context=f"{export} of {what}, in {realms[0][0].realm} "
                                                          f"{realms[0][0].where}".strip()),
            message=f"{RUNTIME_RULES[rule].description} {export} of {what}: {rate:,.0f} calls/s "
                    f"(mean per thread) in {len(realms)} thread(s) for {len(reports)} report(s) of "
                    f"about a second; {nonce} of {pairs} sampled input pairs differed only in a "
                    f"nonce field; page CPU {obs.cpu_share:.2f} cores."))
    if hot and not loops:
        (mkey, export), realms = max(hot, key=lambda h: sum(r.calls for rs in h[1] for r in rs))
        reports = [r for rs in realms for r in rs]
        rate = sum(r.calls for r in reports) * 1000.0 / sum(r.span_ms for r in reports)
        module = names.get(mkey)
        what = _module_name(module, mkey, export)
        out.findings.append(runtime_finding(
            "runtime.wasm.hot-export", Location(target=reports[0].where or page,
                                                context=f"{export} of {what}"),
            message=f"{RUNTIME_RULES['runtime.wasm.hot-export'].description} {export} of {what}: "
                    f"{rate:,.0f} calls/s in {len(realms)} thread(s); {sum(r.nonce for r in reports)} "
                    f"of {sum(r.pairs for r in reports)} sampled input pairs looked like a nonce."))


def _loop_and_cycle(page: str, out: Analysis) -> None:
    """Each half alone is suspicious; both in one visit are a miner (signatures/verdict.yaml)."""
    loop = next((f for f in out.findings if f.rule.startswith("runtime.pow.hash-loop")), None)
    cycle = next((f for f in out.findings if f.rule.startswith("runtime.pool.job-share")), None)
    if loop is None or cycle is None:
        return
    out.findings.append(runtime_finding(
        "runtime.pow.loop-and-cycle", Location(target=page, context=f"{loop.location.context}; "
                                                                    f"{cycle.location.target}"),
        message=f"{RUNTIME_RULES['runtime.pow.loop-and-cycle'].description} Loop: "
                f"{loop.location.context}. Cycle on {cycle.location.target}."))


def _frame_data(f: SocketFrame) -> str | bytes | None:
    if not f.binary:
        return f.payload
    try:
        return base64.b64decode(f.payload, validate=True)
    except (binascii.Error, ValueError):
        return None  # cut at the per-frame bound: not whole base64 any more


def _jobshare(obs: Observation, out: Analysis) -> None:
    """The job/share cycle by shape on each connection (webscan/net/jobshare.py), with the
    page's CPU between the first job and the last share."""
    by_conn: dict[str, list[SocketFrame]] = {}
    for f in obs.frames[:MAX_FRAMES_PARSED]:
        by_conn.setdefault(f.socket_id or f.url, []).append(f)
    for frames in by_conn.values():
        data = [(f, _frame_data(f)) for f in frames]
        cycle = find_cycle(Frame(f.direction, d, f.ts) for f, d in data if d is not None)
        if cycle is None:
            continue
        cpu = obs.cpu_share_between(cycle.first_job_ts, cycle.last_share_ts)
        rule = "runtime.pool.job-share-cpu" if cpu >= MULTICORE_SHARE else "runtime.pool.job-share"
        url = frames[0].url or "(unknown socket)"
        out.findings.append(runtime_finding(
            rule, Location(target=url, context="one WebSocket connection"),
            message=f"{RUNTIME_RULES[rule].description} {cycle.describe()}; page CPU between the "
                    f"first job and the last share: {cpu:.2f} cores. Last share: {cycle.share_example}",
            excerpt=cycle.job_example))


def _safely(out: Analysis, run, what: str, seconds: float) -> None:
    """One script the analysers choke on, or that uses up its time budget, costs that script,
    not the site's evidence: what it showed before it stopped is kept."""
    try:
        with budget.limit(seconds):
            result = run()
        out.extend(result)
    except budget.BudgetExceeded as e:
        out.extend(e.partial())
        out.cut_short = f"{e} on {what}"
    except Exception as e:
        out.notes.append(f"internal error analysing {what}: {type(e).__name__}: {e} (please report)")


def _static(obs: Observation, engines, out: Analysis, file_timeout: float | None) -> None:
    """Scripts, documents and Blob worker sources through the same engines as `webscan scan`."""
    done: set[str] = set()
    for sc in obs.scripts:
        digest = hashlib.sha256(sc.body).hexdigest()
        if digest in done or not sc.body:
            continue
        done.add(digest)
        if sc.resource_type == "document":
            _safely(out, lambda: engines.html.analyse(sc.body, sc.url, page_url=sc.url), sc.url,
                    budget.budget_for(len(sc.body), file_timeout))
        elif sc.body[:4] == b"\x00asm":
            continue  # modules are analysed from the runtime capture
        else:
            _safely(out, lambda: engines.js.analyse(sc.body, sc.url), sc.url,
                    budget.budget_for(len(sc.body), file_timeout))
    for w in obs.workers:
        if w.source:
            data = w.source.encode("utf-8", "replace")
            digest = hashlib.sha256(data).hexdigest()
            if digest not in done:
                done.add(digest)
                _safely(out, lambda: engines.js.analyse(data, w.url, context=f"Blob worker started by {w.parent}"),
                        w.url, budget.budget_for(len(data), file_timeout))

"""Conformance cases: what a page showed at run time, in the extension's vocabulary, with the
verdict both runtimes must give (tests/conformance/*.json).

One verdict, two runtimes (Sigma's rule tests, WHATWG's web-platform-tests): the crawler judges
in Python (webscan/browser/evidence.py + webscan/verdict.py), the extension in JavaScript
(extension/src/scorer.js) from the same compiled data. A case records only what BOTH can see:
loaded URLs, workers (Blob sources included), sockets and their text frames, Wasm modules (by
file, with their sha256), busy-time samples and the hook's call reports. Neither the crawler's
JS source rules nor CDP's per-process CPU counters are in a case (the extension has neither);
where the crawler's fuller view changes the categories, `crawler` says what it found, and the
test still demands the same miner / not-miner answer.

This module turns a crawler Observation into a case (tests/conformance/record.py) and a case
back into an Observation for the Python verdict; scorer.js's judgeCase reads the same JSON.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from webscan.browser.evidence import observation_to_analysis
from webscan.browser.records import (CallRate, CpuSample, Observation, ScriptLoaded, SocketFrame,
                                     SocketSeen, WasmModuleSeen, WorkerSeen)
from webscan.rules.loader import SignatureSet
from webscan.verdict import judge

FORMAT = 1
MAX_SRC = 64 << 10
"""A worker's Blob source is kept up to this many characters (the extension's own bound)."""


class CaseError(ValueError):
    """A case file cannot be read; the message names the file and the field."""


def _rel(t: float) -> float:
    return round(float(t), 3)


def case_from_observation(obs: Observation, *, name: str, about: str, wasm_dirs: list[Path],
                          root: Path, rename: dict[str, str]) -> dict[str, Any]:
    """A case from one crawler visit: what the extension could have seen of it.

    `rename` maps origins of the run (random loopback ports) to stable names; Wasm bytes are
    referred to by a file under `wasm_dirs` with the same sha256 (the fixture modules), or
    inlined as base64 when no file has them."""
    def norm(text: str | None) -> str | None:
        if text is None:
            return None
        for old, new in rename.items():
            text = text.replace(old, new)
        return text

    files = {hashlib.sha256(p.read_bytes()).hexdigest(): p for d in wasm_dirs for p in sorted(d.glob("*.wasm"))}
    wasm = []
    for m in obs.wasm:
        entry: dict[str, Any] = {"sha256": m.sha256, "api": m.api, "where": norm(m.where), "realm": m.realm,
                                 "url": norm(m.url), "key": m.key, "t": _rel(m.ts)}
        path = files.get(m.sha256)
        if path is not None:
            entry["file"] = path.relative_to(root).as_posix()
        else:
            entry["b64"] = base64.b64encode(m.data).decode("ascii")
        wasm.append(entry)
    cpu = [{"t": _rel(b.ts), "busy_ms": round(1000 * max(0.0, b.process_time_s - a.process_time_s), 1),
            "span_ms": round(1000 * (b.ts - a.ts), 1)} for a, b in zip(obs.cpu, obs.cpu[1:]) if b.ts > a.ts]
    t0 = obs.cpu[0].ts if obs.cpu else 0.0
    return {
        "format": FORMAT, "name": name, "about": about,
        "page": norm(obs.final_url or obs.url),
        "window_s": round(obs.cpu[-1].ts - t0, 3) if len(obs.cpu) >= 2 else obs.window_s,
        "cpu_from": _rel(t0),
        "loads": [{"url": norm(s.url), "context": f"{s.resource_type} loaded by the page"}
                  for s in obs.scripts if s.resource_type != "document"],
        "workers": [{"url": norm(w.url), "kind": w.kind, "where": norm(w.parent), "t": _rel(w.ts),
                     **({"src": w.source[:MAX_SRC]} if w.source else {})} for w in obs.workers],
        "sockets": [{"url": norm(s.url), "where": norm(s.where), "t": _rel(s.ts)} for s in obs.sockets],
        "frames": [{"url": norm(f.url), "socket": f.socket_id, "dir": f.direction, "data": f.payload,
                    "t": _rel(f.ts), **({"binary": True} if f.binary else {})} for f in obs.frames],
        "wasm": wasm,
        "cpu": cpu,
        "calls": [{"k": c.module_key, "fn": c.export, "rid": c.realm_id, "calls": c.calls, "span": c.span_ms,
                   "pairs": c.pairs, "nonce": c.nonce, "where": norm(c.where), "realm": c.realm, "t": _rel(c.ts)}
                  for c in obs.calls],
    }


def wasm_bytes(entry: dict, root: Path, case: str) -> bytes:
    if "file" in entry:
        path = root / entry["file"]
        try:
            data = path.read_bytes()
        except OSError as e:
            raise CaseError(f"{case}: wasm file {entry['file']}: {e.strerror or e}") from None
    elif "b64" in entry:
        data = base64.b64decode(entry["b64"])
    else:
        raise CaseError(f"{case}: a wasm entry needs `file` or `b64`")
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise CaseError(f"{case}: wasm {entry.get('file', 'b64')} does not have the sha256 the case records")
    return data


def observation_from_case(case: dict, root: Path) -> Observation:
    """The Observation the crawler would have recorded, from what a case holds."""
    name = case.get("name", "?")
    obs = Observation(url=case["page"], final_url=case["page"], window_s=float(case["window_s"]))
    for m in case.get("wasm", []):
        data = wasm_bytes(m, root, name)
        obs.wasm.append(WasmModuleSeen(data=data, api=m["api"], where=m.get("where") or "", realm=m["realm"],
                                       ts=m.get("t", 0.0), url=m.get("url"), size=len(data), key=m.get("key", "")))
    for w in case.get("workers", []):
        obs.workers.append(WorkerSeen(url=w["url"], kind=w["kind"], parent=w.get("where") or "",
                                      ts=w.get("t", 0.0), source=w.get("src")))
    for s in case.get("sockets", []):
        obs.sockets.append(SocketSeen(url=s["url"], where=s.get("where") or "", ts=s.get("t", 0.0)))
    for f in case.get("frames", []):
        obs.frames.append(SocketFrame(socket_id=f.get("socket", ""), url=f["url"], direction=f["dir"],
                                      payload=f["data"], ts=f.get("t", 0.0), binary=bool(f.get("binary"))))
    total, start = 0.0, float(case.get("cpu_from", 0.0))
    if case.get("cpu"):
        obs.cpu.append(CpuSample(start, 0.0))
        for c in case["cpu"]:
            total += c["busy_ms"] / 1000.0
            obs.cpu.append(CpuSample(c["t"], total))
        end = start + float(case["window_s"])
        if obs.cpu[-1].ts < end:  # idle realms report nothing: the window ends when the visit did
            obs.cpu.append(CpuSample(end, total))
    for c in case.get("calls", []):
        obs.calls.append(CallRate(module_key=c.get("k", ""), export=c["fn"], where=c.get("where") or "",
                                  realm=c.get("realm", "worker"), ts=c.get("t", 0.0), calls=int(c["calls"]),
                                  span_ms=float(c["span"]), pairs=int(c.get("pairs", 0)),
                                  nonce=int(c.get("nonce", 0)), realm_id=c.get("rid", "")))
    obs.scripts = [ScriptLoaded(url=l["url"], body=b"", resource_type=l["context"].split(" ")[0], status=200)
                   for l in case.get("loads", [])]
    return obs


def judge_case(case: dict, root: Path, engines, sigs: SignatureSet,
               drop_rules: frozenset[str] = frozenset(), text_frames_only: bool = False) -> dict[str, Any]:
    """The Python verdict on a case: evidence.py's mapping, webscan.verdict's arithmetic.
    `drop_rules`: findings of these rules are left out (evidence one runtime cannot produce);
    `text_frames_only`: binary socket frames are left out (the extension's hook hands over
    only their size)."""
    if text_frames_only:
        case = {**case, "frames": [f for f in case.get("frames", []) if not f.get("binary")]}
    obs = observation_from_case(case, root)
    analysis = observation_to_analysis(obs, engines, static=False)
    analysis.findings = [f for f in analysis.findings if f.rule not in drop_rules]
    report = judge(analysis, sigs.verdict)
    cats: dict[str, float] = {}
    for f in report.findings:
        w = sigs.verdict.categories[f.category].weight if f.category in sigs.verdict.categories else None
        if w is not None:
            cats[f.category] = max(cats.get(f.category, 0.0), w)
    return {"verdict": report.verdict.value, "score": report.score, "categories": cats,
            "strong": sorted(c for c in cats if sigs.verdict.categories[c].strong),
            "rules": sorted({f.rule for f in report.findings})}


def load_case(path: Path) -> dict:
    try:
        case = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CaseError(f"{path}: cannot read it as JSON: {e}") from None
    for key in ("name", "page", "window_s", "expect"):
        if key not in case:
            raise CaseError(f"{path}: a case needs `{key}`")
    return case

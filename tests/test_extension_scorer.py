"""The extension's scorer (extension/src/scorer.js, wasm.js) agrees with the Python engines it
ports: the same Wasm facts and rules on every fixture module, the same protocol matches on
every protocol rule's samples, the same verdict arithmetic, and a service feed converts to
exactly what the build compiles. Runs the built JavaScript under Node (skipped without it)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from conftest import ROOT

WASM = sorted((ROOT / "site_fixtures" / "wasm").glob("*.wasm"))
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="these checks run the extension's JavaScript under Node; install nodejs")

DRIVER = r"""
import * as S from "./scorer.js";
import * as W from "./wasm.js";
import fs from "fs";
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const doc = JSON.parse(fs.readFileSync("./rules.json", "utf8"));
const c = S.compile(doc);
const out = { wasm: {}, protocol: {}, scores: [], feed: null };
for (const f of input.wasm) {
  const u8 = new Uint8Array(fs.readFileSync(f));
  const a = S.analyseWasm(c, u8, "sha", f, "ctx");
  const loops = W.findMiningLoops(u8, c.wasm.opcodes, a.facts.module, Object.values(a.facts.primitives), c.wasm.mining);
  out.wasm[f] = { rules: a.findings.map((x) => x.rule).sort(), summary: a.summary, note: a.note,
                  loops: loops.map((l) => [l.function, l.offset, l.nonce_local, l.size]) };
}
for (const [id, text] of input.protocol) {
  out.protocol[id + " " + text] = S.decodeFrame(text).flatMap((o) => S.matchMessage(c, o).map((r) => r.id)).sort();
}
for (const cats of input.scores) {
  const fs_ = cats.map((cat, i) => ({ rule: "r" + i, category: cat, severity: "low", message: "m", location: { target: "t" + i } }));
  const v = S.judge(fs_, c.verdict);
  out.scores.push([v.score, v.label]);
}
out.cycles = {};
for (const [name, frames] of input.cycles || []) {
  const cy = S.findCycle(frames, c.runtime.jobshare);
  out.cycles[name] = cy && [cy.jobs, cy.shares, cy.framing, cy.first_job_t, cy.last_share_t];
}
if (input.feed) {
  const conv = S.fromFeed(input.feed, doc);
  out.feed = { ...conv, source: "bundled" };
}
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def node_run(tmp_path_factory):
    from webscan.extension.build import build
    from webscan.rules.loader import load_signatures

    out = tmp_path_factory.mktemp("ext")
    build(out / "x", load_signatures([ROOT / "signatures"]))
    (out / "x" / "driver.mjs").write_text(DRIVER)

    def run(payload: dict) -> dict:
        r = subprocess.run([NODE, "driver.mjs"], cwd=out / "x", input=json.dumps(payload),
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    return run


def test_wasm_facts_rules_and_nonce_loops_match_the_python_engine(node_run, scanner):
    from webscan.wasm.mining import find_mining_loops

    got = node_run({"wasm": [str(p) for p in WASM], "protocol": [], "scores": []})["wasm"]
    flagged = searched = 0
    for path in WASM:
        data = path.read_bytes()
        a = scanner.engines.wasm.analyse(data, str(path), context="ctx")
        py = a.wasm_modules[0]
        js = got[str(path)]
        assert js["note"] is None, (path.name, js["note"])
        assert js["rules"] == sorted(f.rule for f in a.findings), path.name
        facts = scanner.engines.wasm.facts(data)
        loops = [[lp.function, lp.offset, lp.nonce_local, lp.size]
                 for lp in find_mining_loops(facts.module, facts.primitives.values())]
        assert js["loops"] == loops, path.name
        searched += bool(loops)
        s = js["summary"]
        assert (s["functions"], s["instructions"], s["primitives"], s["exports"], s["imports"]) == \
            (py.functions, py.instructions, py.primitives, py.exports, py.imports), path.name
        assert s["xor_share"] == pytest.approx(py.xor_share) and s["rotates_per_1000"] == pytest.approx(py.rotates_per_1000)
        flagged += any(r.startswith("wasm.pow.") for r in js["rules"])
    assert flagged >= 3  # the miners are there, so agreement is not agreement on nothing
    assert searched >= 4  # and so are nonce loops


def test_the_job_share_cycle_is_found_like_the_python_recogniser(node_run):
    """scorer.js's port of webscan/net/jobshare.py on tests/test_jobshare.py's text sequences:
    pool sessions (recorded socket.io, renamed JSON, a chat without its echo) and look-alikes
    (a chat echoing hex ids, checksummed uploads, plain chat, results answering no job) get the
    same answer."""
    from test_jobshare import (chat_echo_frames, chat_without_echo, plain_chat_frames, record_socketio,
                               renamed_json_frames, upload_frames)
    from webscan.net.jobshare import Frame, find_cycle

    seqs = {"socketio": record_socketio()[0], "renamed": renamed_json_frames(), "chat-echo": chat_echo_frames(),
            "chat-no-echo": chat_without_echo(chat_echo_frames()), "upload": upload_frames(), "chat": plain_chat_frames(),
            # results that answer no job (no value of a job echoed beside them): not shares
            "answers-no-job": [Frame(f.direction, f.data.replace('"wid": "q7"', '"wid": "zz"'), f.ts)
                               if f.direction == "sent" else f for f in renamed_json_frames()]}
    got = node_run({"wasm": [], "protocol": [], "scores": [], "cycles": [
        [name, [{"dir": f.direction, "data": f.data, "t": f.ts} for f in frames]] for name, frames in seqs.items()]})["cycles"]
    found = 0
    for name, frames in seqs.items():
        py = find_cycle(frames)
        want = py and [py.jobs, py.shares, py.framing, pytest.approx(py.first_job_ts), pytest.approx(py.last_share_ts)]
        assert got[name] == want, name
        found += py is not None
    assert 0 < found < len(seqs)  # both answers occur


def test_protocol_samples_match_like_the_python_matcher(node_run, sigs):
    from webscan.browser.evidence import decode_frame
    from webscan.net.protocol import ProtocolMatcher

    matcher = ProtocolMatcher(sigs.protocol)
    cases = [(r.id, s) for r in sigs.protocol for s in [*r.samples.match, *r.samples.no_match]]
    cases += [("socketio", '42["mining.submit",{"x":1}]'),
              ("lines", '{"method":"login","params":{"login":"a","pass":"x","agent":"b"}}\n{"id":1}')]
    got = node_run({"wasm": [], "protocol": cases, "scores": []})["protocol"]
    hits = 0
    for rid, text in cases:
        py = sorted(r.id for obj in decode_frame(text) for r in matcher.match_message(obj))
        assert got[f"{rid} {text}"] == py, (rid, text)
        hits += bool(py)
    assert hits >= len(sigs.protocol)


def test_verdict_arithmetic_is_webscan_verdict(node_run, sigs):
    from webscan.analysis import Analysis
    from webscan.model import EvidenceKind, Finding, Location, Severity
    from webscan.verdict import judge

    cats = list(sigs.verdict.categories)
    combos = [[], ["kit-name"], ["runtime-cpu", "worker-blob", "thread-per-core", "wasm-load", "websocket"],
              ["miner-domain-load"], ["pool-protocol"], ["pool-protocol", "runtime-cpu"], ["hash-primitive", "hash-density"],
              ["wasm-miner", "websocket"], ["throttle", "js-hash-loop", "kit-name"], cats]
    combos += [cats[i:i + 3] for i in range(0, len(cats), 2)]
    got = node_run({"wasm": [], "protocol": [], "scores": combos})["scores"]
    for combo, (score, label) in zip(combos, got):
        a = Analysis()
        a.findings = [Finding(rule=f"r{i}", kind=EvidenceKind.runtime, category=c, severity=Severity.low,
                              message="m", location=Location(target=f"t{i}")) for i, c in enumerate(combo)]
        r = judge(a, sigs.verdict)
        assert (score, label) == (pytest.approx(r.score, abs=1e-4), r.verdict.value), combo
    assert {lbl for _, lbl in got} == {"clean", "suspicious", "miner"}


def test_service_feed_converts_to_what_the_build_compiles(node_run, sigs):
    from webscan.extension.compile import compile_rules
    from webscan.service.app import signatures_document

    feed = signatures_document(sigs).decode()
    got = node_run({"wasm": [], "protocol": [], "scores": [], "feed": feed})["feed"]
    assert got == json.loads(json.dumps(compile_rules(sigs)))

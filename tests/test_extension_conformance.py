"""One verdict, two runtimes: every conformance case (tests/conformance/*.json: what a page showed
at run time, recorded from the crawler on each fixture page or written by hand) is judged by the
Python verdict code (webscan/browser/evidence.py + webscan/verdict.py) AND by the extension's
built scorer under Node, and both must give the case's expected verdict.

Python must give exactly the expected verdict, score, categories and strong categories. The
extension's scorer must give the same verdict label, and the same categories, score and rules
as Python judging what the extension can see of the case (its text frames: the hook hands over
a binary frame's size only), so any divergence in the shared arithmetic or mapping fails here.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from conftest import ROOT
from webscan.extension.conformance import judge_case, load_case

CASES = sorted((ROOT / "tests" / "conformance").glob("*.json"))
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="the extension's scorer runs under Node; install nodejs")
DRIVER = r"""
import * as S from "./scorer.js";
import fs from "fs";
import path from "path";
const [root, ...files] = process.argv.slice(2);
const c = S.compile(JSON.parse(fs.readFileSync("./rules.json", "utf8")));
const out = {};
for (const f of files) {
  const kase = JSON.parse(fs.readFileSync(f, "utf8"));
  const bytesOf = (m) => new Uint8Array(m.file ? fs.readFileSync(path.join(root, m.file)) : Buffer.from(m.b64, "base64"));
  const v = S.judgeCase(c, kase, bytesOf);
  out[f] = { verdict: v.label, score: v.score, categories: v.categories, strong: v.strong,
             rules: [...new Set(v.findings.map((x) => x.rule))].sort() };
}
// A live tab's window is open: a 3 s burst seen 4 s in is not sustained CPU, and after a whole
// window it is judged over that window (the hashing-worker page showed '?' for the burst).
const burst = [{ t: 4.0, busy_ms: 3000, span_ms: 4000 }];
const steady = Array.from({ length: 12 }, (_, k) => ({ t: k + 1, busy_ms: 900, span_ms: 1000 }));
out.__open__ = { burstEarly: S.cpuSummary(c, burst, 4.2).sustained, burstLater: S.cpuSummary(c, burst, 12.5).sustained,
                 minerEarly: S.cpuSummary(c, steady.slice(0, 4), 4.2).sustained, minerLater: S.cpuSummary(c, steady, 12.5).sustained };
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def scorer_verdicts(tmp_path_factory):
    from webscan.extension.build import build
    from webscan.rules.loader import load_signatures

    out = tmp_path_factory.mktemp("ext") / "x"
    build(out, load_signatures([ROOT / "signatures"]))
    (out / "driver.mjs").write_text(DRIVER)
    r = subprocess.run([NODE, "driver.mjs", str(ROOT), *map(str, CASES)], cwd=out, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_there_are_recorded_and_hand_written_cases():
    names = [p.name for p in CASES]
    assert sum(n.startswith("recorded-miner-") for n in names) >= 8
    assert sum(n.startswith("recorded-benign-") for n in names) >= 6
    assert sum(not n.startswith("recorded-") for n in names) >= 4
    labels = {load_case(p)["expect"]["verdict"] for p in CASES}
    assert labels >= {"miner", "clean"}


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_python_and_the_extension_give_the_case_verdict(path, scorer_verdicts, sigs, scanner):
    case = load_case(path)
    want = case["expect"]
    py = judge_case(case, ROOT, scanner.engines, sigs)
    assert (py["verdict"], py["categories"], py["strong"]) == (want["verdict"], want["categories"], want["strong"]), py["rules"]
    js = scorer_verdicts[str(path)]
    assert js["verdict"] == want["verdict"], (js, want)
    same = judge_case(case, ROOT, scanner.engines, sigs, text_frames_only=True)
    assert js["categories"] == pytest.approx(same["categories"]) and js["strong"] == same["strong"], (js["rules"], same["rules"])
    assert js["score"] == pytest.approx(same["score"], abs=1e-4)
    assert js["rules"] == same["rules"]


def test_a_live_tab_judges_cpu_over_a_whole_window(scorer_verdicts):
    """The root of the hashing-worker page's '?': the extension judged a 2-3 s burst as sustained
    CPU before it had watched a whole window (the crawler never does)."""
    assert scorer_verdicts["__open__"] == {"burstEarly": False, "burstLater": False,
                                           "minerEarly": False, "minerLater": True}

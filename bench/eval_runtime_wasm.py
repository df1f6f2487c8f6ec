"""What the live verdict (crawler and extension alike) says of a page that runs a real Wasm
module from the development corpus (../shared/corpus) in a worker: would a miner be badged, and
would a benign look-alike (hashing libraries, Wasm games, wallets) be badged `?` or `MINE`?

    python3 ../shared/corpus/materialize.py bench/.cache/corpus   # once
    python bench/eval_runtime_wasm.py [--materialized bench/.cache/corpus] [--details]

eval_corpus.py scores the static scanner on files; this scores the runtime verdict on pages.
Each Wasm row (positive or hard_negative) becomes conformance cases (webscan/extension/
conformance.py: the format both runtimes judge) of a page on a site of its own that loads one
worker, which instantiates the module, under three scenes:

- `idle`: the module is compiled and the page's CPU stays idle over the 10 s window;
- `busy`: one core busy 90% of every second for 12 s (a game's loop, a long hash);
- `throttled`: 30% of one core, steadily (how throttled miners run).

No socket, no call counts, no loaded script from a known service: the module itself and the CPU
are the only evidence, the hardest case for a miner and the one a benign Wasm page presents.
Each case is judged by the Python verdict (judge_case) and by the extension's built scorer under
Node (the same driver as tests/test_extension_conformance.py); a disagreement on miner / not
miner is printed. The corpus is only read; cases are written to a temporary folder.
"""

from __future__ import annotations

import argparse
import base64
import collections
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from eval_corpus import CORPUS_ENV, CorpusError, default_corpus, load_rows  # noqa: E402
from webscan.extension.build import build  # noqa: E402
from webscan.extension.conformance import FORMAT, judge_case  # noqa: E402
from webscan.rules.loader import load_signatures  # noqa: E402
from webscan.scanner import Scanner  # noqa: E402

SCENES = {
    "idle": [],
    "busy": [{"t": float(k + 1), "busy_ms": 900.0, "span_ms": 1000.0} for k in range(12)],
    "throttled": [{"t": float(k + 1), "busy_ms": 300.0, "span_ms": 1000.0} for k in range(12)],
}
"""Busy-time samples of each scene, as the hook reports them (one per second of the window)."""

DRIVER = r"""
import * as S from "./scorer.js";
import fs from "fs";
const files = process.argv.slice(2);
const c = S.compile(JSON.parse(fs.readFileSync("./rules.json", "utf8")));
const out = {};
for (const f of files) {
  const kase = JSON.parse(fs.readFileSync(f, "utf8"));
  const v = S.judgeCase(c, kase, (m) => new Uint8Array(Buffer.from(m.b64, "base64")));
  out[f] = { verdict: v.label, rules: [...new Set(v.findings.map((x) => x.rule))].sort() };
}
console.log(JSON.stringify(out));
"""


def case_of(data: bytes, scene: str, n: int) -> dict:
    site = f"http://site{n}.test"
    return {
        "format": FORMAT, "name": f"corpus-{n}-{scene}", "about": "", "page": f"{site}/index.html",
        "window_s": 12.0, "cpu_from": 0.0,
        "loads": [{"url": f"{site}/app/worker.js", "context": "script loaded by the page"}],
        "workers": [{"url": f"{site}/app/worker.js", "kind": "dedicated", "where": f"{site}/index.html", "t": 0.5}],
        "sockets": [], "frames": [], "calls": [], "cpu": SCENES[scene],
        "wasm": [{"b64": base64.b64encode(data).decode("ascii"),
                  "sha256": hashlib.sha256(data).hexdigest(), "api": "instantiate", "realm": "worker",
                  "where": f"{site}/app/worker.js", "url": None, "key": "", "t": 1.0}],
        "expect": {},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=default_corpus(),
                    help=f"the corpus folder (default: ${CORPUS_ENV} or ../shared/corpus)")
    ap.add_argument("--materialized", type=Path, default=None,
                    help="where materialize.py laid out the npm rows (most benign Wasm is there)")
    ap.add_argument("--details", action="store_true", help="list every module a scene badges wrongly")
    args = ap.parse_args()
    node = shutil.which("node")
    if node is None:
        raise SystemExit("eval_runtime_wasm: the extension's scorer runs under Node; install nodejs")
    try:
        rows, absent = load_rows(args.corpus, args.materialized)
    except CorpusError as e:
        raise SystemExit(f"eval_runtime_wasm: {e}")
    rows = [r for r in rows if r.kind == "wasm" and r.label in ("positive", "hard_negative")]
    if not rows:
        raise SystemExit("eval_runtime_wasm: no Wasm row at hand; run materialize.py and pass --materialized")
    sigs = load_signatures([ROOT / "signatures"])
    engines = Scanner(sigs).engines
    with tempfile.TemporaryDirectory(prefix="webscan-runtime-eval-") as tmp:
        work = Path(tmp)
        build(work / "ext", sigs)
        (work / "ext" / "driver.mjs").write_text(DRIVER, encoding="utf-8")
        cases: dict[str, tuple] = {}
        for n, row in enumerate(rows):
            data = row.file.read_bytes()
            for scene in SCENES:
                case = case_of(data, scene, n)
                path = work / f"{case['name']}.json"
                path.write_text(json.dumps(case), encoding="utf-8")
                cases[str(path)] = (row, scene, case)
        r = subprocess.run([node, "driver.mjs", *cases], cwd=work / "ext", capture_output=True,
                           text=True, timeout=900)
        if r.returncode != 0:
            raise SystemExit(f"eval_runtime_wasm: the scorer failed under Node:\n{r.stderr[-2000:]}")
        js = json.loads(r.stdout)
        table: dict[tuple, collections.Counter] = collections.defaultdict(collections.Counter)
        wrong, split = [], []
        for path, (row, scene, case) in cases.items():
            py = judge_case(case, ROOT, engines, sigs)
            ext = js[path]["verdict"]
            table[(row.label, scene)][("py", py["verdict"])] += 1
            table[(row.label, scene)][("ext", ext)] += 1
            if (py["verdict"] == "miner") != (ext == "miner"):
                split.append((row, scene, py["verdict"], ext))
            badged = ext in ("miner", "suspicious")
            if badged != (row.label == "positive"):
                wrong.append((row, scene, py["verdict"], ext, py["rules"]))
    print(f"{len(rows)} Wasm rows ({absent} corpus rows not at hand), 3 scenes each")
    print(f"{'label':14} {'scene':10} {'python miner/susp/clean':>24} {'extension miner/?/clean':>24}")
    for (label, scene), c in sorted(table.items()):
        def f(who):
            return f"{c[(who, 'miner')]}/{c[(who, 'suspicious')]}/{c[(who, 'clean')]}"
        print(f"{label:14} {scene:10} {f('py'):>24} {f('ext'):>24}")
    print(f"python and extension disagree on miner / not miner: {len(split)}")
    for row, scene, p, e in split:
        print(f"  {scene:10} python {p:10} extension {e:10} {row.family:16} {row.path}")
    if args.details:
        print("badged wrongly (a benign module badged, or a miner module not):")
        for row, scene, p, e, rules in sorted(wrong, key=lambda w: (w[0].label, w[0].path, w[1])):
            print(f"  {row.label:13} {scene:10} python {p:10} extension {e:10} {row.family:16} {row.path}  {','.join(rules)}")


if __name__ == "__main__":
    main()

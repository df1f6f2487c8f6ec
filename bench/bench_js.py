"""Speed and false-positive check of the JavaScript engine on popular library bundles.

Installs the bundles with npm into bench/.cache/ (gitignored) on first run, then prints, for
the same files: MB/s and peak memory of a bare tree-sitter parse, MB/s and peak memory of
JsEngine.analyse, their ratio (the bar is >= 0.4), and the verdict of every bundle (a popular
library judged `suspicious` or `miner` is a false positive to fix in the rules).

    python bench/bench_js.py            # all bundles
    python bench/bench_js.py --profile  # also cProfile the engine, top 25 functions
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CACHE = ROOT / "bench" / ".cache"
PACKAGES = [
    "react", "react-dom", "lodash", "three", "jquery", "moment", "d3", "vue", "chart.js", "rxjs",
    "typescript", "pdfjs-dist", "echarts", "bootstrap", "@babel/standalone", "plotly.js-dist-min",
    "katex", "leaflet", "video.js", "ethers", "web3", "crypto-js", "js-sha3", "socket.io-client",
    "hash-wasm", "sql.js", "tesseract.js", "ace-builds",
]
# prebuilt browser bundles inside those packages (paths under node_modules/)
FILES = [
    "react-dom/cjs/react-dom-client.production.js", "react-dom/cjs/react-dom-client.development.js",
    "lodash/lodash.js", "lodash/lodash.min.js", "three/build/three.core.js", "three/build/three.module.js",
    "jquery/dist/jquery.js", "moment/min/moment-with-locales.js", "d3/dist/d3.js", "d3/dist/d3.min.js",
    "vue/dist/vue.global.js", "chart.js/dist/chart.umd.js", "rxjs/dist/bundles/rxjs.umd.js",
    "typescript/lib/tsc.js", "pdfjs-dist/build/pdf.mjs", "pdfjs-dist/build/pdf.worker.mjs",
    "echarts/dist/echarts.js", "bootstrap/dist/js/bootstrap.bundle.js", "@babel/standalone/babel.js",
    "plotly.js-dist-min/plotly.min.js", "katex/dist/katex.js", "leaflet/dist/leaflet-src.js",
    "video.js/dist/video.js", "ethers/dist/ethers.umd.js", "web3/dist/web3.min.js",
    "crypto-js/crypto-js.js", "js-sha3/build/sha3.min.js", "socket.io-client/dist/socket.io.js",
    "hash-wasm/dist/index.umd.js", "sql.js/dist/sql-wasm.js", "sql.js/dist/sql-asm.js",
    "tesseract.js/dist/tesseract.min.js", "tesseract.js/dist/worker.min.js", "ace-builds/src-min/ace.js",
]


def ensure_bundles() -> list[Path]:
    nm = CACHE / "node_modules"
    missing = [p for p in PACKAGES if not (nm / p / "package.json").is_file()]
    if missing:
        CACHE.mkdir(parents=True, exist_ok=True)
        if not (CACHE / "package.json").is_file():
            (CACHE / "package.json").write_text('{"name": "bench-cache", "private": true}\n')
        print(f"npm install {len(missing)} packages into {CACHE} ...", flush=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", *missing],
                       cwd=CACHE, check=True, stdout=subprocess.DEVNULL)
    out = []
    for f in FILES:
        p = nm / f
        if p.is_file():
            out.append(p)
        else:
            print(f"  (skipping {f}: not in this version of the package)")
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(label: str, fn, datas: list[bytes]) -> float:
    """Time one pass (no tracing, it would slow Python code more than C), then trace memory."""
    gc.collect()
    t0 = time.perf_counter()
    for d in datas:
        fn(d)
    dt = time.perf_counter() - t0
    gc.collect()
    tracemalloc.start()
    for d in datas:
        fn(d)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    mb = sum(len(d) for d in datas) / 1e6
    print(f"{label:<28} {mb:8.1f} MB in {dt:7.2f} s = {mb / dt:6.2f} MB/s; "
          f"peak traced memory {peak / 1e6:7.1f} MB")
    return mb / dt


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    files = ensure_bundles()
    datas = [p.read_bytes() for p in files]

    from tree_sitter import Parser

    from webscan.js.engine import JS_LANGUAGE, JsEngine
    from webscan.net.protocol import ProtocolMatcher
    from webscan.rules.loader import load_signatures
    from webscan.verdict import judge

    sigs = load_signatures()
    engines = _engines(sigs)
    js = JsEngine(sigs, protocol=ProtocolMatcher(sigs.protocol), **engines)
    parser = Parser(JS_LANGUAGE)

    # warm up (imports, first-call costs)
    parser.parse(datas[0][:10000])
    js.analyse(datas[0][:10000], "warmup.js")

    print(f"{len(files)} bundles, {sum(map(len, datas)) / 1e6:.1f} MB; engines: "
          + ", ".join(f"{k}={'real' if v is not None else 'none'}" for k, v in engines.items()))
    parse_speed = measure("bare tree-sitter parse", parser.parse, datas)
    reports = []

    def run(d: bytes) -> None:
        if len(reports) < len(datas):
            reports.append(js.analyse(d, "bundle.js"))
        else:
            js.analyse(d, "bundle.js")

    full_speed = measure("JsEngine.analyse", run, datas)
    ratio = full_speed / parse_speed
    print(f"ratio analyse/parse = {ratio:.2f} (bar >= 0.40): {'PASS' if ratio >= 0.4 else 'FAIL'}")
    print(f"peak RSS of this process: {peak_rss_mb():.0f} MB")

    bad = 0
    print("\nverdicts:")
    for p, a in zip(files, reports):
        r = judge(a, sigs.verdict, path=str(p))
        flag = "" if r.verdict.value == "clean" else "   <-- FALSE POSITIVE"
        bad += bool(flag)
        cats = sorted({f.category for f in r.findings})
        print(f"  {r.verdict.value:<10} {r.score:4.2f} {p.relative_to(CACHE / 'node_modules')}  {cats}{flag}")
        if flag:
            for f in r.findings[:6]:
                print(f"        {f.rule} @{f.location.line}:{f.location.column} {f.excerpt and f.excerpt[:70]!r}")
    print(f"\n{bad} of {len(files)} popular bundles flagged (should be 0)")

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for d in datas:
            js.analyse(d, "bundle.js")
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    return 0 if ratio >= 0.4 and bad == 0 else 1


def _engines(sigs) -> dict:
    """The other helpers' engines when they import; the bench measures what exists."""
    out = {"domains": None, "constants": None, "wasm": None}
    try:
        from webscan.net.domains import DomainMatcher

        out["domains"] = DomainMatcher(sigs.domains)
    except ImportError:
        pass
    try:
        from webscan.rules.constants import ConstantMatcher

        out["constants"] = ConstantMatcher(sigs.constants)
    except ImportError:
        pass
    try:
        from webscan.wasm.engine import WasmEngine

        out["wasm"] = WasmEngine(sigs, out["constants"])
    except ImportError:
        pass
    return out


if __name__ == "__main__":
    raise SystemExit(main())

"""What the packed-library sandbox costs, and why it is mini-racer (V8) in a child process.

    python bench/bench_sandbox.py                          # webscan's sandbox: cost per file
    python bench/bench_sandbox.py --compare /tmp/qjs/bin/python
        # also: mini-racer in-process vs the `quickjs` binding, run by an interpreter that has
        # both (a scratch venv: python3 -m venv /tmp/qjs && /tmp/qjs/bin/pip install quickjs
        # mini-racer; quickjs is NOT a webscan dependency)

Part 1 (--compare): per engine, the start-up cost of a fresh context, the time to run an LZW and
a p,a,c,k,e,d decoder over a ~100 KB script, and what each limit does on hostile code: what the
call raised, when it returned, and how much CPU the process burnt in the 3 s AFTER it returned
(a builtin that ignores termination keeps running in the engine's thread). Every case runs in a
process of its own with a 20 s wall limit, because a case may crash or hang the process that
runs it (that is one of the findings).

Part 2: the scanner on generated packed files (the sandbox runs) and on a plain bundle of the
same size (it must not): wall time per file and number of sandbox evaluations.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

HOSTILE = {
    "while(1){}": "while(1){}",
    "new Array(1e9).fill(0)": "new Array(1e9).fill(0).length",
    "string doubling": "var s='x'; while(1) s += s;",
    "object flood": "var a=[]; while(1) a.push({x: a.length});",
    "deep recursion": "function f(){ return f() + 1; } f();",
}

# run by the interpreter under test: prints one JSON line
PROBE = r'''
import json, os, sys, time
engine, case, code = sys.argv[1], sys.argv[2], sys.stdin.read()
T, MEM = 0.25, 64 << 20
def make():
    if engine == "quickjs":
        import quickjs
        c = quickjs.Context(); c.set_time_limit(T); c.set_memory_limit(MEM); c.set_max_stack_size(1 << 20)
        return c, (lambda src: c.eval(src))
    from py_mini_racer import MiniRacer
    m = MiniRacer()
    return m, (lambda src: m.eval(src, timeout_sec=T, max_memory=MEM))
out = {}
if case == "startup":
    t = time.perf_counter(); make(); out["first_ms"] = (time.perf_counter() - t) * 1e3
    ts = []
    for _ in range(20):
        t = time.perf_counter(); c, ev = make(); ev("1"); ts.append((time.perf_counter() - t) * 1e3)
        if engine != "quickjs": c.close()
    out["per_context_ms"] = sorted(ts)[len(ts) // 2]
elif case == "decode":
    c, ev = make()
    ev("var __o = []; eval = function (s) { __o.push(s); }; Function = function (s) { __o.push(s); return function () {}; };")
    ts = []
    for _ in range(5):
        t = time.perf_counter(); ev(code); ts.append((time.perf_counter() - t) * 1e3)
    out["ms"] = sorted(ts)[2]
    out["out_chars"] = ev("__o.length ? __o[__o.length - 1].length : 0")
else:
    c, ev = make()
    t = time.perf_counter()
    try:
        ev(code); out["result"] = "returned"
    except Exception as e:
        out["result"] = f"{type(e).__name__}: {str(e).splitlines()[0][:70] if str(e) else ''}"
    out["returned_after_ms"] = (time.perf_counter() - t) * 1e3
    print(json.dumps(out), flush=True)
    # does the engine keep running after returning (a builtin ignoring termination)?
    c0 = time.process_time(); time.sleep(3)
    out = {"cpu_after_s": time.process_time() - c0}
print(json.dumps(out), flush=True)
os._exit(0)  # mini-racer 0.14 can hang at interpreter exit after a context with max_memory
'''


def probe(python: str, engine: str, case: str, code: str = "") -> dict:
    t = time.perf_counter()
    try:
        p = subprocess.run([python, "-c", PROBE, engine, case], input=code, capture_output=True,
                           text=True, timeout=20)
        lines = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
        out: dict = {}
        for x in lines:
            out.update(x)
        if p.returncode != 0:
            err = [x for x in p.stderr.splitlines() if "Fatal" in x or "Error" in x][:1]
            out["process"] = f"died (rc {p.returncode}) {err[0].strip()[:60] if err else ''}"
    except subprocess.TimeoutExpired:
        out = {"process": "still running at 20 s: killed"}
    out["wall_ms"] = (time.perf_counter() - t) * 1e3
    return out


def compare(python: str) -> None:
    from packers import lzw, packer

    lib = _library(100_000)
    print(f"\n== engines (run by {python}; limits 250 ms, 64 MB) ==")
    for engine in ("mini-racer", "quickjs"):
        s = probe(python, engine, "startup")
        print(f"{engine:10} first context {s.get('first_ms', 0):7.1f} ms, then a fresh context "
              f"{s.get('per_context_ms', 0):6.2f} ms (median of 20) {s.get('process', '')}")
        for name, fn in (("LZW", lzw), ("p,a,c,k,e,d", packer)):
            d = probe(python, engine, "decode", fn(lib))
            print(f"{'':10} {name:12} decoder over {len(lib) // 1000} KB: {d.get('ms', 0):7.1f} ms "
                  f"({d.get('out_chars', 0):,} chars out) {d.get('process', '')}")
        for name, code in HOSTILE.items():
            h = probe(python, engine, "hostile", code)
            print(f"{'':10} {name:24} -> {h.get('result', '-')[:56]:56} returned after "
                  f"{h.get('returned_after_ms', 0):5.0f} ms; then {h.get('cpu_after_s', 0):.1f} s CPU in "
                  f"3 s {h.get('process', '')}")


def _library(size: int) -> str:
    """A miner-library-like script (repetitive code, many identifiers) of about `size` chars."""
    parts, i = [], 0
    while sum(map(len, parts)) < size:
        parts.append(f"Miner.prototype.f{i} = function (job{i}) {{ var blob = job{i}.blob; "
                     f"this._threads[{i % 8}].postMessage({{type: 'job', blob: blob, n: {i}}}); return this; }};\n")
        i += 1
    return "".join(parts)


def scanner_costs() -> None:
    from packers import MINER, PACKERS

    from webscan.js import sandbox
    from webscan.scanner import Scanner

    runs: list[float] = []
    real = sandbox.evaluate_decoder

    def counted(*a, **k):
        res = real(*a, **k)
        runs.append(res.elapsed_ms)
        return res

    sandbox.evaluate_decoder = counted  # type: ignore[assignment]
    sc = Scanner()
    t = time.perf_counter()
    sandbox.evaluate_decoder("eval('warm')")
    print(f"\n== webscan's sandbox ==\nchild process start (Python + V8, once per scanning process): "
          f"{(time.perf_counter() - t) * 1e3:.0f} ms")
    lib = _library(60_000) + MINER
    files = {f"{k} packed ({len(fn(lib)) // 1000} KB)": fn(lib).encode() for k, fn in PACKERS.items()}
    files[f"plain bundle ({len(lib) // 1000} KB)"] = lib.encode()
    for name, data in files.items():
        times, n_runs, sb = [], 0, []
        for _ in range(5):
            runs.clear()
            t = time.perf_counter()
            rep = sc.scan_bytes(data, "f.js")
            times.append((time.perf_counter() - t) * 1e3)
            n_runs, sb = len(runs), list(runs)
        print(f"{name:32} scan {statistics.median(times):7.1f} ms, sandbox evaluations {n_runs}"
              f"{f' ({statistics.median(sb):.1f} ms each)' if sb else ''}, verdict {rep.verdict.value}")
    sandbox.evaluate_decoder = real  # type: ignore[assignment]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare", metavar="PYTHON",
                    help="an interpreter with both `quickjs` and `mini-racer` installed")
    a = ap.parse_args()
    if a.compare:
        compare(a.compare)
    scanner_costs()


if __name__ == "__main__":
    main()

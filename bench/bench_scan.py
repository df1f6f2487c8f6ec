"""Whole-command speed: `webscan scan` versus a bare tree-sitter parse of the same bundles.

The issue's bar: the whole scan at least 0.4 of the bare parse speed. Both are run as separate
processes so each peak memory figure is its own (ru_maxrss of the child). The bundles are the
popular library builds of bench_js.py, installed with npm into bench/.cache/ on first run.

    python bench/bench_scan.py            # jobs=1 and jobs=all cores
    python bench/bench_scan.py --repeat 3 # best of three
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_js import ensure_bundles  # noqa: E402

BARE_PARSE = """
import sys, tree_sitter as ts, tree_sitter_javascript as tsj
parser = ts.Parser(ts.Language(tsj.language()))
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        parser.parse(f.read())
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement; the best counts")
    args = ap.parse_args()
    files = [str(p) for p in ensure_bundles()]
    mb = sum(os.path.getsize(f) for f in files) / 1e6
    print(f"{len(files)} bundles, {mb:.1f} MB, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.jsonl")
        cases = [
            ("bare tree-sitter parse (1 process)", [sys.executable, "-c", BARE_PARSE, *files]),
            ("webscan scan --jobs 1", [sys.executable, "-m", "webscan", "scan", *files, "-q",
                                       "--jobs", "1", "--format", "jsonl", "-o", out,
                                       "--fail-on", "never"]),
            ("webscan scan (all cores)", [sys.executable, "-m", "webscan", "scan", *files, "-q",
                                          "--format", "jsonl", "-o", out, "--fail-on", "never"]),
        ]
        results = {}
        for label, cmd in cases:
            # Peak RSS is a high-water mark over all children so far: measure each case in a
            # fresh interpreter so one case's peak does not mask the next.
            best = None
            for _ in range(args.repeat):
                wrapper = [sys.executable, "-c",
                           "import resource, subprocess, sys, time;"
                           "t=time.perf_counter(); subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL);"
                           "e=time.perf_counter()-t;"
                           "print(e, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024)",
                           *cmd]
                res = subprocess.run(wrapper, capture_output=True, text=True,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)})
                elapsed, rss = (float(x) for x in res.stdout.split())
                if best is None or elapsed < best[0]:
                    best = (elapsed, rss)
            results[label] = best
            print(f"{label:40s} {mb / best[0]:6.2f} MB/s  {best[0]:6.1f} s  peak RSS {best[1]:6.0f} MB")
    bare = results["bare tree-sitter parse (1 process)"][0]
    for label in ("webscan scan --jobs 1", "webscan scan (all cores)"):
        print(f"{label} / bare parse speed: {bare / results[label][0]:.2f} (bar: >= 0.4)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

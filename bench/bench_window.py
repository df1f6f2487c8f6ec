"""Crawl throughput on quiet pages: this tree against an earlier revision (issue 13's bar).

The adaptive window, the consent search, focus emulation and stealth.js must not slow down the
crawl of pages that show nothing suspicious: at least 90% of the earlier pages/min. Quiet
fixture pages (a chat, an MDN demo, the index, a page that opens popups...) are repeated with
a query string and crawled by `python -m webscan crawl` from each source tree in turn, runs
alternated (the machine is shared: alternation spreads its load over both). The earlier
revision is exported with `git archive` into a temporary directory (nothing in the repository
changes) and put first on PYTHONPATH.

    python bench/bench_window.py                 # against HEAD~3, 16 sites, window 10 s, 2 rounds
    python bench/bench_window.py --against 0d00809 --sites 24 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from site_fixtures.server import FixtureServer  # noqa: E402

QUIET = ["/benign/chat.html", "/benign/mdn-example.html", "/benign/hex-chat.html", "/index.html",
         "/trap/popups.html", "/benign/hash-file.html"]


def crawl(tree: Path, urls: list[str], window: float, work: Path) -> tuple[float, list[dict]]:
    sites = work / "sites.txt"
    sites.write_text("\n".join(urls) + "\n")
    out = work / f"out-{time.monotonic_ns()}.jsonl"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "webscan", "crawl", str(sites), "--out", str(out),
                    "--window", str(window), "-q"], env=env, cwd=tree, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    return seconds, [json.loads(line) for line in out.read_text().splitlines()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", default="HEAD~3", help="the earlier git revision")
    ap.add_argument("--sites", type=int, default=16)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FixtureServer() as srv:
        old = Path(tmp) / "old"
        old.mkdir()
        archive = subprocess.run(["git", "archive", args.against], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        urls = [srv.url(QUIET[i % len(QUIET)]) + f"?copy={i}" for i in range(args.sites)]
        times: dict[str, list[float]] = {"earlier": [], "this tree": []}
        for r in range(args.rounds):
            for name, tree in (("earlier", old), ("this tree", ROOT)):
                seconds, rows = crawl(tree, urls, args.window, Path(tmp))
                times[name].append(seconds)
                verdicts = {row["verdict"] for row in rows}
                extended = sum(bool(((row.get("runtime") or {}).get("coverage") or {}).get("extended"))
                               for row in rows)
                print(f"round {r + 1} {name:9s}: {len(rows)} sites in {seconds:5.1f} s = "
                      f"{60 * len(rows) / seconds:5.1f} pages/min; verdicts {sorted(verdicts)}"
                      + (f"; windows extended: {extended}" if name == "this tree" else ""))
        best = {k: min(v) for k, v in times.items()}
        ratio = best["earlier"] / best["this tree"]
        print(f"best of {args.rounds}: earlier {60 * args.sites / best['earlier']:.1f} pages/min, "
              f"this tree {60 * args.sites / best['this tree']:.1f} pages/min: {ratio:.0%} of the "
              f"earlier throughput (bar: 90%)")


if __name__ == "__main__":
    main()

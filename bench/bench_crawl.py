"""Crawl throughput: pages per minute over 40 fixture sites, default concurrency vs 1.

The issue's bar: at least 4x the sequential figure and at least 20 pages/min on 2 cores, with
the browser's peak memory under 3 GB. Sites are the fixture pages (site_fixtures/pages),
repeated with a query string to reach 40 distinct URLs, served by the fixture server.

    python bench/bench_crawl.py              # --window 10, both runs
    python bench/bench_crawl.py --window 5 --sites 20
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from site_fixtures.server import FixtureServer  # noqa: E402


def browser_memory_sampler(stop: threading.Event, peak: list[int]) -> None:
    """Peak memory of all chromium processes together, as PSS (shared pages divided among the
    processes that share them); summed RSS would count every shared page once per process."""
    while not stop.is_set():
        total = 0
        for p in psutil.process_iter(["name"]):
            try:
                if p.info["name"] and "chrom" in p.info["name"]:
                    total += p.memory_full_info().pss
            except (psutil.Error, AttributeError):
                continue
        peak[0] = max(peak[0], total)
        time.sleep(0.5)


def run(sites: Path, out: Path, window: float, concurrency: int) -> tuple[float, int, int]:
    stop, peak = threading.Event(), [0]
    t = threading.Thread(target=browser_memory_sampler, args=(stop, peak), daemon=True)
    t.start()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "webscan", "crawl", str(sites), "--out", str(out),
                    "--window", str(window), "--concurrency", str(concurrency), "-q"],
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    elapsed = time.perf_counter() - t0
    stop.set()
    t.join()
    n = sum(1 for _ in out.open())
    return elapsed, n, peak[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--sites", type=int, default=40)
    ap.add_argument("--skip-sequential", action="store_true")
    args = ap.parse_args()
    pages = json.loads((ROOT / "site_fixtures" / "pages" / "pages.json").read_text())
    with FixtureServer() as srv, tempfile.TemporaryDirectory() as tmp:
        urls = [srv.url(pages[i % len(pages)]["path"]) + f"?n={i}" for i in range(args.sites)]
        sites = Path(tmp) / "sites.txt"
        sites.write_text("\n".join(urls) + "\n")
        cases = [("default concurrency", 0)] + ([] if args.skip_sequential else [("--concurrency 1", 1)])
        figures = {}
        for label, c in cases:
            elapsed, n, rss = run(sites, Path(tmp) / f"out{c}.jsonl", args.window, c)
            figures[label] = n / elapsed * 60
            print(f"{label:22s} {n} sites in {elapsed:6.1f} s = {figures[label]:5.1f} pages/min; "
                  f"browser peak memory (PSS) {rss / 1e9:.2f} GB", flush=True)
        if len(figures) == 2:
            print(f"speed-up: {figures['default concurrency'] / figures['--concurrency 1']:.1f}x "
                  "(bar: >= 4x and >= 20 pages/min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The throttle probe's value on the fixtures: does DevTools CPU throttling separate miners?

Issue 13's idea (after CoinPolice): change the emulated CPU speed during the window
(`Emulation.setCPUThrottlingRate`) and watch how each thread's busy share responds; a miner
keeps its duty cycle, a page that renders or waits on the network does not. Before any verdict
weight rests on it, this measures it: each page is visited in the crawler's own browser, each
thread of OUR browser's renderer processes is read from /proc (Linux: name and CPU time) over a
baseline span and a throttled span, and the worker threads' response (throttled share /
baseline share) is printed per page. A miner is "separated" when its response is above every
heavy benign page's: the count at the end is the probe's value (0 means: no evidence to give).

    python bench/bench_throttle_probe.py [--rate 4] [--span 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from site_fixtures.server import FixtureServer  # noqa: E402
from webscan.browser.observe import Browser, observe  # noqa: E402

MINERS = ["/miner/binary-pool.html", "/miner/socketio-proxy.html", "/miner/first-party.html",
          "/miner/throttled.html", "/miner/self-hosted-stratum.html", "/miner/webminerpool.html"]
HEAVY_BENIGN = ["/benign/wasm-game.html", "/benign/wasm-physics.html", "/benign/hash-file.html",
                "/benign/busy-loop.html", "/benign/wasm-file-hash.html"]
TICK = os.sysconf("SC_CLK_TCK")


def threads(browser_pid: int) -> dict[tuple[int, int, str], float]:
    """CPU seconds of every thread of our browser's renderer processes, keyed (pid, tid, name)."""
    out: dict[tuple[int, int, str], float] = {}
    try:
        kids = psutil.Process(browser_pid).children(recursive=True)
    except psutil.Error:
        return out
    for p in kids:
        try:
            if "--type=renderer" not in " ".join(p.cmdline()):
                continue
            for tid in os.listdir(f"/proc/{p.pid}/task"):
                comm = Path(f"/proc/{p.pid}/task/{tid}/comm").read_text().strip()
                stat = Path(f"/proc/{p.pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
                out[(p.pid, int(tid), comm)] = (int(stat[11]) + int(stat[12])) / TICK
        except (psutil.Error, OSError):
            continue
    return out


def shares(a: dict, b: dict, seconds: float) -> dict:
    return {k: (b[k] - a[k]) / seconds for k in b if k in a}


async def probe(browser: Browser, url: str, rate: float, span: float) -> dict[str, float]:
    got: dict[str, float] = {}

    async def flip(visit) -> None:  # noqa: ANN001
        pid = browser.process.process.pid
        await asyncio.sleep(1.5)  # the page's start-up is not its duty cycle
        a, ta = threads(pid), time.monotonic()
        await asyncio.sleep(span)
        b, tb = threads(pid), time.monotonic()
        await visit.cdp("Emulation.setCPUThrottlingRate", {"rate": rate})
        await asyncio.sleep(0.3)
        c, tc = threads(pid), time.monotonic()
        await asyncio.sleep(span)
        d, td = threads(pid), time.monotonic()
        await visit.cdp("Emulation.setCPUThrottlingRate", {"rate": 1})
        base, thr = shares(a, b, tb - ta), shares(c, d, td - tc)
        workers = [k for k in base if k[2] == "DedicatedWorker" and base[k] > 0.05]
        mains = [k for k in base if k[2] in ("chromium", "CrRendererMain")]
        got["workers"] = sum(base[k] for k in workers)
        got["workers_throttled"] = sum(thr.get(k, 0.0) for k in workers)
        got["main"] = max((base[k] for k in mains), default=0.0)
        got["main_throttled"] = max((thr.get(k, 0.0) for k in mains), default=0.0)

    async def after_load(visit) -> None:  # noqa: ANN001
        visit._spawn(flip(visit))

    await observe(url, browser=browser, window_s=2 * span + 3.0, after_load=after_load,
                  activity=False)
    return got


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=4.0)
    ap.add_argument("--span", type=float, default=3.0)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    response: dict[str, float] = {}
    with FixtureServer() as srv:
        async with Browser() as browser:
            for path in MINERS + HEAVY_BENIGN:
                m = await probe(browser, srv.url(path), args.rate, args.span)
                r = m.get("workers_throttled", 0.0) / m["workers"] if m.get("workers") else float("nan")
                response[path] = r
                print(f"{path:34s} workers {m.get('workers', 0):.2f} -> {m.get('workers_throttled', 0):.2f} "
                      f"cores (response {r:.2f}); main thread {m.get('main', 0):.2f} -> "
                      f"{m.get('main_throttled', 0):.2f}")
    benign = [response[p] for p in HEAVY_BENIGN if response[p] == response[p]]
    top = max(benign, default=float("inf"))
    separated = [p for p in MINERS if response[p] == response[p] and response[p] > top]
    miners = [response[p] for p in MINERS if response[p] == response[p]]
    print(f"throttled at {args.rate:g}x: worker response median {statistics.median(miners):.2f} on "
          f"miners, {statistics.median(benign):.2f} on heavy benign pages; miners separated from "
          f"every heavy benign page: {len(separated)} of {len(MINERS)}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    asyncio.run(main())

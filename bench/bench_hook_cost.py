"""What the hook's Wasm call counting costs benign heavy pages, with the real Chromium.

Each page is visited with the crawler's hook, call counting on and off, alternating, `--runs`
times: the page's own load time (navigationStart to loadEventEnd), the renderer's CPU seconds
over the window (workers included), and the work the page got done in the window (game frames
simulated; files hashed and the time the six took; chat messages shown). A busy page is CPU
bound either way, so the cost shows as less work per window, not as more CPU.

    python bench/bench_hook_cost.py                 # 3 runs, 6 s window
    python bench/bench_hook_cost.py --runs 5 --window 8
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from site_fixtures.server import FixtureServer  # noqa: E402
from webscan.browser.observe import Browser, observe  # noqa: E402

PAGES = {  # page -> (what the work figure is, a JS expression giving it)
    "/benign/wasm-game.html": ("frames", "Number(document.getElementById('frames').textContent)"),
    "/benign/wasm-file-hash.html": ("ms to hash 6 files", "window.__doneAt || -1"),
    "/benign/hex-chat.html": ("messages", "document.querySelectorAll('#log li').length"),
}
WATCH_DONE = """new MutationObserver(() => {
  const out = document.getElementById('out');
  if (out && !window.__doneAt && out.textContent.trim().split('\\n').length >= 6) window.__doneAt = Math.round(performance.now());
}).observe(document.body, {subtree: true, childList: true, characterData: true});"""


async def one(browser: Browser, url: str, expr: str, window: float, counting: bool) -> dict[str, float]:
    got: dict[str, float] = {}

    async def after_load(visit) -> None:
        got["load_ms"] = await visit.page.evaluate(
            "performance.timing.loadEventEnd - performance.timing.navigationStart")
        await visit.page.evaluate(WATCH_DONE)

        async def work() -> None:
            await asyncio.sleep(max(0.5, window - 0.5))
            try:
                got["work"] = float(await asyncio.wait_for(visit.page.evaluate(expr), 3))
            except Exception:
                got["work"] = float("nan")
        visit._spawn(work())

    obs = await observe(url, browser=browser, window_s=window, after_load=after_load,
                        call_counting=counting)
    got["cpu_s"] = obs.cpu_seconds
    got["calls"] = sum(c.calls for c in obs.calls)
    return got


async def measure(srv: FixtureServer, runs: int, window: float) -> dict[str, dict[bool, list[dict]]]:
    out: dict[str, dict[bool, list[dict]]] = {p: {True: [], False: []} for p in PAGES}
    async with Browser() as browser:
        for _ in range(runs):
            for path, (_, expr) in PAGES.items():
                for counting in (False, True):
                    out[path][counting].append(await one(browser, srv.url(path), expr, window, counting))
    return out


def _median(rows: list[dict], key: str) -> float:
    vals = [r[key] for r in rows if key in r and r[key] == r[key] and r[key] >= 0]
    return statistics.median(vals) if vals else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--window", type=float, default=6.0)
    args = ap.parse_args()
    with FixtureServer() as srv:
        figures = asyncio.run(measure(srv, args.runs, args.window))
    print(f"medians of {args.runs} runs, {args.window:g} s window; off = hook without call counting")
    print(f"{'page':30} {'load ms off/on':>16} {'CPU s off/on':>14} {'work off/on':>18}  {'calls counted':>13}  work")
    for path, by in figures.items():
        off, on = by[False], by[True]
        name = PAGES[path][0]
        print(f"{path:30} {_median(off, 'load_ms'):7.0f}/{_median(on, 'load_ms'):<8.0f} "
              f"{_median(off, 'cpu_s'):6.2f}/{_median(on, 'cpu_s'):<7.2f} "
              f"{_median(off, 'work'):8.0f}/{_median(on, 'work'):<9.0f}  {_median(on, 'calls'):13,.0f}  {name}")


if __name__ == "__main__":
    main()

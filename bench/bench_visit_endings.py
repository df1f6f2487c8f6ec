"""How soon a visit ends on a hostile page, in seconds, with the real Chromium.

The tests only check HOW a visit ends (tests/test_browser_visits.py: a load timeout, a crash);
how long that takes is a figure, measured here: a page that never finishes loading (navigation
timeout 2 s, window 1 s; the visit's own limit is nav + window + 20 s) and a renderer crash
right after load (window 5 s: a crash that ends the visit at once takes well under the window).
Pages come from the fixture server (site_fixtures/pages) on 127.0.0.1.

    python bench/bench_visit_endings.py            # 3 runs of each
    python bench/bench_visit_endings.py --runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from site_fixtures.server import FixtureServer  # noqa: E402
from webscan.browser.observe import Browser, observe  # noqa: E402


async def _crash(visit) -> None:
    """Crash the renderer; Page.crash is never answered (the renderer is gone), so its error is
    taken and dropped."""
    task = asyncio.ensure_future(visit.cdp("Page.crash", timeout=3))
    task.add_done_callback(lambda t: t.cancelled() or t.exception())


async def measure(srv: FixtureServer, runs: int) -> dict[str, list[tuple[float, float, str]]]:
    """Per case: (wall seconds, the visit's own duration_s, how it ended) for each run."""
    cases = {
        "never loads (nav 2 s, window 1 s)": dict(url=srv.url("/trap/never-loads.html"),
                                                  window_s=1, nav_timeout_s=2),
        "renderer crash (window 5 s)": dict(url=srv.url("/index.html"), window_s=5,
                                            after_load=_crash),
    }
    figures: dict[str, list[tuple[float, float, str]]] = {name: [] for name in cases}
    async with Browser() as browser:
        for _ in range(runs):
            for name, kw in cases.items():
                t0 = time.monotonic()
                obs = await observe(browser=browser, **kw)
                ended = obs.fatal.kind if obs.fatal else "window"
                figures[name].append((time.monotonic() - t0, obs.duration_s, ended))
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with FixtureServer() as srv:
        figures = asyncio.run(measure(srv, args.runs))
    for name, rows in figures.items():
        walls = [w for w, _, _ in rows]
        own = [d for _, d, _ in rows]
        endings = sorted({e for _, _, e in rows})
        print(f"{name:36s} wall median {statistics.median(walls):5.2f} s (max {max(walls):5.2f}); "
              f"duration_s median {statistics.median(own):5.2f} s; ended by {', '.join(endings)}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

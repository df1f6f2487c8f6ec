"""Record conformance cases from the crawler: every fixture page of site_fixtures/pages visited
by webscan's own browser code (webscan.browser.observe, call counting on, a 10 s window), and
written as tests/conformance/recorded-<page>.json in the extension's vocabulary
(webscan/extension/conformance.py).

    .venv/bin/python tests/conformance/record.py [--only /benign/hash-file.html ...] [--window 10]

`expect` is the Python verdict on the case itself (what both runtimes must give); `crawler` is
the crawler's verdict on the whole visit (JS source rules and CDP CPU included). A page whose
miner / not-miner answer differs from site_fixtures/pages/pages.json is reported and not written:
a case must never enshrine a wrong answer. Re-run after a fixture page or the hook changes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from site_fixtures.server import FixtureServer  # noqa: E402
from webscan.browser.evidence import observation_to_analysis  # noqa: E402
from webscan.browser.observe import Browser, observe  # noqa: E402
from webscan.extension.conformance import case_from_observation, judge_case  # noqa: E402
from webscan.rules.loader import load_signatures  # noqa: E402
from webscan.scanner import Engines  # noqa: E402
from webscan.verdict import judge  # noqa: E402

OUT = Path(__file__).resolve().parent
IS_MINER = {"miner": True, "suspicious": False, "clean": False}


async def gesture(visit) -> None:
    """What a user does on a page: the kits waiting for a click, a scroll or a mouse move start."""
    page = visit.page
    try:
        await page.mouse.move(30, 30)
        await page.mouse.wheel(0, 120)
        await page.mouse.click(40, 40)
    except Exception:
        pass


async def record(paths: list[str], window: float) -> int:
    sigs = load_signatures([ROOT / "signatures"])
    engines = Engines(sigs)
    bad = 0
    with FixtureServer() as srv:
        o = srv._origins()
        rename = {o.a: "http://site.test", o.b: "http://other.test", o.pool: "ws://pool.test",
                  o.a.replace("http://", "ws://"): "ws://site.test"}
        entries = {e["path"]: e for e in srv.pages()}
        async with Browser() as browser:
            for path in paths or sorted(entries):
                entry = entries[path]
                obs = await observe(srv.url(path), browser=browser, window_s=window, after_load=gesture)
                crawler = judge(observation_to_analysis(obs, engines), sigs.verdict)
                name = "recorded" + path.replace("/", "-").removesuffix(".html")
                case = case_from_observation(
                    obs, name=name, about=f"site_fixtures {path} as webscan's crawler recorded it "
                                          f"(pages.json expects {entry['expect']})",
                    wasm_dirs=[ROOT / "site_fixtures" / "wasm"], root=ROOT, rename=rename)
                got = judge_case(case, ROOT, engines, sigs)
                case["expect"] = {k: got[k] for k in ("verdict", "categories", "strong")}
                case["crawler"] = {"verdict": crawler.verdict.value,
                                   "rules": sorted({f.rule for f in crawler.findings})}
                want = entry["expect"] == "miner"
                if IS_MINER.get(got["verdict"]) != want or IS_MINER.get(crawler.verdict.value) != want:
                    print(f"NOT WRITTEN {path}: pages.json expects {entry['expect']}, the case gives "
                          f"{got['verdict']} {got['categories']}, the crawler {crawler.verdict.value}")
                    bad += 1
                    continue
                (OUT / f"{name}.json").write_text(json.dumps(case, indent=1) + "\n", encoding="utf-8")
                print(f"{path}: {got['verdict']} {sorted(got['categories'])} (crawler {crawler.verdict.value})")
    return bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=[], metavar="PATH", help="fixture page paths (default: all)")
    ap.add_argument("--window", type=float, default=10.0, help="observation window in seconds")
    args = ap.parse_args()
    sys.exit(1 if asyncio.run(record(args.only, args.window)) else 0)


if __name__ == "__main__":
    main()

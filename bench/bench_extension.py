"""Page-load time with and without the webscan extension, over the benign fixture pages.

    python bench/bench_extension.py [--rounds 15] [--latency MS] [--breakdown]

Persistent Chromium contexts (headless, the same lean switches), one with the built extension
loaded and one without, visit every benign page of site_fixtures/pages/pages.json in
alternation (per page per round, the order rotated each round, so drift hits all). A load is the
page's own `loadEventEnd` from Navigation Timing (what a user waits for), in a new tab, after a
warm-up visit, with a pause after each visit so the heavy pages' workers are gone before the next.

A third browser loads a control extension that does nothing (one empty content script in every
frame at document_start, like ours): what any such extension costs in this browser, measured the
same way, so the figure for webscan's own code can be told apart from it.

Prints per-page medians and, per page class (pages that start no worker during their load,
pages that do; told apart by the workers Chromium reports during the warm-up visit without the
extension), the median over pages of the milliseconds webscan adds over the control (bars: at
most 5 ms without workers, 10 ms with) and the median overhead against no extension (bar with
--latency 40: under 10%), each with a 95% bootstrap interval: single loads here vary by tens of
percent, and the interval says how far noise alone moves the figure. The fixture pages load in
45-80 ms from the loopback; --latency MS has Chromium emulate a network round trip per request,
closer to a page from the web. Trust the figures only when the load average printed at the end
is near 0 (the machine has 2 cores).

--variants no-page,no-relay,no-rules,... adds one browser per named copy of the extension with one
part taken out of its manifest (no-page: the page-world hook; no-relay: the isolated-world relay;
no-rules: the DNR ruleset and its permission; no-background: the service worker; idle-relay: the
relay injected at document_idle instead of document_start; no-worker-wrap: workers run without
the hook; light-worker-hook: workers run the hook without busy time and call counting), and
prints what
each copy adds over the control: an A/B that says which part the milliseconds belong to.

--breakdown adds a browser with a copy of the extension whose page.js also times, in the
page, the hook's install and each `new Worker()` (webscan's own synchronous cost on the main
thread, which the A/B cannot resolve when the machine is busy); the shipped page.js is untouched.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from site_fixtures.server import FixtureServer  # noqa: E402
from webscan.browser.launch import LEAN_SWITCHES, find_chromium  # noqa: E402
from webscan.extension.build import build  # noqa: E402
from webscan.rules.loader import load_signatures  # noqa: E402


SETTLE_S = 1.5
"""Pause after each visit: the heavy pages' workers must be gone before the next load (two
cores here), or one browser's leftovers would slow the other's measurement."""


WORKER_WAIT_S = 1.0
"""How long the warm-up visit that classifies a page waits for its workers' events."""


def load_ms(ctx, url: str, inside: list | None = None, latency_ms: float = 0,
            workers: list | None = None) -> float:
    """One visit's loadEventEnd; `workers` gets the URLs of the workers it started by then, or
    within WORKER_WAIT_S after (a worker's event can reach us after the load event: closing at
    once had four pages that start a worker during their load counted as pages without)."""
    page = ctx.new_page()
    if workers is not None:
        page.on("worker", lambda w: workers.append(w.url))
    try:
        if latency_ms:  # Chromium's own network emulation: every request waits this long first
            cdp = ctx.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": latency_ms,
                                                          "downloadThroughput": -1, "uploadThroughput": -1})
        page.goto(url, wait_until="load")
        if inside is not None:
            inside.append(breakdown_of(page))
        if workers is not None:
            page.wait_for_timeout(WORKER_WAIT_S * 1000)
        return page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
    finally:
        page.close()
        time.sleep(SETTLE_S)


HOOK_CALL = re.compile(r"ctl = hook\((post, \{[^}]*\})\);")
TIMED_WORKER = (
    "(function () { var W = window.Worker; if (!W) return; var d = Object.getOwnPropertyDescriptor(window, 'Worker');"
    " d.value = new Proxy(W, { construct: function (t, a, nt) { var t0 = performance.now();"
    " try { return Reflect.construct(t, a, nt); } finally { (window.__webscanBench.worker).push(performance.now() - t0); } } });"
    " Object.defineProperty(window, 'Worker', d); })();\n")


def timed_copy(ext: Path, out: Path) -> Path:
    """The built extension, with page.js timing the hook's install and each `new Worker()`."""
    shutil.copytree(ext, out)
    page = out / "page.js"
    src = page.read_text(encoding="utf-8")
    if len(HOOK_CALL.findall(src)) != 1:
        raise SystemExit(f"--breakdown: {page} must call the hook exactly once ({HOOK_CALL.pattern})")
    src = HOOK_CALL.sub(lambda m: "window.__webscanBench = { worker: [] }; var t0 = performance.now(); ctl = "
                        "(function (r) { window.__webscanBench.install = performance.now() - t0; return r; })"
                        f"(hook({m.group(1)}));", src)
    page.write_text(src + TIMED_WORKER, encoding="utf-8")  # after the hook: times its wrapper too
    return out


def _drop_page(m: dict, out: Path) -> None:
    m["content_scripts"] = [c for c in m["content_scripts"] if c.get("world") != "MAIN"]


def _drop_relay(m: dict, out: Path) -> None:
    m["content_scripts"] = [c for c in m["content_scripts"] if c.get("world") == "MAIN"]


def _drop_rules(m: dict, out: Path) -> None:
    m.pop("declarative_net_request", None)
    m["permissions"] = [p for p in m.get("permissions", []) if not p.startswith("declarativeNetRequest")]


def _drop_background(m: dict, out: Path) -> None:
    m.pop("background", None)


def _idle_relay(m: dict, out: Path) -> None:
    for c in m["content_scripts"]:
        if c.get("world") != "MAIN":
            c["run_at"] = "document_idle"


def _no_worker_wrap(m: dict, out: Path) -> None:
    page = out / "page.js"
    src = page.read_text(encoding="utf-8")
    calls = HOOK_CALL.findall(src)
    if len(calls) != 1 or "workers: true" not in calls[0]:
        raise SystemExit(f"--variants no-worker-wrap: {page} must call the hook once with workers: true")
    page.write_text(HOOK_CALL.sub(lambda k: k.group(0).replace("workers: true", "workers: false"), src), encoding="utf-8")


LIGHT_CHILD = "cpu:!!options.cpu,calls:!!options.calls"
"""Where the shipped (compacted) hook builds its workers' options; light-worker-hook edits it."""


def _light_worker_hook(m: dict, out: Path) -> None:
    page = out / "page.js"
    src = page.read_text(encoding="utf-8")
    if src.count(LIGHT_CHILD) != 1:
        raise SystemExit(f"--variants light-worker-hook: {page} must hold {LIGHT_CHILD!r} exactly once")
    page.write_text(src.replace(LIGHT_CHILD, "cpu:false,calls:false"), encoding="utf-8")


VARIANTS = {"no-page": _drop_page, "no-relay": _drop_relay, "no-rules": _drop_rules,
            "no-background": _drop_background, "idle-relay": _idle_relay, "no-worker-wrap": _no_worker_wrap,
            "light-worker-hook": _light_worker_hook}
"""Copies of the built extension with one part taken out (--variants): of its manifest, or
(no-worker-wrap) the hook's Blob wrapping of workers, the only thing it does inside `new Worker()`,
or (light-worker-hook) busy time and call counting in the workers it wraps."""


def variant_copy(ext: Path, name: str, out: Path) -> Path:
    shutil.copytree(ext, out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    VARIANTS[name](manifest, out)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return out


def breakdown_of(page) -> tuple[float | None, list[float]]:
    b = page.evaluate("window.__webscanBench || null")
    return (b.get("install"), b.get("worker") or []) if b else (None, [])


BAR_MS_NO_WORKERS = 5.0
BAR_MS_WORKERS = 10.0
"""Median milliseconds over the control extension webscan may add to a page's load."""
BAR_LATENCY_PCT = 10.0
"""Median overhead against no extension with --latency 40, in percent."""


def added_ms(times: dict[str, dict[str, list[float]]], base: str, other: str) -> float:
    """Median over pages of each page's difference in median load time, in milliseconds."""
    return statistics.median(statistics.median(t[other]) - statistics.median(t[base]) for t in times.values())


def overhead(times: dict[str, dict[str, list[float]]], base: str, other: str) -> float:
    """Median over pages of each page's relative change in median load time."""
    return statistics.median((statistics.median(t[other]) - statistics.median(t[base])) / statistics.median(t[base])
                             for t in times.values())


def bootstrap(times: dict[str, dict[str, list[float]]], base: str, other: str, n: int = 2000,
              stat=overhead) -> tuple[float, float]:
    """95% interval of `stat` from resampling each page's visits: how far noise alone moves
    the figure (the A/B runs on a shared 2-core machine, where single loads vary by tens of %)."""
    rng = random.Random(1)
    stats = sorted(stat({p: {k: rng.choices(v, k=len(v)) for k, v in t.items() if k in (base, other)}
                         for p, t in times.items()}, base, other) for _ in range(n))
    return stats[int(0.025 * n)], stats[int(0.975 * n) - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--breakdown", action="store_true", help="also time the hook's install and new Worker() in the page")
    ap.add_argument("--latency", type=float, default=0, metavar="MS",
                    help="emulate this network round trip on every request (0: the loopback as it is)")
    ap.add_argument("--pages", default="", metavar="WORDS",
                    help="only the benign pages whose path contains one of these comma-separated words")
    ap.add_argument("--variants", default="", metavar="NAMES",
                    help=f"comma-separated copies with one part taken out ({', '.join(VARIANTS)}), each A/B'd too")
    args = ap.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:  # before any browser starts
        ap.error(f"--variants: unknown {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    work = Path(tempfile.mkdtemp(prefix="webscan-bench-ext-"))  # the copies and every profile; removed at exit
    try:
        run(args, variants, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, variants: list[str], work: Path) -> None:
    from playwright.sync_api import sync_playwright

    exe = find_chromium()
    ext = work / "unpacked"
    build(ext, load_signatures())
    switches = [s for s in LEAN_SWITCHES if s != "--disable-extensions"]
    control = ext.parent / "control"
    control.mkdir()
    (control / "noop.js").write_text("void 0;\n")
    (control / "manifest.json").write_text(json.dumps({
        "manifest_version": 3, "name": "control", "version": "1.0",
        "content_scripts": [{"matches": ["<all_urls>"], "js": ["noop.js"], "run_at": "document_start",
                             "all_frames": True}]}))
    with FixtureServer() as srv, sync_playwright() as p:
        pages = [e["path"] for e in srv.pages() if e["expect"] == "clean" and e["path"].startswith("/benign/")]
        words = [w.strip() for w in args.pages.split(",") if w.strip()]
        pages = [u for u in pages if not words or any(w in u for w in words)]
        if not pages:
            raise SystemExit(f"--pages {args.pages!r}: no benign fixture page matches")
        def launch(extension: Path | None):
            extra = [f"--disable-extensions-except={extension}", f"--load-extension={extension}"] if extension else []
            return p.chromium.launch_persistent_context(tempfile.mkdtemp(dir=work), executable_path=exe, headless=True,
                                                        args=["--no-sandbox", *switches, *extra])

        ctxs = {"without": launch(None), "control": launch(control), "with": launch(ext)}
        if args.breakdown:
            ctxs["timed"] = launch(timed_copy(ext, ext.parent / "timed"))
        for v in variants:
            ctxs[v] = launch(variant_copy(ext, v, ext.parent / v))
        inside: dict[str, list] = {u: [] for u in pages}
        try:
            times: dict[str, dict[str, list[float]]] = {u: {k: [] for k in ctxs} for u in pages}
            started: dict[str, list[str]] = {u: [] for u in pages}
            for path in pages:  # warm-up: caches, the extension's rules, JIT; which pages start workers
                for name, ctx in ctxs.items():
                    load_ms(ctx, srv.url(path), latency_ms=args.latency,
                            workers=started[path] if name == "without" else None)
            order = list(ctxs.items())
            for r in range(args.rounds):
                for path in pages:
                    k = r % len(order)
                    for name, ctx in order[k:] + order[:k]:
                        times[path][name].append(load_ms(ctx, srv.url(path), inside[path] if name == "timed" else None,
                                                         args.latency))
        finally:
            for ctx in ctxs.values():
                ctx.close()
    print(f"{'page':30} {'workers':>7} {'without ms':>10} {'control ms':>10} {'with ms':>8} {'over control':>12} "
          f"{'vs without':>10}")
    for path in pages:
        a, c, b = (statistics.median(times[path][k]) for k in ("without", "control", "with"))
        print(f"{path:30} {len(started[path]):7} {a:10.1f} {c:10.1f} {b:8.1f} {b - c:9.1f} ms {100 * (b - a) / a:9.1f}%")
    lat = f", {args.latency:g} ms emulated latency" if args.latency else ""
    for label, bar_ms, cls in (("pages that start no worker", BAR_MS_NO_WORKERS, [u for u in pages if not started[u]]),
                               ("pages that start workers", BAR_MS_WORKERS, [u for u in pages if started[u]])):
        if not cls:
            continue
        sub = {u: times[u] for u in cls}
        ms, (lo, hi) = added_ms(sub, "control", "with"), bootstrap(sub, "control", "with", stat=added_ms)
        pct, (plo, phi) = overhead(sub, "without", "with"), bootstrap(sub, "without", "with")
        print(f"{label} ({len(cls)}), {args.rounds} rounds{lat}: {ms:+.1f} ms over the control (bar: at most "
              f"{bar_ms:g} ms; 95% interval {lo:+.1f} to {hi:+.1f}), {100 * pct:+.1f}% against no extension "
              f"({100 * plo:+.1f}% to {100 * phi:+.1f}%)")
    lo, hi = bootstrap(times, "without", "with")
    print(f"all {len(pages)} benign pages{lat}: {100 * overhead(times, 'without', 'with'):+.1f}% against no extension "
          f"(bar with --latency 40: under {BAR_LATENCY_PCT:g}%; 95% interval {100 * lo:+.1f}% to {100 * hi:+.1f}%)")
    for v in variants:
        for label, cls in (("no worker", [u for u in pages if not started[u]]),
                           ("workers", [u for u in pages if started[u]])):
            if cls:
                sub = {u: times[u] for u in cls}
                lo, hi = bootstrap(sub, "control", v, stat=added_ms)
                print(f"variant {v} on pages with {label} ({len(cls)}): {added_ms(sub, 'control', v):+.1f} ms over "
                      f"the control (95% interval {lo:+.1f} to {hi:+.1f}); the whole extension: "
                      f"{added_ms(sub, 'control', 'with'):+.1f} ms")
    lo, hi = bootstrap(times, "without", "control")
    print(f"the control extension itself: {100 * overhead(times, 'without', 'control'):+.1f}% "
          f"(95% interval {100 * lo:+.1f}% to {100 * hi:+.1f}%)")
    if args.breakdown:
        print("in the page (timed copy): hook install ms, new Worker() ms (medians), its loadEventEnd ms")
        for path in pages:
            installs = [i for i, _ in inside[path] if i is not None]
            workers = [w for _, ws in inside[path] for w in ws]
            med = lambda xs: f"{statistics.median(xs):.2f}" if xs else "-"  # noqa: E731
            print(f"{path:30} install {med(installs):>6}  new Worker {med(workers):>6} (n={len(workers)})"
                  f"  load {statistics.median(times[path]['timed']):.1f}")
    print(f"load average at the end: {open('/proc/loadavg').read().split()[0]} (trust the A/B only near 0)")


if __name__ == "__main__":
    main()

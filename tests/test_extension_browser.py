"""The built extension in the real Chromium (headless, persistent context) against the fixture
server, the stub pool and a real `webscan serve`: a miner turns the badge on and its report is
stored by the service; heavy benign pages keep the badge off; a miner script from a known
mining domain is blocked before it loads; the popup shows the verdict and the evidence readably
(a miner and a `?` page, checked in the screenshot's pixels and the text boxes); "stop" ends the
mining; "block" keeps a site's miner from ever running and "allow" undoes it for that site only;
reports wait while the service is down and honour its 429 Retry-After; the signature feed is
revalidated with its ETag. Everything listens on 127.0.0.1; a known mining host and the
per-site tests' `*.test` sites are mapped there for the browser.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zlib
from datetime import datetime
from pathlib import Path

import pytest

from conftest import ROOT
from service_support import ServeProcess, sqlite_url
from test_browser_support import chromium_or_skip

sys.path.insert(0, str(ROOT))
from site_fixtures.server import FixtureServer  # noqa: E402

MINING_HOST = "coinhive.com"  # in signatures/domains.yaml; mapped to 127.0.0.1 below
MINER_PILL, SUSPICIOUS_PILL = (0xC6, 0x28, 0x28), (0xB4, 0x53, 0x09)  # extension/src/ui.css
PAGES = {p["path"]: p for p in json.loads((ROOT / "site_fixtures" / "pages" / "pages.json").read_text())}


def wait_for(what: str, check, timeout: float = 25.0, every: float = 0.25):
    """Poll until check() is truthy; fail naming what never happened (no timing asserts)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"{what} did not happen within {timeout:.0f} s (last: {last!r})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """`webscan serve` as a user starts it, on a free loopback port, with its own database."""
    port = free_port()
    db = tmp_path_factory.mktemp("svc") / "webscan.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "webscan", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--db", f"sqlite:///{db}", "--allow-private", "--rate-limit", "0"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"

    def up():
        if proc.poll() is not None:
            pytest.fail(f"webscan serve exited: {proc.stdout.read()[-2000:]}")
        try:
            return http_json(base + "/healthz")["status"] == "ok"
        except OSError:
            return False

    try:
        wait_for("webscan serve answering /healthz", up, timeout=60)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from webscan.extension.build import build
    from webscan.rules.loader import load_signatures

    out = tmp_path_factory.mktemp("ext") / "unpacked"
    build(out, load_signatures([ROOT / "signatures"]))
    return out


@pytest.fixture(scope="module")
def srv():
    with FixtureServer(other_host=MINING_HOST) as server:
        yield server


@pytest.fixture(scope="module")
def browser(built, tmp_path_factory):
    """One persistent context with the unpacked extension; yields (context, service worker, id)."""
    exe = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    from webscan.browser.launch import LEAN_SWITCHES

    switches = [s for s in LEAN_SWITCHES if s != "--disable-extensions"]
    profile = tmp_path_factory.mktemp("profile")  # pytest prunes it; a mkdtemp here leaked one per run
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=exe, headless=True, viewport={"width": 900, "height": 700},
            args=["--no-sandbox", *switches, f"--disable-extensions-except={built}", f"--load-extension={built}",
                  f"--host-resolver-rules=MAP {MINING_HOST} 127.0.0.1,MAP *.test 127.0.0.1"])
        try:
            sw = ctx.service_workers[0] if ctx.service_workers else ctx.wait_for_event("serviceworker")
            yield ctx, sw, sw.url.split("/")[2]
        finally:
            ctx.close()


def visit(ctx, url: str):
    page = ctx.new_page()
    page.goto(url)
    page.mouse.move(20, 20)
    return page


def tab_of(sw, url: str) -> int:
    return wait_for(f"the extension seeing {url}", lambda: (sw.evaluate("u => webscan.find(u)", url) or [None])[-1])


def summary(sw, tab: int) -> dict | None:
    return sw.evaluate("t => webscan.summary(t)", tab)


def badge(sw, tab: int) -> str:
    return sw.evaluate("t => chrome.action.getBadgeText({tabId: t})", tab)


def configure(ctx, ext_id: str, service: str) -> None:
    """Through the options page, as a user would: service URL, reporting on."""
    save_options(ctx, ext_id, service, reporting=True, check_defaults=True)


def save_options(ctx, ext_id: str, service: str, *, reporting: bool, check_defaults: bool = False) -> None:
    """The options page's form and Save button (which tells the background the settings changed)."""
    page = ctx.new_page()
    page.goto(f"chrome-extension://{ext_id}/options.html")
    if check_defaults:
        assert page.locator("#reporting").is_checked() is False  # off by default
        assert "Never page content, cookies" in page.inner_text("main")
    # loaded; polled from here, as the page's CSP forbids the string eval wait_for_function uses
    wait_for("the options page loaded",
             lambda: page.evaluate("document.querySelector('#queue').textContent !== ''"))
    page.fill("#service", service)
    page.set_checked("#reporting", reporting)
    page.click("#save")
    wait_for("options saved", lambda: page.inner_text("#status") == "Saved.")
    page.close()


def png_rows(png: bytes) -> list[list[tuple[int, int, int]]]:
    """The RGB pixels of an 8-bit RGB(A) PNG, row by row (no imaging library needed)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", 0
    while pos < len(png):
        n = struct.unpack(">I", png[pos:pos + 4])[0]
        kind, data = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", data[:10])
            assert depth == 8 and ctype in (2, 6)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += data
        pos += 12 + n
    raw, stride, prev, rows = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        prev = line
    return rows


def luminance(rgb) -> float:
    lin = [(c / 255) / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a, b) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# Every text box of the popup: its rendered text, box, size, colour and the colour behind it
# (the nearest ancestor with a background), as the browser computed them.
POPUP_TEXT = """() => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).slice(0, 4).map(Number);
  const behind = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  return [...document.querySelectorAll("main h1, main h2, main li, main code, main p, #verdict, #score, button, select")]
    .filter((el) => el.offsetParent !== null && el.innerText.trim())
    .map((el) => { const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
                   return { tag: el.tagName, id: el.id, text: el.innerText.trim().slice(0, 60),
                            box: [r.left, r.top, r.right, r.bottom], px: parseFloat(cs.fontSize),
                            fg: rgb(cs.color).slice(0, 3), bg: behind(el) }; });
}"""


def check_popup(ctx, ext_id: str, tab: int, label: str, pill: tuple[int, int, int], shot_to: Path) -> str:
    """The popup as a person sees it at its real size: the verdict pill in its colour with white
    text on it (read from the screenshot's pixels), every text box inside the popup's width,
    not overlapping the next, at least 12 px, with WCAG AA contrast (4.5:1) on what is behind
    it. Returns the popup's text."""
    popup = ctx.new_page()
    try:
        popup.set_viewport_size({"width": 420, "height": 600})  # an action popup's size
        popup.goto(f"chrome-extension://{ext_id}/popup.html?tab={tab}")
        popup.wait_for_selector(f"#verdict.{label}")
        popup.wait_for_selector("#evidence:not([hidden])")
        png = popup.screenshot()
        shot_to.write_bytes(png)
        rows = png_rows(png)
        left, top, right, bottom = (round(v) for v in popup.evaluate(
            "() => { const r = document.querySelector('#verdict').getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }"))
        assert right - left >= 30 and bottom - top >= 14
        inside = [rows[y][x] for y in range(top + 1, bottom - 1) for x in range(left + 1, right - 1)]
        assert rows[(top + bottom) // 2][left + 4] == pill  # the pill's padding is the verdict's colour
        assert sum(1 for p in inside if p == pill) > len(inside) / 2
        assert any(min(p) >= 230 for p in inside)  # and its word is drawn in white on it
        assert popup.evaluate("document.documentElement.scrollWidth <= innerWidth")  # no sideways scrolling
        boxes = popup.evaluate(POPUP_TEXT)
        assert len(boxes) >= 8, boxes
        for b in boxes:
            what = f"{b['tag']}#{b['id']} {b['text']!r}"
            assert b["px"] >= 12, what
            assert 0 <= b["box"][0] and b["box"][2] <= 420 + 0.5, what
            assert contrast(b["fg"], b["bg"]) >= 4.5, (what, b["fg"], b["bg"])
        blocks = [b for b in boxes if b["tag"] in ("H1", "H2", "P") or b["tag"] == "LI" and not b["id"]]
        for a, b in zip(blocks, blocks[1:]):  # in reading order, one below the other
            assert b["box"][1] >= a["box"][3] - 0.5, (a["text"], b["text"])
        return popup.inner_text("main")
    finally:
        popup.close()


@pytest.fixture(scope="module")
def miner(browser, srv, service):
    """The first-party fixture miner, visited with reporting on; the tab stays open."""
    ctx, sw, ext_id = browser
    configure(ctx, ext_id, service)
    url = srv.url("/miner/first-party.html")
    page = visit(ctx, url)
    tab = tab_of(sw, url)
    wait_for("the miner badge", lambda: badge(sw, tab) == "MINE")
    return page, tab, url


def test_miner_turns_the_badge_on_and_is_reported_to_the_service(browser, miner, service):
    from webscan.model import PageReport

    ctx, sw, _ = browser
    page, tab, url = miner
    s = wait_for("the whole pool session judged", lambda: (lambda x: x if "protocol.coinhive.session" in x["rules"] else None)(summary(sw, tab)))
    assert s["label"] == "miner" and "wasm.pow.cryptonight" in s["rules"]
    notes = sw.evaluate("chrome.notifications.getAll()")
    assert any(k.startswith(f"webscan-{tab}-") for k in notes)
    # the report the extension built, validated against the service's own model
    report = wait_for("a report", lambda: sw.evaluate("chrome.storage.local.get('lastReport').then(r => r.lastReport)"))
    parsed = PageReport.model_validate_json(json.dumps(report))
    origin = url.split("/miner/")[0]
    assert parsed.url == origin + "/" and parsed.local_verdict.value == "miner"
    assert parsed.client.startswith("webscan-extension/") and parsed.runtime.pool_submits >= 1
    assert all("/miner/first-party.html" not in json.dumps(f.model_dump(mode="json")) for f in parsed.findings)
    # ... and stored by the service
    stored = wait_for("the service counting the report", lambda: http_json(
        f"{service}/v1/verdicts?url={origin}/")["origin_verdict"]["reports"] >= 1)
    assert stored
    # the page may have been reported again with more evidence since: the queue drains
    assert wait_for("the report queue drained", lambda: sw.evaluate(
        "chrome.storage.local.get('queue').then(r => (r.queue || []).length === 0)"))


@pytest.mark.parametrize("path", ["/benign/busy-loop.html", "/benign/wasm-physics.html"])
def test_heavy_benign_pages_keep_the_badge_off(browser, srv, path):
    assert PAGES[path]["expect"] == "clean"
    ctx, sw, _ = browser
    url = srv.url(path)
    page = visit(ctx, url)
    try:
        tab = tab_of(sw, url)
        # wait until the page has shown the extension everything that makes it look heavy
        s = wait_for("sustained CPU seen on the heavy page", lambda: (lambda x: x if x and "runtime.cpu.sustained" in x["rules"] else None)(summary(sw, tab)))
        assert s["label"] == "clean", s
        assert badge(sw, tab) == ""
    finally:
        page.close()


@pytest.fixture(scope="module")
def plain_srv():
    """Origin B on 127.0.0.1 (another port), which no domain rule blocks: the third-party and
    iframe kits really run."""
    with FixtureServer() as server:
        yield server


# What names each kit: the CryptoNight module by its code; the SHA-256d pages ("pow" in
# pages.json: unknown protocols) by the hashing loop the hook's call counting sees in their workers.
# The kits that hide ("hides" in pages.json: shared and service workers, consent walls...) are the
# crawler's tests (tests/test_hiding_miners.py); content scripts never reach those workers.
DECISIVE = {"cryptonight": "wasm.pow.cryptonight", "sha256d": "runtime.pow.hash-loop-multicore"}


@pytest.mark.parametrize("path", sorted(p for p, e in PAGES.items() if e["expect"] == "miner" and not e.get("hides")))
def test_every_fixture_miner_turns_the_badge_on(browser, plain_srv, path):
    """As a user meets them: the page is scrolled and clicked (the kits that wait for a gesture
    start then). On the slow-page ad, the ad frame reports its module while the page is still
    loading, before the top frame's hello starts the tab afresh: the background must keep it."""
    ctx, sw, _ = browser
    url = plain_srv.url(path)
    page = visit(ctx, url)
    try:
        page.mouse.wheel(0, 120)
        page.mouse.click(40, 40)
        tab = tab_of(sw, url)
        wait_for(f"the miner badge on {path}", lambda: badge(sw, tab) == "MINE", timeout=40)
        # the module is captured once, early: lost if a frame's first records were dropped
        rule = DECISIVE[PAGES[path].get("pow", "cryptonight")]
        wait_for(f"{rule} on {path}", lambda: rule in summary(sw, tab)["rules"])
        assert summary(sw, tab)["label"] == "miner"
    finally:
        page.close()


def test_a_page_that_never_finishes_loading_still_reaches_the_extension(browser, srv):
    """The relay waits for the load's end before it talks to the background, but not forever:
    this page holds a script for 120 s, and the extension must know the page long before."""
    ctx, sw, _ = browser
    url = srv.url("/trap/never-loads.html")
    page = ctx.new_page()
    try:
        page.goto(url, wait_until="commit")
        # the top frame's hello, while the page is still loading (the server gives up on the
        # held script after a while, so "complete" here means the relay waited for the load)
        wait_for("the extension seeing the loading page", lambda: sw.evaluate("u => webscan.find(u).length", url), timeout=10)
        assert page.evaluate("document.readyState") != "complete"
    finally:
        page.close()


def test_known_mining_domain_script_is_blocked_before_it_loads(browser, srv):
    ctx, sw, _ = browser
    path = "/miner/third-party.html"
    url = srv.url(path)
    page = visit(ctx, url)
    try:
        assert MINING_HOST in page.content()  # the page really asks for the kit from the mining host
        tab = tab_of(sw, url)
        wait_for("the blocked kit noted as miner evidence", lambda: badge(sw, tab) == "MINE")
        s = summary(sw, tab)
        assert "domains.coinhive-family" in s["rules"]
        assert page.evaluate("typeof window.CoinHive") == "undefined"
        assert not [r for r in srv.requests() if r[0] == "b"]  # not one request reached the host
        assert srv.pool_sessions(login=PAGES[path]["login"]) == []
    finally:
        page.close()


def test_popup_renders_the_evidence_and_stop_ends_the_mining(browser, miner, srv):
    ctx, sw, ext_id = browser
    _, tab, _ = miner
    popup = ctx.new_page()
    popup.goto(f"chrome-extension://{ext_id}/popup.html?tab={tab}")
    popup.wait_for_selector("#verdict.miner")
    text = popup.inner_text("main")
    sha = sw.evaluate("t => [...webscan.tabs.get(t).wasm.keys()]", tab)
    assert sha and sha[0] in text  # which module
    assert srv.pool_url("coinhive").split("//")[1].split("/")[0] in text or "/pool/" in text  # which pool
    assert "CPU" in text and "worker" in text and "wasm.pow.cryptonight" in text
    shown = check_popup(ctx, ext_id, tab, "miner", MINER_PILL, Path(tempfile.gettempdir(), "webscan-popup.png"))
    head, lists = shown.split("SCRIPTS AND LOADS", 1)  # the verdict and why, above the evidence lists
    assert "miner" in head and "Mining (ATT&CK T1496): strong evidence from" in head
    assert sha[0] in lists and "wasm.pow.cryptonight" in lists
    login = PAGES["/miner/first-party.html"]["login"]
    wait_for("the miner's pool session", lambda: any(s["closed"] is None for s in srv.pool_sessions(login=login)))
    popup.select_option("#mode", "stop")
    popup.click("#stop")
    wait_for("the stop confirmation", lambda: "Stopped" in popup.inner_text("#status"))
    wait_for("the pool connection closed by the stop", lambda: all(s["closed"] for s in srv.pool_sessions(login=login)))
    popup.close()


def test_popup_of_a_questionable_page_shows_why_in_readable_words(browser, srv, tmp_path):
    """A page that logs in to a pool and takes a job, but never hashes nor submits (its miner
    stalled, or a demo): strong pool evidence without a session, so `?` and not MINE. The
    popup must say so and show the pool and the messages, readably (pixels and boxes)."""
    ctx, sw, ext_id = browser
    # the fixture index (links only) on a site of its own: earlier tests stop miners on 127.0.0.1
    url = f"http://questionable.test:{srv.ports[0]}/index.html"
    pool = srv.pool_url("coinhive")
    page = visit(ctx, url)
    page.evaluate("""pool => { const ws = new WebSocket(pool);
      ws.onopen = () => ws.send(JSON.stringify({type: "auth", params: {site_key: "SKloginOnly000000000000000000099",
                                                                       type: "anonymous", user: null, goal: 0}})); }""", pool)
    try:
        tab = tab_of(sw, url)
        wait_for("the job noted", lambda: "protocol.coinhive.job" in (summary(sw, tab) or {"rules": []})["rules"])
        assert summary(sw, tab)["label"] == "suspicious" and badge(sw, tab) == "?"
        shown = check_popup(ctx, ext_id, tab, "suspicious", SUSPICIOUS_PILL, tmp_path / "popup-suspicious.png")
        head, lists = shown.split("SCRIPTS AND LOADS", 1)  # the verdict and why, above the evidence lists
        assert "suspicious" in head and "not conclusive" in head and "pool-protocol" in head
        assert f"protocol.coinhive.auth at {pool}" in lists  # which message, to which pool
    finally:
        page.close()


# --- per-site blocking and allowing, on sites of their own (*.test, mapped to the loopback) -----

@pytest.fixture(scope="module")
def sites():
    """A fixture server of its own (its pool sessions are this section's), reached under any
    name: `on(host, path)`; the pool records each session's Origin, so the site it came from."""
    with FixtureServer() as server:
        server.on = lambda host, path: f"http://{host}:{server.ports[0]}{path}"
        yield server


def sessions_from(srv, origin: str, since: float = 0.0) -> list[dict]:
    return [s for s in srv.pool_sessions() if s["origin"] == origin and s["opened"] >= since]


def in_page(page, expr: str):
    """Evaluate in the page, None while it is between documents (a reload under way)."""
    try:
        return page.evaluate(expr)
    except Exception:  # noqa: BLE001 - "execution context was destroyed" during a navigation
        return None


def mining_now(ctx, sw, srv, url: str):
    """Open a fixture miner; return (page, tab) once it is judged miner and its pool session is
    up (the positive control: on this site, as things stand, the miner really runs)."""
    page = visit(ctx, url)
    tab = tab_of(sw, url)
    wait_for(f"the miner badge on {url}", lambda: badge(sw, tab) == "MINE", timeout=40)
    origin = url.split("/miner/")[0]
    wait_for(f"a pool session from {origin}", lambda: sessions_from(srv, origin))
    return page, tab


def popup_action(ctx, ext_id: str, tab: int, mode: str | None) -> str:
    """In the popup, as a user: "Stop and block on this site" in `mode`, or (None) "Allow this
    site"; returns the popup's answer."""
    popup = ctx.new_page()
    try:
        popup.goto(f"chrome-extension://{ext_id}/popup.html?tab={tab}")
        popup.wait_for_selector("#verdict.miner")
        if mode is None:
            popup.click("#allow")
        else:
            popup.select_option("#mode", mode)
            popup.click("#stop")
        return wait_for("the popup's answer", lambda: popup.inner_text("#status"))
    finally:
        popup.close()


def block_site(ctx, sw, ext_id: str, srv, url: str) -> None:
    """Mine on `url`, then block it from the popup; returns once the tab has reloaded."""
    page, tab = mining_now(ctx, sw, srv, url)
    before = page.evaluate("performance.timeOrigin")
    assert popup_action(ctx, ext_id, tab, "block") == "Blocked and reloading."
    wait_for("the reload", lambda: (in_page(page, "performance.timeOrigin") or before) != before
             and in_page(page, "document.readyState") == "complete")
    page.close()


def miner_kept_from_running(page, srv, origin: str, since: float) -> None:
    """The page's miner tried (its kit started, its socket was refused at least twice, about
    4 s: the unblocked miner was connected well within that) and never ran: no pool session
    from the site, not one hash, and no Wasm module reached the extension."""
    wait_for(f"the miner on {origin} trying and failing to reach its pool",
             lambda: (in_page(page, "window.miner && miner._retries") or 0) >= 2, timeout=40)
    assert sessions_from(srv, origin, since) == []
    assert page.evaluate("miner._hashes") == 0


def test_block_mode_keeps_the_miner_from_running_and_leaves_other_sites_alone(browser, sites):
    ctx, sw, ext_id = browser
    url = sites.on("blocked.test", "/miner/first-party.html")
    origin = url.split("/miner/")[0]
    block_site(ctx, sw, ext_id, sites, url)
    state = sw.evaluate("chrome.storage.local.get('settings').then(r => r.settings.blocked)")
    assert state["blocked.test"]["mode"] == "block"

    since = time.time()
    page = visit(ctx, url)  # a later visit, in a new tab
    try:
        tab = tab_of(sw, url)
        miner_kept_from_running(page, sites, origin, since)
        assert sw.evaluate("t => webscan.tabs.get(t).wasm.size", tab) == 0
        # the miner URLs are blocked for this site only: a benign Wasm page elsewhere runs
        other = sites.on("other.test", "/benign/wasm-physics.html")
        benign = visit(ctx, other)
        try:
            btab = tab_of(sw, other)
            wait_for("the benign page's Wasm module seen", lambda: sw.evaluate("t => webscan.tabs.get(t).wasm.size", btab))
            wait_for("the simulation drawing", lambda: benign.inner_text("#e") != "-")
            frame = benign.evaluate("document.getElementById('c').toDataURL()")
            wait_for("the bodies moving on", lambda: benign.evaluate("document.getElementById('c').toDataURL()") != frame)
            assert badge(sw, btab) == ""
        finally:
            benign.close()
    finally:
        page.close()


def test_allowing_a_site_lets_its_miner_run_while_another_blocked_site_stays_blocked(browser, sites):
    ctx, sw, ext_id = browser
    allowed, still = (sites.on(h, "/miner/first-party.html") for h in ("allowed.test", "still-blocked.test"))
    for url in (allowed, still):
        block_site(ctx, sw, ext_id, sites, url)
    # "Allow this site", sent the way the popup sends it, for a tab showing the blocked site
    page = visit(ctx, allowed)
    tab = tab_of(sw, allowed)
    opts = ctx.new_page()
    opts.goto(f"chrome-extension://{ext_id}/options.html")
    assert opts.evaluate("t => chrome.runtime.sendMessage({type: 'allow', tabId: t})", tab) == {"ok": True}
    page.close()
    settings = opts.evaluate("chrome.storage.local.get('settings').then(r => r.settings)")
    opts.close()
    assert "allowed.test" in settings["allowlist"] and "allowed.test" not in settings["blocked"]
    assert settings["blocked"]["still-blocked.test"]["mode"] == "block"

    since = time.time()
    a, b = visit(ctx, allowed), visit(ctx, still)
    try:
        a_origin, b_origin = (u.split("/miner/")[0] for u in (allowed, still))
        wait_for("the allowed site's miner mining", lambda: any(s["accepted"] for s in sessions_from(sites, a_origin, since)), timeout=40)
        assert (a.evaluate("miner._hashes") or 0) > 0
        assert badge(sw, tab_of(sw, allowed)) == ""  # allowed: nothing judged
        miner_kept_from_running(b, sites, b_origin, since)
    finally:
        a.close()
        b.close()


# --- the report queue and the signature feed against a real service that comes and goes --------

def stored(sw, key: str):
    return sw.evaluate("k => chrome.storage.local.get(k).then(r => r[k])", key)


def served(base: str, route: str, method: str, status: int) -> int:
    """How many requests the service answered so, by its own /metrics."""
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        text = r.read().decode()
    m = re.search(rf'^webscan_http_requests_total{{route="{re.escape(route)}",method="{method}",'
                  rf'status="{status}"}} (\d+)$', text, re.M)
    return int(m.group(1)) if m else 0


def post_status(url: str, body: bytes) -> int:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def stored_reports(db: Path) -> list[tuple[str, float]]:
    """(origin, received_at) of every report the service committed, from its database."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT origin, received_at FROM reports ORDER BY received_at").fetchall()


class Watch:
    """Polls the service's /metrics in a thread and notes when a counter first went past a
    value: the time the server answered, within a poll."""

    def __init__(self, base: str, route: str, method: str, status: int) -> None:
        self.args, self.seen, self.stop = (base, route, method, status), [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.05):
            self.seen.append((time.time(), served(*self.args)))

    def first_above(self, count: int) -> float | None:
        return next((t for t, n in self.seen if n > count), None)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


@pytest.fixture
def options_restored(browser):
    """These tests point the extension at services of their own; afterwards no service, no
    reporting (the feed is dropped and the bundled rules come back)."""
    yield
    ctx, _, ext_id = browser
    save_options(ctx, ext_id, "", reporting=False)


def reported(sw, origin: str, since_ms: float):
    return [q for q in stored(sw, "queue") or [] if q["report"]["url"] == origin and int(q["id"].split("-")[0]) >= since_ms]


def test_reports_wait_while_the_service_is_down_and_honour_429_retry_after(browser, sites, tmp_path, options_restored):
    ctx, sw, ext_id = browser
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    save_options(ctx, ext_id, base, reporting=True)  # nothing listens there yet

    # 1. the service is down: each report is tried, fails, and waits in the queue
    origins = []
    for host in ("queued-a.test", "queued-b.test"):
        url = sites.on(host, "/miner/first-party.html")
        origin, since = url.split("/miner/")[0] + "/", time.time() * 1000
        page, _ = mining_now(ctx, sw, sites, url)
        wait_for(f"the report of {origin} tried and queued",
                 lambda: [q for q in reported(sw, origin, since) if q["attempts"] >= 1])
        page.close()  # no more reports from it
        origins.append(origin)
    assert stored(sw, "lastReportStatus")["status"] == 0  # no answer
    waiting = stored(sw, "queue")
    assert {q["report"]["url"] for q in waiting} == set(origins)

    db = tmp_path / "svc.db"
    # --rate-limit 2: two reports a minute from an address, a burst of 2; then 429 Retry-After
    with ServeProcess("--db", sqlite_url(db), "--allow-private", "--rate-limit", "2", port=port):
        # 2. the service is up: every waiting report is delivered, once
        wait_for("the queue delivered", lambda: stored(sw, "queue") == [], timeout=120)
        got = [o for o, _ in stored_reports(db)]
        assert sorted(got) == sorted(q["report"]["url"].rstrip("/") for q in waiting)

        # 3. 429: spend this address's allowance (a refused body spends a token too), then the
        # extension's next report is refused with Retry-After and must not come back sooner
        while post_status(base + "/v1/reports", b"{}") != 429:
            pass
        refused = served(base, "/v1/reports", "POST", 429)
        watch = Watch(base, "/v1/reports", "POST", 429)
        try:
            url = sites.on("limited.test", "/miner/first-party.html")
            origin, since = url.split("/miner/")[0] + "/", time.time() * 1000
            page, _ = mining_now(ctx, sw, sites, url)
            item = wait_for("a report refused with 429", lambda: [q for q in reported(sw, origin, since) if q["next"]]
                            if (stored(sw, "lastReportStatus") or {}).get("status") == 429 else None)[0]
            page.close()
            status = stored(sw, "lastReportStatus")
            # the Retry-After the extension read: it set the retry time then, and noted the attempt
            answered = datetime.fromisoformat(status["at"].replace("Z", "+00:00")).timestamp() * 1000
            retry_after = round((item["next"] - answered) / 1000)
            assert retry_after >= 1
            wait_for("the refused report delivered", lambda: stored(sw, "queue") == [], timeout=retry_after + 90)
            refused_at = watch.first_above(refused)
        finally:
            watch.close()
        limited = [t for o, t in stored_reports(db) if o == origin.rstrip("/")]
        assert limited
        # the server refused each of the extension's reports once (an early retry is refused
        # again), and took the report only Retry-After seconds after refusing it
        assert served(base, "/v1/reports", "POST", 429) - refused == len(limited)
        assert refused_at is not None
        assert min(limited) - refused_at >= retry_after - 1.0, (min(limited) - refused_at, retry_after)


EXTRA_DOMAIN_RULE = """\
format: 1
kind: domains
description: A mining host only the restarted service knows (the signature feed test).
rules:
  - id: domains.feed-test-miner
    description: Loads the feed test's own mining host, a rule the first service did not have.
    severity: high
    category: miner-domain-load
    domains: [feed-test-miner.test]
    samples:
      match: [https://feed-test-miner.test/lib.js]
      no_match: [https://example.org/lib.js]
"""


def test_signature_feed_is_revalidated_with_its_etag_and_replaced_when_it_changes(browser, tmp_path, options_restored):
    from webscan.rules.loader import load_signatures

    ctx, sw, ext_id = browser
    extra = tmp_path / "extra-signatures"
    extra.mkdir()
    (extra / "feed-test.yaml").write_text(EXTRA_DOMAIN_RULE)
    old_etag = f'"{load_signatures([ROOT / "signatures"]).digest}"'
    new_etag = f'"{load_signatures([ROOT / "signatures", extra]).digest}"'
    assert old_etag != new_etag
    db, port = sqlite_url(tmp_path / "svc.db"), free_port()
    base = f"http://127.0.0.1:{port}"
    feed_from = lambda status: served(base, "/v1/signatures", "GET", status)  # noqa: E731

    with ServeProcess("--db", db, "--rate-limit", "0", port=port):
        save_options(ctx, ext_id, base, reporting=False)  # a new service: its feed is fetched
        feed = wait_for("the feed stored", lambda: (lambda f: f if f and f.get("service") == base else None)(stored(sw, "feed")))
        assert feed["etag"] == old_etag and (feed_from(200), feed_from(304)) == (1, 0)
        # saving the options again revalidates: If-None-Match, answered 304, the feed kept
        save_options(ctx, ext_id, base, reporting=False)
        wait_for("the feed revalidated", lambda: feed_from(304) == 1)
        after = wait_for("the revalidation noted", lambda: (lambda f: f if f["checked"] > feed["checked"] else None)(stored(sw, "feed")))
        assert feed_from(200) == 1 and after["etag"] == old_etag and after["text"] == feed["text"]

    # the service restarts with one more signature folder: a new ETag, so a new feed
    with ServeProcess("--db", db, "--rate-limit", "0", "--signatures", str(ROOT / "signatures"),
                      "--signatures", str(extra), port=port):
        save_options(ctx, ext_id, base, reporting=False)
        fresh = wait_for("the new feed stored", lambda: (lambda f: f if f["etag"] == new_etag else None)(stored(sw, "feed")))
        assert (feed_from(200), feed_from(304)) == (1, 0)  # the old ETag did not match
        assert "domains.feed-test-miner" in fresh["text"] and fresh["digest"] != feed["digest"]
        # and the new rule is in force: the feed's domains block before anything loads
        rules = wait_for("the new block rule", lambda: [r for r in sw.evaluate("chrome.declarativeNetRequest.getDynamicRules()")
                                                         if "feed-test-miner.test" in r["condition"].get("requestDomains", [])])
        assert rules[0]["action"]["type"] == "block"

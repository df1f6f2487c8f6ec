"""The fixture pages in a real Chromium: every miner page really mines (the stub pool sees its
login and shares, and re-hashing a sample of the shares with the fixture Wasm proves the browser
ran it), and no benign page opens a pool connection while it does its own work.

Needs Chromium (found as the crawler finds it, $WEBSCAN_CHROMIUM first); skipped only when
none is installed. Waits poll the pool with a generous deadline, and every "nothing happens"
check watches for as long as the positive checks may wait; nothing here measures time. The benign
pages are watched a few at a time, each with its own fixture server, so those waits overlap.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from playwright.sync_api import BrowserContext, Page  # noqa: E402
from test_browser_support import chromium_or_skip, playwright_chromium  # noqa: E402

from site_fixtures.server import FixtureServer  # noqa: E402
from site_fixtures.server.pages import PAGES  # noqa: E402

CHROMIUM = chromium_or_skip(allow_module_level=True)

HIDE_WEBDRIVER = ("Object.defineProperty(Navigator.prototype, 'webdriver', "
                  "{get: () => false, configurable: true});")
DEADLINE = 15.0
CATALOGUE = json.loads((PAGES / "pages.json").read_text())
MINERS = [e for e in CATALOGUE if e["expect"] == "miner"]
BENIGN = [e for e in CATALOGUE if e["expect"] == "clean"]


@pytest.fixture(scope="module")
def srv() -> Iterator[FixtureServer]:
    with FixtureServer(verify_shares=True) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    with playwright_chromium(CHROMIUM) as b:
        yield b


@pytest.fixture
def visit(srv, browser) -> Iterator[Callable[..., tuple[BrowserContext, Page, list[str]]]]:
    """Open a page in a fresh context; the context is closed (and its miners killed) after."""
    contexts: list[BrowserContext] = []
    srv.reset_stats()

    def open_page(path: str, *, hide_webdriver: bool = False, realistic: bool = False):
        if realistic:  # the crawler's profile: a Chrome user agent and stealth.js
            from webscan.browser.observe import stealth_script

            context = browser.new_context(user_agent=browser_user_agent(browser))
            context.add_init_script(stealth_script("_fixture_probe"))
        else:
            context = browser.new_context()
        contexts.append(context)
        if hide_webdriver:
            context.add_init_script(HIDE_WEBDRIVER)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(srv.url(path), wait_until="load")
        return context, page, errors

    yield open_page
    for context in contexts:
        context.close()


def browser_user_agent(browser) -> str:
    page = browser.new_page()
    try:
        return page.evaluate("navigator.userAgent").replace("HeadlessChrome", "Chrome")
    finally:
        page.close()


def wait_for(condition: Callable[[], bool], deadline: float = DEADLINE) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def stays_false(condition: Callable[[], bool], until: float | None = None) -> bool:
    """True when `condition` never holds before `until` (a monotonic time; by default DEADLINE
    from now). A negative control is watched as long as a positive check may wait, or a miner
    that starts late would pass it."""
    end = time.monotonic() + DEADLINE if until is None else until
    while time.monotonic() < end:
        if condition():
            return False
        time.sleep(0.1)
    return not condition()


def mined(srv: FixtureServer, login: str) -> bool:
    return any(s["accepted"] >= 1 and s["verified"] >= 1 for s in srv.pool_sessions(login=login))


@pytest.mark.parametrize("entry", MINERS, ids=lambda e: e["path"])
def test_miner_page_really_mines(srv, visit, entry):
    needs = entry["needs"] or ""
    _, page, errors = visit(entry["path"], hide_webdriver="webdriver" in needs,
                            realistic=needs == "realistic profile")
    if needs == "click":
        page.mouse.click(200, 200)
    elif needs == "consent click":
        page.click("#cookie-notice #accept")
    elif needs.startswith("mouse"):
        page.mouse.move(120, 140)
        page.mouse.move(260, 300, steps=5)
        page.mouse.wheel(0, 400)
    assert wait_for(lambda: mined(srv, entry["login"]), DEADLINE + LATE.get(entry["path"], 0)), (
        f"no verified share from {entry['path']} within {DEADLINE} s: "
        f"{srv.pool_sessions()} {srv.pool_stats()['total']} errors={errors}")
    sessions = srv.pool_sessions(login=entry["login"])
    assert {s["protocol"] for s in sessions} == {entry["protocol"]}
    assert all(s["jobs"] >= 1 for s in sessions)
    assert errors == []


def test_iframe_miner_runs_inside_the_other_origin(srv, visit):
    visit("/miner/iframe.html")
    login = "SKiframe0000000000000000000000003"
    assert wait_for(lambda: mined(srv, login))
    origin_b = srv.url("/", origin="b").rstrip("/")
    assert {s["origin"] for s in srv.pool_sessions(login=login)} == {origin_b}
    assert ("b", "/assets/app-core.wasm") in srv.requests()


def test_third_party_kit_and_wasm_come_from_the_other_origin(srv, visit):
    visit("/miner/third-party.html")
    assert wait_for(lambda: mined(srv, "SKthirdParty00000000000000000002"))
    requests = srv.requests()
    assert ("b", "/lib/ch-kit.js") in requests and ("b", "/assets/app-core.wasm") in requests
    assert ("a", "/lib/ch-kit.js") not in requests


def test_self_hosted_miner_uses_a_first_party_socket(srv, visit):
    login = next(e["login"] for e in MINERS if e["path"] == "/miner/self-hosted-stratum.html")
    visit("/miner/self-hosted-stratum.html")
    assert wait_for(lambda: mined(srv, login))
    (session,) = srv.pool_sessions(login=login)
    assert session["origin"] == srv.url("/").rstrip("/")
    assert ("a", "/pool/stratum") in srv.requests()  # the page's own origin, not the pool port


QUIET = {"/miner/webdriver-shy.html": False, "/miner/on-click.html": False,
         "/miner/automation-shy.html": True}
"""Miner pages that must not mine as they are shown (webdriver visible; no click yet; plain
headless with webdriver hidden the crude way) -> whether webdriver is hidden."""


@pytest.fixture(scope="module")
def quiet(browser) -> Iterator[dict[str, tuple[FixtureServer, Page, list]]]:
    """The QUIET pages open at once, each in its own context with its own fixture server, and
    watched together as long as one would be alone. Path -> (its server, its page, the pool
    sessions it opened in the watch)."""
    with ExitStack() as stack:
        opened: dict[str, tuple[FixtureServer, Page]] = {}
        for path, hide in QUIET.items():
            server = stack.enter_context(FixtureServer(verify_shares=True))
            context = browser.new_context()
            stack.callback(context.close)
            if hide:
                context.add_init_script(HIDE_WEBDRIVER)
            page = context.new_page()
            page.goto(server.url(path), wait_until="load")
            opened[path] = (server, page)
        clicker = opened["/miner/on-click.html"][1]
        clicker.mouse.move(100, 100)
        clicker.mouse.wheel(0, 200)
        # watched to the end unless every page mined (sessions only accumulate)
        stays_false(lambda: all(server.pool_sessions() for server, _ in opened.values()))
        yield {path: (server, page, server.pool_sessions())
               for path, (server, page) in opened.items()}


def test_shy_miner_stays_quiet_when_webdriver_shows(quiet):
    """The control for the webdriver page: the test above only proves something if this holds."""
    _, page, sessions = quiet["/miner/webdriver-shy.html"]
    assert page.evaluate("navigator.webdriver") is True
    assert sessions == []


def test_click_miner_waits_for_a_click(quiet):
    server, page, sessions = quiet["/miner/on-click.html"]
    assert sessions == []
    page.mouse.click(200, 200)
    assert wait_for(lambda: bool(server.pool_sessions()))


LATE = {"/miner/late-start.html": 25.0, "/benign/late-game.html": 25.0}
"""Pages that start their work this many seconds after load."""
BENIGN_CLICK = {"/benign/consent-game.html": ".cc-banner .cc-accept"}
"""What a visitor clicks on a benign page to let it start (its consent banner)."""

BENIGN_WORK = {  # a JS expression that turns true once the page has done its benign work
    "/benign/busy-loop.html": "Number(document.getElementById('frames').textContent) >= 2",
    "/benign/wasm-physics.html": "document.getElementById('e').textContent !== '-'",
    "/benign/hash-file.html": "document.getElementById('out').textContent.trim().split('\\n').length === 6",
    "/benign/chat.html": "document.querySelectorAll('#log li').length >= 5",
    "/benign/mdn-example.html": "document.getElementById('wasm-out').textContent === 'imported_func(42)'"
                                " && document.getElementById('product').textContent === '42'",
    "/egress/every-route.html": "Number(document.body.dataset.tried) >= 10",  # every route tried
    "/benign/wasm-game.html": "Number(document.getElementById('frames').textContent) >= 8",
    "/benign/wasm-file-hash.html": "document.getElementById('out').textContent.trim().split('\\n').length === 6",
    "/benign/hex-chat.html": "document.querySelectorAll('#log li').length >= 8",
    "/benign/late-game.html": "Number(document.getElementById('frames').textContent) >= 8",
    "/benign/consent-game.html": "!document.querySelector('.cc-banner') && !document.body.dataset.commented",
}


BATCH = 4
"""Benign pages watched at once: their waits overlap, while few enough of them share the cores
that each does its work as it would alone."""


@dataclass
class Watched:
    """One benign page of a shared watch, and what its test checks."""

    server: FixtureServer
    page: Page
    errors: list[str] = field(default_factory=list)
    until: float = 0.0  # watched at least until then (monotonic)
    worked: bool = False
    stats: dict = field(default_factory=dict)
    sessions: list = field(default_factory=list)


def watch_together(browser, entries: list[dict]) -> dict[str, Watched]:
    """Open these benign pages at once, each in its own context with its own fixture server (its
    pool and chat counts are its own), and watch each as long as it would be watched alone."""
    watched: dict[str, Watched] = {}
    with ExitStack() as stack:
        for entry in entries:
            path = entry["path"]
            server = stack.enter_context(FixtureServer(verify_shares=True))
            context = browser.new_context()
            stack.callback(context.close)
            context.add_init_script(HIDE_WEBDRIVER)
            run = watched[path] = Watched(server, context.new_page())
            run.page.on("pageerror", lambda e, errors=run.errors: errors.append(str(e)))
            run.page.goto(server.url(path), wait_until="load")
            run.page.mouse.move(150, 150)
            run.page.mouse.click(150, 150)
            if path in BENIGN_CLICK:
                run.page.click(BENIGN_CLICK[path])
        start = time.monotonic()  # all open: from now, each is watched as long as a miner page
        for path, run in watched.items():  # gets to mine
            run.until = start + DEADLINE + LATE.get(path, 0)
        while time.monotonic() < max(run.until for run in watched.values()):
            for path, run in watched.items():  # its work, within its own deadline
                if not run.worked and time.monotonic() <= run.until:
                    run.worked = bool(run.page.evaluate(BENIGN_WORK[path]))
            time.sleep(0.1)
        for run in watched.values():
            run.stats, run.sessions = run.server.pool_stats(), run.server.pool_sessions()
    return watched


@pytest.fixture(scope="module")
def benign_watched(browser) -> dict[str, Watched]:
    watched: dict[str, Watched] = {}
    for i in range(0, len(BENIGN), BATCH):
        watched |= watch_together(browser, BENIGN[i:i + BATCH])
    return watched


@pytest.mark.parametrize("entry", BENIGN, ids=lambda e: e["path"])
def test_benign_page_works_and_never_touches_the_pool(benign_watched, entry):
    run = benign_watched[entry["path"]]
    assert run.worked, f"{entry['path']} did not do its work"
    # the pool's counts only grow: none at the end of the watch is none at any time of it
    assert run.stats["total"]["connections"] == 0, run.sessions
    assert run.sessions == []
    assert run.errors == []
    if entry["path"] == "/benign/chat.html":
        assert run.stats["chat"]["connections"] == 1


def test_automation_shy_miner_stays_quiet_under_plain_headless(quiet):
    """The control for the automation-shy page: plain headless Chromium with webdriver hidden
    the crude way shows its tells (user agent, SwiftShader, a patched getter) and gets nothing."""
    _, page, sessions = quiet["/miner/automation-shy.html"]
    assert wait_for(lambda: page.evaluate("document.getElementById('why').textContent") != "")
    tells = set(page.evaluate("document.getElementById('why').textContent").split())
    assert {"ua", "webgl", "webdriver-patched"} <= tells, tells
    assert sessions == []

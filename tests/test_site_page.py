"""The site owners' page, as a person uses it: real Chromium (Playwright) on a real
`webscan serve`, auditing fixture pages served on 127.0.0.1.

A person types a URL and presses Enter, watches the progress (the page is never reloaded),
then reads the verdict in words with the script named; a benign page shows clean; a private
address, and a second request too soon, are refused in words on the page. Screenshots are
checked by their pixels (the verdict banner's colour) and boxes (visible, not empty), and
axe-core checks every page for serious or critical accessibility violations.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import httpx
import pytest

from node_tools import node_module_file
from service_support import ServeProcess, sqlite_url
from site_fixtures.server import FixtureServer
from test_browser_support import chromium_or_skip, playwright_chromium

CHROMIUM = chromium_or_skip(allow_module_level=True)
AUDIT_TIMEOUT_MS = 180_000
MINER_RED = (0xb0, 0x00, 0x20)
CLEAN_GREEN = (0x1b, 0x6e, 0x35)


def axe_source() -> str:
    """axe-core as pinned in tools/node (installed by `make test`; missing is an error that
    says how to install it, never a download here)."""
    return node_module_file("axe-core", "axe.min.js").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def axe() -> str:
    return axe_source()


@pytest.fixture(scope="module")
def srv():
    with FixtureServer() as server:
        yield server


@pytest.fixture(scope="module")
def service(srv, tmp_path_factory):
    db = tmp_path_factory.mktemp("site-page") / "s.db"
    with ServeProcess("--db", sqlite_url(db), "--allow-private", "--rate-limit", "0",
                      "--audit-window", "4") as svc:
        yield svc


@pytest.fixture(scope="module")
def browser():
    with playwright_chromium(CHROMIUM) as b:
        yield b


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1100, "height": 900})
    outside: list[str] = []

    def only_loopback(route) -> None:  # noqa: ANN001
        host = route.request.url.split("/")[2].rsplit(":", 1)[0]
        if host == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    ctx.route("**/*", only_loopback)
    pg = ctx.new_page()
    pg.outside = outside  # requests that would have left the machine
    yield pg
    ctx.close()


def assert_accessible(page, axe: str) -> None:  # noqa: ANN001
    """No serious or critical axe-core violation on the page as it is now."""
    page.add_script_tag(content=axe)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
           for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, bad


def pixel_of(page, png: bytes, x: int, y: int) -> tuple[int, int, int]:  # noqa: ANN001
    """A screenshot's pixel, decoded by the browser itself (no image library needed)."""
    data = base64.b64encode(png).decode()
    rgba = page.evaluate("""async ([data, x, y]) => {
        const img = new Image(); img.src = 'data:image/png;base64,' + data; await img.decode();
        const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
        const g = c.getContext('2d'); g.drawImage(img, 0, 0);
        return Array.from(g.getImageData(x, y, 1, 1).data); }""", [data, x, y])
    return tuple(rgba[:3])


def near(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(p - q) <= tolerance for p, q in zip(a, b))


def check_a_page(page, base: str, url: str, axe: str):  # noqa: ANN001, ANN201
    """What a person does: the form, the URL typed, Enter; then the progress until the
    verdict. Returns the audit id and the stages the page showed."""
    page.goto(base + "/")
    assert_accessible(page, axe)
    page.get_by_label("Address of the page").click()
    page.keyboard.type(url)
    page.keyboard.press("Enter")
    page.wait_for_url("**/audits/*")
    audit_id = page.url.rsplit("/", 1)[1]
    page.evaluate("window.__notReloaded = true")
    page.wait_for_selector("#verdict", timeout=AUDIT_TIMEOUT_MS)
    assert page.evaluate("window.__notReloaded === true"), "the page reloaded"
    seen = (page.get_attribute("#progress", "data-seen") or "").split()
    return audit_id, seen


def banner_colour(page) -> tuple[int, int, int]:  # noqa: ANN001
    banner = page.locator("#verdict")
    box = banner.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 30
    return pixel_of(page, banner.screenshot(), 4, 4)  # in the padding, not on text


def test_a_person_checks_a_miner_then_a_benign_page(service, srv, page, axe, tmp_path):
    with httpx.Client(base_url=service.base, timeout=30) as api:
        audit_id, seen = check_a_page(page, service.base, srv.url("/miner/first-party.html"),
                                      axe)
        assert "loading" in seen, seen  # the progress was shown while the audit ran
        banner = page.inner_text("#verdict")
        assert "MINER" in banner.upper() and "mines cryptocurrency" in banner
        audit = api.get(f"/v1/audits/{audit_id}").json()
        assert audit["verdict"] == "miner"
        # the script the page names is one the report's evidence points at
        culprit = page.inner_text("#verdict .culprit")
        targets = {f["location"]["target"] for f in audit["report"]["findings"]
                   if f["kind"] == "js"}
        assert any(culprit.startswith(t) or t in culprit for t in targets), (culprit, targets)
        assert "/lib/ch-kit.js" in page.inner_text(".sources")  # what was involved, listed
        assert near(banner_colour(page), MINER_RED)
        page.screenshot(path=str(tmp_path / "miner.png"), full_page=True)
        assert_accessible(page, axe)
        # the permalink shows the same verdict, rendered by the server this time
        page.goto(f"{service.base}/audits/{audit_id}")
        assert "mines cryptocurrency" in page.inner_text("#verdict")
        assert page.locator("#progress").is_hidden()

        benign_id, _ = check_a_page(page, service.base, srv.url("/benign/busy-loop.html"), axe)
        banner = page.inner_text("#verdict")
        assert "No mining found" in banner and "miner" not in banner.lower()
        assert api.get(f"/v1/audits/{benign_id}").json()["verdict"] == "clean"
        assert near(banner_colour(page), CLEAN_GREEN)
        assert_accessible(page, axe)

        # a monitor (this service has no API keys), paused: the page lists it as it is
        made = api.post("/v1/monitors", json={"url": srv.url("/benign/chat.html"),
                                              "every": "1d", "webhook": srv.url("/hook")})
        assert made.status_code == 201, made.text
        api.patch(f"/v1/monitors/{made.json()['id']}", json={"paused": True})

    # the site's page lists both audits, links them, and shows the shared verdict and monitors
    page.goto(f"{service.base}/sites/127.0.0.1")
    links = page.locator("a[href^='/audits/']")
    hrefs = {links.nth(i).get_attribute("href") for i in range(links.count())}
    assert {f"/audits/{audit_id}", f"/audits/{benign_id}"} <= hrefs
    assert "miner" in page.inner_text("section[aria-labelledby=shared-title]")
    watched = page.inner_text("section[aria-labelledby=monitors-title]")
    assert srv.url("/benign/chat.html") in watched and "1d" in watched and "paused" in watched
    assert srv.url("/hook") not in page.content()  # the webhook is the owner's, not public
    page.screenshot(path=str(tmp_path / "site.png"), full_page=True)
    assert_accessible(page, axe)
    assert page.outside == []


def test_a_private_address_and_a_second_request_too_soon_are_refused_in_words(srv, page,
                                                                                axe, tmp_path):
    """A service without --allow-private, allowing one audit a minute per address."""
    with ServeProcess("--db", sqlite_url(tmp_path / "p.db"), "--rate-limit", "20") as svc:
        page.goto(svc.base + "/")
        page.get_by_label("Address of the page").fill(srv.url("/miner/first-party.html"))
        page.get_by_role("button", name="Check this page").click()
        problem = page.locator("#problem")
        problem.wait_for()
        text = problem.inner_text()
        assert "not on the public internet" in text and "loopback" in text
        box = problem.bounding_box()
        assert box and box["width"] > 200 and box["height"] > 40
        assert page.get_by_label("Address of the page").input_value() == \
            srv.url("/miner/first-party.html")  # kept, to correct
        page.screenshot(path=str(tmp_path / "refused.png"))
        assert_accessible(page, axe)

        page.get_by_role("button", name="Check this page").click()
        page.wait_for_load_state()
        text = page.locator("#problem").inner_text()
        assert "Too many checks" in text and "Wait" in text
        assert_accessible(page, axe)


FOCUS_RING = (0xb3, 0x59, 0x00)


def tab_to(page, selector: str, presses: int = 12) -> list[str]:  # noqa: ANN001
    """Press Tab from the top of the page until `selector` has the focus, as a person with a
    keyboard does; returns what took the focus on the way."""
    page.mouse.click(2, 2)  # on the page's empty top corner: Tab starts from the top
    passed = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        passed.append(page.evaluate("(() => { const e = document.activeElement; "
                                    "return e.id || e.textContent.trim() || e.tagName; })()"))
        if page.evaluate("s => document.activeElement === document.querySelector(s)", selector):
            return passed
    raise AssertionError(f"Tab never reached {selector}; it went through {passed}")


def submit_by_keyboard(page, base: str, url: str) -> None:  # noqa: ANN001
    page.goto(base + "/")
    # the field has autofocus, which Chromium applies at a rendering update after the load: wait
    # for it (a person lands in the field), else it can take the focus back after tab_to's click
    # (polled from here: wait_for_function evaluates a string, which the page's CSP forbids)
    for _ in range(200):
        if page.evaluate("document.activeElement === document.querySelector('#url')"):
            break
        page.wait_for_timeout(50)
    passed = tab_to(page, "#url")
    assert passed[0] == "Skip to the content", passed  # the first stop skips the header
    field = page.locator("#url")
    ring = page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        return [s.outlineStyle, parseFloat(s.outlineWidth)]; }""")
    assert ring[0] != "none" and ring[1] >= 2, ring  # the focus is visible...
    box = field.bounding_box()
    png = page.screenshot()
    # ...and drawn: the ring's colour just above the field's top border (outline-offset 2px)
    assert near(pixel_of(page, png, int(box["x"] + box["width"] / 2), int(box["y"] - 3)),
                FOCUS_RING, tolerance=30)
    page.keyboard.type(url)
    page.keyboard.press("Enter")
    page.wait_for_load_state()


@pytest.fixture(scope="module")
def small_queue(tmp_path_factory):
    """A service that lets one audit wait (a second answers 503) and waits 3 s for a load."""
    db = tmp_path_factory.mktemp("small-queue") / "q.db"
    with ServeProcess("--db", sqlite_url(db), "--allow-private", "--rate-limit", "0",
                      "--audit-queue", "1", "--audit-nav-timeout", "3", "--audit-window", "2",
                      "--audit-deadline", "90") as svc:
        yield svc


def test_a_page_that_never_loads_and_a_full_queue_are_said_in_words(small_queue, srv, page,
                                                                     browser, axe, tmp_path):
    """Keyboard only: Tab to the field, type, Enter. The page holds its load for 120 s; the
    service waits 3 s for it, so the check ends saying the page never finished loading. While
    it runs, the queue fills and a second person is told so, with what to do."""
    submit_by_keyboard(page, small_queue.base, srv.url("/trap/never-loads.html"))
    page.wait_for_url("**/audits/*")
    with httpx.Client(base_url=small_queue.base, timeout=30) as api:
        for _ in range(5):  # the first may leave the queue at once (it runs): fill it
            if api.post("/v1/audits", json={"url": srv.url("/trap/never-loads.html")}
                        ).status_code == 503:
                break
        else:
            raise AssertionError("the queue of one never answered 503")
    other = browser.new_page()
    try:
        other.goto(small_queue.base + "/")
        other.get_by_label("Address of the page").fill(srv.url("/benign/chat.html"))
        other.get_by_role("button", name="Check this page").click()
        other.wait_for_load_state()
        text = other.locator("#problem").inner_text()
        assert "queue of checks is full" in text and "Try again in a minute" in text, text
        assert "/audits/" not in other.url  # nothing was queued
        other.screenshot(path=str(tmp_path / "queue-full.png"))
        assert_accessible(other, axe)
    finally:
        other.close()

    page.wait_for_selector("#verdict", timeout=AUDIT_TIMEOUT_MS)
    banner = page.inner_text("#verdict")
    assert "never finished loading" in banner and "we wait 3 s" in banner, banner
    assert "loads in your own browser" in banner  # what to do
    assert "miner" not in banner.lower() and "Traceback" not in banner
    assert near(banner_colour(page), (0x4a, 0x4a, 0x4a))  # grey: not checked, not clean
    assert page.evaluate("document.activeElement.id") == "verdict-title"  # focus follows
    assert_accessible(page, axe)


def test_an_unreachable_address_and_an_unknown_name_are_said_in_words(small_queue, page,
                                                                        axe):
    """Nothing listens on the port: the check runs and says the site could not be reached.
    A name no resolver knows is refused before anything is queued."""
    from service_support import free_port

    closed = f"http://127.0.0.1:{free_port()}/"
    submit_by_keyboard(page, small_queue.base, closed)
    page.wait_for_url("**/audits/*")
    page.wait_for_selector("#verdict", timeout=AUDIT_TIMEOUT_MS)
    banner = page.inner_text("#verdict")
    assert "could not be reached" in banner and "site is up" in banner, banner
    assert_accessible(page, axe)

    submit_by_keyboard(page, small_queue.base, "http://no-such-site.test/")
    text = page.locator("#problem").inner_text()
    assert "No site answers to this name" in text and "Check the spelling" in text, text
    assert page.locator("#url").input_value() == "http://no-such-site.test/"
    assert page.locator("#url").get_attribute("aria-describedby") == "problem"
    assert_accessible(page, axe)


def outside_hosts(html: str, base: str, *, attributes_only: bool = False) -> list[str]:
    """Absolute http(s) addresses in a page that point anywhere but this service (only those
    it loads or links, in src/href/action attributes, with `attributes_only`: a placeholder
    showing an example address is text)."""
    pattern = r"(?:src|href|action)=[\"']?(https?://[^\s\"'<>)]+)" if attributes_only \
        else r"(https?://[^\s\"'<>)]+)"
    return [u for u in re.findall(pattern, html) if not u.startswith(base)]


def test_the_api_docs_are_interactive_and_load_nothing_from_outside(service, page):
    page.goto(service.base + "/docs")
    page.wait_for_selector(".opblock-summary", timeout=30_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/v1/audits" in paths and "/v1/monitors" in paths
    page.locator(".opblock-summary").first.click()
    page.wait_for_selector(".try-out__btn")  # the interactive part
    assert page.outside == []
    html = httpx.get(service.base + "/docs").text
    assert "cdn" not in html.lower() and "/static/swagger-ui/swagger-ui-bundle.js" in html
    assert outside_hosts(html, service.base) == []
    for path in ("/", "/sites/127.0.0.1"):
        html = httpx.get(service.base + path).text
        assert outside_hosts(html, service.base, attributes_only=True) == [], path


def test_the_static_files_ship_with_the_package():
    """Templates and static files live inside the package (the wheel takes the package
    folder whole), and every file a page links is one of them."""
    from webscan.service import site_page

    for name in ("site.css", "audit.js", "favicon.svg", "swagger-ui/swagger-ui-bundle.js",
                 "swagger-ui/swagger-ui.css"):
        assert (site_page.STATIC / name).is_file(), name
    templates = Path(site_page.__file__).with_name("templates")
    refs = {ref for tpl in templates.glob("*.html")
            for ref in re.findall(r"/static/([\w./-]+)", tpl.read_text())}
    assert refs and all((site_page.STATIC / ref).is_file() for ref in refs), refs

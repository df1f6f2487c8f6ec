"""The egress policy: every connection an audit's (or a `crawl --public-only`) browser makes is
checked, and a refused one is recorded in the site's report.

Everything runs on loopback. The fixture server's origin P (127.0.0.2, site_fixtures/pages/
README.md) plays a private address and records every TCP connection, HTTP request and UDP
datagram it receives; `/egress/every-route.html` on origin A (127.0.0.1) tries to reach it by
every route a page has. The policy under test treats 127.0.0.1 as allowed and 127.0.0.2 as
refused: `webscan serve --allow-private --deny-cidr 127.0.0.2/32` (the issue's own judging
setup) and `webscan crawl --public-only --allow-cidr 127.0.0.1/32`. A control run without the
policy shows that each route really reaches P, so "P saw nothing" proves something.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from urllib.parse import quote

import httpx
import pytest

from conftest import run_cli
from service_support import ServeProcess, sqlite_url
from site_fixtures.server import FixtureServer
from test_browser_support import chromium_or_skip
from webscan.model import Audit
from webscan.net.egress import EgressPolicy, EgressRefused, parse_cidrs
from webscan.net.proxy import EgressProxy
from webscan.net.resolve import TableResolver

PAGE = "/egress/every-route.html"
HTTP_ROUTES = {"style", "script", "image", "prefetch", "frame", "redirected-image", "fetch",
               "xhr", "beacon", "event-source", "worker-import", "worker-fetch"}
"""Routes to origin P that travel as plain http: the proxy sees (and reports) their URLs."""
TUNNELLED = {"fetch-https", "socket", "worker-socket"}
"""Routes that reach P through a tunnel (CONNECT host:port): https, and WebSockets (Chromium
tunnels ws:// through an HTTP proxy too); the proxy sees only 127.0.0.2:<port>."""
LOOPBACK_AS_PUBLIC = EgressPolicy(resolver=TableResolver({"shop.test": ["127.0.0.1"]}),
                                  allow=parse_cidrs(["127.0.0.1/32"]))


@pytest.fixture(scope="module")
def srv():
    with FixtureServer() as server:
        if server.port_p is None:
            pytest.fail("origin P (127.0.0.2) did not start: these tests need a second loopback "
                        "address (Linux has all of 127.0.0.0/8)")
        yield server


def routes_seen(entries: list[tuple[str, str]]) -> set[str]:
    """Route names in what origin P received (or in refused URLs)."""
    return {path.split("route=", 1)[1].split("&")[0] for _, path in entries if "route=" in path}


# --- the policy -------------------------------------------------------------------------------

def policy(**kw) -> EgressPolicy:
    return EgressPolicy(resolver=TableResolver({"both.test": ["93.184.216.34", "10.0.0.7"],
                                                "pub.test": ["93.184.216.34"],
                                                "meta.test": ["169.254.169.254"]}), **kw)


@pytest.mark.parametrize("host, why", [
    ("127.0.0.2", "loopback"), ("10.1.2.3", "private"), ("169.254.10.10", "link-local"),
    ("::1", "loopback"), ("100.64.0.1", "private"), ("0.0.0.0", "non-public"),
    ("both.test", "10.0.0.7, a private address"),  # every address must pass
    ("localhost", "internal name"), ("nowhere.test", "no such host: nowhere.test"),
])
def test_non_public_destinations_are_refused(host, why):
    with pytest.raises(EgressRefused, match=why):
        policy().resolve(host)


@pytest.mark.parametrize("host", ["169.254.169.254", "fd00:ec2::254", "100.100.100.200",
                                  "::ffff:169.254.169.254", "metadata.google.internal",
                                  "meta.test"])
def test_metadata_is_refused_whatever_else_is_allowed(host):
    p = policy(allow_private=True, allow=parse_cidrs(["0.0.0.0/0", "::/0"]))
    with pytest.raises(EgressRefused, match="metadata"):
        p.resolve(host)


def test_deny_ranges_win_over_allow_private_and_public_addresses():
    p = policy(allow_private=True, deny=parse_cidrs(["127.0.0.2/32", "93.184.216.0/24"]))
    assert p.resolve("127.0.0.1") == ("127.0.0.1",)
    with pytest.raises(EgressRefused, match=r"127\.0\.0\.2 is in 127\.0\.0\.2/32, a range refused"):
        p.resolve("127.0.0.2")
    with pytest.raises(EgressRefused, match="pub.test resolves to 93.184.216.34, in 93.184.216.0/24"):
        p.resolve("pub.test")


def test_allow_ranges_count_as_public_and_nothing_more():
    assert LOOPBACK_AS_PUBLIC.resolve("127.0.0.1") == ("127.0.0.1",)
    assert LOOPBACK_AS_PUBLIC.resolve("shop.test") == ("127.0.0.1",)
    with pytest.raises(EgressRefused, match="loopback"):
        LOOPBACK_AS_PUBLIC.resolve("127.0.0.2")
    assert policy().resolve("pub.test") == ("93.184.216.34",)


def test_bad_ranges_are_named():
    with pytest.raises(ValueError, match="--deny-cidr '10.0.0.0/33': expected an address range"):
        parse_cidrs(["10.0.0.0/33"])
    assert parse_cidrs(["10.1.2.3"]) == (ipaddress.ip_network("10.1.2.3/32"),)


# --- the proxy, with a plain HTTP client ---------------------------------------------------------

async def exchange(proxy_url: str, request: bytes) -> bytes:
    host, port = proxy_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(1 << 20), 10)
    writer.close()
    return data


def test_proxy_forwards_allowed_requests_to_the_checked_address_and_refuses_the_rest(srv):
    async def go() -> tuple[bytes, bytes, bytes, bytes, list, list]:
        async with EgressProxy(LOOPBACK_AS_PUBLIC) as proxy:
            ch = await proxy.channel()
            a_port = srv.url("/").split(":")[2].rstrip("/")
            ok = await exchange(ch.url, f"GET http://shop.test:{a_port}/egress/leak.js?route=x "
                                        f"HTTP/1.1\r\nHost: shop.test:{a_port}\r\n\r\n".encode())
            p = srv.url("/egress/leak.js?route=proxy-test", origin="p")
            refused = await exchange(ch.url, f"GET {p} HTTP/1.1\r\nHost: 127.0.0.2\r\n"
                                             f"Referer: http://shop.test/\r\n\r\n".encode())
            tunnel = await exchange(ch.url, f"CONNECT 127.0.0.2:{srv.port_p} HTTP/1.1\r\n"
                                            f"Host: 127.0.0.2:{srv.port_p}\r\n\r\n".encode())
            own = await exchange(ch.url, f"GET {ch.url}/ HTTP/1.1\r\n\r\n".encode())
            return ok, refused, tunnel, own, list(ch.refused), srv.private_requests()

    before = len(srv.private_requests())
    ok, refused, tunnel, own, records, private = asyncio.run(go())
    assert ok.startswith(b"HTTP/1.1 200") and b"webscanEgressFixtureReached" in ok
    assert ("a", "/egress/leak.js?route=x") in srv.requests()  # shop.test went to 127.0.0.1
    assert refused.startswith(b"HTTP/1.1 403") and b"loopback" in refused
    assert tunnel.startswith(b"HTTP/1.1 403")
    assert own.startswith(b"HTTP/1.1 403") and b"own egress proxy" in own
    assert private[before:] == []
    by_url = {r.url: r for r in records}
    p_url = srv.url("/egress/leak.js?route=proxy-test", origin="p")
    assert "loopback" in by_url[p_url].reason and by_url[p_url].initiator == "http://shop.test/"
    assert by_url[f"127.0.0.2:{srv.port_p}"].method == "CONNECT"


def test_forbidden_endpoints_are_refused_even_when_the_policy_allows_them(srv):
    """The browser's DevTools port is forbidden this way: with private addresses allowed, a
    page must still not reach the browser's own controls."""
    a_port = int(srv.url("/").split(":")[2].rstrip("/"))

    async def go() -> tuple[bytes, list]:
        async with EgressProxy(LOOPBACK_AS_PUBLIC) as proxy:
            proxy.forbid("127.0.0.1", a_port)
            ch = await proxy.channel()
            answer = await exchange(ch.url, f"GET http://127.0.0.1:{a_port}/?forbidden "
                                            f"HTTP/1.1\r\n\r\n".encode())
            return answer, list(ch.refused)

    answer, refused = asyncio.run(go())
    assert answer.startswith(b"HTTP/1.1 403") and "DevTools" in refused[0].reason
    assert ("a", "/?forbidden") not in srv.requests()


# --- through a real browser ------------------------------------------------------------------

def test_without_the_policy_the_page_reaches_p_by_every_route(srv):
    """The control: in a browser with no proxy, each route of the page does reach origin P
    (WebRTC's STUN datagrams included), so the tests below that find P untouched mean it."""
    chromium = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    # P's server reads GET requests only (the beacon's POST is only a TCP connection there)
    # and speaks no TLS (the https fetch is only a connection too).
    want = (HTTP_ROUTES - {"beacon"}) | {"socket", "worker-socket", "sw-fetch"}

    def reached() -> bool:
        seen = srv.private_requests()[before:]
        return want <= routes_seen(seen) and any(kind == "p-udp" for kind, _ in seen)

    before = len(srv.private_requests())
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                     args=["--no-sandbox", "--disable-quic"])
        page = browser.new_page()
        page.goto(srv.url(PAGE))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not reached():
            page.wait_for_timeout(200)
        browser.close()
    seen = srv.private_requests()[before:]
    assert want <= routes_seen(seen), sorted(want - routes_seen(seen))
    assert any(kind == "p-udp" for kind, _ in seen), "no STUN datagram reached origin P"


def test_service_workers_and_webrtc_go_through_the_proxy_too(srv):
    """A browser with the audit's switches and a context behind its own proxy channel: the
    service worker's fetch is refused at the proxy like any other, and WebRTC sends no UDP
    beside it. (Visits allow service workers, where miners hide; check_refusals sees one's
    fetch refused in a real audit too.)"""
    chromium_or_skip()
    from webscan.browser.launch import proxy_switches
    from webscan.browser.observe import Browser

    strict = EgressPolicy(resolver=TableResolver({}), allow_private=True,
                          deny=parse_cidrs(["127.0.0.2/32"]))

    async def go() -> tuple[list, list]:
        async with EgressProxy(strict) as proxy:
            base, ch = await proxy.channel(), await proxy.channel()
            async with Browser(extra_args=proxy_switches(base.url)) as b:
                ctx = await b.pw_browser.new_context(proxy={"server": ch.url})
                page = await ctx.new_page()
                await page.goto(srv.url(PAGE))
                for _ in range(100):
                    if "sw-fetch" in routes_seen([("", r.url) for r in ch.refused]) and \
                            await page.evaluate("Number(document.body.dataset.tried) >= 10"):
                        break
                    await asyncio.sleep(0.2)
                await ctx.close()
            return list(ch.refused), list(base.refused)

    before = len(srv.private_requests())
    refused, browser_own = asyncio.run(go())
    assert srv.private_requests()[before:] == []  # no TCP, no HTTP, no UDP
    assert "sw-fetch" in routes_seen([("", r.url) for r in refused])
    assert HTTP_ROUTES <= routes_seen([("", r.url) for r in refused])
    assert not any("route=" in r.url for r in browser_own)  # nothing put on the wrong channel


def audits(c: httpx.Client, urls: list[str], timeout: float = 180) -> list[Audit]:
    """Queue an audit of each URL at once (the service runs them side by side, up to its
    --audit-concurrency), then wait for each to end."""
    ids = []
    for url in urls:
        r = c.post("/v1/audits", json={"url": url})
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    deadline = time.monotonic() + timeout
    got: dict[str, Audit] = {}
    while time.monotonic() < deadline:
        for audit_id in set(ids) - set(got):
            one = Audit.model_validate(c.get(f"/v1/audits/{audit_id}").json())
            if one.status.value in ("done", "failed"):
                got[audit_id] = one
        if len(got) == len(ids):
            return [got[i] for i in ids]
        time.sleep(0.5)
    raise AssertionError(f"the audits of {urls} did not finish in {timeout} s")


def check_refusals(report, srv: FixtureServer) -> None:
    """Every route of the page is refused and listed, with why; the page itself was judged."""
    refused = report.runtime.refused_requests
    by_route: dict[str, list] = {}
    for r in refused:
        if "route=" in r.url:
            by_route.setdefault(r.url.split("route=", 1)[1], []).append(r)
    assert HTTP_ROUTES <= set(by_route), sorted(by_route)
    for r in (r for name in HTTP_ROUTES for r in by_route[name]):
        assert r.reason.startswith("127.0.0.2 is in 127.0.0.2/32") or \
            "loopback address" in r.reason, r
    assert "sw-fetch" in by_route  # visits run service workers, through the same proxy
    assert "script" in {r.destination for r in by_route["script"]}
    assert "iframe" in {r.destination for r in by_route["frame"]}
    assert srv.url("/").rstrip("/") in {(r.initiator or "").rstrip("/") for r in by_route["image"]}
    tunnels = [r for r in refused if r.method == "CONNECT" and r.url == f"127.0.0.2:{srv.port_p}"]
    assert len(tunnels) >= 2  # the page's socket, the worker's socket (and the https fetch)
    assert report.runtime.workers >= 1  # the worker on origin A ran and was watched


def test_serve_with_deny_cidr_refuses_every_route_and_reports_each(srv, tmp_path):
    chromium_or_skip()
    expect = next(p["expect"] for p in srv.pages() if p["path"] == PAGE)
    before = len(srv.private_requests())
    top = srv.url("/egress/302?to=" + quote(srv.url("/egress/leak.js?route=top-redirect",
                                                    origin="p"), safe=""))
    with ServeProcess("--db", sqlite_url(tmp_path / "e.db"), "--allow-private",
                      "--deny-cidr", "127.0.0.2/32", "--rate-limit", "0",
                      "--audit-window", "3", "--audit-concurrency", "2") as svc, \
            httpx.Client(base_url=svc.base, timeout=30) as c:
        r = c.post("/v1/audits", json={"url": srv.url("/", origin="p")})
        assert r.status_code == 400 and "--deny-cidr" in r.text
        page, redirected = audits(c, [srv.url(PAGE), top])
    assert srv.private_requests()[before:] == []
    assert page.status.value == "done", page.error
    assert page.verdict.value == page.report.verdict.value == expect
    check_refusals(page.report, srv)
    assert redirected.status.value == "done", redirected.error
    assert "top-redirect" in routes_seen(
        [("", r.url) for r in redirected.report.runtime.refused_requests])


def test_crawl_public_only_refuses_every_route_and_keeps_each_sites_refusals_apart(srv, tmp_path):
    chromium_or_skip()
    before = len(srv.private_requests())
    sites = tmp_path / "sites.txt"
    sites.write_text(f"{srv.url(PAGE)}\n{srv.url('/benign/chat.html')}\n")
    out = tmp_path / "out.jsonl"
    r = run_cli("crawl", str(sites), "--public-only", "--allow-cidr", "127.0.0.1/32",
                "--window", "5", "--concurrency", "2", "--out", str(out), "--quiet", timeout=300)
    assert r.returncode == 0, r.stderr
    from webscan.model import Report

    reports = {rep.url: rep for rep in map(Report.model_validate_json, out.read_text().splitlines())}
    assert srv.private_requests()[before:] == []
    check_refusals(reports[srv.url(PAGE)], srv)
    assert reports[srv.url(PAGE)].verdict.value == "clean"
    chat = reports[srv.url("/benign/chat.html")]
    assert chat.verdict.value == "clean" and chat.runtime.refused_requests == []


def test_crawl_public_only_refuses_a_loopback_site_itself(srv, tmp_path):
    chromium_or_skip()
    url = srv.url("/benign/chat.html?public-only")
    out = tmp_path / "out.jsonl"
    r = run_cli("crawl", url, "--public-only", "--window", "2", "--out", str(out), "--quiet",
                timeout=300)
    assert r.returncode == 0, r.stderr
    (line,) = out.read_text().splitlines()
    report = json.loads(line)
    refused = report["runtime"]["refused_requests"]
    assert refused and refused[0]["url"] == url and "loopback" in refused[0]["reason"]
    assert "--allow-cidr" in refused[0]["reason"]
    assert ("a", "/benign/chat.html?public-only") not in srv.requests()

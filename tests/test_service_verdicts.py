"""Reports, shared verdicts and report poisoning, over real HTTP on 127.0.0.1 with a real
SQLite database.

Independent reporters are told apart by network (/24), so tests send from several loopback
addresses (127.0.N.1: Linux routes all of 127/8 to lo) to stand for different clients.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator

import httpx
import pytest

from conftest import FIXTURES
from service_support import TEST_NAMES, LiveServer, sqlite_url
from webscan.consensus import ConsensusPolicy
from webscan.model import PageReport, VerdictLookup
from webscan.service.ratelimit import RateLimits

REPORTER = "test-reporter-000{}".format


@pytest.fixture(scope="module")
def miner_findings(scanner) -> list[dict]:
    """Real findings: what the static engine says about a CoinHive-style kit."""
    path = FIXTURES / "js" / "coinhive-style-kit.js"
    report = scanner.scan_bytes(path.read_bytes(), str(path))
    assert report.verdict.value == "miner"
    return [f.model_dump(mode="json") for f in report.findings]


@pytest.fixture(scope="module")
def server(sigs, tmp_path_factory) -> Iterator[tuple[str, str]]:
    from webscan.service.app import ServiceConfig, create_app

    db = tmp_path_factory.mktemp("verdicts") / "v.db"
    config = ServiceConfig(db_url=sqlite_url(db), rate_limits=RateLimits(0, 0, 0, 0),
                           resolver_table=TEST_NAMES,
                           policy=ConsensusPolicy(confirm_reporters=3))
    with LiveServer(create_app(sigs=sigs, config=config)) as base:
        yield base, str(db)


def client_from(base: str, address: str = "127.0.0.1") -> httpx.Client:
    return httpx.Client(base_url=base, timeout=30,
                        transport=httpx.HTTPTransport(local_address=address))


def report(url: str, findings: list[dict], *, reporter: str = REPORTER(1),
           local: str = "miner") -> dict:
    body = {"url": url, "reporter": reporter, "client": "webscan-tests/1",
            "local_verdict": local, "score": 0.99, "findings": findings}
    PageReport.model_validate(body)  # what we send is what the model allows
    return body


def lookup(c: httpx.Client, url: str) -> VerdictLookup:
    r = c.get("/v1/verdicts", params={"url": url})
    assert r.status_code == 200, r.text
    return VerdictLookup.model_validate(r.json())


def post(c: httpx.Client, body: dict) -> VerdictLookup:
    r = c.post("/v1/reports", json=body)
    assert r.status_code == 200, r.text
    return VerdictLookup.model_validate(r.json())


def test_unknown_site_has_no_verdict(server):
    base, _ = server
    with client_from(base) as c:
        r = c.get("/v1/verdicts", params={"url": "https://never-seen.example/"})
    assert r.status_code == 200
    v = VerdictLookup.model_validate(r.json())
    assert v.verdict is None and v.origin_verdict.source == "none"
    assert v.origin == "https://never-seen.example" and v.domain == "never-seen.example"
    assert v.domain_verdict.reports == 0 and v.domain_verdict.first_seen is None


def test_one_network_never_makes_a_miner_however_many_ids(server, miner_findings):
    """Install ids are free to mint: ten ids from one network are one reporter."""
    base, _ = server
    url = "https://one-network.example/page"
    with client_from(base, "127.0.9.1") as c:
        for i in range(10):
            v = post(c, report(url, miner_findings, reporter=f"sybil-reporter-{i:05d}"))
    assert v.verdict.value == "suspicious", v
    assert v.origin_verdict.source == "unconfirmed-reports"
    assert v.origin_verdict.reports == 10
    assert v.origin_verdict.reporters == 1 and v.origin_verdict.flagging_reporters == 1
    assert v.origin_verdict.evidence, "the flagged report's findings are shown as evidence"


def test_independent_reporters_confirm_a_miner(server, miner_findings):
    base, _ = server
    url = "https://three-networks.example/"
    verdicts = []
    for n in (1, 2, 3):
        with client_from(base, f"127.0.{n}.1") as c:
            verdicts.append(post(c, report(url, miner_findings, reporter=REPORTER(n))).verdict)
    assert [v.value for v in verdicts] == ["suspicious", "suspicious", "miner"]
    with client_from(base) as c:
        v = VerdictLookup.model_validate(
            c.get("/v1/verdicts", params={"url": url}).json())
    assert v.verdict.value == "miner" and v.technique == "T1496"
    assert v.origin_verdict.source == "reporters" and v.origin_verdict.reporters == 3
    assert v.origin_verdict.first_seen <= v.origin_verdict.last_seen


def test_client_labels_are_not_trusted(server, miner_findings):
    """A modified client claiming a strong category for a weak rule gets the rule's own
    category; rule ids the service does not know are dropped."""
    base, _ = server
    weak = [f for f in miner_findings if f["category"] in ("kit-name", "websocket", "obfuscation",
                                                             "worker-blob", "throttle")]
    assert weak
    forged = [{**f, "category": "pool-session", "severity": "critical"} for f in weak]
    forged.append({**miner_findings[0], "rule": "made.up.rule", "category": "kit-api"})
    url = "https://forged.example/"
    for n in (4, 5, 6, 7):
        with client_from(base, f"127.0.{n}.1") as c:
            v = post(c, report(url, forged, reporter=REPORTER(n)))
    assert v.verdict.value != "miner", v
    assert v.origin_verdict.reporters == 4


def test_clean_reports_say_clean_and_scopes_differ(server, miner_findings):
    """A miner on one origin flags its registrable domain as a whole, not a sibling origin."""
    base, _ = server
    with client_from(base, "127.0.20.1") as c:
        post(c, report("https://bad.shared.example/", miner_findings, reporter=REPORTER(20)))
        v = post(c, report("https://good.shared.example/x", [], reporter=REPORTER(20),
                           local="clean"))
    assert v.origin_verdict.verdict.value == "clean"
    assert v.domain_verdict.verdict.value == "suspicious"
    assert v.domain == "shared.example" and v.domain_verdict.reports == 2
    assert v.verdict.value == "suspicious"  # the worse of the two scopes


def test_lookup_normalises_the_origin(server, miner_findings):
    base, _ = server
    with client_from(base, "127.0.30.1") as c:
        post(c, report("https://Case.Example:443/a?b=c", miner_findings, reporter=REPORTER(30)))
        v = VerdictLookup.model_validate(
            c.get("/v1/verdicts", params={"url": "https://case.example/other"}).json())
    assert v.origin == "https://case.example"
    assert v.origin_verdict.reports == 1


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://example.com/", "example.com",
                                 "http://", "https://[::1"])
def test_lookup_rejects_non_http_urls(server, url):
    base, _ = server
    with client_from(base) as c:
        r = c.get("/v1/verdicts", params={"url": url})
    assert r.status_code == 422 and "http" in r.text


def test_rejected_reports_are_not_stored(server):
    base, db = server
    with sqlite3.connect(db) as con:
        before = con.execute("select count(*) from reports").fetchone()[0]
    with client_from(base) as c:
        bad = [
            {"url": "https://x.example/", "reporter": "short", "client": "t", "local_verdict": "miner"},
            {"url": "https://x.example/", "reporter": REPORTER(1), "client": "t",
             "local_verdict": "miner", "score": 7},
            {"url": "https://x.example/", "reporter": REPORTER(1), "client": "t",
             "local_verdict": "miner", "cookies": "session=1"},
            {"url": "https://x.example/", "reporter": REPORTER(1), "client": "t",
             "local_verdict": "miner", "findings": [{"rule": "x"}]},
        ]
        for body in bad:
            r = c.post("/v1/reports", json=body)
            assert r.status_code == 422, r.text
            assert r.json()["detail"]
    with sqlite3.connect(db) as con:
        assert con.execute("select count(*) from reports").fetchone()[0] == before


def test_database_is_sqlite_wal(server):
    _, db = server
    with sqlite3.connect(db) as con:
        assert con.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_rate_limit_answers_429_with_retry_after(sigs, tmp_path):
    from webscan.service.app import ServiceConfig, create_app

    config = ServiceConfig(db_url=sqlite_url(tmp_path / "r.db"), resolver_table=TEST_NAMES,
                           rate_limits=RateLimits(reports=6, scans=0, audits=0, lookups=0))
    with LiveServer(create_app(sigs=sigs, config=config)) as base, client_from(base) as c:
        codes = [c.post("/v1/reports", json=report(f"https://rl.example/{i}", [])).status_code
                 for i in range(8)]
        assert codes[0] == 200 and codes[-1] == 429, codes
        r = c.post("/v1/reports", json=report("https://rl.example/x", []))
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        # another client address has its own budget
        with client_from(base, "127.0.40.1") as other:
            assert other.post("/v1/reports", json=report("https://rl.example/y", [])).status_code == 200
        assert "webscan_rate_limited_total" in c.get("/metrics").text


# -- verdicts over time and reporter networks ---------------------------------------------------

class Clock:
    """The service's clock, moved by the test: 30 days pass without waiting for them."""

    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, days: float) -> None:
        self.now += days * 86400


def test_reports_older_than_the_window_stop_counting(sigs, tmp_path, miner_findings):
    """Three networks confirm a miner; 29 days on it still stands, 31 days on those reports
    count for nothing, and two fresh ones are two, not five. An audit that found mining ages
    the same way: past the window it is a reason to audit again, not a verdict."""
    from webscan.model import Report, VerdictLabel
    from webscan.service.app import ServiceConfig, create_app

    clock = Clock()
    config = ServiceConfig(db_url=sqlite_url(tmp_path / "t.db"), resolver_table=TEST_NAMES,
                           rate_limits=RateLimits(0, 0, 0, 0), verdict_cache_s=0,
                           policy=ConsensusPolicy(confirm_reporters=3))
    app = create_app(sigs=sigs, config=config, clock=clock)
    url = "https://aging.example/"
    with LiveServer(app) as base:
        for n in (1, 2, 3):
            with client_from(base, f"127.0.{50 + n}.1") as c:
                v = post(c, report(url, miner_findings, reporter=REPORTER(n)))
        assert v.verdict.value == "miner" and v.origin_verdict.source == "reporters"
        with client_from(base) as c:
            clock.advance(29)
            assert lookup(c, url).verdict.value == "miner"
            clock.advance(2)
            v = lookup(c, url)
        assert v.verdict.value not in ("miner", "suspicious"), v
        assert v.origin_verdict.flagging_reporters == 0 and v.origin_verdict.reporters == 3
        for n in (1, 2):
            with client_from(base, f"127.0.{50 + n}.1") as c:
                v = post(c, report(url, miner_findings, reporter=REPORTER(n)))
        assert v.verdict.value == "suspicious" and v.origin_verdict.flagging_reporters == 2

        store = app.state.store
        audited = "https://audited-long-ago.example/"
        found = Report(url=audited, verdict=VerdictLabel.miner, score=0.97,
                       explanation="the audit crawl saw mining")
        a = store.create_audit(audited, "https://audited-long-ago.example",
                               "audited-long-ago.example", "127.0.0.0/24")
        store.finish_audit(a.id, found, None)
        with client_from(base) as c:
            assert lookup(c, audited).verdict.value == "miner"
            clock.advance(31)
            v = lookup(c, audited)
    assert v.verdict.value == "suspicious" and v.origin_verdict.source == "audit"
    assert "audit again" in v.origin_verdict.explanation


@pytest.fixture(scope="module")
def behind_proxy(sigs, tmp_path_factory) -> Iterator[str]:
    """The service behind a reverse proxy (--trust-proxy): the client address is the one
    X-Forwarded-For names, so any IPv4 or IPv6 client can be stood for from loopback."""
    from webscan.service.app import ServiceConfig, create_app

    db = tmp_path_factory.mktemp("proxy") / "p.db"
    config = ServiceConfig(db_url=sqlite_url(db), rate_limits=RateLimits(0, 0, 0, 0),
                           resolver_table=TEST_NAMES, trust_proxy=True,
                           policy=ConsensusPolicy(confirm_reporters=3))
    with LiveServer(create_app(sigs=sigs, config=config)) as base:
        yield base


def reporters_after(base: str, url: str, clients: list[str], findings: list[dict]) -> int:
    """Independent reporters of `url` once each client address has sent one miner report."""
    with client_from(base) as c:
        for i, address in enumerate(clients):
            r = c.post("/v1/reports", json=report(url, findings, reporter=REPORTER(i)),
                       headers={"X-Forwarded-For": address})
            assert r.status_code == 200, r.text
        v = lookup(c, url)
    assert v.origin_verdict.flagging_reporters == v.origin_verdict.reporters
    return v.origin_verdict.reporters


@pytest.mark.parametrize("clients, independent", [
    (["2001:db8:aa:1::1", "2001:db8:aa:ffff::2"], 1),  # one /48
    (["2001:db8:aa::1", "2001:db8:ab::1"], 2),  # two /48s
    (["2001:db8:aa::1", "2001:db8:aa:1::1", "2001:db8:ab::1", "2001:db8:ac::7"], 3),
    (["::ffff:198.51.100.7", "198.51.100.200"], 1),  # IPv4-mapped groups with its IPv4 /24
    (["::ffff:198.51.100.7", "198.51.101.7"], 2),
    (["198.51.100.1", "198.51.100.254", "::ffff:c633:64fe"], 1),  # hex form of .100.254
])
def test_reporters_are_grouped_by_network(behind_proxy, miner_findings, clients, independent):
    url = f"https://net-{hashlib.sha256(' '.join(clients).encode()).hexdigest()[:12]}.example/"
    assert reporters_after(behind_proxy, url, clients, miner_findings) == independent

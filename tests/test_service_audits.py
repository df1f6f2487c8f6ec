"""Audits, target refusal, API keys, durability and migrations, against the real
`webscan serve` process, real Chromium and the fixture server on 127.0.0.1.

Names resolve from a table given to the service (`--resolve`), never from the system's DNS;
the audit's egress proxy resolves with the same table and connects to its answer (the browser
resolves nothing itself), so a page under a `.test` name loads only if that worked.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from service_support import TEST_NAMES, LiveServer, ServeProcess, sqlite_url
from site_fixtures.server import FixtureServer
from test_browser_support import Site, chromium_or_skip, html
from webscan.model import Audit, VerdictLookup
from webscan.service.ratelimit import RateLimits
from webscan.service.targets import (SystemResolver, TableResolver, TargetRefused,
                                     check_target)

TABLE = TableResolver(TEST_NAMES)


@pytest.fixture(scope="module")
def srv():
    with FixtureServer() as server:
        yield server


@pytest.fixture
def chromium() -> str:
    return chromium_or_skip()


def expected(srv: FixtureServer, path: str) -> str:
    """The crawler verdict pages.json gives the fixture page."""
    return next(p["expect"] for p in srv.pages() if p["path"] == path)


def lookup(c: httpx.Client, url: str) -> VerdictLookup:
    r = c.get("/v1/verdicts", params={"url": url})
    assert r.status_code == 200, r.text
    return VerdictLookup.model_validate(r.json())


def audit(c: httpx.Client, url: str) -> str:
    r = c.post("/v1/audits", json={"url": url})
    assert r.status_code == 202, r.text
    return r.json()["id"]


def wait_done(c: httpx.Client, audit_id: str, timeout: float = 180) -> Audit:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = c.get(f"/v1/audits/{audit_id}")
        assert r.status_code == 200, r.text
        audit = Audit.model_validate(r.json())
        if audit.status.value in ("done", "failed"):
            return audit
        time.sleep(0.5)
    raise AssertionError(f"audit {audit_id} did not finish in {timeout} s")


def test_audit_crawls_a_fixture_miner_and_a_benign_page(srv, chromium, tmp_path):
    """Two audits side by side (`--audit-concurrency 2`; one at a time is what the other
    tests here run), each with its own browser and its own verdict."""
    with ServeProcess("--db", sqlite_url(tmp_path / "a.db"), "--allow-private",
                      "--rate-limit", "0", "--audit-window", "2",
                      "--audit-concurrency", "2") as svc, \
            httpx.Client(base_url=svc.base, timeout=30) as c:
        ids = {}
        for path in ("/miner/first-party.html", "/benign/busy-loop.html"):
            r = c.post("/v1/audits", json={"url": srv.url(path)})
            assert r.status_code == 202, r.text
            assert r.headers["location"] == f"/v1/audits/{r.json()['id']}"
            assert r.json()["status"] == "queued"
            ids[path] = r.json()["id"]
        miner = wait_done(c, ids["/miner/first-party.html"])
        benign = wait_done(c, ids["/benign/busy-loop.html"])
        assert miner.status.value == "done", miner.error
        assert miner.verdict.value == expected(srv, "/miner/first-party.html") == "miner"
        assert miner.report is not None and miner.report.url == srv.url("/miner/first-party.html")
        assert miner.report.runtime is not None and miner.report.findings
        assert benign.status.value == "done", benign.error
        assert benign.verdict.value == expected(srv, "/benign/busy-loop.html") == "clean"
        v = lookup(c, srv.url("/miner/first-party.html"))
        assert v.verdict.value == "miner" and v.origin_verdict.source == "audit"
        assert v.origin_verdict.last_audit.id in set(ids.values())
        metrics = c.get("/metrics").text
        assert "webscan_audit_queue_depth 0" in metrics


@pytest.mark.parametrize("url, why", [
    ("http://127.0.0.1:9/", "loopback"),
    ("http://10.1.2.3/", "private"),
    ("http://192.168.0.1/", "private"),
    ("http://169.254.10.10/", "link-local"),
    ("http://[::1]/", "loopback"),
    ("http://[fe80::1]/", "link-local"),
    ("http://100.64.0.1/", "private"),
    ("http://localhost:8000/", "internal name"),
    ("http://0.0.0.0/", "non-public"),
])
def test_private_targets_are_refused(url, why):
    with pytest.raises(TargetRefused, match=why):
        check_target(url, resolver=TABLE, allow_private=False)


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/",
                                 "http://[fd00:ec2::254]/", "http://metadata.google.internal/"])
def test_cloud_metadata_is_refused_even_when_private_is_allowed(url):
    with pytest.raises(TargetRefused, match="metadata"):
        check_target(url, resolver=TABLE, allow_private=True)


def test_allow_private_lets_loopback_through():
    t = check_target("http://127.0.0.1:9/x", resolver=TABLE, allow_private=True)
    assert t.addresses == ("127.0.0.1",) and t.origin == "http://127.0.0.1:9"


def test_the_resolver_table_answers_and_its_answers_are_checked():
    """A name is what the table says and nothing else; the table's address is held to the same
    rules as a DNS answer (loopback refused unless private targets are allowed)."""
    both = TableResolver({"Shop.Test": ["127.0.0.1", "::1"], "meta.test": ["169.254.169.254"]})
    t = check_target("http://shop.test:8080/a", resolver=both, allow_private=True)
    assert t.addresses == ("127.0.0.1", "::1") and t.host == "shop.test" and t.port == 8080
    with pytest.raises(TargetRefused, match="loopback"):
        check_target("http://shop.test/", resolver=both, allow_private=False)
    with pytest.raises(TargetRefused, match="metadata"):
        check_target("http://meta.test/", resolver=both, allow_private=True)
    with pytest.raises(TargetRefused, match="no such host: elsewhere.test .*resolver table"):
        check_target("http://elsewhere.test/", resolver=both, allow_private=True)
    with pytest.raises(ValueError, match="not-an-address"):
        TableResolver({"bad.test": ["not-an-address"]})


def test_audit_endpoint_refuses_bad_targets_and_stores_nothing(sigs, tmp_path):
    from webscan.service.app import ServiceConfig, create_app

    db = tmp_path / "refuse.db"
    config = ServiceConfig(db_url=sqlite_url(db), rate_limits=RateLimits(0, 0, 0, 0),
                           resolver_table=TEST_NAMES)
    with LiveServer(create_app(sigs=sigs, config=config)) as base, \
            httpx.Client(base_url=base, timeout=30) as c:
        for url in ("http://127.0.0.1/", "http://169.254.169.254/", "file:///etc/passwd",
                    "javascript:alert(1)", "http://no-such-host.invalid/"):
            r = c.post("/v1/audits", json={"url": url})
            assert r.status_code in (400, 422), (url, r.status_code, r.text)
            assert r.json()["detail"]
        r = c.post("/v1/audits", json={"url": "http://no-such-host.invalid/"})
        assert r.status_code == 400 and "no such host: no-such-host.invalid" in r.text
        assert c.get("/v1/audits/" + "0" * 32).status_code == 404
        assert c.get("/v1/audits/not-an-id").status_code == 422
    with sqlite3.connect(db) as con:
        assert con.execute("select count(*) from audits").fetchone()[0] == 0


def test_api_keys_guard_audits(sigs, tmp_path):
    from webscan.service.app import ServiceConfig, create_app

    config = ServiceConfig(db_url=sqlite_url(tmp_path / "k.db"), api_keys=("s3cret-key",),
                           resolver_table=TEST_NAMES,
                           rate_limits=RateLimits(0, 0, 0, 0))
    with LiveServer(create_app(sigs=sigs, config=config)) as base, \
            httpx.Client(base_url=base, timeout=30) as c:
        body = {"url": "http://127.0.0.1/"}  # refused as loopback once the key is accepted
        assert c.post("/v1/audits", json=body).status_code == 401
        assert c.post("/v1/audits", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
        r = c.post("/v1/audits", json=body, headers={"X-API-Key": "s3cret-key"})
        assert r.status_code == 400 and "loopback" in r.text
        r = c.post("/v1/audits", json=body, headers={"Authorization": "Bearer s3cret-key"})
        assert r.status_code == 400
        # reports and lookups stay open: the extension has no key
        assert c.get("/v1/verdicts", params={"url": "https://a.example/"}).status_code == 200


def test_full_audit_queue_answers_503(sigs, tmp_path):
    from webscan.service.app import ServiceConfig, create_app

    config = ServiceConfig(db_url=sqlite_url(tmp_path / "q.db"), audit_queue=0,
                           resolver_table=TEST_NAMES,
                           allow_private=True, rate_limits=RateLimits(0, 0, 0, 0))
    with LiveServer(create_app(sigs=sigs, config=config)) as base, \
            httpx.Client(base_url=base, timeout=30) as c:
        r = c.post("/v1/audits", json={"url": "http://127.0.0.1:9/"})
        assert r.status_code == 503 and r.headers["retry-after"]


def test_unfinished_audits_run_again_after_a_restart(tmp_path):
    from webscan.service.store import Store

    url = sqlite_url(tmp_path / "p.db")
    store = Store(url)
    first = store.create_audit("https://a.example/", "https://a.example", "a.example", "n")
    second = store.create_audit("https://b.example/", "https://b.example", "b.example", "n")
    store.start_audit(first.id)  # the service died while this one ran
    store.close()
    again = Store(url)
    try:
        assert again.pending_audits() == [first.id, second.id]
        assert again.get_audit(first.id).status.value == "queued"
    finally:
        again.close()


def test_migrations_build_exactly_the_model_schema(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from webscan.service.store import Store, metadata

    store = Store(sqlite_url(tmp_path / "m.db"))
    try:
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(conn)
            assert compare_metadata(ctx, metadata) == []
            assert ctx.get_current_revision() is not None
    finally:
        store.close()
    Store(sqlite_url(tmp_path / "m.db")).close()  # opening again migrates nothing, fails nothing


def test_kill_9_under_load_loses_no_acknowledged_report(tmp_path):
    """Clients post as fast as they can; the service is killed with SIGKILL mid-load; every
    report that got a 200 is in the database when it comes back."""
    db = tmp_path / "k9.db"
    svc = ServeProcess("--db", sqlite_url(db), "--rate-limit", "0").start()
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load(worker: int) -> None:
        with httpx.Client(base_url=svc.base, timeout=10) as c:
            i = 0
            while not stop.is_set():
                url = f"https://k9-{worker}.example/{i}"
                body = {"url": url, "reporter": f"kill-nine-reporter-{worker:03d}",
                        "client": "t/1", "local_verdict": "clean"}
                try:
                    r = c.post("/v1/reports", json=body)
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 200:
                    with lock:
                        acked.append(url)
                i += 1

    threads = [threading.Thread(target=load, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    hung = time.monotonic() + 600  # a guard against a wedged service, not a speed bar
    while len(acked) < 300 and time.monotonic() < hung:
        time.sleep(0.05)
    under_load = len(acked)
    svc.kill9()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert under_load >= 300, "the service stopped acknowledging reports before the kill"
    with ServeProcess("--db", sqlite_url(db), "--rate-limit", "0") as again, \
            httpx.Client(base_url=again.base, timeout=10) as c:
        assert c.get("/healthz").status_code == 200
    with sqlite3.connect(db) as con:
        stored = {row[0] for row in con.execute("select url from reports")}
        bodies = [json.loads(b) for (b,) in con.execute("select body from reports limit 5")]
    missing = [u for u in acked if u not in stored]
    assert not missing, f"{len(missing)} acknowledged reports lost, e.g. {missing[:3]}"
    assert all(b["client"] == "t/1" for b in bodies)


def test_two_worker_processes_share_the_database_and_one_runs_audits(srv, chromium, tmp_path):
    """`--workers 2`: both processes answer, reports from either are in every lookup, and
    exactly one process holds the audit runner's lock."""
    db = tmp_path / "w.db"
    with ServeProcess("--db", sqlite_url(db), "--rate-limit", "0", "--workers", "2",
                      "--allow-private", "--audit-window", "2") as svc:
        for i in range(20):  # new connections, so both workers take some
            with httpx.Client(base_url=svc.base, timeout=30) as c:
                r = c.post("/v1/reports", json={"url": "https://two.example/", "client": "t/1",
                                                 "reporter": f"two-workers-rep-{i:03d}",
                                                 "local_verdict": "clean"})
                assert r.status_code == 200, r.text
        with httpx.Client(base_url=svc.base, timeout=30) as c:
            counts = {c.get("/v1/verdicts", params={"url": "https://two.example/"})
                      .json()["origin_verdict"]["reports"] for _ in range(10)}
            assert counts == {20}
            r = c.post("/v1/audits", json={"url": srv.url("/benign/mdn-example.html")})
            assert r.status_code == 202
            audit_id = r.json()["id"]
        import fcntl
        import os as _os

        fd = _os.open(str(db) + ".audits.lock", _os.O_RDWR)
        try:
            with pytest.raises(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a worker holds it
        finally:
            _os.close(fd)
        with httpx.Client(base_url=svc.base, timeout=30) as c:
            done = wait_done(c, audit_id)
        assert done.status.value == "done", done.error
        assert done.verdict.value == expected(srv, "/benign/mdn-example.html") == "clean"


def test_audit_pins_the_browser_to_the_address_the_table_gave(srv, chromium, tmp_path):
    """`pinned.test` exists only in the service's table: the page loads (and mines) only if the
    browser went to the address the check used. `localhost`, which the system resolver answers
    from /etc/hosts without any network, is no such host to a table-only service: the system
    resolver was never asked."""
    assert SystemResolver()("localhost"), "the system resolver knows localhost"
    page = "/miner/first-party.html"
    with ServeProcess("--db", sqlite_url(tmp_path / "pin.db"), "--allow-private",
                      "--rate-limit", "0", "--audit-window", "5",
                      "--resolve", "pinned.test=127.0.0.1") as svc, \
            httpx.Client(base_url=svc.base, timeout=30) as c:
        for name in ("localhost", "fixtures.test"):
            r = c.post("/v1/audits", json={"url": srv.url(page).replace("127.0.0.1", name)})
            assert r.status_code == 400, r.text
            assert f"no such host: {name}" in r.json()["detail"]
        url = srv.url(page).replace("127.0.0.1", "pinned.test")
        done = wait_done(c, audit(c, url))
    assert done.status.value == "done", done.error
    assert done.verdict.value == expected(srv, page) == "miner"
    assert done.report.url == url and done.report.runtime.pool_submits
    with sqlite3.connect(tmp_path / "pin.db") as con:
        assert con.execute("select count(*) from audits").fetchone()[0] == 1


def audit_browsers(name: str) -> list[int]:
    """The browsers of audits of a URL under `name`: Chromium processes (with the audit's
    egress proxy switch) whose parent is the audit job crawling that URL."""
    def proc(pid: str) -> tuple[bytes, str]:
        entry = Path("/proc", pid)
        status = (entry / "status").read_text()
        parent = next(ln.split()[1] for ln in status.splitlines() if ln.startswith("PPid:"))
        return (entry / "cmdline").read_bytes(), parent

    jobs, browsers = set(), []
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                table[entry.name] = proc(entry.name)
            except (OSError, StopIteration):
                continue
    for pid, (cmdline, _) in table.items():
        if b"webscan.service.audit_job" in cmdline and f"//{name}".encode() in cmdline:
            jobs.add(pid)
    for pid, (cmdline, parent) in table.items():
        if parent in jobs and b"--proxy-server=" in cmdline:
            browsers.append(int(pid))
    return browsers


def alive(pids: list[int]) -> list[int]:
    """Those of `pids` that still run (a zombie has finished)."""
    out = []
    for pid in pids:
        try:
            state = Path("/proc", str(pid), "status").read_text()
        except OSError:
            continue
        if "State:\tZ" not in state:
            out.append(pid)
    return out


def held_script(release: threading.Event):
    """A script whose body never ends while the test runs: its page never fires `load`."""
    def handler(req) -> None:  # noqa: ANN001
        req.send_response(200)
        req.send_header("Content-Type", "text/javascript")
        req.send_header("Content-Length", "100000")
        req.end_headers()
        req.wfile.write(b"/* more is coming */\n")
        req.wfile.flush()
        release.wait(600)
    return handler


def test_an_audit_that_never_finishes_is_killed_at_its_deadline_and_the_queue_goes_on(
        srv, chromium, tmp_path):
    """A page whose blocking script never ends, and a crawl whose own navigation timeout is
    set past the deadline, so only the service's deadline can end it: the service kills the
    crawl, browser included, records why, and runs the next audit (which fits its deadline).
    The test lasts about as long as the deadline, so that is kept short; but the next audit
    must fit it too, browser start included, and on a machine loaded several times over an
    audit of a plain page has taken 40 s: hence not shorter than this."""
    deadline = 45
    stuck_site = Site({"/never.html": html('<p>Loading...</p><script src="/held.js"></script>')})
    stuck_site.routes["/held.js"] = held_script(stuck_site.release)
    try:
        with ServeProcess("--db", sqlite_url(tmp_path / "d.db"), "--allow-private",
                          "--rate-limit", "0", "--audit-window", "1",
                          "--audit-nav-timeout", "600", "--audit-deadline", str(deadline),
                          "--resolve", "stuck.test=127.0.0.1",
                          "--resolve", "next.test=127.0.0.1") as svc, \
                httpx.Client(base_url=svc.base, timeout=30) as c:
            stuck_id = audit(c, stuck_site.url("/never.html", host="stuck.test"))
            after = audit(c, srv.url("/benign/mdn-example.html").replace("127.0.0.1",
                                                                         "next.test"))
            seen = time.monotonic() + 120
            while not audit_browsers("stuck.test") and time.monotonic() < seen:
                time.sleep(0.2)
            running = audit_browsers("stuck.test")  # so "none left" below means something
            stuck = wait_done(c, stuck_id)
            left = alive(running)
            nxt = wait_done(c, after)
            depth = c.get("/metrics").text
    finally:
        stuck_site.close()
    assert stuck.status.value == "failed" and stuck.verdict is None and stuck.report is None
    assert stuck.error == f"the audit crawl did not finish within {deadline} s"
    assert running, "the stuck audit's browser was never seen running"
    assert left == [], "the stuck audit's browser was left running"
    assert nxt.status.value == "done", nxt.error
    assert nxt.verdict.value == expected(srv, "/benign/mdn-example.html") == "clean"
    assert "webscan_audit_queue_depth 0" in depth


def test_a_clean_audit_clears_the_site_only_for_the_page_caught_mining(srv, chromium, tmp_path):
    """A shop's page mines, an audit says `miner`; a clean audit of another page of the shop
    changes nothing; once the owner removes the miner, a clean audit of THAT page clears it."""
    miner_page = httpx.get(srv.url("/miner/third-party.html"), timeout=30).content
    shop = Site({"/shop.html": ("text/html; charset=utf-8", miner_page),
                 "/about.html": html("<h1>About us</h1><p>We sell shoes.</p>")})
    try:
        with ServeProcess("--db", sqlite_url(tmp_path / "c.db"), "--allow-private",
                          "--rate-limit", "0", "--audit-window", "2",
                          "--resolve", "shop.test=127.0.0.1") as svc, \
                httpx.Client(base_url=svc.base, timeout=30) as c:
            caught = wait_done(c, audit(c, shop.url("/shop.html", host="shop.test")))
            assert caught.verdict.value == "miner", caught.error
            v = lookup(c, shop.url("/", host="shop.test"))
            assert v.verdict.value == "miner" and v.origin_verdict.source == "audit"

            other = wait_done(c, audit(c, shop.url("/about.html", host="shop.test")))
            assert other.verdict.value == "clean", other.error
            v = lookup(c, shop.url("/", host="shop.test"))
            assert v.origin_verdict.verdict.value == "miner", "another page cleared the site"
            assert v.domain_verdict.verdict.value == "miner"
            assert v.origin_verdict.last_audit.id == other.id
            assert caught.id in v.origin_verdict.explanation

            shop.routes["/shop.html"] = html("<h1>Shoes</h1><p>The miner is gone.</p>")
            fixed = wait_done(c, audit(c, shop.url("/shop.html", host="shop.test")))
            assert fixed.verdict.value == "clean", fixed.error
            v = lookup(c, shop.url("/", host="shop.test"))
    finally:
        shop.close()
    assert v.verdict.value == "clean"
    assert v.origin_verdict.source == v.domain_verdict.source == "audit"
    assert v.origin_verdict.last_audit.id == fixed.id

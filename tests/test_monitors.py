"""Monitors on a real `webscan serve`: a page re-audited on a schedule (real Chromium through
the service's audit queue), a real webhook receiver on 127.0.0.1 that checks the
HMAC-SHA256 signature of each call, and a restart of the service on the same database.

The audited page is a redirect the test points at a fixture page, clean or miner, so the
page's verdict changes when the test says so and the monitor has something to report. The
service's shortest schedule is lowered with `--monitor-min-interval 2s`, the operator's own
option (documented in `webscan serve --help`), so a firing does not take an hour; likewise
`--webhook-retry 0.5`, so a failed call is tried again half a second later (not 2 s), and
`--webhook-timeout 120`, so the call the receiver holds open is still waiting when the test lets
it fail: the retry that delivers then follows at once, not at some later step of the retry
schedule (whose gaps grow to minutes). Giving up on a receiver that hangs is checked on its own
(test_a_webhook_call_that_hangs_is_given_up_at_its_timeout).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from service_support import ServeProcess, sqlite_url
from site_fixtures.server import FixtureServer
from test_browser_support import chromium_or_skip
from test_service_postgres import pg_url  # noqa: F401 - a fixture (a throwaway cluster)
from webscan.service.monitors import verify

chromium_or_skip(allow_module_level=True)

KEY = "monitor-test-key-0123456789"
AUTH = {"X-API-Key": KEY}
WAIT_S = 300.0
"""How long a test waits for something the service does on its own (audits run in a real
browser on a shared machine); a deadline against hanging, not a measurement."""


def wait_for(what: str, check: Callable[[], object], timeout: float = WAIT_S) -> object:
    """Poll `check` until it returns something truthy; fail saying what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s")


class Redirect:
    """A page on 127.0.0.1 that redirects (302) to wherever the test points it."""

    def __init__(self) -> None:
        self.target = ""
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self.send_response(302)
                self.send_header("Location", outer.target)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/page"

    def __enter__(self) -> "Redirect":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Call:
    headers: dict[str, str]
    body: bytes
    answered: int = 0


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1. Until `accepting` is set it answers 500; the very
    first call it holds open (a receiver that hangs) until then, then fails."""

    calls: list[Call] = field(default_factory=list)
    accepting: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                call = Call({k.lower(): v for k, v in self.headers.items()}, body)
                with outer.lock:
                    first = not outer.calls
                    outer.calls.append(call)
                if first:
                    outer.accepting.wait(WAIT_S)
                call.answered = 200 if outer.accepting.is_set() and not first else 500
                try:
                    self.send_response(call.answered)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the service gave up waiting: it will try again
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.accepting.set()
        self.server.shutdown()
        self.server.server_close()

    def delivered(self, verdict: str) -> Call | None:
        """The first call answered 2xx that says the verdict became `verdict`."""
        with self.lock:
            return next((c for c in self.calls if c.answered == 200
                         and json.loads(c.body)["verdict"] == verdict), None)


def signed_by(secret: str, call: Call) -> bool:
    """What a receiver does: HMAC-SHA256 of the body as received, compared in constant time."""
    expected = "sha256=" + hmac.new(secret.encode(), call.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, call.headers.get("x-webscan-signature", ""))


@pytest.fixture(scope="module")
def srv() -> Iterator[FixtureServer]:
    with FixtureServer() as server:
        yield server


def serve(db: str) -> ServeProcess:
    return ServeProcess("--db", db, "--allow-private", "--rate-limit", "0", "--api-key", KEY,
                        "--monitor-min-interval", "2s", "--audit-window", "1",
                        "--audit-nav-timeout", "10", "--webhook-timeout", "120",
                        "--webhook-retry", "0.5")


def monitor(api: httpx.Client, monitor_id: str) -> dict:
    listed = api.get("/v1/monitors", headers=AUTH)
    assert listed.status_code == 200, listed.text
    return next(m for m in listed.json() if m["id"] == monitor_id)


def test_a_monitor_calls_its_webhook_on_a_change_of_verdict_and_outlives_a_restart(
        srv, tmp_path):
    db = sqlite_url(tmp_path / "m.db")
    receiver = Receiver()
    with Redirect() as page:
        page.target = srv.url("/benign/chat.html")
        svc = serve(db).start()
        try:
            api = httpx.Client(base_url=svc.base, timeout=30)
            body = {"url": page.url, "every": "3s", "webhook": receiver.url}
            refused = api.post("/v1/monitors", json=body)
            assert refused.status_code == 401 and "API key" in refused.json()["detail"]
            too_often = api.post("/v1/monitors", json={**body, "every": "1s"}, headers=AUTH)
            assert too_often.status_code == 422 and "every 2s" in too_often.json()["detail"]
            made = api.post("/v1/monitors", json=body, headers=AUTH)
            assert made.status_code == 201, made.text
            created = made.json()
            secret, monitor_id = created["secret"], created["id"]
            assert created["every"] == "3s" and not created["paused"]
            assert "secret" not in monitor(api, monitor_id)  # shown once only

            # The first verdict is no change: nothing is called.
            wait_for("the first scheduled audit",
                     lambda: monitor(api, monitor_id)["last_verdict"] == "clean")
            assert receiver.calls == []

            # The page starts mining. The receiver hangs, then fails; meanwhile the queue
            # (one audit at a time) goes on: the monitor audits again and another client's
            # audit is done.
            page.target = srv.url("/miner/first-party.html")
            wait_for("a webhook call", lambda: receiver.calls)
            first = json.loads(receiver.calls[0].body)
            assert (first["previous"], first["verdict"]) == ("clean", "miner")
            other = api.post("/v1/audits", json={"url": srv.url("/benign/chat.html")},
                             headers=AUTH).json()
            done = wait_for("another client's audit", lambda: (a := api.get(
                f"/v1/audits/{other['id']}").json())["status"] in ("done", "failed") and a)
            assert done["verdict"] == "clean", done
            wait_for("the monitor's next audit", lambda: monitor(api, monitor_id)[
                "last_audit_id"] not in (None, first["audit_id"]))
            assert receiver.delivered("miner") is None
            receiver.accepting.set()
            call = wait_for("the webhook's delivery", lambda: receiver.delivered("miner"))
            assert signed_by(secret, call)
            assert not signed_by("another secret", call)
            assert verify(secret, call.body, call.headers["x-webscan-signature"])  # the helper
            assert all(c.body == call.body for c in receiver.calls)  # the same event, retried
            assert len(receiver.calls) >= 2  # hung then failed, ..., delivered
            event = json.loads(call.body)
            assert event["monitor_id"] == monitor_id and event["url"] == page.url
            assert api.get(f"/v1/audits/{event['audit_id']}").json()["verdict"] == "miner"
            state = wait_for("the delivery's record", lambda: (
                m := monitor(api, monitor_id))["last_delivery"] and "delivered" in
                m["last_delivery"] and m)
            assert f"attempt {len(receiver.calls)}" in state["last_delivery"], state
        finally:
            svc.stop()

        # A restart: another process on the same database keeps the schedule and the secret.
        page.target = srv.url("/benign/chat.html")
        restarted_at = time.time()
        svc = serve(db).start()
        try:
            api = httpx.Client(base_url=svc.base, timeout=30)
            back = wait_for("the webhook after the restart", lambda: receiver.delivered("clean"))
            assert signed_by(secret, back)
            event = json.loads(back.body)
            assert (event["previous"], event["verdict"]) == ("miner", "clean")
            fresh = wait_for("an audit queued by the new process", lambda: (
                a := monitor(api, monitor_id)["last_audit_id"]) and _unix(api.get(
                    f"/v1/audits/{a}").json()["requested_at"]) > restarted_at and a)
            assert monitor(api, monitor_id)["last_verdict"] == "clean", fresh
            site = api.get("/sites/127.0.0.1").text
            assert page.url in site and "3s" in site and f"/audits/{fresh}" in site
            assert receiver.url not in site and secret not in site  # a public page

            pause_then_delete(api, monitor_id, srv.url("/benign/chat.html"), receiver.url)
        finally:
            svc.stop()
            receiver.close()


def pause_then_delete(api: httpx.Client, monitor_id: str, control_url: str,
                      webhook: str) -> None:
    """A paused monitor queues nothing while an active one (the control) audits twice; a
    deleted one is gone."""
    paused = api.patch(f"/v1/monitors/{monitor_id}", json={"paused": True}, headers=AUTH)
    assert paused.status_code == 200 and paused.json()["paused"] is True
    # an audit it queued before the pause still settles; then it waits for nothing
    before = wait_for("the paused monitor's last audit to settle", lambda: (
        m := monitor(api, monitor_id))["next_run_at"] is not None and m)
    control = api.post("/v1/monitors", json={"url": control_url, "every": "2s",
                                             "webhook": webhook}, headers=AUTH).json()
    seen: set[str] = set()

    def control_audited_twice() -> bool:
        last = monitor(api, control["id"])["last_audit_id"]
        if last:
            seen.add(last)
        return len(seen) >= 2

    wait_for("two audits of the active monitor", control_audited_twice)
    after = monitor(api, monitor_id)
    assert (after["last_audit_id"], after["last_checked_at"]) == \
        (before["last_audit_id"], before["last_checked_at"])
    assert "paused" in api.get("/sites/127.0.0.1").text

    for mid in (monitor_id, control["id"]):
        assert api.delete(f"/v1/monitors/{mid}", headers=AUTH).status_code == 204
    assert api.get("/v1/monitors", headers=AUTH).json() == []
    gone = api.delete(f"/v1/monitors/{monitor_id}", headers=AUTH)
    assert gone.status_code == 404 and monitor_id in gone.json()["detail"]
    assert api.patch(f"/v1/monitors/{monitor_id}", json={"paused": False},
                     headers=AUTH).status_code == 404


def _unix(text: str) -> float:
    """An API time (ISO 8601, UTC) as Unix seconds."""
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture(params=["sqlite", "postgresql"])
def two_stores(request, tmp_path):  # noqa: ANN001, ANN201
    """Two Store objects on one database, as two service processes (`--workers 2`) have."""
    from webscan.service.store import Store

    url = sqlite_url(tmp_path / "two.db") if request.param == "sqlite" \
        else request.getfixturevalue("pg_url")
    stores = (Store(url), Store(url))
    yield stores
    for s in stores:
        s.close()


def test_each_firing_and_each_result_is_taken_by_one_process(two_stores):
    """The scheduler's compare-and-set, on each database the service runs on: of two
    processes that both see a monitor due, one queues its audit; of two that both see the
    audit done, one records it (and so one calls the webhook)."""
    from webscan.model import Report, VerdictLabel

    a, b = two_stores
    now = a.clock()
    row = dict(id=uuid.uuid4().hex, url="https://shop.example/", origin="https://shop.example",
               domain="shop.example", every_s=3600.0, webhook="https://hooks.example/w",
               secret="s" * 64, paused=False, created_at=now, next_run_at=now)
    a.create_monitor(row)
    due_a, due_b = a.due_monitors(now + 1), b.due_monitors(now + 1)
    assert due_a == due_b == [(row["id"], now)]
    taken = [s.claim_monitor(row["id"], now, now + 3600) for s in (a, b)]
    assert sorted(taken) == [False, True]
    assert a.due_monitors(now + 1) == []  # not due again before its next run

    audit = a.create_audit(row["url"], row["origin"], row["domain"], "monitor")
    assert a.update_monitor(row["id"], pending_audit_id=audit.id)
    assert b.waiting_monitors() == [(row["id"], audit.id, "queued", None)]
    a.start_audit(audit.id)
    a.finish_audit(audit.id, Report(url=row["url"], verdict=VerdictLabel.miner, score=0.9,
                                    explanation="seeded"), None)
    assert b.waiting_monitors() == [(row["id"], audit.id, "done", "miner")]
    settled = [s.settle_monitor(row["id"], audit.id, {"last_verdict": "miner"})
               for s in (b, a)]
    assert settled[1] is None and settled[0]["pending_audit_id"] == audit.id
    assert a.monitor_rows(monitor_id=row["id"])[0]["last_verdict"] == "miner"
    assert a.waiting_monitors() == []

    a.update_monitor(row["id"], paused=True, next_run_at=now)
    assert b.due_monitors(now + 1) == []  # paused: never due
    assert b.delete_monitor(row["id"]) and not a.delete_monitor(row["id"])


@pytest.fixture
def https_receiver(tmp_path) -> Iterator[tuple[int, Path, list[Call]]]:
    """An HTTPS receiver on 127.0.0.1 whose certificate names hooks.test (made with the
    openssl command); yields its port, the certificate to trust, and the calls it got."""
    cert, key = tmp_path / "hooks.pem", tmp_path / "hooks.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=hooks.test", "-addext", "subjectAltName=DNS:hooks.test",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    calls: list[Call] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            calls.append(Call({k.lower(): v for k, v in self.headers.items()}, body, 204))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], cert, calls
    finally:
        server.shutdown()
        server.server_close()


def test_an_https_webhook_is_reached_at_the_checked_address_with_its_name_verified(
        https_receiver):
    """The webhook's name is resolved by the service's own policy (here a resolver table,
    never DNS) and the connection goes to that address; TLS still checks the certificate
    against the name, and the policy still refuses private addresses unless allowed."""
    from webscan.net.resolve import TableResolver
    from webscan.service.monitors import post_webhook
    from webscan.net.egress import EgressRefused
    from webscan.service.targets import audit_policy

    port, cert, calls = https_receiver
    names = TableResolver({"hooks.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    trust = ssl.create_default_context(cafile=str(cert))
    policy = audit_policy(names, allow_private=True)
    status = post_webhook(f"https://hooks.test:{port}/hook?k=1", b'{"event":"x"}',
                          {"Content-Type": "application/json"}, policy, tls=trust)
    assert status == 204 and calls[0].body == b'{"event":"x"}'
    assert calls[0].headers["host"] == f"hooks.test:{port}"

    with pytest.raises(ssl.SSLCertVerificationError):  # same address, a name the cert lacks
        post_webhook(f"https://other.test:{port}/hook", b"{}", {}, policy, tls=trust)
    with pytest.raises(EgressRefused, match="loopback"):
        post_webhook(f"https://hooks.test:{port}/hook", b"{}", {},
                     audit_policy(names, allow_private=False), tls=trust)
    assert len(calls) == 1


def test_a_webhook_call_that_hangs_is_given_up_at_its_timeout():
    """A receiver that takes the request and never answers: the call fails after the
    service's `--webhook-timeout` (the delivery then retries), instead of waiting for it."""
    from webscan.net.resolve import TableResolver
    from webscan.service.monitors import post_webhook
    from webscan.service.targets import audit_policy

    receiver = Receiver()  # holds its first call until `accepting` is set
    try:
        policy = audit_policy(TableResolver({}), allow_private=True)
        with pytest.raises(TimeoutError):
            post_webhook(receiver.url, b'{"event":"x"}', {}, policy, timeout_s=0.5)
        assert len(receiver.calls) == 1 and receiver.calls[0].answered == 0  # still held
    finally:
        receiver.close()

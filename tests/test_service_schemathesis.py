"""Schemathesis against the real `webscan serve` process: every operation in /openapi.json gets
generated requests (valid and invalid), and none may answer 5xx.

Started without --allow-private and with a resolver table (service_support.TEST_NAMES, whose
one name is loopback): generated audit URLs are refused (private, not in the table, or
malformed: 400/422) instead of launching browsers, and no generated host name becomes a DNS
query, so nothing here reaches beyond 127.0.0.1; generated monitors are refused the same way. GET
/v1/audits/{id} is pointed at audits written into the database beforehand (done, failed,
queued), and PATCH/DELETE /v1/monitors/{id} at monitors written likewise, so their 200 paths
are exercised too, not only 404/422. The service has no API key here: the monitors' routes are
open to the generated requests exactly as audits are.

Only `not_a_server_error` is enforced (plus, from the service's own /metrics, that every
route answered and none with 5xx). The other default checks flag things that are by design or
known; see the notes after the test.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.checks import not_a_server_error

from service_support import ServeProcess, sqlite_url
from webscan.model import (Finding, Location, Report, RuntimeSummary, Severity, EvidenceKind,
                           VerdictLabel)

# database=None (below) keeps failing examples out of the repo; Hypothesis' other caches
# (constants, unicode data) would still go to ./.hypothesis, written by its pytest plugin right
# after collection, so point its home at the temp dir while this module is imported.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "webscan-hypothesis")

EXAMPLES_PER_OPERATION = 30
OPERATIONS = {
    ("GET", "/healthz"),
    ("POST", "/v1/reports"),
    ("GET", "/v1/verdicts"),
    ("POST", "/v1/audits"),
    ("GET", "/v1/audits/{audit_id}"),
    ("POST", "/v1/scan"),
    ("GET", "/v1/signatures"),
    ("POST", "/v1/monitors"),
    ("GET", "/v1/monitors"),
    ("PATCH", "/v1/monitors/{monitor_id}"),
    ("DELETE", "/v1/monitors/{monitor_id}"),
}
SITE_URLS = st.from_regex(r"\A[hH][tT][tT][pP][sS]?://([a-z0-9-]{1,20}\.){0,3}[a-z]{2,6}"
                          r"(:[0-9]{1,5})?(/[!-~]{0,40})?\Z")


def _seed_audits(db: str) -> list[str]:
    """Audits as the queue leaves them, written straight into the service's database."""
    report = Report(url="https://miner.example/", verdict=VerdictLabel.miner, score=0.97,
                    technique="T1496", explanation="seeded for the schemathesis run",
                    findings=[Finding(rule="js.coinhive", kind=EvidenceKind.js,
                                      category="miner-library", severity=Severity.high,
                                      message="CoinHive.Anonymous",
                                      location=Location(target="https://miner.example/m.js",
                                                        line=1, column=5))],
                    runtime=RuntimeSummary(window_s=10, cpu_seconds=9.5, peak_cpu_share=1.0,
                                           workers=4, sockets=["wss://pool.example/"]))
    now = time.time()
    rows = [
        (uuid.uuid4().hex, "done", now - 5, now - 1, "miner", None, report.model_dump_json()),
        (uuid.uuid4().hex, "failed", now - 5, now - 1, None, "the audit crawl failed", None),
        (uuid.uuid4().hex, "queued", None, None, None, None, None),
    ]
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO audits (id, url, origin, domain, status, requested_at, started_at, "
            "finished_at, verdict, error, report, evidence, network) VALUES "
            "(?, 'https://miner.example/', 'https://miner.example', 'miner.example', ?, ?, ?, ?, "
            "?, ?, ?, '[]', '127.0.0.0/24')",
            [(i, status, now - 10, started, finished, verdict, error, rep)
             for i, status, started, finished, verdict, error, rep in rows])
    conn.close()
    return [r[0] for r in rows]


def _seed_monitors(db: str) -> list[str]:
    """Monitors as POST /v1/monitors leaves them (one paused), due in a day: the generated
    PATCH and DELETE reach their 200/204 paths, and nothing fires during the run."""
    now = time.time()
    ids = [uuid.uuid4().hex for _ in range(3)]
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO monitors (id, url, origin, domain, every_s, webhook, secret, paused, "
            "created_at, next_run_at) VALUES (?, 'https://miner.example/', "
            "'https://miner.example', 'miner.example', 86400, 'https://hooks.example/w', ?, ?, "
            "?, ?)", [(i, uuid.uuid4().hex, n == 0, now, now + 86400) for n, i in enumerate(ids)])
    conn.close()
    return ids


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[ServeProcess, dict[str, list[str]]]]:
    db = tmp_path_factory.mktemp("schemathesis") / "s.db"
    with ServeProcess("--db", sqlite_url(db), "--rate-limit", "0") as server:
        yield server, {"audit_id": _seed_audits(str(db)), "monitor_id": _seed_monitors(str(db))}


@pytest.fixture(scope="module")
def api_schema(served):
    server, seeded = served
    loaded = schemathesis.openapi.from_url(server.base + "/openapi.json", timeout=30)

    @loaded.hook
    def flatmap_path_parameters(context, path_parameters):
        # Either the generated id or one of the seeded audits or monitors.
        name = next((n for n in seeded if n in (path_parameters or {})), None)
        if name is None:
            return st.just(path_parameters)
        return st.one_of(st.just(path_parameters),
                         st.sampled_from(seeded[name]).map(
                             lambda i: {**path_parameters, name: i}))

    @loaded.hook
    def flatmap_query(context, query):
        # Free-form strings are almost never http(s) URLs, so /v1/verdicts would only ever
        # answer 422; mix in real URLs (odd hosts, ports, paths) to reach its lookup path.
        if context.operation is None or context.operation.path != "/v1/verdicts":
            return st.just(query)
        return st.one_of(st.just(query), SITE_URLS.map(lambda u: {**(query or {}), "url": u}))

    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")


def test_schema_lists_every_operation(api_schema):
    ops = {(op.method.upper(), op.path) for op in
           (result.ok() for result in api_schema.get_all_operations())}
    assert ops == OPERATIONS


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck), print_blob=False)
def test_no_server_errors(case):
    case.call_and_validate(checks=[not_a_server_error], timeout=30)


# What the other default checks say (schemathesis 4.32 CLI, `--checks all`, 2300 cases):
# - response_schema_conformance: the 422s raised by the service itself (bad URL in
#   /v1/reports and /v1/verdicts) carry a string `detail`, while FastAPI documents 422 as
#   HTTPValidationError with a list.
# - status_code_conformance: a body the JSON decoder fails on in other ways than a syntax
#   error (e.g. nested too deep) gets FastAPI's undocumented 400 "There was an error parsing
#   the body".
# - negative_data_rejection: `observed_at: 0` passes; pydantic reads numbers as Unix times
#   while the schema says string/date-time.
# - positive_data_acceptance: schema-valid but semantically refused inputs (an empty upload,
#   an http URL whose host is not a host) are 400/422 by design.


def test_run_reached_every_operation_without_5xx(served):
    """After the run (tests in a module run in file order): the service's own counters show
    every route answered, the seeded audits were read (200), and nothing answered 5xx."""
    import httpx

    server, _ = served
    text = httpx.get(server.base + "/metrics", timeout=30).text
    lines = [ln for ln in text.splitlines() if ln.startswith("webscan_http_requests_total{")]
    assert not [ln for ln in lines if 'status="5' in ln], "".join(server.log)[-5000:]
    assert not [ln for ln in server.log if "unhandled error" in ln or "Traceback" in ln], \
        "".join(server.log)[-5000:]
    assert not [ln for ln in lines if 'route="/v1/audits",method="POST",status="202"' in ln], \
        "a generated audit URL was queued"
    routes = {ln.split('route="')[1].split('"')[0] for ln in lines}
    assert {path for _, path in OPERATIONS} <= routes
    for route in ("/v1/audits/{audit_id}", "/v1/verdicts", "/v1/reports", "/v1/scan",
                  "/v1/monitors"):
        assert any(f'route="{route}",method="GET' in ln or f'route="{route}",method="POST' in ln
                   for ln in lines if 'status="200"' in ln), route
    # a seeded monitor was paused, resumed or deleted (2xx), not only 404/422
    assert any('route="/v1/monitors/{monitor_id}"' in ln and 'status="2' in ln
               for ln in lines), lines

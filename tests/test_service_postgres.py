"""The service on PostgreSQL: the same migrations, upserts and lookups as on SQLite.

A throwaway cluster is made with initdb in a temporary folder and served on 127.0.0.1 for the
module; the test is skipped where no PostgreSQL server binaries are installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from service_support import TEST_NAMES, LiveServer, free_port
from webscan.model import VerdictLookup
from webscan.service.ratelimit import RateLimits



def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / name).exists():
            return str(root / name)
    return None


INITDB, POSTGRES = _pg_bin("initdb"), _pg_bin("postgres")


def _as_db_user() -> list[str]:
    """PostgreSQL refuses to run as root: run it as the `postgres` account when we are root."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no `postgres` account to run PostgreSQL")
    return ["runuser", "-u", "postgres", "--"]


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    if not (INITDB and POSTGRES):
        pytest.skip("PostgreSQL server binaries (initdb, postgres) are not installed")
    prefix = _as_db_user()
    # Not under pytest's tmp folder: that one is private to root, and the server runs as
    # `postgres` when the tests run as root.
    top = Path(tempfile.mkdtemp(prefix="webscan-pg-"))
    data = top / "data"
    data.mkdir()
    if prefix:
        shutil.chown(top, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run([*prefix, INITDB, "-D", str(data), "-A", "trust", "-U", "webscan"],
                   check=True, capture_output=True)
    port = free_port()
    proc = subprocess.Popen([*prefix, POSTGRES, "-D", str(data), "-p", str(port),
                             "-k", str(data), "-c", "listen_addresses=127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("PostgreSQL did not start")
                time.sleep(0.1)
        for _ in range(50):  # accepting connections before it accepts logins
            try:
                with psycopg.connect(f"host=127.0.0.1 port={port} user=webscan dbname=postgres",
                                     autocommit=True) as conn:
                    conn.execute("CREATE DATABASE webscan")
                break
            except psycopg.OperationalError:
                time.sleep(0.2)
        yield f"postgresql+psycopg://webscan@127.0.0.1:{port}/webscan"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(top, ignore_errors=True)


def test_reports_and_verdicts_on_postgresql(sigs, pg_url, scanner):
    from conftest import FIXTURES
    from webscan.service.app import ServiceConfig, create_app

    kit = FIXTURES / "js" / "coinhive-style-kit.js"
    findings = [f.model_dump(mode="json")
                for f in scanner.scan_bytes(kit.read_bytes(), str(kit)).findings]
    config = ServiceConfig(db_url=pg_url, rate_limits=RateLimits(0, 0, 0, 0),
                           resolver_table=TEST_NAMES)
    with LiveServer(create_app(sigs=sigs, config=config)) as base:
        verdicts = []
        for n in (1, 2, 3):
            with httpx.Client(base_url=base, timeout=30,
                              transport=httpx.HTTPTransport(local_address=f"127.0.{n}.1")) as c:
                r = c.post("/v1/reports", json={
                    "url": "https://pg.example/x", "reporter": f"postgres-reporter-{n:03d}",
                    "client": "t/1", "local_verdict": "miner", "findings": findings})
                assert r.status_code == 200, r.text
                verdicts.append(r.json()["verdict"])
        assert verdicts == ["suspicious", "suspicious", "miner"]
        with httpx.Client(base_url=base, timeout=30) as c:
            v = VerdictLookup.model_validate(
                c.get("/v1/verdicts", params={"url": "https://pg.example/"}).json())
            assert v.domain_verdict.reports == 3 and v.domain_verdict.reporters == 3
            r = c.post("/v1/audits", json={"url": "http://127.0.0.1:9/"})
            assert r.status_code == 400  # loopback refused without --allow-private


def test_postgresql_schema_matches_the_model(pg_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from webscan.service.store import Store, metadata

    store = Store(pg_url)
    try:
        with store.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        audit = store.create_audit("https://a.example/", "https://a.example", "a.example", "n")
        store.start_audit(audit.id)
        assert audit.id in store.pending_audits()
    finally:
        store.close()
